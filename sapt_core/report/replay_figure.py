"""Figure 6 (paper Appendix E.2): AP, F.Ra and FWT against the replayed volume, per method and replay type.

The runs are method variants: Replay with real samples mixed into training, SAPT with ARM pseudo inputs or real
inputs in their place, LFPT5 with examples it generates itself. The planner says what each run is: ``--points
METHOD=SERIES:TYPE:VOLUME`` maps a run's method (a variant name such as ``replay~real_replay_volume=0.05``) to its
series method (``replay``, whose ``--labels`` name the legend shows), replay type (``real`` / ``pseudo``) and volume
(the fraction of each earlier task's training set). One series per (method, type); x = the volume (log scale); a
point is the mean over orders within a seed, then over seeds (error bars: ±1 sd over seeds).
"""

from __future__ import annotations

import math

from sapt_core.errors import SaptError
from sapt_core.report.series import FIG_METRICS, PANEL_ORDER, grouped_metrics, ordered

REPLAY_TYPES = ("real", "pseudo")


def parse_points(items: list[str]) -> dict[str, tuple[str, str, float]]:
    """``--points METHOD=SERIES:TYPE:VOLUME ...`` -> {method: (series, type, volume)}. A method name may itself hold
    ``=`` (variants), so the point is what follows the last ``=``."""
    out = {}
    for item in items:
        method, sep, point = item.rpartition("=")
        series, kind, volume = (point.split(":") + ["", "", ""])[:3] if point.count(":") == 2 else ("", "", "")
        try:
            v = float(volume)
        except ValueError:
            v = math.nan
        if not sep or not method or not series or kind not in REPLAY_TYPES or not (math.isfinite(v) and v > 0):
            raise SaptError(f"--points {item!r}: expected METHOD=SERIES:TYPE:VOLUME with TYPE real or pseudo and a "
                            "volume > 0")
        if method in out:
            raise SaptError(f"--points: method {method!r} given twice")
        out[method] = (series, kind, v)
    return out


def replay_series(metrics: list[dict], points: dict, labels: dict | None = None) -> dict:
    """{benchmark: {metric: {"<label> (<type>)": {volume: [per-seed values, each the mean over orders]}}}}, label =
    the series method's name in ``labels`` (the paper's), else the method name."""
    labels = labels or {}
    missing = sorted({m["run"]["method"] for m in metrics} - set(points))
    if missing:
        raise SaptError(f"--points: no replay type and volume for run method {missing[0]!r} (figure6)")

    def series(r):
        base, kind, _ = points[r["method"]]
        return f"{labels.get(base, base)} ({kind})"

    return grouped_metrics(metrics, series=series, x=lambda r: points[r["method"]][2])


def replay_figure(metrics: list[dict], plt, points: dict, labels: dict | None = None, methods=None):
    """The figure: one row of panels per benchmark, AP / F.Ra / FWT against the volume; ``methods`` orders the
    series (default: as found)."""
    import numpy as np

    labels = labels or {}
    data = replay_series(metrics, points, labels)
    wanted = [f"{labels.get(m, m)} ({kind})" for m in methods or () for kind in REPLAY_TYPES]
    benches = ordered(data, PANEL_ORDER)
    fig, axes = plt.subplots(len(benches), len(FIG_METRICS), figsize=(15, 1.4 + 3.9 * len(benches)), squeeze=False)
    for row, bench in enumerate(benches):
        for col, (key, label) in enumerate(FIG_METRICS):
            ax = axes[row][col]
            for i, name in enumerate(ordered(data[bench][key], wanted)):
                vols = data[bench][key][name]
                xs = sorted(vols)
                mean = np.array([np.nanmean(vols[v]) for v in xs])
                sd = np.array([np.nanstd(vols[v], ddof=1) if len(vols[v]) > 1 else 0.0 for v in xs])
                style = "-" if name.endswith("(real)") else "--"
                ax.errorbar(xs, mean, yerr=sd, marker="osD^v"[i % 5], markersize=7 - i % 5, capsize=3,
                            linestyle=style, label=name)
            ax.set_xscale("log")
            ax.set_xlabel("replayed volume (log scale)")
            ax.set_ylabel(label)
            ax.set_title(f"{bench.replace('_', ' ')}: {key}", fontsize=9)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.legend(fontsize=7, title="method (replay type)", title_fontsize=7)
    orders = sorted({m["run"]["order"] for m in metrics})
    seeds = sorted({m["run"]["seed"] for m in metrics})
    backbones = sorted({m["run"]["backbone"] for m in metrics})
    fig.suptitle("Figure 6: replay volume and type (paper App. E.2): real = stored real samples; pseudo = ARM pseudo "
                 "inputs (SAPT) or self-generated examples (LFPT5)\nvolume = fraction of each earlier task's training "
                 "set | "
                 f"backbone {', '.join(backbones)} | orders {', '.join(orders)} (averaged) | seeds "
                 f"{', '.join(map(str, seeds))} (error bars: ±1 sd) | solid: real, dashed: pseudo", fontsize=10)
    fig.tight_layout()
    return fig
