"""Every run's metrics as one tidy pandas DataFrame, and ``sapt report-runs``: that frame as ``results/runs.csv``.

One row per run (benchmark, order, backbone, method, seed) and metric variant (``paper``: each task's own metric,
paper section 5.1.2; ``rougeL_all``: Rouge-L for every task, the official score.py), from the run's ``metrics.json``
(``sapt run-metrics``). Columns: the run keys, ``variant``, ``T`` (tasks in the chain), ``AP``, ``F.Ra``, ``FWT``,
``BWT`` (paper eqs. 1-4; empty where they do not apply), ``F.Ra_history_max``, ``BWT_over_T``,
``FWT_constant_50.94`` (the official score.py's formulas, docs/official_code.md section 5), ``AP_step1 ..
AP_stepN`` (AP after each step, paper Figure 8), then what the result tables note under their cells: ``tasks``
(training order), ``data_protocol``, ``derived`` (tasks whose test split was held out from train), ``selection``,
``select_every_epochs``, ``attention_split`` (the model-selection protocol of the run's states), ``constant_final``
(tasks whose final-step predictions are one constant string), ``backbone_dtype`` (the dtype the backbone's weights
trained in), ``data_differs`` (tasks whose prepared data did not come from files identical to upstream) and
``metrics_file``. Task lists are ``;``-joined; a field the metrics file does not record is empty.

A researcher loads every result with ``pd.read_csv("results/runs.csv")``; ``df[df.variant == "paper"]`` has one row
per run.
"""

from __future__ import annotations

import argparse
import math

from sapt_core.errors import SaptError
from sapt_core.layout import RUN_KEYS, metrics_file
from sapt_core.report.registry import METRICS, VARIANTS

METRIC_NAMES = tuple(name for name, _ in METRICS)
# the official score.py formulas of F.Ra, BWT, FWT (sapt_core.evaluation.metrics.cl_metrics): kept beside the paper's so a table
# can show them instead (sapt_core.report.paper_formulas)
OFFICIAL_FORMULA_NAMES = ("F.Ra_history_max", "BWT_over_T", "FWT_constant_50.94")
PROTOCOL_FIELDS = ("selection", "select_every_epochs", "attention_split")
LIST_SEP = ";"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metrics", nargs="*", default=[], metavar="METRICS_JSON",
                   help="run metrics.json files (sapt run-metrics)")
    p.add_argument("--out", required=True, metavar="CSV", help="the tidy table to write (results/runs.csv)")


def run(args: argparse.Namespace) -> int:
    from sapt_core.io import atomic_write_text

    frame = runs_frame(args.metrics)
    atomic_write_text(args.out, frame.to_csv(index=False, lineterminator="\n"))
    print(f"wrote {args.out} ({len(args.metrics)} runs, {len(frame)} rows)")
    return 0


def read_metrics(path) -> dict:
    """A run metrics JSON (``sapt run-metrics``), checked for what the report reads from it."""
    from sapt_core.io import read_json

    doc = read_json(path, "run metrics JSON")
    run = doc.get("run") if isinstance(doc, dict) else None
    if not isinstance(run, dict) or any(k not in run for k in RUN_KEYS):
        raise SaptError(f"{path}: expected a run metrics JSON (sapt run-metrics) with run.{{{', '.join(RUN_KEYS)}}}")
    if isinstance(run["seed"], bool) or not isinstance(run["seed"], int):
        raise SaptError(f"{path}: run.seed: expected an integer, got {run['seed']!r}")
    for key, _ in VARIANTS.values():
        if not isinstance(doc.get(key), dict):
            raise SaptError(f"{path}: expected a '{key}' mapping (written by sapt run-metrics)")
    for name in (*METRIC_NAMES, *OFFICIAL_FORMULA_NAMES):
        for key, _ in VARIANTS.values():
            v = doc[key].get(name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise SaptError(f"{path}: {key}.{name}: expected a finite number or null, got {v!r}")
    stats = doc.get("prediction_stats")
    if stats is not None and not (isinstance(stats, list) and all(isinstance(r, list) for r in stats)):
        raise SaptError(f"{path}: prediction_stats: expected a T x T list of rows or null")
    return doc


def constant_final(doc: dict) -> list[str]:
    """Tasks whose predictions after the last step are one constant string (``top_share`` 1.0)."""
    stats = doc.get("prediction_stats")
    if not stats:
        return []
    last = stats[-1]
    return [t for t, s in zip(doc.get("tasks") or [], last) if isinstance(s, dict) and s.get("top_share") == 1.0]


def _row(path: str, doc: dict, variant: str) -> dict:
    key, _ = VARIANTS[variant]
    m = doc[key]
    protocol = doc.get("protocol") or {}
    row = {k: doc["run"][k] for k in RUN_KEYS}
    row.update({"variant": variant, "T": m.get("T")})
    row.update({name: m.get(name) for name in (*METRIC_NAMES, *OFFICIAL_FORMULA_NAMES)})
    row.update({f"AP_step{k}": v for k, v in enumerate(m.get("AP_per_step") or [], 1)})
    row.update({
        "tasks": LIST_SEP.join(doc.get("tasks") or []),
        "data_protocol": doc.get("data_protocol"),
        "derived": LIST_SEP.join(doc.get("derived") or []),
        **{f: protocol.get(f) for f in PROTOCOL_FIELDS},
        "constant_final": LIST_SEP.join(constant_final(doc)),
        "backbone_dtype": (doc.get("dtypes") or {}).get("backbone"),
        "data_differs": None if doc.get("data_differs") is None else LIST_SEP.join(doc["data_differs"]),
        "metrics_file": str(path),
    })
    return row


def runs_frame(metrics_files, benchmarks=None):
    """The tidy DataFrame of the given metrics files (input order; ``paper`` then ``rougeL_all`` per run). With
    ``benchmarks`` (:func:`sapt_core.settings.benchmarks.load_benchmarks`) each run's order must belong to its benchmark.
    Two files of the same run are an error naming both."""
    import pandas as pd

    rows, seen = [], {}
    for path in metrics_files:
        doc = read_metrics(path)
        r = doc["run"]
        b, o = r["benchmark"], r["order"]
        if benchmarks is not None and (b not in benchmarks or o not in benchmarks[b].orders):
            raise SaptError(f"{path}: run.order {o!r} is not an order of benchmark {b!r} in the benchmarks file")
        key = tuple(r[k] for k in RUN_KEYS)
        if key in seen:
            raise SaptError(f"{path}: same run ({metrics_file(*key)}) as {seen[key]}")
        seen[key] = str(path)
        rows += [_row(str(path), doc, v) for v in VARIANTS]
    steps = max((int(c[7:]) for r in rows for c in r if c.startswith("AP_step")), default=0)
    columns = [*RUN_KEYS, "variant", "T", *METRIC_NAMES, *OFFICIAL_FORMULA_NAMES,
               *(f"AP_step{k}" for k in range(1, steps + 1)), "tasks", "data_protocol", "derived", *PROTOCOL_FIELDS,
               "constant_final", "backbone_dtype", "data_differs", "metrics_file"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({name: "float64" for name in (*METRIC_NAMES, *OFFICIAL_FORMULA_NAMES)})


def split_list(text) -> list[str]:
    """A ``;``-joined task list of the frame back as a list (empty / missing -> [])."""
    return [t for t in str(text).split(LIST_SEP) if t] if isinstance(text, str) else []
