"""Continual-learning metrics from a score matrix (paper Sec. 5.1.2) and the official ``score.py`` variants.

Conventions (0-based): ``a[i][j]`` is the test score (0-100; anything outside is refused) of task j+1 after training step i+1, so row i is "after
step i+1" and column j is task j+1 in training order. ``a`` is T x T and lower-triangular: entries j > i (task not yet
seen) are NaN/None. ``single[t]`` is the paper's a_{0,t}, task t trained on its own. The paper writes a_{i,j} 1-based;
here ``a[T-1]`` is the paper's row T.

CSV layout (``read_matrix_csv``): one row per step, one column per task, empty cells above the diagonal; an optional
header row of task names (detected when it holds a non-numeric cell; all-numeric task names are not supported) and an
optional first column of step labels (detected when every first cell is non-numeric, or when the first cells are
exactly 1..T and the header, or without a header the widest row, has T+1 cells).
Single-task CSV (``read_single_csv``): header required with columns ``task`` and ``score``.

``sapt metrics --matrix M.csv [--single S.csv] [--out metrics.json]`` prints :func:`cl_metrics` plus ``"tasks"``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from sapt_core.errors import SaptError

SCORE_MIN, SCORE_MAX = 0.0, 100.0  # accuracy and Rouge-L in percent
FWT_CONSTANT = 50.94  # hard-coded in the official score.py: FWT = mean_j S[j][j] - 50.94
_BLANK = {"", "nan", "na", "n/a", "none", "null", "-"}


# --------------------------------------------------------------------------------------------------- validation
def check_matrix(a, source: str = "matrix") -> np.ndarray:
    """Return ``a`` as a float T x T array (NaN above the diagonal) or raise SaptError naming ``source``.

    Accepts a list of rows or an array; None/NaN above the diagonal; rows may also be ragged (row i of length >= i+1)."""
    try:
        rows = [list(r) for r in a]
    except TypeError:
        raise SaptError(f"{source}: expected a T x T list of rows") from None
    T = len(rows)
    if T == 0:
        raise SaptError(f"{source}: empty score matrix")
    out = np.full((T, T), np.nan)
    for i, row in enumerate(rows):
        if not i < len(row) <= T:
            raise SaptError(f"{source}: row {i + 1} has {len(row)} entries, expected {T} (square matrix; a ragged "
                            f"lower-triangular row needs at least {i + 1})")
        for j, v in enumerate(row):
            try:
                x = math.nan if v is None else float(v)
            except (TypeError, ValueError):
                raise SaptError(f"{source}: row {i + 1}, column {j + 1}: {v!r} is not a number") from None
            if j > i and not math.isnan(x):
                raise SaptError(f"{source}: row {i + 1}, column {j + 1}: task {j + 1} not yet trained after step "
                                f"{i + 1}, expected NaN/empty above the diagonal, got {x}")
            if j <= i and not (math.isfinite(x) and SCORE_MIN <= x <= SCORE_MAX):
                raise SaptError(f"{source}: row {i + 1}, column {j + 1}: expected a finite score in {SCORE_MIN:g}-"
                                f"{SCORE_MAX:g} on/below the diagonal, got {v!r}")
            out[i, j] = x
    return out


def _check_single(single, T: int, source: str = "single") -> np.ndarray:
    try:
        s = np.asarray(single, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise SaptError(f"{source}: single-task scores must be numbers") from None
    if s.size != T:
        raise SaptError(f"{source}: {s.size} single-task scores, expected {T} (one per task of the matrix)")
    bad = [i for i, x in enumerate(s) if not (math.isfinite(x) and SCORE_MIN <= x <= SCORE_MAX)]
    if bad:
        raise SaptError(f"{source}: single-task score {bad[0] + 1}: expected a finite score in {SCORE_MIN:g}-{SCORE_MAX:g}, "
                        f"got {s[bad[0]]!r}")
    return s


# --------------------------------------------------------------------------------------------------- paper metrics
def average_performance(a) -> float:
    """AP (paper eq. 1, Chaudhry et al. 2018): A_T = 1/T sum_{t=1..T} a_{T,t}, the mean of the last row."""
    a = check_matrix(a)
    return float(a[-1].mean())


def forgetting_rate(a) -> float | None:
    """F.Ra (paper eq. 2): F_T = 1/(T-1) sum_{t=1..T-1} (a_{t,t} - a_{T,t}). Undefined (None) when T = 1."""
    a = check_matrix(a)
    T = len(a)
    return None if T == 1 else float(np.mean([a[t, t] - a[T - 1, t] for t in range(T - 1)]))


def forward_transfer(a, single) -> float:
    """FWT (paper eq. 3, Lopez-Paz & Ranzato 2017): FWT_T = 1/T sum_{t=1..T} (a_{t,t} - a_{0,t}), a_{0,t} = single[t]."""
    a = check_matrix(a)
    s = _check_single(single, len(a))
    return float(np.mean(np.diag(a) - s))


def backward_transfer(a) -> float | None:
    """BWT (paper eq. 4, Ke & Liu 2022): BWT_T = 1/(T-1) sum_{t=1..T-1} (a_{T,t} - a_{t,t}). None when T = 1.

    Equals -F.Ra by construction (the paper reports both)."""
    a = check_matrix(a)
    T = len(a)
    return None if T == 1 else float(np.mean([a[T - 1, t] - a[t, t] for t in range(T - 1)]))


# --------------------------------------------------------------------------------------------------- score.py variants
def forgetting_rate_history_max(a) -> float | None:
    """Official score.py F.Ra: mean over j < T-1 of (max_{j <= i <= T-2} a[i][j] - a[T-1][j]).

    Uses the best historical score instead of a_{j,j}, so it is >= the paper's F.Ra. (score.py pads unseen entries
    with 0 and takes the max over all i <= T-2; with non-negative scores that is the same.) None when T = 1."""
    a = check_matrix(a)
    T = len(a)
    if T == 1:
        return None
    return float(np.mean([a[j:T - 1, j].max() - a[T - 1, j] for j in range(T - 1)]))


def backward_transfer_over_T(a) -> float | None:
    """Official score.py BWT: sum_{j=0..T-1} (a[T-1][j] - a[j][j]) / T (denominator T; the last term is 0).

    Equals (T-1)/T * the paper's BWT. None when T = 1 (score.py would print 0.0, but no task precedes the last)."""
    a = check_matrix(a)
    T = len(a)
    return None if T == 1 else float(sum(a[T - 1, j] - a[j, j] for j in range(T)) / T)


def forward_transfer_constant(a, constant: float = FWT_CONSTANT) -> float:
    """Official score.py FWT: mean_j a[j][j] - constant. score.py hard-codes constant = 50.94 (presumably one
    particular single-task run's mean) and ignores the per-task single-run scores it loads."""
    a = check_matrix(a)
    return float(np.diag(a).mean() - constant)


def ap_per_step(a) -> list[float]:
    """AP after each step k (paper Figure 8): A_k = 1/k sum_{t=1..k} a_{k,t}, the mean of row k over seen tasks."""
    a = check_matrix(a)
    return [float(a[k, : k + 1].mean()) for k in range(len(a))]


def cl_metrics(a, single=None) -> dict:
    """All metrics of a score matrix as a JSON-ready dict (None for undefined values).

    Keys: ``T``; paper (Sec. 5.1.2): ``AP``, ``F.Ra``, ``FWT`` (None without ``single``), ``BWT`` (F.Ra and BWT are
    None when T = 1: no task precedes the last); official score.py: ``F.Ra_history_max``, ``BWT_over_T``,
    ``FWT_constant_50.94``; and ``AP_per_step`` (Figure 8)."""
    a = check_matrix(a)
    return {
        "T": len(a),
        "AP": average_performance(a),
        "F.Ra": forgetting_rate(a),
        "FWT": None if single is None else forward_transfer(a, single),
        "BWT": backward_transfer(a),
        "F.Ra_history_max": forgetting_rate_history_max(a),
        "BWT_over_T": backward_transfer_over_T(a),
        "FWT_constant_50.94": forward_transfer_constant(a),
        "AP_per_step": ap_per_step(a),
    }


# --------------------------------------------------------------------------------------------------- CSV I/O
def _is_num(c: str) -> bool:
    try:
        float(c)
        return True
    except ValueError:
        return False


def _is_name(c: str) -> bool:
    return c.lower() not in _BLANK and not _is_num(c)


def _read_rows(path: Path, what: str) -> tuple[list[int], list[list[str]]]:
    """Non-blank CSV rows (cells stripped) and their 1-based line numbers."""
    if not path.is_file():
        raise SaptError(f"{path}: {what} not found")
    lines, rows = [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for r in reader:
                if any(c.strip() for c in r):
                    lines.append(reader.line_num)
                    rows.append([c.strip() for c in r])
    except (UnicodeDecodeError, csv.Error) as e:
        raise SaptError(f"{path}: unreadable {what} ({e})") from None
    return lines, rows


def read_matrix_csv(path) -> tuple[np.ndarray, list[str] | None]:
    """Read a score-matrix CSV; return ``(a, task_names or None)`` with ``a`` validated as by :func:`check_matrix`.

    Row i = after step i, column j = task j in training order; cells above the diagonal empty (``nan``/``NA``/
    ``None``/``-`` are also read as empty), cells on/below it numbers. Optional header row of task names and optional
    first column of step labels (see the module docstring for how they are detected)."""
    path = Path(path)
    lines, rows = _read_rows(path, "score-matrix CSV")
    if not rows:
        raise SaptError(f"{path}: empty score-matrix CSV")
    first = rows[0]
    header = None
    if any(_is_name(c) for c in first[1:]) or (len(first) == 1 and _is_name(first[0])):
        header = list(first)
        while header and header[-1] == "":
            header.pop()
        lines, rows = lines[1:], rows[1:]
    R = len(rows)
    if R == 0:
        raise SaptError(f"{path}: header row but no score rows")
    numbered = [r[0] for r in rows] == [str(k) for k in range(1, R + 1)]  # step labels 1..R
    width = len(header) if header is not None else max(len(r) for r in rows)
    labels = all(_is_name(r[0]) for r in rows) or (numbered and width == R + 1)
    if header is not None:
        names = header[1:] if labels and len(header) == R + 1 else header
        if len(names) != R or not all(names):
            raise SaptError(f"{path}: header names {len(names)} tasks ({', '.join(names)}) but the file has {R} step "
                            "rows; expected one row per task (square matrix), task names non-empty")
        if len(set(names)) != R:
            raise SaptError(f"{path}: duplicate task names in the header")
    else:
        names = None
    first_col = 1 if labels else 0
    a = np.full((R, R), np.nan)
    for i, r in enumerate(rows):
        cells = r[first_col:]
        line = lines[i]
        extra = [c for c in cells[R:] if c]
        if extra:
            raise SaptError(f"{path}: line {line}: {len(cells)} score cells, expected {R} (one per task)")
        cells = cells + [""] * (R - len(cells))
        for j, c in enumerate(cells[:R]):
            task = f"task {j + 1}" + (f" ({names[j]})" if names else "")
            where = f"{path}: line {line} (after step {i + 1}), column {j + 1 + first_col} ({task})"
            if j > i:
                if c.lower() not in _BLANK:
                    raise SaptError(f"{where}: {c!r} above the diagonal, expected an empty cell (task not yet "
                                    "trained)")
                continue
            if c.lower() in _BLANK:
                raise SaptError(f"{where}: missing score, expected a number on/below the diagonal")
            try:
                a[i, j] = float(c)
            except ValueError:
                raise SaptError(f"{where}: {c!r} is not a number") from None
            if not math.isfinite(a[i, j]):
                raise SaptError(f"{where}: {c!r} is not a finite number")
            if not SCORE_MIN <= a[i, j] <= SCORE_MAX:
                raise SaptError(f"{where}: expected a score in {SCORE_MIN:g}-{SCORE_MAX:g} (percent), got {c!r}")
    return check_matrix(a, str(path)), names


def read_single_csv(path, tasks: list[str] | None = None) -> list[float]:
    """Read single-task scores a_{0,t} from a CSV with a header holding columns ``task`` and ``score``.

    With ``tasks`` (the matrix header's names) the scores are returned in that order (extra rows are ignored, a
    missing task is an error); without, in file order."""
    path = Path(path)
    lines, rows = _read_rows(path, "single-task CSV")
    if not rows:
        raise SaptError(f"{path}: empty single-task CSV, expected a header with columns task,score")
    head = [c.lower() for c in rows[0]]
    if "task" not in head or "score" not in head:
        raise SaptError(f"{path}: header {','.join(rows[0])!r} lacks columns 'task' and 'score' (header required)")
    ti, si = head.index("task"), head.index("score")
    scores: dict[str, float] = {}
    for n, r in zip(lines[1:], rows[1:]):
        r = r + [""] * (len(head) - len(r))
        task, cell = r[ti], r[si]
        if not task:
            raise SaptError(f"{path}: line {n}: empty task name")
        if task in scores:
            raise SaptError(f"{path}: line {n}: duplicate task {task!r}")
        try:
            scores[task] = float(cell)
        except ValueError:
            raise SaptError(f"{path}: line {n}, column score: {cell!r} is not a number") from None
        if not math.isfinite(scores[task]):
            raise SaptError(f"{path}: line {n}, column score: {cell!r} is not a finite number")
        if not SCORE_MIN <= scores[task] <= SCORE_MAX:
            raise SaptError(f"{path}: line {n}, column score: expected a score in {SCORE_MIN:g}-{SCORE_MAX:g} "
                            f"(percent), got {cell!r}")
    if not scores:
        raise SaptError(f"{path}: no single-task scores")
    if tasks is None:
        return list(scores.values())
    missing = [t for t in tasks if t not in scores]
    if missing:
        raise SaptError(f"{path}: no single-task score for task(s) {', '.join(missing)} of the matrix")
    return [scores[t] for t in tasks]


# --------------------------------------------------------------------------------------------------- CLI
def add_arguments(parser) -> None:
    parser.add_argument("--matrix", required=True, help="score-matrix CSV: row i = after step i, column j = task j")
    parser.add_argument("--single", help="single-task scores CSV with columns task,score (enables paper FWT)")
    parser.add_argument("--out", help="also write the metrics JSON here (atomically)")


def run(args) -> int:
    a, tasks = read_matrix_csv(args.matrix)
    single = None
    if args.single:
        single = read_single_csv(args.single, tasks)
        _check_single(single, len(a), str(args.single))
    result = cl_metrics(a, single)
    result["tasks"] = tasks
    print(json.dumps(result, indent=2, allow_nan=False))
    if args.out:
        from sapt_core.io import atomic_write_json

        atomic_write_json(args.out, result)
    return 0
