"""CL metrics on hand-computed matrices (paper eqs. and official score.py variants), CSV readers and `sapt metrics`.

CLI tests call ``metrics.run`` through a local parser + a wrapper that mirrors ``sapt_core.cli.main``'s error handling
(SaptError -> "error: ..." on stderr, exit 2), so they do not depend on the other command modules; one extra test goes
through ``sapt_core.cli.main`` itself (with only `metrics` registered while a sibling command module is missing).
"""

import argparse
import json
import math

import numpy as np
import pytest

from sapt_core.evaluation import metrics
from sapt_core.errors import SaptError

N = math.nan
# 3 tasks. Rows = after step 1..3, columns = task 1..3.
A3 = [[80, N, N],
      [70, 60, N],
      [65, 55, 90]]
S3 = [75, 50, 85]
# 4 tasks; tasks 1 and 2 improve at an intermediate step (60 > 50, 45 > 40), so history-max F.Ra differs from paper F.Ra.
A4 = [[50, N, N, N],
      [60, 40, N, N],
      [55, 45, 70, N],
      [52, 38, 66, 80]]
S4 = [55, 45, 60, 70]


def test_3x3_hand_computed():
    m = metrics.cl_metrics(A3, S3)
    assert m["T"] == 3
    assert m["AP"] == pytest.approx(70.0)  # (65 + 55 + 90) / 3 = 210 / 3
    assert m["F.Ra"] == pytest.approx(10.0)  # ((80-65) + (60-55)) / 2 = 20 / 2
    assert m["BWT"] == pytest.approx(-10.0)  # ((65-80) + (55-60)) / 2
    assert m["FWT"] == pytest.approx(20 / 3)  # ((80-75) + (60-50) + (90-85)) / 3 = 20 / 3
    assert m["F.Ra_history_max"] == pytest.approx(10.0)  # (max(80,70)-65 + 60-55) / 2: no intermediate peak
    assert m["BWT_over_T"] == pytest.approx(-20 / 3)  # (-15 - 5 + 0) / 3
    assert m["BWT_over_T"] == pytest.approx((3 - 1) / 3 * m["BWT"])
    assert m["FWT_constant_50.94"] == pytest.approx(230 / 3 - 50.94)  # (80+60+90)/3 - 50.94 = 25.7267
    assert m["AP_per_step"] == pytest.approx([80.0, 65.0, 70.0])  # 80; (70+60)/2; (65+55+90)/3


def test_4x4_hand_computed_history_max_differs():
    m = metrics.cl_metrics(np.array(A4, dtype=float), S4)
    assert m["AP"] == pytest.approx(59.0)  # (52 + 38 + 66 + 80) / 4 = 236 / 4
    assert m["F.Ra"] == pytest.approx(4 / 3)  # ((50-52) + (40-38) + (70-66)) / 3 = 4 / 3
    assert m["BWT"] == pytest.approx(-4 / 3)
    assert m["FWT"] == pytest.approx(2.5)  # ((50-55) + (40-45) + (70-60) + (80-70)) / 4 = 10 / 4
    assert m["F.Ra_history_max"] == pytest.approx(19 / 3)  # (max(50,60,55)-52 + max(40,45)-38 + 70-66) / 3 = (8+7+4)/3
    assert m["F.Ra_history_max"] > m["F.Ra"]
    assert m["BWT_over_T"] == pytest.approx(-1.0)  # (2 - 2 - 4 + 0) / 4
    assert m["BWT_over_T"] == pytest.approx((4 - 1) / 4 * m["BWT"])
    assert m["FWT_constant_50.94"] == pytest.approx(60 - 50.94)  # (50+40+70+80)/4 = 60
    assert m["AP_per_step"] == pytest.approx([50.0, 50.0, 170 / 3, 59.0])  # 50; 100/2; (55+45+70)/3; 236/4


def test_individual_functions_and_ragged_rows():
    ragged = [[80], [70, 60], [65, 55, 90]]  # lower-triangular rows without the NaN padding
    assert metrics.average_performance(ragged) == pytest.approx(70.0)
    assert metrics.forgetting_rate(ragged) == pytest.approx(10.0)
    assert metrics.backward_transfer(ragged) == pytest.approx(-10.0)
    assert metrics.forward_transfer(ragged, S3) == pytest.approx(20 / 3)
    assert metrics.forgetting_rate_history_max(A4) == pytest.approx(19 / 3)
    assert metrics.backward_transfer_over_T(A4) == pytest.approx(-1.0)
    assert metrics.forward_transfer_constant(A4, constant=0.0) == pytest.approx(60.0)
    assert metrics.ap_per_step([[1, None], [2, 4]]) == pytest.approx([1.0, 3.0])


def test_single_task_matrix():
    m = metrics.cl_metrics([[42.0]])
    assert m["AP"] == 42.0 and m["FWT"] is None
    assert m["F.Ra"] is None and m["BWT"] is None and m["F.Ra_history_max"] is None and m["BWT_over_T"] is None
    assert m["FWT_constant_50.94"] == pytest.approx(42 - 50.94)
    assert metrics.cl_metrics([[42.0]], [40.0])["FWT"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    "a, match",
    [
        ([], "empty"),
        ([[1, 2], [3, 4]], "row 1, column 2.*above the diagonal"),
        ([[1, N], [N, 4]], "row 2, column 1.*finite"),
        ([[1, N, N], [3, 4, N]], "row 1 has 3 entries, expected 2"),
        ([[1, N], [3, "x"]], "row 2, column 2.*not a number"),
        ([[math.inf]], "finite"),
    ],
)
def test_matrix_validation(a, match):
    with pytest.raises(SaptError, match=match):
        metrics.cl_metrics(a)


def test_single_length_validation():
    with pytest.raises(SaptError, match="2 single-task scores, expected 3"):
        metrics.cl_metrics(A3, [1, 2])


# ------------------------------------------------------------------------------------------------- CSV readers
PLAIN = "80,,\n70,60,\n65,55,90\n"
EXPECTED3 = np.array(A3, dtype=float)


@pytest.mark.parametrize(
    "text, names",
    [
        (PLAIN, None),
        ("80\n70,60\n\n65,55,90\n", None),  # ragged rows, blank line
        ("80,nan,NA\n70,60,\n65,55,90\n", None),  # nan/NA above the diagonal read as empty
        ("t1,t2,t3\n" + PLAIN, ["t1", "t2", "t3"]),
        (",t1,t2,t3\nafter_t1,80,,\nafter_t2,70,60,\nafter_t3,65,55,90\n", ["t1", "t2", "t3"]),
        ("step,t1,t2,t3\n1,80,,\n2,70,60,\n3,65,55,90\n", ["t1", "t2", "t3"]),  # numeric step labels with header
        ("t1,t2,t3\ns1,80,,\ns2,70,60,\ns3,65,55,90\n", ["t1", "t2", "t3"]),  # labels, header without corner
        ("s1,80,,\ns2,70,60,\ns3,65,55,90\n", None),  # labels only
        ("1,80,,\n2,70,60,\n3,65,55,90\n", None),  # numeric step labels 1..T, no header
        ("\ufefftask_a,task_b,task_c\r\n80,,\r\n70,60,\r\n65,55,90\r\n", ["task_a", "task_b", "task_c"]),  # BOM, CRLF
    ],
)
def test_read_matrix_csv_layouts(tmp_path, text, names):
    p = tmp_path / "m.csv"
    p.write_text(text, encoding="utf-8")
    a, got = metrics.read_matrix_csv(p)
    np.testing.assert_array_equal(a, EXPECTED3)
    assert got == names


def test_read_single_csv_order(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("task,score\nt3,85\nt1,75\nt2,50\nextra,1\n")
    assert metrics.read_single_csv(p, ["t1", "t2", "t3"]) == [75.0, 50.0, 85.0]  # matrix order, extras ignored
    assert metrics.read_single_csv(p) == [85.0, 75.0, 50.0, 1.0]  # file order
    with pytest.raises(SaptError, match=r"s\.csv: no single-task score for task\(s\) t4"):
        metrics.read_single_csv(p, ["t1", "t4"])


# ------------------------------------------------------------------------------------------------- CLI
def _cli(argv):
    """Mirror of sapt_core.cli.main for the `metrics` command only."""
    parser = argparse.ArgumentParser(prog="sapt metrics")
    metrics.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return metrics.run(args)
    except SaptError as e:
        import sys

        print(f"error: {e}", file=sys.stderr)
        return 2


KEYS = {"T", "AP", "F.Ra", "FWT", "BWT", "F.Ra_history_max", "BWT_over_T", "FWT_constant_50.94", "AP_per_step", "tasks"}


def test_cli_prints_json_and_writes_out(tmp_path, capsys):
    (tmp_path / "m.csv").write_text(",t1,t2,t3,t4\n" + "".join(
        f"s{i + 1}," + ",".join("" if math.isnan(x) else str(x) for x in row) + "\n" for i, row in enumerate(A4)))
    (tmp_path / "s.csv").write_text("task,score\nt4,70\nt3,60\nt2,45\nt1,55\n")
    out = tmp_path / "res" / "metrics.json"
    rc = _cli(["--matrix", str(tmp_path / "m.csv"), "--single", str(tmp_path / "s.csv"), "--out", str(out)])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == KEYS
    assert printed["FWT"] == pytest.approx(2.5) and printed["F.Ra_history_max"] == pytest.approx(19 / 3)
    assert printed["tasks"] == ["t1", "t2", "t3", "t4"]
    assert json.loads(out.read_text()) == printed


def test_cli_without_single(tmp_path, capsys):
    (tmp_path / "m.csv").write_text(PLAIN)
    assert _cli(["--matrix", str(tmp_path / "m.csv")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["FWT"] is None and printed["tasks"] is None and printed["AP"] == pytest.approx(70.0)


@pytest.mark.parametrize(
    "matrix, single, bad, match",
    [
        ("80,,\n70,abc,\n65,55,90\n", None, "m.csv", "line 2 .*'abc' is not a number"),
        ("80,1,\n70,60,\n65,55,90\n", None, "m.csv", "line 1 .*column 2.*above the diagonal"),
        ("80,,\n,60,\n65,55,90\n", None, "m.csv", "line 2 .*column 1.*missing score"),
        ("80,,\n70,60,\n65,55\n", None, "m.csv", "line 3 .*column 3.*missing score"),
        ("t1,t2,t3\n80,,\n70,60,\n", None, "m.csv", "header names 3 tasks .* 2 step rows"),
        ("80,,\n70,60,\n65,55,90,1\n", None, "m.csv", "line 3: 4 score cells, expected 3"),
        ("t1,t2,t3\n" + PLAIN, "task,score\nt1,75\nt2,50\n", "s.csv", r"task\(s\) t3"),
        (PLAIN, "t1,75\nt2,50\nt3,85\n", "s.csv", "lacks columns 'task' and 'score'"),
        (PLAIN, "task,score\nt1,75\nt2,x\nt3,85\n", "s.csv", "line 3, column score: 'x'"),
        (PLAIN, "task,score\nt1,75\nt2,50\n", "s.csv", "2 single-task scores, expected 3"),
        (None, None, "m.csv", "not found"),
    ],
)
def test_cli_bad_inputs(tmp_path, capsys, matrix, single, bad, match):
    import re

    argv = ["--matrix", str(tmp_path / "m.csv")]
    if matrix is not None:
        (tmp_path / "m.csv").write_text(matrix)
    if single is not None:
        (tmp_path / "s.csv").write_text(single)
        argv += ["--single", str(tmp_path / "s.csv")]
    argv += ["--out", str(tmp_path / "out.json")]
    assert _cli(argv) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and not (tmp_path / "out.json").exists()
    err = cap.err.strip()
    assert "\n" not in err and err.startswith("error: ") and str(tmp_path / bad) in err
    assert re.search(match, err), err


def test_through_sapt_cli_main(tmp_path, capsys, monkeypatch):
    from sapt_core import cli

    try:
        cli.build_parser()
    except ModuleNotFoundError:  # a sibling command module is not written yet: register only `metrics`
        monkeypatch.setattr(cli, "COMMANDS", {"metrics": cli.COMMANDS["metrics"]})
    (tmp_path / "m.csv").write_text(PLAIN)
    assert cli.main(["metrics", "--matrix", str(tmp_path / "m.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["AP"] == pytest.approx(70.0)
    (tmp_path / "bad.csv").write_text("80,1\n70,60\n")
    assert cli.main(["metrics", "--matrix", str(tmp_path / "bad.csv")]) == 2
    assert str(tmp_path / "bad.csv") in capsys.readouterr().err
