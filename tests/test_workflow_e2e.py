"""The continual DAG end to end on the .test/ configuration: a table's numbers equal the metrics recomputed from the
evaluation files, every cell traces back to them, and a config edit reruns only the jobs it concerns."""

import csv
import json
import re
import shutil

import pytest

from sapt_core.io import sha256_file
from sapt_core.evaluation.metrics import cl_metrics
from wf_helpers import _copy_workflow, _snakemake

RUN = "results/runs/Long_Sequence/order3/tiny-t5/{method}/seed0"
METHODS = ("sapt-lora", "sapt-prompt")


@pytest.fixture(scope="module")
def tiny_workflow(repo_root, data_root, tmp_path_factory):
    wd = _copy_workflow(repo_root, tmp_path_factory.mktemp("wf"))
    shutil.copytree(repo_root / ".test", wd / ".test")
    res = _snakemake(wd, "--cores", "2", "table1", "--configfile", ".test/config.yaml", "--config",
                     f"data_root={data_root}")
    assert res.returncode == 0, res.stderr[-4000:]
    return wd


def test_table_numbers_equal_recomputed_metrics(tiny_workflow):
    wd = tiny_workflow
    rows = {r["method"]: r for r in csv.DictReader(open(wd / "results/tables/table1.csv"))}
    for method in METHODS:
        run = wd / RUN.format(method=method)
        tasks = json.loads((run / "metrics.json").read_text())["tasks"]
        assert tasks == ["mnli", "cb"]
        matrix = [[None] * 2 for _ in range(2)]
        for k in (1, 2):
            scores = json.loads((run / f"step{k}/scores.json").read_text())["tasks"]
            for j, t in enumerate(tasks[:k]):
                matrix[k - 1][j] = scores[t]["score"]
        sources = json.loads((run / "metrics.json").read_text())["sources"]["single"]
        assert [sources[t]["path"].split("/")[4].split("-")[0] for t in tasks] == \
            ["lora" if method == "sapt-lora" else "prompt"] * 2  # the method's own PET recipe
        single = [json.loads((wd / sources[t]["path"]).read_text())["tasks"][t]["score"] for t in tasks]
        expect = cl_metrics(matrix, single)
        row = rows[method]
        for metric in ("AP", "F.Ra", "FWT", "BWT"):
            col = [c for c in row if c.startswith("Long_Sequence") and f" {metric} " in c + " " and c.endswith("mean")]
            assert col, (metric, list(row))
            assert float(row[col[0]]) == pytest.approx(expect[metric], abs=1e-6)


def test_cells_trace_back_to_evaluation_files(tiny_workflow):
    wd = tiny_workflow
    md = (wd / "results/tables/table1.md").read_text()
    rows = [line.split(" | ")[0].lstrip("| ") for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == ["SAPT-LoRA", "SAPT-Prompt"]        # the paper's names (methods.yaml `label`), in config order
    for method in METHODS:
        run = RUN.format(method=method)
        assert f"{run}/metrics.json" in md
        sources = json.loads((wd / run / "metrics.json").read_text())["sources"]
        for k in (1, 2):
            src = sources[f"step{k}"]
            assert src["path"].endswith(f"{run}/step{k}/scores.json")
            assert src["sha256"] == sha256_file(wd / run / f"step{k}/scores.json")


def _planned_jobs(out: str) -> list[tuple[str, str]]:
    """(rule, method wildcard or '') of every job a dry run lists."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        m = re.match(r"(?:local)?rule (\w+):", block.strip())
        if m:
            w = re.search(r"wildcards:.*?method=([\w-]+)", block)
            jobs.append((m.group(1), w.group(1) if w else ""))
    return jobs


def test_editing_one_methods_lr_reruns_only_that_method(tiny_workflow, data_root):
    wd = tiny_workflow
    (wd / "edit.yaml").write_text("method_overrides:\n  sapt-lora: {lr: 5.0e-3}\n")
    res = _snakemake(wd, "-n", "table1", "--configfile", ".test/config.yaml", "edit.yaml", "--config",
                     f"data_root={data_root}")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = _planned_jobs(res.stdout + res.stderr)
    rules = {r for r, _ in jobs}
    assert {"train_step", "run_metrics", "result_table"} <= rules
    assert all(m in ("sapt-lora", "") for _, m in jobs), jobs           # nothing of sapt-prompt
    assert not rules & {"build_backbone", "prepare_data", "train_generator", "generate_pseudo"}
    # a_{0,t} is trained with the method's own recipe, whose LR changed: its single-task runs of both tasks rerun
    singles = re.findall(r"rule single_task:.*?output: (\S+)", res.stdout + res.stderr, re.S)
    assert len(singles) == 2 and all(p.split("/")[4].startswith("lora-") for p in singles), singles
    assert sum(r == "train_step" for r, _ in jobs) == 2                  # both steps of the sapt-lora chain


def test_ap_difference_companion_matches_the_table_and_says_how(tiny_workflow):
    """table1_ap_diff: SAPT-Prompt's AP minus the reference's (SAPT-LoRA, the first SAPT method listed), from the
    last step's predictions, equals the difference of table1's AP cells; its interval brackets it; the notes say how."""
    wd = tiny_workflow
    ap = {r["method"]: float(r["Long_Sequence AP mean"]) for r in csv.DictReader(open(wd / "results/tables/table1.csv"))}
    rows = list(csv.DictReader(open(wd / "results/tables/table1_ap_diff.csv")))
    assert [(r["method"], r["reference"]) for r in rows] == [("sapt-prompt", "sapt-lora")]
    row = rows[0]
    assert float(row["Long_Sequence dAP"]) == pytest.approx(ap["sapt-prompt"] - ap["sapt-lora"], abs=1e-9)
    assert float(row["Long_Sequence low"]) <= float(row["Long_Sequence dAP"]) <= float(row["Long_Sequence high"])
    assert row["Long_Sequence clear"] == str(float(row["Long_Sequence low"]) > 0 or float(row["Long_Sequence high"]) < 0)
    assert row["sources"].split(";") == [f"{RUN.format(method=m)}/step2/predictions.jsonl"
                                         for m in ("sapt-prompt", "sapt-lora")]
    md = (wd / "results/tables/table1_ap_diff.md").read_text()
    assert "paired bootstrap replicates" in md and "against SAPT-LoRA" in md
    assert ("Clear differences" in md) == (row["Long_Sequence clear"] == "True")
    assert "results/tables/table1_ap_diff.md" in (wd / "results/tables/table1.md").read_text()
