"""The report's front page (workflow/report/workflow.rst, Jinja over the config) and results/README.md's
descriptions: what the configuration runs, in prose, for the embedded default and the paper grid."""

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _config(*files):
    from sapt_core.plan import drop_disabled_experiments

    cfg = {}
    for f in files:  # Snakemake merges a --configfile over the default key by key
        for k, v in yaml.safe_load((REPO / f).read_text()).items():
            cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
    drop_disabled_experiments(cfg)
    return cfg


def _front_page(cfg) -> tuple[str, str]:
    """(rst, html) of the front page as `snakemake --report` renders it (same Jinja settings, docutils)."""
    from docutils.core import publish_parts
    from jinja2 import Environment

    from sapt_core.plan import ContinualPlan

    cfg["report_method_labels"] = ContinualPlan(cfg, data_root="unused").report_labels()  # as report.smk does

    class Snakemake:
        config = cfg

    class Category:
        def __init__(self, name):
            self.name = name

        def __lt__(self, other):
            return self.name < other.name

    cats = {Category(n): {} for n in ("Tables", "Paper comparison", "Figures", "Runs")}
    links = "\n\n" + "\n".join(f".. _{c.name}: javascript:app.showCategory('{c.name}')" for c in cats) + "\n"
    env = Environment(trim_blocks=True, lstrip_blocks=True)
    rst = env.from_string((REPO / "workflow/report/workflow.rst").read_text() + links).render(
        snakemake=Snakemake, categories=cats, files=[])
    html = publish_parts(rst, writer="html", settings_overrides={"report_level": 5})["html_body"]
    return rst, html


def test_front_page_describes_the_default_in_prose():
    rst, html = _front_page(_config("config/config.yaml"))
    assert "system-message" not in html and "{'methods'" not in rst       # prose, not a dump of the mapping
    assert "- SuperNI: superni_demo" in rst and "an order under ``demo_orders``" in rst
    assert "``tiny-t5``: a small T5-style model built by the workflow (d_model 64, 2 layers" in rst
    assert "- ARM (``sapt-lora-noarm``)" in rst and "MTL (``mtl``)" in rst   # the paper's names
    assert "replay volumes 0.02, 0.1" in rst and "**Seeds**: 0 " in rst
    assert "``official``" in rst and "capped at 200 train, 16 validation and 64 test" in rst
    assert "**Model selection**: none, every run keeps the state of its last epoch" in rst
    assert "a_i from the train inputs" in rst
    assert html.count("<li>") == 2 + 3 + 14                              # orders, backbones used, tables and figures
    assert "tiny-t5-l" not in rst and "Figure 8 (AP after each task" in rst
    assert ">Paper comparison</a>" in html                                # a link to the category


def test_front_page_of_the_paper_grid():
    rst, html = _front_page(_config("config/config.yaml", "config/paper.yaml"))
    assert "system-message" not in html
    assert "``t5-large``: ``google-t5/t5-large`` (T5 family, bfloat16)" in rst
    assert "every order runs all of its tasks" in rst and "**Seeds**: 0, 1, 2" in rst
    assert "``paper``, the paper's sizes" in rst and "**Model selection**: none, every run keeps" in rst


def test_every_report_output_has_a_description():
    """results/README.md says what each output is (Figure 6's cell was empty)."""
    from sapt_core.plan import ContinualPlan
    from sapt_core.report.index import render

    plan = ContinualPlan(_config("config/config.yaml"), data_root="unused")
    outputs = plan.report_outputs()
    assert "results/figures/figure6.png" in outputs and "results/runs.csv" in outputs
    assert "results/tables/table1_vs_paper.md" in outputs
    for line in render([[f, "src"] for f in outputs]).splitlines()[6:]:
        assert line.split(" | ")[1].strip(), line
