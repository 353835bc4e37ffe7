"""Paper figures from the runs' files; each writes ``<prefix>.png`` and ``<prefix>.pdf`` atomically.

Figure 8: average performance after every step (AP_t of section 5.1.2 after each task), one panel per benchmark,
one line per method (mean over orders and seeds, shaded +- sd over seeds when there are several).
Figure 3 (and 9-12 for other runs): shared-attention heat maps of a SAPT run, learning time vs test time. Learning
time = a_t, the mean attention of task t's inputs stored right after learning task t (the ARM targets, row t);
test time = the mean attention of each task's test inputs under the final model (``attention.json``).
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from sapt_core.errors import SaptError

FIGURES = ("figure8", "figure3")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--figure", required=True, choices=FIGURES)
    p.add_argument("--metrics", nargs="*", default=[], help="figure8: metrics.json files of the runs (sapt run-metrics)")
    p.add_argument("--runs", nargs="*", default=[],
                   help="figure3: run directories (each with step<T>/state/ and step<T>/attention.json)")
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


def attention_maps(run_dir) -> tuple:
    """(tasks, learning-time matrix [T, T], test-time matrix [T, T], run sidecar) of a finished SAPT run."""
    from pathlib import Path

    import numpy as np
    from safetensors.torch import load_file

    from sapt_core.io import read_json

    run_dir = Path(run_dir)
    steps = sorted((int(p.name[4:]) for p in run_dir.glob("step*") if p.name[4:].isdigit()))
    if not steps:
        raise SaptError(f"{run_dir}: no step directories")
    last = run_dir / f"step{steps[-1]}"
    side = read_json(last / "state" / "state.json", "state sidecar")
    tasks = side["tasks"]
    learn = load_file(str(last / "state" / "state.safetensors"))["arm.targets"].float().numpy()
    att = read_json(last / "attention.json", "attention file")
    missing = [t for t in tasks if t not in att["tasks"]]
    if missing:
        raise SaptError(f"{last / 'attention.json'}: no attention for task {missing[0]!r}")
    test = np.array([att["tasks"][t]["mean"] for t in tasks])
    return tasks, learn, test, side


def _heatmaps(args, plt, np):
    from pathlib import Path

    runs = [attention_maps(r) for r in args.runs]
    if not runs:
        raise SaptError("--runs: figure3 needs at least one run directory")
    fig, axes = plt.subplots(len(runs), 2, figsize=(11, 4.6 * len(runs)), squeeze=False)
    for row, (run_dir, (tasks, learn, test, side)) in enumerate(zip(args.runs, runs)):
        labels = [t.split("_")[0] for t in tasks]
        name = "/".join(Path(run_dir).parts[-5:])
        for col, (mat, what) in enumerate([(learn, "learning time: a_t right after task t"),
                                           (test, "test time: final model")]):
            ax = axes[row][col]
            im = ax.imshow(mat, vmin=0, vmax=1, cmap="Blues")
            ax.set_xticks(range(len(tasks)), labels, rotation=45, ha="right", fontsize=8)
            ax.set_yticks(range(len(tasks)), labels, fontsize=8)
            ax.set_xlabel("PET block (task it was learned on)")
            ax.set_ylabel("inputs of task")
            ax.set_title(f"{name}\n{what}", fontsize=9)
            for i in range(len(tasks)):
                for j in range(len(tasks)):
                    if col == 1 or j <= i:
                        ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7,
                                color="white" if mat[i, j] > 0.5 else "black")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    fig.suptitle("Figure 3: shared attention over PET blocks (rows: inputs of a task; columns: blocks). A diagonal "
                 "layout = each task routed to its own block.", fontsize=10)
    fig.tight_layout()
    return fig, len(runs)


def run(args: argparse.Namespace) -> int:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from sapt_core.io import atomic_path, read_json

    if args.figure == "figure3":
        fig, n = _heatmaps(args, plt, np)
        _save(fig, args.out_prefix, plt, io, atomic_path)
        print(f"wrote {args.out_prefix}.png/.pdf from {n} runs")
        return 0
    if not args.metrics:
        raise SaptError("--metrics: figure8 needs the runs' metrics.json files")
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
    _save(fig, args.out_prefix, plt, io, atomic_path)
    print(f"wrote {args.out_prefix}.png/.pdf from {len(metrics)} runs")
    return 0


def _save(fig, prefix, plt, io, atomic_path) -> None:
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=150)
        with atomic_path(f"{prefix}.{ext}") as tmp:
            tmp.write_bytes(buf.getvalue())
    plt.close(fig)
