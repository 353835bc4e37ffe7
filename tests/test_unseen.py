"""Table 3 (unseen SuperNI tasks): category means of Rouge-L, mean +- sd over runs, clear errors, DAG scheduling."""

from __future__ import annotations

import json
import statistics

import pytest

from sapt_core.settings.benchmarks import load_benchmarks
from sapt_core.errors import SaptError
from sapt_core.report.unseen import parse_unseen_args, unseen_table


def _scores(path, values: dict[str, float]):
    path.write_text(json.dumps({"tasks": {t: {"metric": "rougeL", "score": v, "rougeL": v, "n": 3}
                                          for t, v in values.items()}}))
    return str(path)


def test_table3_category_means_and_seed_sd(benchmarks_path, tmp_path):
    benchmarks = load_benchmarks(benchmarks_path)
    tasks = list(benchmarks["SuperNI_unseen"].tasks)
    cats = [benchmarks["SuperNI_unseen"].tasks[t].category for t in tasks]
    a = {t: float(i) for i, t in enumerate(tasks)}          # run 1: task i scores i
    b = {t: float(2 * i) for i, t in enumerate(tasks)}      # run 2: twice that
    zs = {t: 1.0 for t in tasks}
    files = [("sapt-lora", _scores(tmp_path / "a.json", a)), ("sapt-lora", _scores(tmp_path / "b.json", b)),
             ("zero-shot", _scores(tmp_path / "z.json", zs))]
    t = unseen_table(files, benchmarks, methods=["zero-shot", "sapt-lora", "o-lora"])
    assert t.columns == ["Method", "Dialog", "IE", "QA", "Sum", "SA", "Avg."]
    by_cat = {c: [i for i, x in enumerate(cats) if x == c] for c in t.columns[1:-1]}
    run1 = {c: sum(idx) / 3 for c, idx in by_cat.items()}
    run2 = {c: 2 * v for c, v in run1.items()}
    row = dict(zip(t.columns, t.rows[1]))
    for c in by_cat:
        mean, sd = (run1[c] + run2[c]) / 2, statistics.stdev([run1[c], run2[c]])
        assert row[c] == f"{mean:.2f} ± {sd:.2f}"
    avg1, avg2 = sum(run1.values()) / 5, sum(run2.values()) / 5
    assert row["Avg."] == f"{(avg1 + avg2) / 2:.2f} ± {statistics.stdev([avg1, avg2]):.2f}"
    assert t.rows[0][1:] == ["1.00"] * 6                     # zero-shot: one file, no sd
    assert t.rows[2][1:] == ["n/a (missing)"] * 6             # a configured method without files
    assert set(t.sources) == {p for _, p in files}


def test_table3_errors(benchmarks_path, tmp_path):
    benchmarks = load_benchmarks(benchmarks_path)
    tasks = list(benchmarks["SuperNI_unseen"].tasks)
    partial = _scores(tmp_path / "p.json", {t: 1.0 for t in tasks[1:]})
    with pytest.raises(SaptError, match=f"p.json: no score for unseen task '{tasks[0]}'"):
        unseen_table([("sapt-lora", partial)], benchmarks)
    with pytest.raises(SaptError, match="expected METHOD=PATH"):
        parse_unseen_args(["no-separator.json"])
