"""results/runs.csv (``sapt report-runs``): every run's metrics as one tidy table, and the result tables' cells as
group-by means of it. Hand-made metrics.json files; the expected numbers are computed by hand in the comments."""

import json
import math

import pandas as pd
import pytest

from sapt_core.cli import main


def _doc(method, order, seed, ap, steps, benchmark="Long_Sequence", protocol=None, stats=None, differs=None):
    vals = {"T": len(steps), "AP": ap, "F.Ra": 100 - ap if method != "mtl" else None, "FWT": None,
            "BWT": ap - 100 if method != "mtl" else None, "AP_per_step": steps}
    doc = {"run": {"benchmark": benchmark, "order": order, "backbone": "tiny-t5", "method": method, "seed": seed},
           "tasks": ["mnli", "cb", "wic"][: len(steps)], "metrics": vals,
           "metrics_rougeL_all": {**vals, "AP": ap / 2}, "derived": [], "data_protocol": "official"}
    if protocol is not None:
        doc["protocol"] = protocol
    if stats is not None:
        doc["prediction_stats"] = stats
    if differs is not None:
        doc["data_differs"] = differs
    return doc


def _write(tmp_path, doc):
    r = doc["run"]
    p = tmp_path / "results/runs/{benchmark}/{order}/{backbone}/{method}/seed{seed}/metrics.json".format(**r)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc))
    return str(p)


def _stat(top_share):
    return {"n": 10, "top": "positive", "top_share": top_share, "empty_share": 0.0, "valid_share": 1.0}


@pytest.fixture
def files(tmp_path):
    sel = {"selection": "val", "select_every_epochs": 5, "attention_split": "val"}
    return [
        _write(tmp_path, _doc("sapt-lora", "order3", 0, 80.0, [90.0, 80.0], protocol=sel,
                              stats=[[_stat(0.5), None], [_stat(0.4), _stat(1.0)]], differs=["cb"])),
        _write(tmp_path, _doc("sapt-lora", "order4", 0, 70.0, [75.0, 70.0])),           # an old file: no new fields
        _write(tmp_path, _doc("sapt-lora", "order3", 1, 84.0, [88.0, 84.0])),
        _write(tmp_path, _doc("sapt-lora", "order4", 1, 72.0, [70.0, 72.0])),
        _write(tmp_path, _doc("mtl", "order3", 0, 60.0, [50.0, 60.0, 61.0])),          # 3 tasks, F.Ra / BWT null
    ]


def test_runs_csv_one_row_per_run_and_variant(tmp_path, files):
    out = tmp_path / "results/runs.csv"
    assert main(["report-runs", "--metrics", *files, "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert len(df) == 2 * len(files) and set(df["variant"]) == {"paper", "rougeL_all"}
    paper = df[df["variant"] == "paper"].reset_index(drop=True)
    assert len(paper) == len(files) and list(paper["metrics_file"]) == files       # one row per run, input order
    assert list(paper["AP"]) == [80.0, 70.0, 84.0, 72.0, 60.0]
    assert list(df[df["variant"] == "rougeL_all"]["AP"]) == [40.0, 35.0, 42.0, 36.0, 30.0]  # its own block
    assert list(paper.columns[:6]) == ["benchmark", "order", "backbone", "method", "seed", "variant"]
    # AP after each step: as many columns as the longest chain, empty (NaN) past a run's own T
    assert list(paper.loc[0, ["AP_step1", "AP_step2"]]) == [90.0, 80.0] and math.isnan(paper.loc[0, "AP_step3"])
    assert paper.loc[4, "AP_step3"] == 61.0 and paper.loc[4, "T"] == 3
    assert math.isnan(paper.loc[4, "F.Ra"]) and math.isnan(paper.loc[0, "FWT"])    # null metrics: empty cells
    # the new fields: protocol, constant final predictions (top_share 1.0 after the last step), data not upstream
    assert (paper.loc[0, "selection"], paper.loc[0, "select_every_epochs"], paper.loc[0, "attention_split"]) == (
        "val", 5, "val")
    assert paper.loc[0, "constant_final"] == "cb" and paper.loc[0, "data_differs"] == "cb"
    assert paper.loc[1, ["selection", "constant_final", "data_differs"]].isna().all()  # old files: empty


def test_table_cells_are_group_by_means_of_runs_csv(tmp_path, files, benchmarks_path):
    """Table 1's Long Sequence cell of SAPT-LoRA = mean over the orders within each seed, then mean and sample sd
    over the seeds, of the tidy table's rows: seeds (80+70)/2 = 75 and (84+72)/2 = 78 -> 76.5 ± 2.12."""
    out = tmp_path / "runs.csv"
    assert main(["report-runs", "--metrics", *files, "--out", str(out)]) == 0
    df = pd.read_csv(out).query("variant == 'paper' and method == 'sapt-lora'")
    per_seed = df.groupby("seed")["AP"].mean()
    assert list(per_seed) == [75.0, 78.0]
    prefix = tmp_path / "t1"
    assert main(["report-table", "--table", "table1", "--metrics", *files, "--methods", "sapt-lora",
                 "--orders", "order3", "order4", "--benchmarks", str(benchmarks_path), "--out-prefix",
                 str(prefix)]) == 0
    row = pd.read_csv(f"{prefix}.csv").set_index("method").loc["sapt-lora"]
    assert row["Long_Sequence AP mean"] == per_seed.mean() == 76.5
    assert row["Long_Sequence AP sd"] == pytest.approx(per_seed.std(ddof=1)) and row["Long_Sequence AP n"] == 2
    assert row["Long_Sequence AP cell"].startswith("76.50 ± 2.12")


def test_report_runs_rejects_a_run_given_twice(tmp_path, files, capsys):
    assert main(["report-runs", "--metrics", files[0], files[0], "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert "same run (results/runs/Long_Sequence/order3/tiny-t5/sapt-lora/seed0/metrics.json)" in err
    assert not (tmp_path / "r.csv").exists()
