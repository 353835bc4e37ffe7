"""Figure 6 (paper Appendix E.2): AP, F.Ra and FWT against the replayed volume, per method and replay type.

The runs are method variants (``plan.ContinualPlan.replay_variant``): Replay with ``real_replay_volume=v`` (real
samples mixed into training), SAPT with ``replay_volume=v`` (ARM pseudo inputs) or ``replay_volume=v,
pseudo_source=real`` (real inputs in their place). One series per (method, type); x = the volume (log scale);
a point is the mean over orders within a seed, then over seeds (error bars: ±1 sd over seeds).
"""

from __future__ import annotations

from collections import defaultdict

from sapt_core.errors import SaptError


def replay_point(method: str, defaults: dict | None = None) -> tuple[str, str, float]:
    """(base method, replay type, volume) of a Figure 6 variant name; a plain method name is its default run
    (``defaults``: method -> (type, volume), from config/methods.yaml)."""
    from sapt_core.plan import split_variant

    base, v = split_variant(method)
    if not v:
        if defaults and method in defaults:
            return (method, *defaults[method])
        from sapt_core.hparams import load_methods

        d = load_methods()["methods"].get(method, {}).get("defaults", {})
        if "real_replay_volume" in d:
            return method, "real", float(d["real_replay_volume"])
        if "replay_volume" in d:
            return method, "real" if d.get("pseudo_source") == "real" else "pseudo", float(d["replay_volume"])
    if "real_replay_volume" in v:
        return base, "real", float(v["real_replay_volume"])
    if "replay_volume" in v:
        return base, "real" if v.get("pseudo_source") == "real" else "pseudo", float(v["replay_volume"])
    raise SaptError(f"figure6: run of method {method!r} is not a replay-volume variant")


def replay_series(metrics: list[dict]) -> dict:
    """{benchmark: {metric: {"<method> (<type>)": {volume: [per-seed values, each the mean over orders]}}}}"""
    import numpy as np

    from sapt_core.report.figures import FIG_METRICS

    by = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    for m in metrics:
        r = m["run"]
        base, kind, vol = replay_point(r["method"])
        by[r["benchmark"]][f"{base} ({kind})"][vol][r["seed"]].append(m["metrics"])
    out = {}
    for bench, series in by.items():
        out[bench] = {k: {} for k, _ in FIG_METRICS}
        for name, vols in series.items():
            for key, _ in FIG_METRICS:
                out[bench][key][name] = {
                    v: [float(np.mean([float(x[key]) for x in per_order if x[key] is not None] or [np.nan]))
                        for per_order in seeds.values()] for v, seeds in sorted(vols.items())}
    return out


def replay_figure(metrics: list[dict], plt):
    import numpy as np

    from sapt_core.report.figures import FIG_METRICS

    data = replay_series(metrics)
    benches = [b for b in ("SuperNI", "Long_Sequence") if b in data] + [b for b in data if b not in PAPER_BENCHES]
    fig, axes = plt.subplots(len(benches), len(FIG_METRICS), figsize=(15, 1.4 + 3.9 * len(benches)), squeeze=False)
    for row, bench in enumerate(benches):
        for col, (key, label) in enumerate(FIG_METRICS):
            ax = axes[row][col]
            for i, (name, vols) in enumerate(data[bench][key].items()):
                xs = sorted(vols)
                mean = np.array([np.nanmean(vols[v]) for v in xs])
                sd = np.array([np.nanstd(vols[v], ddof=1) if len(vols[v]) > 1 else 0.0 for v in xs])
                style = "-" if name.endswith("(real)") else "--"
                ax.errorbar(xs, mean, yerr=sd, marker="osD^v"[i % 5], markersize=7 - i, capsize=3, linestyle=style,
                            label=name)
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
    fig.suptitle("Figure 6: replay volume and type (real samples vs ARM pseudo inputs; paper App. E.2); volume = "
                 "fraction of each earlier task's training set\n"
                 f"backbone {', '.join(backbones)} | orders {', '.join(orders)} (averaged) | seeds "
                 f"{', '.join(map(str, seeds))} (error bars: ±1 sd) | solid: real, dashed: pseudo", fontsize=10)
    fig.tight_layout()
    return fig


PAPER_BENCHES = ("SuperNI", "Long_Sequence")
