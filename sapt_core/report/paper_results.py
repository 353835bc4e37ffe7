"""The paper's published numbers (its Tables 1, 2, 3, 8 and 9, T5-large), read from ``config/paper_results.yaml``.

:func:`load_paper_results` checks the file against the tables it names (every row a method with its printed label,
every column group with exactly the table's metrics, numbers or ``not reported``) and returns one tidy row per cell:
``table, group, benchmark, order, method, paper_label, metric, value`` (``value`` NaN where the paper prints ``-``,
``reported`` False there). :func:`inconsistent_cells` lists where the paper's Table 1 is not the mean of its Tables 8
and 9 over the two orders of a benchmark, allowing for the rounding of the printed 2-decimal numbers.
"""

from __future__ import annotations

import math

from sapt_core.errors import SaptError
from sapt_core.report.registry import PAPER_TABLES, PER_ORDER

NOT_REPORTED = "not reported"
ROUNDING = 0.005  # half a unit of the printed 2nd decimal
COLUMNS = ["table", "group", "benchmark", "order", "method", "paper_label", "metric", "value", "reported"]


def load_paper_results(path):
    """The tidy DataFrame of every published cell (see the module docstring); ``attrs`` holds the file's
    ``backbone``, ``n_tasks``, ``path`` and each table's ``orders`` (those its cells average)."""
    import pandas as pd
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except FileNotFoundError:
        raise SaptError(f"{path}: paper results file not found") from None
    except yaml.YAMLError as e:
        raise SaptError(f"{path}: malformed YAML ({' '.join(str(e).split())})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tables"), dict):
        raise SaptError(f"{path}: expected a mapping with 'tables' (the paper's published numbers)")
    rows = []
    for table, spec in doc["tables"].items():
        where = f"{path}: tables.{table}"
        if table not in PAPER_TABLES:
            raise SaptError(f"{where}: not a table with published numbers (expected one of {', '.join(PAPER_TABLES)})")
        groups, metrics = spec.get("groups"), spec.get("metrics")
        if not isinstance(groups, dict) or not groups or not isinstance(metrics, list) or not metrics:
            raise SaptError(f"{where}: expected 'groups' (group -> its orders) and 'metrics' (a list)")
        if not isinstance(spec.get("rows"), dict) or not spec["rows"]:
            raise SaptError(f"{where}.rows: expected a mapping method -> its cells")
        for method, row in spec["rows"].items():
            if not isinstance(row, dict) or not isinstance(row.get("paper_label"), str):
                raise SaptError(f"{where}.rows.{method}: expected a mapping with 'paper_label' (the printed row name)")
            extra = sorted(set(row) - {"paper_label"} - set(groups))
            if extra:
                raise SaptError(f"{where}.rows.{method}.{extra[0]}: not a column group of {table} "
                                f"({', '.join(groups)})")
            for group in groups:
                rows += _cells(f"{where}.rows.{method}.{group}", row.get(group), metrics,
                               dict(table=table, group=group, method=method, paper_label=row["paper_label"],
                                    benchmark=spec.get("benchmark", PER_ORDER.get(table, group)),
                                    order=group if table in PER_ORDER else None))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    protocols = doc.get("data_protocols") or {}
    if not isinstance(protocols, dict) or any(v not in ("official", "paper") for v in protocols.values()):
        raise SaptError(f"{path}: data_protocols: expected a mapping benchmark -> official | paper")
    frame.attrs = {"backbone": doc.get("backbone"), "n_tasks": doc.get("n_tasks"), "path": str(path),
                   "data_protocols": dict(protocols),
                   "orders": {t: sorted({o for os_ in spec["groups"].values() for o in os_ or ()})
                              for t, spec in doc["tables"].items()}}
    return frame


def _cells(where: str, cells, metrics: list, keys: dict) -> list[dict]:
    if cells == NOT_REPORTED:
        return [dict(keys, metric=m, value=math.nan, reported=False) for m in metrics]
    if not isinstance(cells, dict) or set(cells) != set(metrics):
        raise SaptError(f"{where}: expected a value for each of {', '.join(metrics)} (or '{NOT_REPORTED}'), "
                        f"got {cells!r}")
    out = []
    for m in metrics:
        v = cells[m]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise SaptError(f"{where}.{m}: expected a number, got {v!r}")
        out.append(dict(keys, metric=m, value=float(v), reported=True))
    return out


def inconsistent_cells(paper, average: str = "table1", per_order=("table8", "table9")):
    """Cells of ``average`` (a benchmark's orders averaged) that are not the mean of the per-order tables' cells,
    beyond rounding: |printed mean - mean of the printed order values| > 2 x 0.005 (each side carries half a unit of
    rounding of the 2nd decimal). Returns a DataFrame ``method, paper_label, benchmark, metric, value, orders
    (the per-order values), mean_of_orders, difference``."""
    import pandas as pd

    avg = paper[(paper["table"] == average) & paper["reported"]]
    orders = paper[paper["table"].isin(per_order) & paper["reported"]]
    by = orders.groupby(["method", "benchmark", "metric"], sort=False)["value"]
    means, values = by.mean(), by.agg(list)
    out = []
    for r in avg.itertuples(index=False):
        key = (r.method, r.benchmark, r.metric)
        if key not in means.index:
            continue
        diff = r.value - means[key]
        if abs(diff) > 2 * ROUNDING + 1e-9:
            out.append(dict(method=r.method, paper_label=r.paper_label, benchmark=r.benchmark, metric=r.metric,
                            value=r.value, orders=values[key], mean_of_orders=means[key], difference=diff))
    return pd.DataFrame(out, columns=["method", "paper_label", "benchmark", "metric", "value", "orders",
                                      "mean_of_orders", "difference"])
