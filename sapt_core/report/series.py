"""The per-series numbers of the metric figures (paper Figures 4-7): AP, F.Ra and FWT of each series at each x
position, the mean over a benchmark's orders within each seed (the seeds then give the error bars)."""

from __future__ import annotations

from collections import defaultdict

FIG_METRICS = (("AP", "AP (higher is better)"), ("F.Ra", "F.Ra, forgetting (lower is better)"),
               ("FWT", "FWT, forward transfer (higher is better)"))
PANEL_ORDER = ("SuperNI", "Long_Sequence")  # one row of panels per benchmark, in the paper's order


def grouped_metrics(metrics: list[dict], series=lambda r: r["method"], x=lambda r: r["backbone"]) -> dict:
    """{benchmark: {metric: {series: {x: [per-seed values, each the mean over orders]}}}}; ``series`` and ``x`` map
    a run's identity to its curve and x position. Metrics that do not apply (None, e.g. MTL's F.Ra) are left out
    of the order mean (NaN when no order has one)."""
    import numpy as np

    by = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))  # b -> series -> x -> seed
    for m in metrics:
        r = m["run"]
        by[r["benchmark"]][series(r)][x(r)][r["seed"]].append(m["metrics"])
    out = {}
    for bench, curves in by.items():
        out[bench] = {k: {} for k, _ in FIG_METRICS}
        for name, points in curves.items():
            for key, _ in FIG_METRICS:
                out[bench][key][name] = {
                    p: [float(np.mean([float(v[key]) for v in per_order if v[key] is not None] or [np.nan]))
                        for per_order in seeds.values()]
                    for p, seeds in points.items()}
    return out


def ordered(found, wanted) -> list:
    """``found`` (deduplicated, first appearance) with the ``wanted`` ones first, in that order."""
    found = list(dict.fromkeys(found))
    return [x for x in wanted if x in found] + [x for x in found if x not in wanted] if wanted else found
