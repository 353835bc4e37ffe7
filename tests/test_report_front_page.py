"""The report's front page (workflow/report/workflow.rst) renders without a markup error for every shipped
configuration: it is rendered as ``snakemake --report`` renders it (Jinja with ``trim_blocks`` and ``lstrip_blocks``,
over the merged config, then docutils to HTML), and any docutils system message (a warning such as "Bullet list
ends without a blank line", or an error) fails the test."""

import io
import types
from collections import namedtuple
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ["Tables", "Paper comparison", "Figures", "Runs"]
Category = namedtuple("Category", "name")  # what the template reads of a report category


def _config(*overlays: str) -> dict:
    from snakemake.utils import update_config

    from sapt_core.plan import drop_disabled_experiments

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    for o in overlays:
        update_config(config, yaml.safe_load((ROOT / o).read_text()))
    drop_disabled_experiments(config)
    return config


def render(config: dict) -> tuple[str, str]:
    """(the reStructuredText, what docutils reported while turning it into HTML)."""
    from docutils.core import publish_parts
    from jinja2 import Environment

    text = (ROOT / "workflow/report/workflow.rst").read_text()
    rst = Environment(trim_blocks=True, lstrip_blocks=True).from_string(text).render(
        snakemake=types.SimpleNamespace(config=config),
        categories={Category(c): [] for c in CATEGORIES}, files=[])
    rst += "\n\n" + "".join(f".. _{c}: javascript:void(0)\n" for c in CATEGORIES)  # as Snakemake appends its links
    warnings = io.StringIO()
    publish_parts(rst, writer_name="html", settings_overrides={"warning_stream": warnings, "report_level": 1,
                                                              "halt_level": 5})
    return rst, warnings.getvalue()


@pytest.mark.parametrize("overlays", [(), ("config/paper.yaml",), (".test/config.yaml",)],
                         ids=["default", "paper", "ci"])
def test_front_page_renders_without_a_docutils_message(overlays):
    rst, messages = render(_config(*overlays))
    assert "Benchmarks and task orders" in rst and "Tables and figures" in rst
    assert messages == "", messages


def test_the_check_sees_a_markup_error():
    """A bullet list followed by an unindented line without a blank line is reported (the check can fail)."""
    from docutils.core import publish_parts

    warnings = io.StringIO()
    publish_parts("- a\n- b\nnext\n", writer_name="html", settings_overrides={"warning_stream": warnings})
    assert "Bullet list ends without a blank line" in warnings.getvalue()
