"""config/paper_results.yaml: the paper's published numbers, checked against the paper text itself.

The paper text (shared/paper/sapt_paper.txt) prints each result table as tab-separated rows above its caption; the
tests parse those rows and require the transcription to hold exactly the rows, column groups and metrics printed,
each value equal to the printed one ("-" = not reported), and each row keyed by the method whose paper name
(config/methods.yaml `label`) is the printed row name. Then the paper's own consistency: Table 1 against the mean of
its Tables 8 / 9 orders.
"""

import re
from pathlib import Path

import pytest
import yaml

from sapt_core.errors import SaptError
from sapt_core.report.paper_results import inconsistent_cells, load_paper_results

REPO = Path(__file__).resolve().parents[1]
PAPER_RESULTS = REPO / "config" / "paper_results.yaml"
PAPER_TEXT = REPO.parent / "shared" / "paper" / "sapt_paper.txt"
# the printed column groups of each table (header rows above the numbers) and where our groups sit in them
GROUP_HEADERS = {"table1": ("SuperNI Benchmark", "Long Sequence Benchmark"), "table2": ("SuperNI Benchmark",
                 "Long Sequence Benchmark"), "table8": ("Order 1", "Order 2"), "table9": ("Order 3", "Order 4")}


def _paper_lines() -> list[str]:
    if not PAPER_TEXT.is_file():
        pytest.skip(f"paper text not found: {PAPER_TEXT}")
    return PAPER_TEXT.read_text(encoding="utf-8").splitlines()


def _printed_table(number: int) -> tuple[list[list[str]], list[list[str]]]:
    """(header rows, data rows) of the tab-separated block right above the caption ``Table <number>:``."""
    lines = _paper_lines()
    cap = next(i for i, line in enumerate(lines) if line.startswith(f"Table {number}:"))
    block = []
    for line in reversed(lines[:cap]):
        if "\t" not in line:
            if block:
                break
            continue
        block.insert(0, line.split("\t"))
    headers = [r for r in block if r[0] == ""]
    return headers, [r for r in block if r[0] != ""]


def _metric_name(header: str) -> str:
    return header.replace("\\uparrow", "").replace("\\downarrow", "").strip(" ↑↓")


def _transcribed(table: str) -> dict:
    return yaml.safe_load(PAPER_RESULTS.read_text())["tables"][table]


@pytest.mark.parametrize("table", ["table1", "table2", "table8", "table9"])
def test_result_tables_match_the_paper_text(table):
    headers, rows = _printed_table(int(table[5:]))
    groups = [h for h in headers[0][1:] if h]
    assert tuple(groups) == GROUP_HEADERS[table]                               # the table we think it is
    metrics = [_metric_name(h) for h in headers[1][1:]]
    spec = _transcribed(table)
    assert metrics == spec["metrics"] * len(groups)                           # 4 metrics per group, in order
    ours = {row["paper_label"]: (method, row) for method, row in spec["rows"].items()}
    assert list(ours) == [r[0] for r in rows]                                  # every printed row, nothing else
    for printed in rows:
        method, row = ours[printed[0]]
        assert list(row)[1:] == list(spec["groups"])                           # one mapping per group, in order
        for g, group in enumerate(spec["groups"]):
            values = printed[1 + 4 * g: 5 + 4 * g]
            if row[group] == "not reported":
                assert values == ["-"] * 4, (table, method, group)
            else:
                assert [row[group][m] for m in spec["metrics"]] == [float(v) for v in values], (table, method, group)


def test_table3_matches_the_paper_text():
    headers, rows = _printed_table(3)
    categories = [h for h in headers[1][1:] if h] + [h for h in headers[0][1:] if h][-1:]  # Dialog .. SA, Avg.
    spec = _transcribed("table3")
    assert categories == spec["metrics"] == ["Dialog", "IE", "QA", "Sum", "SA", "Avg."]
    assert [row["paper_label"] for row in spec["rows"].values()] == [r[0] for r in rows]
    for printed, row in zip(rows, spec["rows"].values()):
        assert [row["SuperNI_unseen"][c] for c in categories] == [float(v) for v in printed[1:7]]


def test_rows_are_our_methods_with_the_printed_names():
    """Each row key is a method of config/methods.yaml whose paper name is the row the paper prints (Table 3's T5-ZS
    is the backbone alone, our zero-shot row); no MTL row (the paper has none)."""
    methods = yaml.safe_load((REPO / "config" / "methods.yaml").read_text())["methods"]
    for table, spec in yaml.safe_load(PAPER_RESULTS.read_text())["tables"].items():
        for method, row in spec["rows"].items():
            if method == "zero-shot":
                assert table == "table3" and row["paper_label"] == "T5-ZS"
            else:
                assert methods[method]["label"] == row["paper_label"], (table, method)
        assert "mtl" not in spec["rows"]


def test_loader_gives_one_tidy_row_per_cell():
    paper = load_paper_results(PAPER_RESULTS)
    assert paper.groupby("table").size().to_dict() == {"table1": 9 * 8, "table2": 5 * 8, "table3": 4 * 6,
                                                       "table8": 9 * 8, "table9": 9 * 8}
    epi = paper[(paper["method"] == "epi") & (paper["benchmark"] == "SuperNI")]
    assert len(epi) == 3 * 4 and not epi["reported"].any() and epi["value"].isna().all()  # Tables 1, 8 (2 orders)
    cell = paper.query("table == 'table9' and method == 'sapt-lora' and order == 'order4' and metric == 'AP'")
    assert cell["value"].tolist() == [80.60] and cell["benchmark"].tolist() == ["Long_Sequence"]
    assert paper.attrs["backbone"] == "T5-large" and paper.attrs["n_tasks"] == 15


def test_paper_table1_against_its_tables_8_and_9():
    """Where Table 1 is not the mean of the two orders' values (beyond the rounding of 2-decimal numbers, 0.01):
    computed from the transcription, which the tests above tie to the paper text."""
    bad = inconsistent_cells(load_paper_results(PAPER_RESULTS))
    found = {(r.method, r.benchmark, r.metric): (r.value, r.mean_of_orders) for r in bad.itertuples()}
    assert found == {("replay", "Long_Sequence", "AP"): (71.28, pytest.approx(71.225)),
                     ("o-lora", "Long_Sequence", "BWT"): (-4.05, pytest.approx(-4.755)),
                     ("sapt-lora", "Long_Sequence", "BWT"): (-1.25, pytest.approx(-1.30))}
    assert all(abs(d) > 0.01 for d in bad["difference"])


def test_rounding_tolerance(tmp_path):
    """Printed orders 10.00 and 10.01 (e.g. 10.004 and 10.006) have a true mean of 10.005 that Table 1 may print as
    10.01: rounding, not an inconsistency; a Table 1 value 0.02 off the printed orders' mean is one."""
    doc = yaml.safe_load(PAPER_RESULTS.read_text())
    t1 = doc["tables"]["table1"]["rows"]["seq-lora"]["Long_Sequence"]
    t9 = doc["tables"]["table9"]["rows"]["seq-lora"]
    t9["order3"]["AP"], t9["order4"]["AP"], t1["AP"] = 10.00, 10.01, 10.01
    t9["order3"]["F.Ra"], t9["order4"]["F.Ra"], t1["F.Ra"] = 20.00, 20.00, 20.02
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(doc))
    bad = inconsistent_cells(load_paper_results(path))
    assert {("seq-lora", "F.Ra")} == {(r.method, r.metric) for r in bad.itertuples() if r.method == "seq-lora"}


@pytest.mark.parametrize("edit,message", [
    (lambda d: d["tables"]["table1"]["rows"]["epi"].update(SuperNI={"AP": 1.0}),
     "tables.table1.rows.epi.SuperNI: expected a value for each of AP, F.Ra, FWT, BWT"),
    (lambda d: d["tables"]["table8"]["rows"]["l2p"]["order1"].update(AP="15.18"),
     "tables.table8.rows.l2p.order1.AP: expected a number"),
    (lambda d: d["tables"]["table2"]["rows"]["sapt-lora"].pop("paper_label"),
     "tables.table2.rows.sapt-lora: expected a mapping with 'paper_label'"),
    (lambda d: d["tables"].update(table5={}), "tables.table5: not a table with published numbers"),
    (lambda d: d["tables"]["table9"]["rows"]["replay"].update(order5={}),
     "tables.table9.rows.replay.order5: not a column group of table9")])
def test_malformed_transcription_is_one_error_line(tmp_path, edit, message):
    doc = yaml.safe_load(PAPER_RESULTS.read_text())
    edit(doc)
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(SaptError, match=re.escape(f"{path}: {message}")):
        load_paper_results(path)
