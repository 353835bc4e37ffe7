"""A benchmark of one's own (docs/adding_a_benchmark.md), piece by piece: templates (generic, format strings), JSONL
task files, a task's instruction, the benchmarks file's checks, the data rules' benchmark pattern and the result
tables' column groups for any number of benchmarks. The end-to-end run is tests/test_adding_a_benchmark.py."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from sapt_core.data import load_split, prepare_task
from sapt_core.data.templates import format_source, template_problem
from sapt_core.data.upstream import read_task_file
from sapt_core.errors import SaptError
from sapt_core.settings.benchmarks import load_benchmarks

ENTRY = {"dir": "mine/Toy", "template": "Q: {instruction} | {input}\nA:",
         "tasks": {"yesno": {"category": "CL", "metric": "accuracy", "instruction": "Answer yes or no."},
                   "echo": {"category": "Gen", "metric": "rougeL"}},
         "orders": {"toy1": ["yesno", "echo"]}}


def _bench_file(tmp_path, benchmarks_path, **entries):
    doc = yaml.safe_load(benchmarks_path.read_text())
    doc["benchmarks"].update(entries)
    path = tmp_path / "benchmarks.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _toy_root(tmp_path):
    root = tmp_path / "data"
    (root / "mine/Toy/yesno").mkdir(parents=True)
    (root / "mine/Toy/echo").mkdir(parents=True)
    rows = [{"input": f"is {i} even", "output": "yes" if i % 2 == 0 else "no"} for i in range(30)]
    (root / "mine/Toy/yesno/train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    (root / "mine/Toy/echo/train.json").write_text(json.dumps(
        {"Definition": ["Repeat the input."], "Instances": [{"input": f"w{i}", "output": f"w{i}"} for i in range(30)]}))
    return root


# ---- templates ------------------------------------------------------------------------------------------------------
def test_generic_and_format_string_templates():
    assert format_source("generic", " Say it. ", "x") == "Instruction: Say it.\nInput: x\nOutput: "
    assert format_source("generic", "", "x") == "Input: x\nOutput: "
    assert format_source("Q: {instruction}|{input} {{lit}}", " i ", "in") == "Q: i|in {lit}"
    assert format_source("{input}", "ignored", "only") == "only"
    # the paper's two are unchanged (test_data checks them against the official strings)
    assert format_source("long", "", "x") == "x\nOutput: "
    for bad, msg in (("{foo} {input}", "only the fields {instruction} and {input}, got {foo}"),
                     ("{instruction}", "no {input}"), ("a { b", "expected '}'"), ("nope", "got 'nope'"), (3, "got 3")):
        assert msg in template_problem(bad)
        with pytest.raises(SaptError, match="template: "):
            format_source(bad, "", "x")


# ---- the benchmarks file ------------------------------------------------------------------------------------------
def test_a_new_benchmark_loads_and_is_checked(tmp_path, benchmarks_path):
    b = load_benchmarks(_bench_file(tmp_path, benchmarks_path, Toy=ENTRY))["Toy"]
    assert b.tasks["yesno"].instruction == "Answer yes or no." and b.tasks["echo"].instruction is None
    assert b.paper_orders == ("toy1",)
    for change, msg in (
        ({"template": "{question}"}, r"benchmarks\.Toy\.template: expected only the fields"),
        ({"tasks": {"yesno": {**ENTRY["tasks"]["yesno"], "instruction": 3}}},
         r"tasks\.yesno\.instruction: expected a string"),
        ({"orders": {"order3": ["yesno"]}}, "order 'order3' is also an order of benchmark 'Long_Sequence'"),
    ):
        path = _bench_file(tmp_path, benchmarks_path, Toy={**ENTRY, **change})
        with pytest.raises(SaptError, match=msg):
            load_benchmarks(path)


# ---- task files: JSONL, instruction, one line per problem ----------------------------------------------------------
def test_jsonl_and_json_tasks_prepare_with_the_instruction(tmp_path, benchmarks_path):
    bfile = _bench_file(tmp_path, benchmarks_path, Toy=ENTRY)
    root = _toy_root(tmp_path)
    m = prepare_task(root, str(bfile), "Toy", "yesno", "official", 0, tmp_path / "yesno", n_val=3)
    # no test file: a test slice held out of train, marked as derived
    assert m["derived"]["test"] and m["counts"] == {"train": 24, "val": 3, "test": 3}
    assert m["labels"] == ["no", "yes"] and m["source"]["train"]["path"] == "mine/Toy/yesno/train.jsonl"
    row = load_split(tmp_path / "yesno", "train")[0]
    assert row["source"] == f"Q: Answer yes or no. | {row['input']}\nA:" and row["definition"] == "Answer yes or no."
    assert re.fullmatch(r"yesno-train-\d+", row["id"])
    m = prepare_task(root, str(bfile), "Toy", "echo", "official", 0, tmp_path / "echo", n_val=3)
    row = load_split(tmp_path / "echo", "train")[0]
    assert row["source"] == f"Q: Repeat the input. | {row['input']}\nA:" and m["template"] == ENTRY["template"]


@pytest.mark.parametrize("lines, msg", [
    ('{"input": "a", "output": "b"}\n{"input": "a"\n', r"train\.jsonl: line 2: malformed JSON"),
    ('{"input": "a", "output": 3}\n', r"train\.jsonl: line 1\.output: expected a string or non-empty list"),
    ('["a", "b"]\n', r"train\.jsonl: line 1: expected an object"),
    ("\n\n", r"train\.jsonl: no instances"),
])
def test_jsonl_problems_are_one_line(tmp_path, lines, msg):
    path = tmp_path / "train.jsonl"
    path.write_text(lines)
    with pytest.raises(SaptError, match=msg):
        read_task_file(path, "t", "train")


def test_both_formats_of_one_split_are_refused(tmp_path, benchmarks_path):
    bfile = _bench_file(tmp_path, benchmarks_path, Toy=ENTRY)
    root = _toy_root(tmp_path)
    (root / "mine/Toy/yesno/train.json").write_text("{}")
    with pytest.raises(SaptError, match=r"yesno: both train\.json and train\.jsonl exist"):
        prepare_task(root, str(bfile), "Toy", "yesno", "official", 0, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ---- planning and reporting ------------------------------------------------------------------------------------------
def test_data_rules_and_table_groups_follow_the_benchmarks_file(tmp_path, benchmarks_path):
    from sapt_core.plan import ContinualPlan
    from sapt_core.report.result_tables import column_groups

    bfile = _bench_file(tmp_path, benchmarks_path, Toy=ENTRY)
    plan = ContinualPlan({"benchmarks_file": str(bfile)}, data_root="unused")
    assert re.fullmatch(plan.benchmark_pattern(), "Toy") and re.fullmatch(plan.benchmark_pattern(), "SuperNI")
    assert not re.fullmatch(plan.benchmark_pattern(), "SuperNI_unseen")
    assert re.fullmatch(plan.benchmark_pattern(test_only=True), "SuperNI_unseen")
    benches = load_benchmarks(bfile)
    groups = column_groups("table1", benches, ["order1", "order3", "toy1"])
    assert [(g.label, g.orders) for g in groups] == [("SuperNI", ["order1"]), ("Long_Sequence", ["order3"]),
                                                    ("Toy", ["toy1"])]
    assert [(g.label, g.benchmark) for g in column_groups("table8", benches, ["toy1"])] == [("toy1", "Toy")]
    # without orders, a per-order table keeps the paper's benchmark's orders
    assert [g.label for g in column_groups("table8", benches)] == ["order1", "order2"]
