"""`sapt run-metrics` and `sapt report-table` on hand-built scores/metrics files (no model, no training).

Run metrics: a 3-task run whose step{k}/scores.json are written by hand; the matrix and metrics are checked against
numbers computed by hand in the comments. Tables: synthetic metrics.json files (2 methods x 2 orders x 2 seeds);
cells are checked against hand-computed mean ± sample sd (ddof=1); dataset/order tables against config/benchmarks.yaml.
"""

import csv
import json
import math

import numpy as np
import pytest

from sapt_core.cli import main
from sapt_core.evaluation.metrics import read_matrix_csv

TASKS = ["task_a", "task_b", "task_c"]
# scores (task metric): rows = after step 1..3, columns = task_a, task_b, task_c
A = [[80, None, None],
     [70, 60, None],
     [65, 55, 90]]
# Rouge-L of the same predictions
R = [[82, None, None],
     [75, 62, None],
     [70, 58, 91]]
SINGLE = [75, 50, 85]
SINGLE_R = [77, 52, 86]
METRIC = ["rougeL", "accuracy", "rougeL"]


def _scores_doc(entries: dict, step=None, tasks=None) -> dict:
    """A scores.json as `sapt evaluate` writes it; entries: task -> (score, rougeL, metric, derived)."""
    return {
        "split": "test", "backbone": {"name": "tiny-t5"},
        "state": None if step is None else {"path": f"x/step{step}", "sha256": "0" * 64, "step": step,
                                            "tasks": tasks, "method": "sapt-lora"},
        "block": None, "decoding": {"greedy": True, "max_new_tokens": 50, "multi_reference": "single"},
        "inputs": {f"results/data/official/seed0/Long_Sequence/{t}/test.jsonl": "0" * 64 for t in entries},
        "tasks": {t: {"metric": m, "score": float(s),
                      "exact_match": float(s) if m == "accuracy" else 0.0, "rougeL": float(r), "n": 10,
                      "derived": d} for t, (s, r, m, d) in entries.items()},
        "versions": {"python": "3"},
    }


def _write(path, doc):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "results/runs/Long_Sequence/order3/tiny-t5/sapt-lora/seed0"
    for k in range(1, 4):
        entries = {TASKS[j]: (A[k - 1][j], R[k - 1][j], METRIC[j], TASKS[j] == "task_c") for j in range(k)}
        _write(run / f"step{k}" / "scores.json", _scores_doc(entries, step=k, tasks=TASKS[:k]))
    singles = []
    for j, t in enumerate(TASKS):
        singles.append(_write(tmp_path / f"results/single_task/Long_Sequence/tiny-t5/lora/seed0/{t}/scores.json",
                              _scores_doc({t: (SINGLE[j], SINGLE_R[j], METRIC[j], False)})))
    return run, singles


def _run_metrics(run, singles, extra=()):
    argv = ["run-metrics", "--run-dir", str(run), "--tasks", *TASKS, "--benchmark", "Long_Sequence",
            "--order", "order3", "--backbone", "tiny-t5", "--method", "sapt-lora", "--seed", "0",
            "--out", str(run / "metrics.json"), *extra]
    if singles is not None:
        argv += ["--single", *map(str, singles)]
    return main(argv)


def test_run_metrics_hand_computed(run_dir):
    run, singles = run_dir
    assert _run_metrics(run, singles) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["run"] == {"benchmark": "Long_Sequence", "order": "order3", "backbone": "tiny-t5",
                        "method": "sapt-lora", "seed": 0}
    assert m["tasks"] == TASKS and m["metric_per_task"] == METRIC
    assert m["matrix"] == A and m["matrix_rougeL"] == R
    assert m["single"] == SINGLE and m["single_rougeL"] == SINGLE_R
    p = m["metrics"]
    assert p["T"] == 3
    assert p["AP"] == pytest.approx(70.0)  # (65 + 55 + 90) / 3
    assert p["F.Ra"] == pytest.approx(10.0)  # ((80 - 65) + (60 - 55)) / 2
    assert p["BWT"] == pytest.approx(-10.0)  # ((65 - 80) + (55 - 60)) / 2
    assert p["FWT"] == pytest.approx(20 / 3)  # ((80 - 75) + (60 - 50) + (90 - 85)) / 3
    assert p["AP_per_step"] == pytest.approx([80.0, 65.0, 70.0])  # 80; (70 + 60) / 2; 210 / 3
    r = m["metrics_rougeL_all"]
    assert r["AP"] == pytest.approx(73.0)  # (70 + 58 + 91) / 3
    assert r["F.Ra"] == pytest.approx(8.0)  # ((82 - 70) + (62 - 58)) / 2
    assert r["BWT"] == pytest.approx(-8.0)
    assert r["FWT"] == pytest.approx(20 / 3)  # ((82 - 77) + (62 - 52) + (91 - 86)) / 3
    assert m["derived"] == ["task_c"]
    assert m["data_protocol"] == "official"
    # score files without prediction summaries, upstream flags or a protocol: those fields are null
    assert m["prediction_stats"] is None and m["protocol"] is None and m["data_differs"] is None
    src = m["sources"]
    assert sorted(src) == ["single", "step1", "step2", "step3"]
    assert src["step2"]["path"] == str(run / "step2" / "scores.json") and len(src["step2"]["sha256"]) == 64
    assert src["single"]["task_b"]["path"] == str(singles[1])
    # matrix.csv round-trips through read_matrix_csv
    a, names = read_matrix_csv(run / "matrix.csv")
    assert names == TASKS
    np.testing.assert_array_equal(a, np.array([[np.nan if v is None else v for v in row] for row in A], float))
    assert (run / "matrix.csv").read_text().splitlines()[1] == "step1,80.0,,"


def _predictions(top_share, valid=1.0):
    return {"n": 10, "top": "positive", "top_share": top_share, "empty_share": 0.0, "valid_share": valid}


def _add_new_fields(run, protocols):
    """What `sapt evaluate` adds per task (prediction summary, upstream flag) and per file (protocol): after step k
    task j's most frequent prediction has share (j + 1) / (k + 1) ... and task_b's after step 3 is constant; only
    task_b's data differs from upstream."""
    for k in range(1, 4):
        path = run / f"step{k}" / "scores.json"
        doc = json.loads(path.read_text())
        for j, t in enumerate(TASKS[:k]):
            share = 1.0 if (k, t) == (3, "task_b") else (j + 1) / (k + 1)
            doc["tasks"][t]["predictions"] = _predictions(share, None if METRIC[j] == "rougeL" else 0.9)
            doc["tasks"][t]["upstream"] = "differs" if t == "task_b" else "match"
        doc["protocol"] = protocols[k - 1]
        path.write_text(json.dumps(doc))


def test_run_metrics_records_predictions_protocol_and_upstream(run_dir):
    run, singles = run_dir
    last = {"selection": "val", "select_every_epochs": 5, "attention_split": "val"}
    _add_new_fields(run, [{"selection": "test", "select_every_epochs": 1, "attention_split": None}, None, last])
    assert _run_metrics(run, singles) == 0
    m = json.loads((run / "metrics.json").read_text())
    stats = m["prediction_stats"]
    assert len(stats) == 3 and [len(r) for r in stats] == [3, 3, 3]
    assert stats[0][1] is None and stats[1][2] is None                       # above the diagonal: not yet trained
    assert stats[1][0]["top_share"] == pytest.approx(1 / 3) and stats[2][1]["top_share"] == 1.0
    assert stats[2][0]["valid_share"] is None and stats[2][1]["valid_share"] == 0.9  # generation task: no labels
    assert m["protocol"] == last                                             # the last step's
    assert m["data_differs"] == ["task_b"]
    assert m["metrics"]["AP"] == pytest.approx(70.0)                         # the metrics are untouched


@pytest.mark.parametrize("field,value,expected", [
    ("top_share", 1.5, "tasks.task_a.predictions.top_share: expected a share in [0, 1]"),
    ("n", "ten", "tasks.task_a.predictions.n: expected a count"),
    ("upstream", "same", "tasks.task_a.upstream: expected 'match', 'differs' or null"),
    ("protocol", {"selection": "best"}, "protocol.selection: expected one of none, val, test")])
def test_run_metrics_rejects_malformed_new_fields(run_dir, capsys, field, value, expected):
    run, singles = run_dir
    path = run / "step2" / "scores.json"
    doc = json.loads(path.read_text())
    if field == "protocol":
        doc["protocol"] = value
    elif field == "upstream":
        doc["tasks"]["task_a"]["upstream"] = value
    else:
        doc["tasks"]["task_a"]["predictions"] = {**_predictions(0.5), field: value}
    path.write_text(json.dumps(doc))
    assert _run_metrics(run, singles) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"error: {path}: {expected}" in err
    assert not (run / "metrics.json").exists() and not (run / "matrix.csv").exists()


def test_run_metrics_without_single(run_dir):
    run, _ = run_dir
    assert _run_metrics(run, None) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["single"] is None and m["metrics"]["FWT"] is None and m["sources"]["single"] is None
    assert m["metrics"]["AP"] == pytest.approx(70.0)


def test_run_metrics_ap_only_reads_the_last_step_alone(run_dir, capsys):
    """MTL (--ap-only): the run trains step T alone, so only step3/scores.json exists; AP is the mean of row 3."""
    run, _ = run_dir
    for k in (1, 2):
        (run / f"step{k}" / "scores.json").unlink()
    assert _run_metrics(run, None, ["--ap-only"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["matrix"] == [[None] * 3, [None] * 3, A[2]] and m["matrix_rougeL"][2] == R[2]
    p = m["metrics"]
    assert (p["T"], p["AP"], p["AP_per_step"]) == (3, pytest.approx(70.0), [None, None, pytest.approx(70.0)])
    assert m["metrics_rougeL_all"]["AP"] == pytest.approx(73.0)  # (70 + 58 + 91) / 3
    assert {k for k, v in p.items() if v is not None} == {"T", "AP", "AP_per_step"}  # F.Ra, FWT, BWT: not applicable
    assert sorted(m["sources"]) == ["single", "step3"] and m["ap_only"]
    (run / "step3" / "scores.json").unlink()
    (run / "metrics.json").unlink()
    assert _run_metrics(run, None, ["--ap-only"]) == 2
    assert "needs step3" in capsys.readouterr().err and not (run / "metrics.json").exists()


def test_run_metrics_missing_step(run_dir, capsys):
    run, singles = run_dir
    (run / "step2" / "scores.json").unlink()
    assert _run_metrics(run, singles) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert str(run / "step2" / "scores.json") in err
    assert not (run / "metrics.json").exists() and not (run / "matrix.csv").exists()


def test_run_metrics_task_missing_in_step(run_dir, capsys):
    run, singles = run_dir
    path = run / "step3" / "scores.json"
    doc = json.loads(path.read_text())
    del doc["tasks"]["task_b"]
    path.write_text(json.dumps(doc))
    assert _run_metrics(run, singles) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and "task_b" in err
    assert not (run / "metrics.json").exists()


def test_run_metrics_single_count_mismatch(run_dir, capsys):
    run, singles = run_dir
    assert _run_metrics(run, singles[:2]) == 2
    assert "--single" in capsys.readouterr().err
    assert not (run / "metrics.json").exists()


# --------------------------------------------------------------------------------------------------- tables
# AP values: (method, order, seed) -> AP. Long_Sequence, orders order3/order4, seeds 0/1.
AP = {("sapt-lora", "order3", 0): 80.0, ("sapt-lora", "order4", 0): 70.0,
      ("sapt-lora", "order3", 1): 84.0, ("sapt-lora", "order4", 1): 72.0,
      ("seqlora", "order3", 0): 10.0, ("seqlora", "order4", 0): 12.0,
      ("seqlora", "order3", 1): 14.0, ("seqlora", "order4", 1): 20.0}


def _metrics_doc(method, order, seed, ap, fwt=1.0, derived=()):
    vals = {"T": 15, "AP": ap, "F.Ra": 100 - ap, "FWT": fwt, "BWT": ap - 100}
    return {"run": {"benchmark": "Long_Sequence", "order": order, "backbone": "tiny-t5", "method": method,
                    "seed": seed},
            "metrics": vals, "metrics_rougeL_all": dict(vals), "derived": list(derived), "data_protocol": "official"}


@pytest.fixture
def metrics_files(tmp_path):
    files = []
    for (method, order, seed), ap in AP.items():
        fwt = None if method == "seqlora" else 1.0 + seed  # seqlora: no single-task scores -> FWT null
        derived = ["yelp"] if (method, order) == ("seqlora", "order3") else []
        path = tmp_path / f"results/runs/Long_Sequence/{order}/tiny-t5/{method}/seed{seed}/metrics.json"
        files.append(str(_write(path, _metrics_doc(method, order, seed, ap, fwt, derived))))
    return files


def _table(tmp_path, table, files=(), extra=()):
    prefix = tmp_path / "results/tables" / table
    rc = main(["report-table", "--table", table, "--out-prefix", str(prefix), *extra]
              + (["--metrics", *files] if files else []))
    return rc, prefix


def _md_rows(md: str) -> dict:
    rows = {}
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0]] = cells
    return rows


def _sources(md: str) -> list[str]:
    lines = md.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("Sources ("))
    return [line[2:] for line in lines[i + 1:] if line.startswith("- ")]


def _csv_rows(path) -> dict:
    with open(path, newline="", encoding="utf-8") as fh:
        return {r["method"]: r for r in csv.DictReader(fh)}


def test_table1_mean_sd_missing_derived(tmp_path, metrics_files):
    rc, prefix = _table(tmp_path, "table1", metrics_files, ["--methods", "sapt-lora", "seqlora", "o-lora"])
    assert rc == 0
    md = (prefix.with_suffix(".md")).read_text()
    caption = md.splitlines()[0]
    assert caption.startswith("Table 1: ") and "sample sd (ddof=1) over 2 seeds" in caption
    rows = _md_rows(md)
    header = rows["Method"]
    assert header[1:5] == ["SuperNI AP ↑", "SuperNI F.Ra ↓", "SuperNI FWT ↑", "SuperNI BWT ↑"]
    assert header[5:9] == [f"Long_Sequence {m}" for m in ("AP ↑", "F.Ra ↓", "FWT ↑", "BWT ↑")]
    lora = rows["sapt-lora"]
    # per seed mean over orders: seed0 (80 + 70) / 2 = 75, seed1 (84 + 72) / 2 = 78
    # mean 76.5, sample sd sqrt(((75 - 76.5)^2 + (78 - 76.5)^2) / 1) = sqrt(4.5) = 2.1213
    assert lora[5] == "76.50 ± 2.12"
    assert lora[6] == "23.50 ± 2.12"  # F.Ra = 100 - AP
    assert lora[7] == "1.50 ± 0.71"  # FWT: seed0 1.0, seed1 2.0 -> mean 1.5, sd sqrt(0.5) = 0.7071
    assert lora[1:5] == ["n/a (missing)"] * 4  # no SuperNI runs among the inputs
    seq = rows["seqlora"]
    # seed0 (10 + 12) / 2 = 11, seed1 (14 + 20) / 2 = 17 -> 14.00 ± sqrt(18) = 4.2426; order3 runs used derived data
    assert seq[5] == "14.00 ± 4.24*"
    assert seq[7] == "-"  # FWT null: no single-task scores
    assert rows["o-lora"][1:] == ["n/a (missing)"] * 8
    assert "* test split held out from train: upstream test file missing (tasks: yelp)." in md
    assert "Backbone: tiny-t5. Data protocol: official. Seeds: 0, 1." in md
    # every number traces to a file: the Sources footnote lists exactly the input files
    assert _sources(md) == metrics_files
    c = _csv_rows(prefix.with_suffix(".csv"))
    assert float(c["sapt-lora"]["Long_Sequence AP mean"]) == pytest.approx(76.5)
    assert float(c["sapt-lora"]["Long_Sequence AP sd"]) == pytest.approx(math.sqrt(4.5))
    assert c["sapt-lora"]["Long_Sequence AP n"] == "2"
    assert c["o-lora"]["Long_Sequence AP cell"] == "n/a (missing)" and c["o-lora"]["Long_Sequence AP mean"] == ""
    assert sorted(c["seqlora"]["sources"].split(";")) == sorted(f for f in metrics_files if "/seqlora/" in f)
    tex = prefix.with_suffix(".tex").read_text()
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\multicolumn{4}{c}{Long\_Sequence}"):
        assert rule in tex
    assert r"76.50 $\pm$ 2.12" in tex


def test_table1_one_seed_and_orders(tmp_path, metrics_files):
    rc, prefix = _table(tmp_path, "table1", metrics_files,
                        ["--methods", "sapt-lora", "--orders", "order3", "order4", "--seeds", "0"])
    assert rc == 0
    md = prefix.with_suffix(".md").read_text()
    rows = _md_rows(md)
    assert rows["Method"][1] == "Long_Sequence AP ↑" and len(rows["Method"]) == 5  # SuperNI not expected
    assert rows["sapt-lora"][1] == "75.00"  # one seed: mean only, (80 + 70) / 2
    assert "1 seed (no sd)" in md.splitlines()[0]
    used = [f for f in metrics_files if "/sapt-lora/seed0/" in f]
    assert _sources(md) == used
    assert "Ignored inputs" in md  # seed 1 and seqlora files were given but not used


def test_labels_rename_rows_and_keep_the_method_in_the_csv(tmp_path, metrics_files):
    rc, prefix = _table(tmp_path, "table1", metrics_files,
                        ["--methods", "sapt-lora", "seqlora", "--labels", "sapt-lora=SAPT-LoRA", "seqlora=- ARM"])
    assert rc == 0
    rows = _md_rows(prefix.with_suffix(".md").read_text())
    assert list(rows)[1:] == ["SAPT-LoRA", "- ARM"] and rows["SAPT-LoRA"][5] == "76.50 ± 2.12"
    c = _csv_rows(prefix.with_suffix(".csv"))
    assert (c["sapt-lora"]["label"], c["seqlora"]["label"]) == ("SAPT-LoRA", "- ARM")
    rc, bad = _table(tmp_path / "bad", "table1", metrics_files, ["--labels", "sapt-lora"])
    assert rc != 0 and not bad.with_suffix(".md").exists()


def test_table1_partial_runs_marked(tmp_path, metrics_files):
    files = [f for f in metrics_files if not f.endswith("order4/tiny-t5/sapt-lora/seed1/metrics.json")]
    rc, prefix = _table(tmp_path, "table1", files, ["--methods", "sapt-lora", "--orders", "order3", "order4"])
    assert rc == 0
    md = prefix.with_suffix(".md").read_text()
    assert _md_rows(md)["sapt-lora"][1] == "75.00†"  # only seed 0 has both orders
    assert "results/runs/Long_Sequence/order4/tiny-t5/sapt-lora/seed1/metrics.json" in md  # listed as missing


def test_table9_per_order(tmp_path, metrics_files):
    rc, prefix = _table(tmp_path, "table9", metrics_files, ["--methods", "sapt-lora", "seqlora"])
    assert rc == 0
    md = prefix.with_suffix(".md").read_text()
    assert md.startswith("Table 9: ")
    rows = _md_rows(md)
    assert rows["Method"][1:] == [f"{o} {m}" for o in ("order3", "order4")
                                  for m in ("AP ↑", "F.Ra ↓", "FWT ↑", "BWT ↑")]
    assert rows["sapt-lora"][1] == "82.00 ± 2.83"  # order3: 80, 84 -> sd sqrt(8) = 2.8284
    assert rows["sapt-lora"][5] == "71.00 ± 1.41"  # order4: 70, 72 -> sd sqrt(2) = 1.4142
    assert rows["seqlora"][1] == "12.00 ± 2.83*"  # order3 (derived): 10, 14
    assert rows["seqlora"][5] == "16.00 ± 5.66"  # order4: 12, 20 -> sd sqrt(32) = 5.6569; not derived
    assert rows["seqlora"][3] == rows["seqlora"][7] == "-"


def test_table8_without_superni_runs(tmp_path, metrics_files):
    rc, prefix = _table(tmp_path, "table8", metrics_files, ["--methods", "sapt-lora"])
    assert rc == 0
    md = prefix.with_suffix(".md").read_text()
    rows = _md_rows(md)
    assert rows["Method"][1] == "order1 AP ↑" and rows["Method"][5] == "order2 AP ↑"
    assert rows["sapt-lora"][1:] == ["n/a (missing)"] * 8
    assert _sources(md) == []


def _edit(path, **fields):
    doc = json.loads(open(path).read())
    doc.update(fields)
    open(path, "w").write(json.dumps(doc))


def test_table_marks_constant_outputs_selection_policy_and_upstream(tmp_path, metrics_files):
    """sapt-lora order3 seed0's final model predicts one string for cb: its Long Sequence cells carry ‡ (the other
    row's do not); sapt-lora's runs selected no state, seqlora's the best on the test split: the rows' policies are
    stated and seqlora's row (not the first row's policy) is marked §; cb's data differs from upstream."""
    stats = [[{"top_share": 0.4}, None], [{"top_share": 0.5}, {"top_share": 1.0, "top": "entailment"}]]
    none = {"selection": "none", "select_every_epochs": 0, "attention_split": None}
    test = {"selection": "test", "select_every_epochs": 5, "attention_split": "test"}
    for f in metrics_files:
        method = json.loads(open(f).read())["run"]["method"]
        _edit(f, tasks=["mnli", "cb"], protocol=none if method == "sapt-lora" else test, data_differs=[])
    first = next(f for f in metrics_files if "order3/tiny-t5/sapt-lora/seed0" in f)
    _edit(first, prediction_stats=stats, data_differs=["cb"])
    rc, prefix = _table(tmp_path, "table1", metrics_files, ["--methods", "sapt-lora", "seqlora"])
    assert rc == 0
    md = prefix.with_suffix(".md").read_text()
    rows = _md_rows(md)
    assert rows["sapt-lora"][1:5] == ["n/a (missing)"] * 4                 # SuperNI: no runs, no mark
    assert all(c.endswith("‡") for c in rows["sapt-lora"][5:9])            # Long Sequence AP, F.Ra, FWT, BWT
    assert not any("‡" in c for c in rows["seqlora §"][1:])
    assert ("‡ the number measures a constant output, not the method: in a run that went into the cell, the final "
            "model predicts one string for every test input of a task (sapt-lora, Long_Sequence: cb (order3 seed 0))."
            in md)
    assert ("Model selection: none (the last epoch's state); § rows whose runs differ: seqlora: best state every 5 "
            "epochs on the test split, a_t from the test split." in md)
    assert "Data that differs from upstream (prepared from files not identical to the upstream benchmark's): " \
           "tasks cb." in md
    rows = _csv_rows(prefix.with_suffix(".csv"))
    assert rows["seqlora"]["selection"].startswith("best state every 5 epochs")
    assert rows["sapt-lora"]["Long_Sequence AP cell"].endswith("‡")
    # one policy for every row: stated once, no row marked
    for f in metrics_files:
        _edit(f, protocol=none)
    rc, prefix = _table(tmp_path, "table1", metrics_files, ["--methods", "sapt-lora", "seqlora"])
    md = prefix.with_suffix(".md").read_text()
    assert "Model selection: none (the last epoch's state) (every row)." in md and "seqlora §" not in md


def test_table_duplicate_run_is_an_error(tmp_path, metrics_files, capsys):
    rc, prefix = _table(tmp_path, "table1", metrics_files + metrics_files[:1])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and metrics_files[0] in err
    assert not prefix.with_suffix(".md").exists()


def test_table4_5_6_from_config(tmp_path, benchmarks_path):
    rc, prefix = _table(tmp_path, "table4", extra=["--benchmarks", str(benchmarks_path)])
    assert rc == 0
    md = prefix.with_suffix(".md").read_text()
    rows = _md_rows(md)
    assert rows["#"] == ["#", "Dataset name", "Category", "Metric"]
    assert len(rows) == 16  # header + 15 tasks
    assert rows["1"][1:] == ["task639_multi_woz_user_utterance_generation", "Dialog", "Rouge-L"]
    assert rows["13"][1:] == ["task363_sst2_polarity_classification", "SA", "accuracy"]
    assert _sources(md) == [str(benchmarks_path)]
    rc, prefix = _table(tmp_path, "table6", extra=["--benchmarks", str(benchmarks_path)])
    assert rc == 0 and "task360_spolin_yesand_response_generation" in prefix.with_suffix(".md").read_text()


def test_table5_with_manifests(tmp_path, benchmarks_path):
    root = tmp_path / "results/data/official/seed0/Long_Sequence"
    manifests = {"yelp": {"train": 64, "val": 16, "test": 32}, "cb": {"train": 50, "val": 5, "test": 20}}
    for task, counts in manifests.items():
        _write(root / task / "manifest.json",
               {"benchmark": "Long_Sequence", "task": task, "protocol": "official", "seed": 0, "counts": counts,
                "derived": {"test": True, "reason": "x"} if task == "yelp" else {}})
    rc, prefix = _table(tmp_path, "table5", extra=["--benchmarks", str(benchmarks_path),
                                                   "--manifests", str(tmp_path / "results/data")])
    assert "Dropped" not in prefix.with_suffix(".md").read_text()  # manifests without the record: no column
    # cb's manifest records 3 train and 1 test instances dropped (output '-', not a label); yelp's has no record
    _write(root / "cb" / "manifest.json",
           {"benchmark": "Long_Sequence", "task": "cb", "protocol": "official", "seed": 0,
            "counts": manifests["cb"], "derived": {},
            "dropped": {"train": 3, "val": 0, "test": 1, "labels": {"-": 4}, "reason": "output not in labels.json"}})
    rc, prefix = _table(tmp_path, "table5", extra=["--benchmarks", str(benchmarks_path),
                                                   "--manifests", str(tmp_path / "results/data")])
    assert rc == 0
    md = prefix.with_suffix(".md").read_text()
    rows = _md_rows(md)
    assert rows["#"][4:] == ["Train", "Val", "Test", "Test split", "Dropped"]
    assert rows["1"][1:] == ["yelp", "CL", "accuracy", "64", "16", "32", "held out from train*", "not recorded"]
    assert rows["11"][1:] == ["cb", "SuperGLUE", "accuracy", "50", "5", "20", "upstream", "train 3, test 1"]
    assert rows["2"][4:] == ["n/a (missing)"] * 5  # amazon: no manifest
    assert ("Dropped: classification instances (train / val / test) removed when the data was prepared because their "
            "output is not one of the task's labels (labels.json): output not in labels.json. Outputs dropped: cb "
            "'-' x4. not recorded: the manifest predates the record." in md)
    cb = next(r for r in csv.DictReader(open(prefix.with_suffix(".csv"), newline="")) if r["dataset"] == "cb")
    assert (cb["dropped_train"], cb["dropped_val"], cb["dropped_test"]) == ("3", "0", "1")
    assert "* test split held out from train: upstream test file missing (tasks: yelp)." in md
    assert "Data protocol: official. Seeds: 0." in md
    assert _sources(md) == [str(benchmarks_path), str(root / "yelp/manifest.json"), str(root / "cb/manifest.json")]
    assert "differs from upstream" not in md
    # a task prepared from a test file that is not the pinned upstream one: the table says which task and split
    _write(root / "cb" / "manifest.json",
           {"benchmark": "Long_Sequence", "task": "cb", "protocol": "official", "seed": 0, "counts": manifests["cb"],
            "derived": {}, "upstream": "differs",
            "source": {"train": {"upstream": "match"}, "test": {"upstream": "differs"}}})
    rc, prefix = _table(tmp_path, "table5", extra=["--benchmarks", str(benchmarks_path),
                                                   "--manifests", str(tmp_path / "results/data")])
    assert rc == 0 and ("Data that differs from upstream (prepared from files not identical to the upstream "
                        "benchmark's; the split in brackets): cb (test)." in prefix.with_suffix(".md").read_text())


def test_table7_orders(tmp_path, benchmarks_path):
    rc, prefix = _table(tmp_path, "table7", extra=["--benchmarks", str(benchmarks_path)])
    assert rc == 0
    md = prefix.with_suffix(".md").read_text()
    rows = _md_rows(md)
    assert list(rows) == ["Order", "order1", "order2", "order3", "order4"]
    assert rows["order1"][1:3] == ["SuperNI", "15"]
    assert rows["order1"][3].startswith("task1572_samsum_summary → task363_sst2_polarity_classification → ")
    assert rows["order3"][3].startswith("mnli → cb → wic → copa")
    assert rows["order4"][3].endswith("multirc → boolq → wic")
    with open(prefix.with_suffix(".csv"), newline="", encoding="utf-8") as fh:
        assert [r["order"] for r in csv.DictReader(fh)] == ["order1", "order2", "order3", "order4"]
    assert r"$\rightarrow$" in prefix.with_suffix(".tex").read_text()


def test_rougeL_all_variant_and_backbones(tmp_path, metrics_files):
    # a second backbone for sapt-lora/order3/seed0 with its own numbers; the rougeL_all variant reads the other key
    doc = _metrics_doc("sapt-lora", "order3", 0, 50.0)
    doc["run"]["backbone"] = "tiny-llama"
    doc["metrics_rougeL_all"]["AP"] = 40.0
    extra = str(_write(tmp_path / "results/runs/Long_Sequence/order3/tiny-llama/sapt-lora/seed0/metrics.json", doc))
    rc, prefix = _table(tmp_path, "table9", metrics_files + [extra],
                        ["--methods", "sapt-lora", "--variant", "rougeL_all", "--seeds", "0"])
    assert rc == 0
    md = prefix.with_suffix(".md").read_text()
    rows = _md_rows(md)
    assert rows["sapt-lora (tiny-t5)"][1] == "80.00" and rows["sapt-lora (tiny-llama)"][1] == "40.00"
    assert rows["sapt-lora (tiny-llama)"][5] == "n/a (missing)"  # no order4 run of tiny-llama
    assert "Backbone: tiny-t5, tiny-llama." in md and "official score.py" in md
    rc, prefix = _table(tmp_path, "table9", metrics_files + [extra],
                        ["--methods", "sapt-lora", "--backbone", "tiny-llama"])
    rows = _md_rows(prefix.with_suffix(".md").read_text())
    assert rc == 0 and rows["sapt-lora"][1] == "50.00"
