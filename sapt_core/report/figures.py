"""Paper figures from the runs' files; each writes ``<prefix>.png`` and ``<prefix>.pdf`` atomically.

Figure 8: average performance after every step (AP_t of section 5.1.2 after each task), one panel per benchmark,
one line per method (mean over orders and seeds, shaded +- sd over seeds when there are several).
Figures 3 and 9-12: shared-attention heat maps of SAPT runs, learning time vs test time, one row per run. Learning
time = a_t, the mean attention of task t's inputs stored right after learning task t (the ARM targets, row t);
test time = the mean attention of each task's test inputs under the final model (``attention.json``).
Figure 4 (scale) and Figures 5 / 7 (architecture): AP, F.Ra and FWT per backbone, one series per method (mean over
orders, then over seeds; error bars +- sd over seeds), one row per benchmark. Figure 4 draws lines over the
backbones in the order given (smallest first), Figures 5 / 7 grouped bars. Series are whatever methods the runs
hold (``--methods`` only orders them), so baselines appear without code changes. Figure 6 (replay volume):
:mod:`sapt_core.report.replay_figure`.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from sapt_core import layout
from sapt_core.errors import SaptError
from sapt_core.layout import parse_run_dir
from sapt_core.report.registry import ATTENTION_FIGURES, FIGURE_PAPER, FIGURES, METRIC_FIGURES, table_number
from sapt_core.report.series import FIG_METRICS, PANEL_ORDER, grouped_metrics, ordered
from sapt_core.report.table_model import parse_labels


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--figure", required=True, choices=FIGURES)
    p.add_argument("--metrics", nargs="*", default=[],
                   help="figures 4-8: metrics.json files of the runs (sapt run-metrics)")
    p.add_argument("--runs", nargs="*", default=[],
                   help="figures 3, 9-12: run directories (each with step<T>/state/ and step<T>/attention.json)")
    p.add_argument("--methods", nargs="*", default=None, help="series order (default: as found)")
    p.add_argument("--backbones", nargs="*", default=None,
                   help="figures 4, 5, 7: x-axis order of the backbones (default: as found)")
    p.add_argument("--labels", nargs="*", default=[], metavar="METHOD=LABEL",
                   help="legend names (the paper's, from config/methods.yaml `label`); default: the method name")
    p.add_argument("--points", nargs="*", default=[], metavar="METHOD=SERIES:TYPE:VOLUME",
                   help="figure 6: each run method's series method, replay type (real / pseudo) and volume")
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
    import numpy as np
    from safetensors.torch import load_file

    from sapt_core.io import read_json

    run_dir = Path(run_dir)
    steps = sorted((int(p.name[4:]) for p in run_dir.glob("step*") if p.name[4:].isdigit()))
    if not steps:
        raise SaptError(f"{run_dir}: no step directories")
    last = run_dir / layout.step_name(steps[-1])
    side = read_json(last / layout.STATE_SUBDIR / layout.STATE_SIDECAR, "state sidecar")
    tasks = side["tasks"]
    learn = load_file(str(last / layout.STATE_SUBDIR / layout.STATE_TENSORS))["arm.targets"].float().numpy()
    att = read_json(last / layout.ATTENTION, "attention file")
    missing = [t for t in tasks if t not in att["tasks"]]
    if missing:
        raise SaptError(f"{last / layout.ATTENTION}: no attention for task {missing[0]!r}")
    test = np.array([att["tasks"][t]["mean"] for t in tasks])
    return tasks, learn, test, side


def run_identity(run_dir, side: dict | None = None) -> dict:
    """benchmark, order, backbone, method, seed of a run directory (results/runs/<b>/<o>/<bb>/<m>/seed<s>); the
    state sidecar fills in what the path does not say."""
    ident = {k: str(v) for k, v in (parse_run_dir(Path(run_dir).as_posix()) or {}).items()}
    side = side or {}
    for key in ("benchmark", "method", "seed"):
        ident.setdefault(key, str(side.get(key, "?")))
    ident.setdefault("order", "?")
    ident.setdefault("backbone", Path(str((side.get("backbone") or {}).get("name", "?"))).name)
    return ident


def run_caption(ident: dict) -> str:
    return (f"method {ident['method']} | backbone {ident['backbone']} | benchmark "
            f"{ident['benchmark'].replace('_', ' ')} | {ident['order']} | seed {ident['seed']}")


def heatmap_figure(figure: str, run_dirs: list, plt):
    """The heat-map figure (one row per run: learning time left, test time right); returns the matplotlib figure."""
    runs = [attention_maps(r) for r in run_dirs]
    if not runs:
        raise SaptError(f"--runs: {figure} needs at least one SAPT run directory")
    fig, axes = plt.subplots(len(runs), 2, figsize=(11, 1.2 + 4.6 * len(runs)), squeeze=False)
    for row, (run_dir, (tasks, learn, test, side)) in enumerate(zip(run_dirs, runs)):
        if learn.shape != test.shape or learn.shape != (len(tasks), len(tasks)):
            raise SaptError(f"{run_dir}: learning-time {learn.shape} and test-time {test.shape} matrices do not "
                            f"match its {len(tasks)} tasks")
        labels = [t.split("_")[0] for t in tasks]
        ident = run_identity(run_dir, side)
        for col, (mat, what) in enumerate([(learn, "training: attention a_t of task t's inputs, right after task t"),
                                           (test, "testing: attention after the last task (final model)")]):
            ax = axes[row][col]
            im = ax.imshow(mat, vmin=0, vmax=1, cmap="Blues")
            ax.set_xticks(range(len(tasks)), labels, rotation=45, ha="right", fontsize=8)
            ax.set_yticks(range(len(tasks)), labels, fontsize=8)
            ax.set_xlabel("PET block (the task it was learned on)")
            ax.set_ylabel("inputs of task")
            ax.set_title(f"{run_caption(ident)}\n{what}", fontsize=8)
            for i in range(len(tasks)):
                for j in range(len(tasks)):
                    if col == 1 or j <= i:
                        ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7,
                                color="white" if mat[i, j] > 0.5 else "black")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    methods = sorted({run_identity(r)["method"] for r in run_dirs})
    benches = sorted({run_identity(r)["benchmark"].replace("_", " ") for r in run_dirs})
    fig.suptitle(f"{table_number(figure)}: shared attention of {', '.join(methods)} on {', '.join(benches)}, "
                 f"training (left) vs testing (right)\nrows: inputs of a task; columns: PET blocks; "
                 f"a diagonal layout = each task routed to its own block ({FIGURE_PAPER[figure]})", fontsize=10)
    fig.tight_layout()
    return fig


def backbone_metrics(metrics: list[dict]) -> dict:
    """{benchmark: {metric: {method: {backbone: [per-seed values, each the mean over orders]}}}}"""
    return grouped_metrics(metrics)


def metric_figure(figure: str, metrics: list[dict], plt, methods=None, backbones=None, labels=None):
    """Figure 4 (lines over backbone sizes) or 5 / 7 (grouped bars per backbone): AP, F.Ra, FWT per method.
    ``labels``: method -> legend name (default: the method name)."""
    import numpy as np

    labels = labels or {}

    data = backbone_metrics(metrics)
    benches = ordered(data, PANEL_ORDER)
    kind = METRIC_FIGURES[figure]
    fig, axes = plt.subplots(len(benches), len(FIG_METRICS), figsize=(15, 1.4 + 3.9 * len(benches)), squeeze=False)
    for row, bench in enumerate(benches):
        series = ordered(data[bench]["AP"], methods)
        bbs = ordered([bb for m in series for bb in data[bench]["AP"][m]], backbones)
        x = np.arange(len(bbs))
        width = 0.8 / max(len(series), 1)
        for col, (key, label) in enumerate(FIG_METRICS):
            ax = axes[row][col]
            for i, method in enumerate(series):
                vals = data[bench][key][method]
                mean = np.array([np.mean(vals[bb]) if bb in vals else np.nan for bb in bbs])
                sd = np.array([np.std(vals[bb], ddof=1) if len(vals.get(bb, [])) > 1 else 0.0 for bb in bbs])
                n = max((len(v) for v in vals.values()), default=0)
                name = f"{labels.get(method, method)} (n={n} seed{'s' if n > 1 else ''})"
                if kind == "scale":
                    ax.errorbar(x, mean, yerr=sd, marker="o", capsize=3, label=name)
                else:
                    ax.bar(x - 0.4 + width * (i + 0.5), mean, width, yerr=sd, capsize=3, label=name)
            ax.set_xticks(x, bbs, rotation=20, ha="right", fontsize=8)
            ax.set_xlabel("backbone" + (" (increasing size)" if kind == "scale" else ""))
            ax.set_ylabel(label)
            ax.set_title(f"{bench.replace('_', ' ')}: {key}", fontsize=9)
            ax.grid(alpha=0.3, axis="y")
            if col == 0:
                ax.legend(fontsize=7)
    orders = sorted({m["run"]["order"] for m in metrics})
    seeds = sorted({m["run"]["seed"] for m in metrics})
    what = "backbone size" if kind == "scale" else "backbone architecture"
    shown = [labels.get(m, m) for m in ordered({m["run"]["method"] for m in metrics}, methods)]
    fig.suptitle(f"{table_number(figure)}: continual-learning metrics vs {what} ({FIGURE_PAPER[figure]})\n"
                 f"methods {', '.join(shown)} | orders {', '.join(orders)} (averaged) | seeds "
                 f"{', '.join(map(str, seeds))} (error bars: ±1 sd)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def ap_figure(metrics: list[dict], plt, methods=None, labels=None):
    import numpy as np

    labels = labels or {}
    curves = ap_curves(metrics)
    benches = ordered(curves, PANEL_ORDER)
    fig, axes = plt.subplots(1, len(benches), figsize=(5.5 * len(benches), 4.6), squeeze=False)
    # one colour and marker per method across panels (EPI runs on one benchmark only), one legend below
    every = ordered({m: None for b in benches for m in curves[b]}, methods)
    cmap = plt.get_cmap("tab10" if len(every) <= 10 else "tab20")
    style = {m: (cmap(i % cmap.N), "osD^v<>ph*"[i % 10]) for i, m in enumerate(every)}
    handles = {}
    for ax, bench in zip(axes[0], benches):
        for method in ordered(curves[bench], methods):
            c = np.array(curves[bench][method])
            mean = c.mean(0)
            steps = np.arange(1, len(mean) + 1)
            color, marker = style[method]
            (line,) = ax.plot(steps, mean, marker=marker, color=color,
                              label=f"{labels.get(method, method)} (n={len(c)} seed{'s' if len(c) > 1 else ''})")
            handles.setdefault(method, line)
            if len(c) > 1:
                sd = c.std(0, ddof=1)
                ax.fill_between(steps, mean - sd, mean + sd, alpha=0.2, color=color)
        ax.set_title(f"{bench.replace('_', ' ')}: AP after each task")
        ax.set_xlabel("tasks learned (time step t)")
        ax.set_ylabel("average performance over seen tasks (AP)")
        ax.set_xticks(range(1, max(len(np.array(v).mean(0)) for v in curves[bench].values()) + 1))
        ax.grid(alpha=0.3)
    legend_lines = [handles[m] for m in every if m in handles]
    fig.legend(legend_lines, [h.get_label() for h in legend_lines], loc="lower center",
               ncol=min(5, len(legend_lines)), fontsize=8)
    backbones = ", ".join(sorted({m["run"]["backbone"] for m in metrics}))
    fig.suptitle(f"Figure 8: average performance at each time step, backbone {backbones} "
                 "(mean over orders; shaded: ±1 sd over seeds)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06 + 0.045 * ((len(legend_lines) + 4) // 5), 1, 1))
    return fig


def run(args: argparse.Namespace) -> int:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sapt_core.io import read_json

    if args.figure in ATTENTION_FIGURES:
        fig = heatmap_figure(args.figure, args.runs, plt)
        n = len(args.runs)
    else:
        if not args.metrics:
            raise SaptError(f"--metrics: {args.figure} needs the runs' metrics.json files")
        metrics = [read_json(p, "run metrics") for p in args.metrics]
        n = len(metrics)
        if args.figure == "figure8":
            fig = ap_figure(metrics, plt, args.methods, parse_labels(args.labels))
        elif args.figure == "figure6":
            from sapt_core.report.replay_figure import parse_points, replay_figure

            fig = replay_figure(metrics, plt, parse_points(args.points), parse_labels(args.labels), args.methods)
        else:
            fig = metric_figure(args.figure, metrics, plt, args.methods, args.backbones, parse_labels(args.labels))
    _save(fig, args.out_prefix, plt, io)
    print(f"wrote {args.out_prefix}.png/.pdf from {n} runs")
    return 0


def _save(fig, prefix, plt, io) -> None:
    from sapt_core.io import atomic_write_all

    images = {}
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        # no creation date in the PDF: the same runs give the same bytes
        fig.savefig(buf, format=ext, dpi=150, metadata={"CreationDate": None} if ext == "pdf" else None)
        images[f"{prefix}.{ext}"] = buf.getvalue()
    atomic_write_all(images)  # both or neither
    plt.close(fig)
