"""Figure 6 (paper Appendix E.2): AP, F.Ra and FWT against the replayed volume, per method and replay type.

The runs are method variants (``plan.ContinualPlan.replay_variant``): Replay with ``real_replay_volume=v`` (real
samples mixed into training), SAPT with ``replay_volume=v`` (ARM pseudo inputs) or ``replay_volume=v,
pseudo_source=real`` (real inputs in their place), LFPT5 with ``gen_replay_volume=v`` (examples it generates
itself). One series per (method, type); x = the volume (log scale);
a point is the mean over orders within a seed, then over seeds (error bars: ±1 sd over seeds).
"""

from __future__ import annotations

from sapt_core.errors import SaptError


def replay_point(method: str, methods: dict | None = None) -> tuple[str, str, float]:
    """(base method, replay type, volume) of a Figure 6 run; a plain method name is its default run, read from
    ``methods`` (:func:`sapt_core.hparams.load_methods`, loaded when not given)."""
    from sapt_core.plan import split_variant

    base, v = split_variant(method)
    if not v:
        if methods is None:
            from sapt_core.hparams import load_methods

            methods = load_methods()
        v = methods["methods"].get(method, {}).get("defaults", {})
    if "gen_replay_volume" in v:  # LFPT5: examples it generates itself
        return base, "pseudo", float(v["gen_replay_volume"])
    if "real_replay_volume" in v:
        return base, "real", float(v["real_replay_volume"])
    if "replay_volume" in v:
        return base, "real" if v.get("pseudo_source") == "real" else "pseudo", float(v["replay_volume"])
    raise SaptError(f"figure6: run of method {method!r} is not a replay-volume variant")


def replay_series(metrics: list[dict]) -> dict:
    """{benchmark: {metric: {"<label> (<type>)": {volume: [per-seed values, each the mean over orders]}}}}, label =
    the method's paper name (``label`` in the methods file)."""
    from sapt_core.hparams import load_methods
    from sapt_core.report.figures import grouped_metrics

    methods = load_methods()
    points = {m: replay_point(m, methods) for m in {x["run"]["method"] for x in metrics}}

    def series(r):
        base, kind, _ = points[r["method"]]
        return f"{methods['methods'].get(base, {}).get('label', base)} ({kind})"

    return grouped_metrics(metrics, series=series, x=lambda r: points[r["method"]][2])


def replay_figure(metrics: list[dict], plt):
    import numpy as np

    from sapt_core.report.figures import FIG_METRICS, _order

    data = replay_series(metrics)
    benches = _order(data, ["SuperNI", "Long_Sequence"])
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
    fig.suptitle("Figure 6: replay volume and type (paper App. E.2): real = stored real samples; pseudo = ARM pseudo "
                 "inputs (SAPT) or self-generated examples (LFPT5)\nvolume = fraction of each earlier task's training "
                 "set | "
                 f"backbone {', '.join(backbones)} | orders {', '.join(orders)} (averaged) | seeds "
                 f"{', '.join(map(str, seeds))} (error bars: ±1 sd) | solid: real, dashed: pseudo", fontsize=10)
    fig.tight_layout()
    return fig
