"""Paper figures from the runs' ``metrics.json`` files. Figure 8: average performance after every step (AP_t of
section 5.1.2 evaluated after each task), one panel per benchmark, one line per method (mean over orders and
seeds, shaded +- sd over seeds when there are several). Writes ``<prefix>.png`` and ``<prefix>.pdf`` atomically."""

from __future__ import annotations

import argparse
from collections import defaultdict

from sapt_core.errors import SaptError

FIGURES = ("figure8",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--figure", required=True, choices=FIGURES)
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.json files of the runs (sapt run-metrics)")
    p.add_argument("--methods", nargs="*", default=None, help="line order (default: as found)")
    p.add_argument("--out-prefix", required=True, help="writes <prefix>.png and <prefix>.pdf")


def ap_curves(metrics: list[dict]) -> dict:
    """{benchmark: {method: [per-seed AP-per-step curves averaged over orders]}}"""
    import numpy as np

    by = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # bench -> method -> seed -> [curves]
    for m in metrics:
        r = m["run"]
        by[r["benchmark"]][r["method"]][r["seed"]].append(m["metrics"]["AP_per_step"])
    out = {}
    for bench, methods in by.items():
        out[bench] = {}
        for method, seeds in methods.items():
            curves = []
            for per_order in seeds.values():
                if len({len(c) for c in per_order}) != 1:
                    raise SaptError(f"figure8: {bench}/{method}: runs of different lengths cannot be averaged")
                curves.append(np.mean(np.array(per_order, dtype=float), axis=0))
            out[bench][method] = curves
    return out


def run(args: argparse.Namespace) -> int:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from sapt_core.io import atomic_path, read_json

    metrics = [read_json(p, "run metrics") for p in args.metrics]
    curves = ap_curves(metrics)
    benches = [b for b in ("SuperNI", "Long_Sequence") if b in curves] + [b for b in curves if b not in
                                                                          ("SuperNI", "Long_Sequence")]
    fig, axes = plt.subplots(1, len(benches), figsize=(5.5 * len(benches), 4), squeeze=False)
    for ax, bench in zip(axes[0], benches):
        methods = [m for m in (args.methods or curves[bench]) if m in curves[bench]]
        for method in methods:
            c = np.array(curves[bench][method])
            mean = c.mean(0)
            steps = np.arange(1, len(mean) + 1)
            ax.plot(steps, mean, marker="o", label=f"{method} (n={len(c)} seed{'s' if len(c) > 1 else ''})")
            if len(c) > 1:
                sd = c.std(0, ddof=1)
                ax.fill_between(steps, mean - sd, mean + sd, alpha=0.2)
        ax.set_title(f"{bench.replace('_', ' ')}: AP after each task")
        ax.set_xlabel("tasks learned (time step t)")
        ax.set_ylabel("average performance over seen tasks (AP)")
        ax.set_xticks(range(1, max(len(np.array(v).mean(0)) for v in curves[bench].values()) + 1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    backbones = ", ".join(sorted({m["run"]["backbone"] for m in metrics}))
    fig.suptitle(f"Figure 8: average performance at each time step, backbone {backbones} "
                 "(mean over orders; shaded: ±1 sd over seeds)", fontsize=10)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=150)
        with atomic_path(f"{args.out_prefix}.{ext}") as tmp:
            tmp.write_bytes(buf.getvalue())
    plt.close(fig)
    print(f"wrote {args.out_prefix}.png/.pdf from {len(metrics)} runs")
    return 0
