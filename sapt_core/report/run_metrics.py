"""``sapt run-metrics``: the score matrix and CL metrics (paper section 5.1.2) of one continual run.

A run is (benchmark, order, backbone, method, seed); its directory holds ``step{k}/scores.json`` (written by
``sapt evaluate --state``) for k = 1..T with the test scores of tasks 1..k of the order after training step k. This
command builds the T x T matrix ``a[k-1][j]`` = score of task j+1 after step k (None above the diagonal), reads the
single-task scores a_{0,t} (one ``scores.json`` per task, in order; optional: without them FWT is null), and writes

* ``metrics.json`` (``--out``)::

    {"run": {"benchmark", "order", "backbone", "method", "seed"},
     "tasks": [T task names in training order], "metric_per_task": ["accuracy" | "rougeL", ...],
     "matrix": [[score or null, ...], ...],            # the task's own metric (paper section 5.1.2)
     "matrix_rougeL": [[...], ...],                    # Rouge-L for every task (official score.py)
     "single": [a_0t, ...] | null, "single_rougeL": [...] | null,
     "metrics": cl_metrics(matrix, single),            # AP, F.Ra, FWT, BWT + score.py variants, AP per step
     "metrics_rougeL_all": cl_metrics(matrix_rougeL, single_rougeL),
     "derived": [tasks whose test split was held out from train (scores marked "derived")],
     "data_protocol": "official" | "paper" | null,      # from the data paths the scores were computed on
     "prediction_stats": [[{"n", "top", "top_share", "empty_share", "valid_share"} | null, ...], ...] | null,
                                                        # T x T like "matrix": what the step-k model predicted for
                                                        # task j (share of its most frequent prediction, of empty
                                                        # ones, of valid labels); null where not recorded
     "protocol": {"selection": "none" | "val" | "test", "select_every_epochs", "attention_split"} | null,
                                                        # the model-selection policy (the last step's scores)
     "dtypes": {"backbone", "trainable"} | null,        # the last step's training dtypes (its state sidecar)
     "data_differs": [tasks whose prepared data did not come from files identical to upstream] | null,
     "backbone_provenance": the last step's scores "backbone" entry,
     "sources": {"step1": {"path", "sha256"}, ..., "stepT": {...}, "single": {task: {"path", "sha256"}} | null}}

  Score files written before ``sapt evaluate`` recorded predictions, upstream or protocol give null for those fields.

* ``matrix.csv`` beside it: header ``step,<task 1>,...,<task T>``, one row ``step{k}`` per step, empty cells above
  the diagonal; readable by :func:`sapt_core.evaluation.metrics.read_matrix_csv`.

Everything is read and checked before anything is written (a missing step file, a task missing from a step's scores,
a non-finite score: one ``error:`` line naming the file, exit 2, nothing written); both files are written atomically,
``matrix.csv`` first and ``metrics.json`` last.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

from sapt_core import layout
from sapt_core.errors import SaptError

_PROTOCOL_RE = re.compile(r"(?:^|/)data/([^/]+)/seed[^/]+/")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run-dir", required=True, metavar="RUN", help="run directory holding step{k}/scores.json")
    p.add_argument("--tasks", nargs="+", required=True, metavar="TASK", help="the order's tasks, in training order")
    p.add_argument("--single", nargs="*", default=None, metavar="SCORES",
                   help="single-task scores.json files (a_{0,t} for FWT), one per task in order; omit for none")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--order", required=True)
    p.add_argument("--backbone", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--ap-only", action="store_true",
                   help="MTL (the upper bound, one fresh model on tasks 1..T): reads step T's scores only (the run "
                        "trains no earlier step); AP is its one metric, F.Ra, FWT and BWT are reported as not "
                        "applicable (config/methods.yaml: MTL)")
    p.add_argument("--out", required=True, metavar="METRICS_JSON",
                   help="metrics JSON (RUN/metrics.json); matrix.csv is written beside it")


def _score(entry, key: str, path, task: str) -> float:
    v = entry.get(key) if isinstance(entry, dict) else None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise SaptError(f"{path}: tasks.{task}.{key}: expected a finite number, got {v!r}")
    return float(v)


SELECTIONS = ("none", "val", "test")
ATTENTION_SPLITS = ("train", "val", "test", None)  # SaptConfig.attn_split's values (tests/test_protocol.py)
UPSTREAM = ("match", "differs", None)


def _share(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= 1


def _prediction_stats(entry: dict, path, task: str) -> dict | None:
    """The task's ``predictions`` summary (``sapt evaluate``), checked; None when the scores file has none."""
    p = entry.get("predictions")
    if p is None:
        return None
    where = f"{path}: tasks.{task}.predictions"
    if not isinstance(p, dict):
        raise SaptError(f"{where}: expected a mapping {{n, top, top_share, empty_share, valid_share}}, got {p!r}")
    n = p.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise SaptError(f"{where}.n: expected a count, got {n!r}")
    if not isinstance(p.get("top"), str):
        raise SaptError(f"{where}.top: expected the most frequent prediction (a string), got {p.get('top')!r}")
    for key in ("top_share", "empty_share"):
        if not _share(p.get(key)):
            raise SaptError(f"{where}.{key}: expected a share in [0, 1], got {p.get(key)!r}")
    if p.get("valid_share") is not None and not _share(p["valid_share"]):
        raise SaptError(f"{where}.valid_share: expected a share in [0, 1] or null, got {p['valid_share']!r}")
    return {k: p.get(k) for k in ("n", "top", "top_share", "empty_share", "valid_share")}


def _upstream(entry: dict, path, task: str):
    u = entry.get("upstream")
    if u not in UPSTREAM:
        raise SaptError(f"{path}: tasks.{task}.upstream: expected 'match', 'differs' or null, got {u!r}")
    return u


def _protocol(doc: dict, path) -> dict | None:
    """The scores' ``protocol`` (the model-selection policy the state was trained under), checked; None if absent."""
    p = doc.get("protocol")
    if p is None:
        return None
    if not isinstance(p, dict) or p.get("selection") not in SELECTIONS:
        raise SaptError(f"{path}: protocol.selection: expected one of {', '.join(SELECTIONS)}, got "
                        f"{(p.get('selection') if isinstance(p, dict) else p)!r}")
    every = p.get("select_every_epochs")
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise SaptError(f"{path}: protocol.select_every_epochs: expected a number of epochs, got {every!r}")
    if p.get("attention_split") not in ATTENTION_SPLITS:
        raise SaptError(f"{path}: protocol.attention_split: expected train, val, test or null, got "
                        f"{p.get('attention_split')!r}")
    return {"selection": p["selection"], "select_every_epochs": every, "attention_split": p.get("attention_split")}


def _read_scores(path: Path, what: str) -> dict:
    from sapt_core.io import read_json

    doc = read_json(path, what)
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), dict):
        raise SaptError(f"{path}: expected a scores JSON (from sapt evaluate) with a 'tasks' mapping")
    return doc


def data_protocols(doc: dict) -> set[str]:
    """The data protocols (``official`` / ``paper``) of the prepared files a scores JSON was computed on."""
    out = set()
    for p in (doc.get("inputs") or {}):
        m = _PROTOCOL_RE.search(str(p).replace("\\", "/"))
        if m:
            out.add(m.group(1))
    return out


def build_run_metrics(run_dir, tasks: list[str], single_files: list[str] | None, run: dict,
                      last_step_only: bool = False) -> tuple[dict, str]:
    """Read and check every input; return ``(metrics_json_dict, matrix_csv_text)``. Writes nothing.
    ``last_step_only``: the run has step T alone (MTL): row T of the matrix, AP only."""
    from sapt_core.io import sha256_file
    from sapt_core.evaluation.metrics import cl_metrics

    run_dir = Path(run_dir)
    T = len(tasks)
    dup = [t for i, t in enumerate(tasks) if t in tasks[:i]]
    if dup:
        raise SaptError(f"--tasks: task {dup[0]!r} listed twice")
    if single_files is not None and len(single_files) not in (0, T):
        raise SaptError(f"--single: {len(single_files)} files for {T} tasks; give one per task of the order, in "
                        "order, or none")
    single_files = single_files or None

    a = [[None] * T for _ in range(T)]
    a_rl = [[None] * T for _ in range(T)]
    stats = [[None] * T for _ in range(T)]
    upstream: dict[str, set] = {}
    protocol = dtypes = None
    metric = [None] * T
    derived: set[str] = set()
    protocols: set[str] = set()
    sources: dict = {}
    backbone = None
    for k in ([T] if last_step_only else range(1, T + 1)):
        path = run_dir / layout.step_name(k) / layout.SCORES
        if not path.is_file():
            need = f"step{T}" if last_step_only else f"step1..step{T}"
            raise SaptError(f"{path}: scores of step {k} not found (run {run_dir} needs {need})")
        doc = _read_scores(path, f"scores of step {k}")
        state = doc.get("state")
        if isinstance(state, dict):
            if "step" in state and state["step"] != k:
                raise SaptError(f"{path}: state.step is {state['step']!r}, expected {k} (scores of another step?)")
            if "tasks" in state and list(state["tasks"]) != tasks[:k]:
                raise SaptError(f"{path}: state.tasks {state['tasks']} differ from the first {k} tasks of the order "
                                f"({', '.join(tasks[:k])})")
        for j in range(k):
            task = tasks[j]
            entry = doc["tasks"].get(task)
            if entry is None:
                raise SaptError(f"{path}: no score for task {task!r} (task {j + 1} of the order, trained by step {k})")
            a[k - 1][j] = _score(entry, "score", path, task)
            a_rl[k - 1][j] = _score(entry, "rougeL", path, task)
            stats[k - 1][j] = _prediction_stats(entry, path, task)
            upstream.setdefault(task, set()).add(_upstream(entry, path, task))
            m = entry.get("metric")
            if metric[j] is None:
                metric[j] = m
            elif m != metric[j]:
                raise SaptError(f"{path}: tasks.{task}.metric is {m!r}, but earlier steps scored it by {metric[j]!r}")
            if entry.get("derived"):
                derived.add(task)
        protocols |= data_protocols(doc)
        backbone = doc.get("backbone", backbone)
        protocol = _protocol(doc, path)  # the last step's
        dtypes = doc.get("dtypes") if isinstance(doc.get("dtypes"), dict) else None  # the last step's
        sources[f"step{k}"] = {"path": str(path), "sha256": sha256_file(path)}

    single = single_rl = None
    if single_files:
        single, single_rl, sources["single"] = [], [], {}
        for j, (task, f) in enumerate(zip(tasks, single_files)):
            path = Path(f)
            doc = _read_scores(path, f"single-task scores of {task}")
            entry = doc["tasks"].get(task)
            if entry is None:
                raise SaptError(f"{path}: no score for task {task!r} (--single file {j + 1} must score task {j + 1} "
                                f"of the order; it scores {', '.join(map(str, doc['tasks'])) or 'nothing'})")
            if entry.get("metric") != metric[j]:
                raise SaptError(f"{path}: tasks.{task}.metric is {entry.get('metric')!r}, but the run scored it by "
                                f"{metric[j]!r}")
            single.append(_score(entry, "score", path, task))
            single_rl.append(_score(entry, "rougeL", path, task))
            if entry.get("derived"):
                derived.add(task)
            upstream.setdefault(task, set()).add(_upstream(entry, path, task))
            protocols |= data_protocols(doc)
            sources["single"][task] = {"path": str(path), "sha256": sha256_file(path)}
    else:
        sources["single"] = None

    result = {
        "run": dict(run),
        "tasks": list(tasks),
        "metric_per_task": metric,
        "matrix": a,
        "matrix_rougeL": a_rl,
        "single": single,
        "single_rougeL": single_rl,
        "metrics": last_row_metrics(a) if last_step_only else cl_metrics(a, single),
        "metrics_rougeL_all": last_row_metrics(a_rl) if last_step_only else cl_metrics(a_rl, single_rl),
        "derived": [t for t in tasks if t in derived],
        "data_protocol": next(iter(protocols)) if len(protocols) == 1 else None,
        "prediction_stats": stats if any(x is not None for row in stats for x in row) else None,
        "protocol": protocol,
        "dtypes": dtypes,
        "data_differs": ([t for t in tasks if "differs" in upstream.get(t, ())]
                         if any(u is not None for us in upstream.values() for u in us) else None),
        "backbone_provenance": backbone,
        "sources": sources,
    }
    return result, matrix_csv(a, tasks)


def last_row_metrics(a) -> dict:
    """The metrics of a run scored after its last step only (MTL): ``T``, ``AP`` (the mean of row T, paper section
    5.1.2) and ``AP_per_step`` with only its last entry; the keys of :func:`sapt_core.evaluation.metrics.cl_metrics`, every
    other one None (it needs the rows of the earlier steps)."""
    from sapt_core.evaluation.metrics import cl_metrics

    T = len(a)
    ap = float(sum(a[T - 1]) / T)
    out = {key: None for key in cl_metrics([[0.0]])}
    out.update(T=T, AP=ap, AP_per_step=[None] * (T - 1) + [ap])
    return out


def matrix_csv(a, tasks: list[str]) -> str:
    """CSV text of a lower-triangular matrix: header ``step,<tasks>``, rows ``step{k}``, empty cells above it."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["step", *tasks])
    for k, row in enumerate(a, 1):
        w.writerow([f"step{k}"] + ["" if v is None else repr(float(v)) for v in row])
    return buf.getvalue()


def run(args: argparse.Namespace) -> int:
    from sapt_core.io import atomic_write_all, json_text

    run_info = {"benchmark": args.benchmark, "order": args.order, "backbone": args.backbone, "method": args.method,
                "seed": args.seed}
    result, csv_text = build_run_metrics(args.run_dir, list(args.tasks), args.single, run_info,
                                         last_step_only=args.ap_only)
    if args.ap_only:
        result["ap_only"] = ("MTL: one model trained from scratch on tasks 1..T after the last task; F.Ra, FWT and "
                             "BWT do not apply and the earlier steps are not trained")
    out = Path(args.out)
    atomic_write_all({out.parent / layout.MATRIX: csv_text, out: json_text(result)})  # both or neither
    m = result["metrics"]
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    print(f"{args.benchmark}/{args.order}/{args.backbone}/{args.method}/seed{args.seed}: AP {fmt(m['AP'])}, "
          f"F.Ra {fmt(m['F.Ra'])}, FWT {fmt(m['FWT'])}, BWT {fmt(m['BWT'])} (T={m['T']})")
    return 0
