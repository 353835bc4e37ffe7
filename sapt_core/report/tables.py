"""``sapt report-table``: the paper's tables as ``<prefix>.md`` (GitHub table), ``<prefix>.csv`` and ``<prefix>.tex``.

Result tables, from the ``metrics.json`` of ``sapt run-metrics`` (one per run = benchmark, order, backbone, method,
seed); rows are the ``--methods`` in that order (``method (backbone)`` when several backbones are shown):

* ``table1`` (overall results) and ``table2`` (ablations): per benchmark (SuperNI, Long_Sequence) the columns AP,
  F.Ra, FWT, BWT. A cell is the mean over the benchmark's orders within each seed, then mean ± sample sd (ddof=1)
  over the seeds (the paper's Table 1 averages the two orders of each benchmark).
* ``table8`` (SuperNI: order1, order2) and ``table9`` (Long_Sequence: order3, order4): per order AP, F.Ra, FWT, BWT,
  mean ± sample sd over the seeds.

Cell rules: 2 decimals; one seed gives the mean alone. ``-`` = not applicable (FWT without single-task scores,
F.Ra/BWT with one task); ``n/a (missing)`` = an expected (row, benchmark/order) with no metrics file among the inputs;
``n/a (incomplete)`` = some of its runs exist but no seed has every order; ``†`` = fewer runs than expected went into
the cell (listed under the table); ``*`` = a run used a derived test split (held out from train). Under every table:
backbone(s), data protocol, seeds, metric variant, missing runs and the exact list of metrics files it was built from.

Expected cells: orders = ``--orders`` (default: every order of the table's benchmarks in config/benchmarks.yaml);
seeds = ``--seeds`` (default: every seed among the inputs used). Inputs of other methods, backbones, orders or seeds
are listed as ignored, never averaged in.

Dataset tables, from config/benchmarks.yaml (+ prepare-data manifests found under ``--manifests`` dirs, giving the
train/val/test counts and whether the test split is derived): ``table4`` SuperNI, ``table5`` Long_Sequence,
``table6`` SuperNI_unseen (columns #, dataset name, category, metric [, train, val, test, test split]); ``table7`` the
task orders (order, benchmark, T, task sequence joined by arrows).

The CSV has one row per table row: for result tables ``method, backbone`` then for every column group and metric
``<group> <metric> mean``, ``... sd`` (empty with one seed), ``... n`` (seeds used), ``... cell`` (the shown text),
and ``sources`` (the metrics files of that row, ``;``-separated).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from sapt_core.errors import SaptError

TABLES = ("table1", "table2", "table3", "table8", "table9", "table4", "table5", "table6", "table7")
RESULT_TABLES = ("table1", "table2", "table8", "table9")
PER_ORDER = {"table8": "SuperNI", "table9": "Long_Sequence"}
PER_BENCHMARK = ("SuperNI", "Long_Sequence")  # table1/table2 column groups (paper order)
DATASET_TABLES = {"table4": "SuperNI", "table5": "Long_Sequence", "table6": "SuperNI_unseen"}
METRICS = (("AP", "↑"), ("F.Ra", "↓"), ("FWT", "↑"), ("BWT", "↑"))
VARIANTS = {"paper": ("metrics", "task metric: accuracy for classification, Rouge-L otherwise (paper section 5.1.2)"),
            "rougeL_all": ("metrics_rougeL_all", "Rouge-L for every task (official score.py)")}
MISSING = "n/a (missing)"
INCOMPLETE = "n/a (incomplete)"
NOT_APPLICABLE = "-"
DERIVED_NOTE = "* test split held out from train: upstream test file missing"
METRIC_NAMES = {"rougeL": "Rouge-L", "accuracy": "accuracy"}
_RUN_KEYS = ("benchmark", "order", "backbone", "method", "seed")


@dataclass
class Table:
    caption: str
    columns: list[str]  # md/tex column headers (the first one labels the rows)
    rows: list[list[str]]  # cell texts, one list per row, len == len(columns)
    csv_fields: list[str]
    csv_rows: list[dict]
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    sources_label: str = "metrics files"
    groups: list[tuple[str, int]] | None = None  # tex: (label, span) over columns[1:]


# --------------------------------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--table", required=True, choices=TABLES)
    p.add_argument("--metrics", nargs="*", default=[], metavar="METRICS_JSON",
                   help="run metrics.json files (sapt run-metrics); tables 1, 2, 8, 9")
    p.add_argument("--methods", nargs="*", default=None, metavar="METHOD",
                   help="row order (default: methods in order of first appearance among --metrics)")
    p.add_argument("--out-prefix", required=True, metavar="PREFIX", help="writes PREFIX.md, PREFIX.csv, PREFIX.tex")
    p.add_argument("--benchmarks", default="config/benchmarks.yaml", metavar="YAML",
                   help="benchmark definitions (default: %(default)s)")
    p.add_argument("--backbone", default=None, metavar="NAME",
                   help="only runs of this backbone (default: every backbone among the inputs, one row each)")
    p.add_argument("--orders", nargs="*", default=None, metavar="ORDER",
                   help="expected orders (default: every order of the table's benchmarks)")
    p.add_argument("--seeds", nargs="*", type=int, default=None, metavar="SEED",
                   help="expected seeds (default: every seed among the inputs used)")
    p.add_argument("--variant", choices=tuple(VARIANTS), default="paper",
                   help="paper metrics or the official score.py Rouge-L-for-all variant (default: %(default)s)")
    p.add_argument("--not-applicable", nargs="*", default=[], metavar="METHOD:BENCHMARK",
                   help="cells shown as '-': the method does not apply to the benchmark (EPI on SuperNI)")
    p.add_argument("--labels", nargs="*", default=[], metavar="METHOD=LABEL",
                   help="row names (the paper's, from config/methods.yaml `label`); default: the method name")
    p.add_argument("--unseen", nargs="*", default=[], metavar="METHOD=SCORES",
                   help="table3: unseen-task score files (sapt evaluate), each labelled with its row's method")
    p.add_argument("--manifests", nargs="*", default=[], metavar="DIR",
                   help="tables 4-6: directories searched for prepare-data manifest.json files (split counts)")


def run(args: argparse.Namespace) -> int:
    from sapt_core.benchmarks import load_benchmarks

    benchmarks = load_benchmarks(args.benchmarks)
    if args.table in RESULT_TABLES:
        na = []
        for item in args.not_applicable:
            m, sep, b = item.partition(":")
            if not sep or b not in benchmarks:
                raise SaptError(f"--not-applicable {item!r}: expected METHOD:BENCHMARK with a known benchmark")
            na.append((m, b))
        table = result_table(args.table, args.metrics, benchmarks, methods=args.methods, backbone=args.backbone,
                             orders=args.orders, seeds=args.seeds, variant=args.variant, not_applicable=na,
                             labels=parse_labels(args.labels))
    elif args.table == "table3":
        from sapt_core.report.unseen import parse_unseen_args, unseen_table

        table = unseen_table(parse_unseen_args(args.unseen), benchmarks, methods=args.methods,
                             labels=parse_labels(args.labels))
    elif args.table in DATASET_TABLES:
        table = dataset_table(args.table, benchmarks, args.benchmarks, args.manifests)
    else:
        table = orders_table(benchmarks, args.benchmarks, args.orders)
    paths = write_table(table, args.out_prefix)
    print(f"{args.table}: {len(table.rows)} rows -> {', '.join(map(str, paths))}")
    return 0


# --------------------------------------------------------------------------------------------------- helpers
def parse_labels(items: list[str]) -> dict[str, str]:
    """``--labels METHOD=LABEL ...`` -> {method: label}: the paper's row / legend names (``- ARM`` for
    sapt-lora-noarm); a method without one is shown by its config name."""
    out = {}
    for item in items:
        method, sep, label = item.partition("=")
        if not sep or not method or not label.strip():
            raise SaptError(f"--labels {item!r}: expected METHOD=LABEL")
        out[method] = label
    return out


def fmt(x: float) -> str:
    s = f"{x:.2f}"
    return "0.00" if s == "-0.00" else s


def _read_metrics(path: str) -> dict:
    from sapt_core.io import read_json

    doc = read_json(path, "run metrics JSON")
    run = doc.get("run") if isinstance(doc, dict) else None
    if not isinstance(run, dict) or any(k not in run for k in _RUN_KEYS):
        raise SaptError(f"{path}: expected a run metrics JSON (sapt run-metrics) with run.{{{', '.join(_RUN_KEYS)}}}")
    if isinstance(run["seed"], bool) or not isinstance(run["seed"], int):
        raise SaptError(f"{path}: run.seed: expected an integer, got {run['seed']!r}")
    for key, _ in VARIANTS.values():
        if not isinstance(doc.get(key), dict):
            raise SaptError(f"{path}: expected a '{key}' mapping (written by sapt run-metrics)")
    for name, _ in METRICS:
        for key, _ in VARIANTS.values():
            v = doc[key].get(name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise SaptError(f"{path}: {key}.{name}: expected a finite number or null, got {v!r}")
    return doc


def _order_owner(benchmarks) -> dict[str, str]:
    return {o: b.name for b in benchmarks.values() for o in b.orders}


def _run_label(benchmark, order, backbone, method, seed) -> str:
    return f"results/runs/{benchmark}/{order}/{backbone}/{method}/seed{seed}/metrics.json"


def _join(xs) -> str:
    return ", ".join(map(str, xs))


# --------------------------------------------------------------------------------------------------- result tables
def result_table(table: str, metrics_files: list[str], benchmarks, methods=None, backbone=None, orders=None,
                 seeds=None, variant: str = "paper", not_applicable=(), labels=None) -> Table:
    """Tables 1, 2 (per benchmark, averaged over its orders) and 8, 9 (per order) from run metrics files.
    ``not_applicable``: (method, benchmark) pairs the method cannot run on (EPI on SuperNI): cells ``-``.
    ``labels``: method -> row name (the CSV keeps the method name too)."""
    labels = labels or {}
    not_applicable = set(not_applicable)
    owner = _order_owner(benchmarks)
    # column groups: (label, benchmark, [orders])
    if orders is not None:
        unknown = [o for o in orders if o not in owner]
        if unknown:
            raise SaptError(f"--orders: unknown order(s) {_join(unknown)} (known: {_join(owner)})")
    if table in PER_ORDER:
        bench = PER_ORDER[table]
        if bench not in benchmarks:
            raise SaptError(f"{table}: benchmark {bench!r} is not in the benchmarks file")
        chosen = [o for o in benchmarks[bench].orders if orders is None or o in orders]
        if not chosen:
            raise SaptError(f"--orders: none of {_join(orders)} is an order of {bench} "
                            f"({_join(benchmarks[bench].orders)})")
        groups = [(o, bench, [o]) for o in chosen]
    else:
        groups = []
        for bench in PER_BENCHMARK:
            if bench not in benchmarks:
                continue
            chosen = [o for o in benchmarks[bench].orders if orders is None or o in orders]
            if chosen:
                groups.append((bench, bench, chosen))
        if not groups:
            raise SaptError(f"--orders: none of {_join(orders)} is an order of {_join(PER_BENCHMARK)}")
    expected_orders = {(b, o) for _, b, os_ in groups for o in os_}

    # read every input; index by (method, backbone, benchmark, order, seed)
    runs: dict[tuple, tuple[str, dict]] = {}
    appearance: list[str] = []
    for path in metrics_files:
        doc = _read_metrics(path)
        r = doc["run"]
        b, o = r["benchmark"], r["order"]
        if b not in benchmarks or o not in benchmarks[b].orders:
            raise SaptError(f"{path}: run.order {o!r} is not an order of benchmark {b!r} in the benchmarks file")
        key = (r["method"], r["backbone"], b, o, r["seed"])
        if key in runs:
            raise SaptError(f"{path}: same run ({_run_label(b, o, r['backbone'], r['method'], r['seed'])}) as "
                            f"{runs[key][0]}")
        runs[key] = (str(path), doc)
        if r["method"] not in appearance:
            appearance.append(r["method"])
    methods = list(methods) if methods else appearance
    dup = [m for i, m in enumerate(methods) if m in methods[:i]]
    if dup:
        raise SaptError(f"--methods: method {dup[0]!r} listed twice")

    used, ignored = {}, []
    for key, (path, doc) in runs.items():
        m, bb, b, o, s = key
        if (m in methods and (backbone is None or bb == backbone) and (b, o) in expected_orders
                and (not seeds or s in seeds)):
            used[key] = (path, doc)
        else:
            ignored.append(path)
    backbones = [backbone] if backbone is not None else list(dict.fromkeys(k[1] for k in used))
    if not backbones:
        backbones = [None]
    seeds = sorted(set(seeds)) if seeds else sorted({k[4] for k in used})
    n_seeds = len(seeds)

    vkey = VARIANTS[variant][0]
    columns = ["Method"] + [f"{label} {name} {arrow}" for label, _, _ in groups for name, arrow in METRICS]
    csv_fields = ["method", "label", "backbone"] + [f"{label} {name} {x}" for label, _, _ in groups
                                                    for name, _ in METRICS for x in ("mean", "sd", "n", "cell")]
    csv_fields.append("sources")
    rows, csv_rows = [], []
    missing_runs: list[str] = []
    any_derived, any_partial, any_na, any_missing = set(), False, False, False
    for m in methods:
        for bb in backbones:
            shown = labels.get(m, m)
            label = shown if len(backbones) == 1 else f"{shown} ({bb})"
            rec = {"method": m, "label": shown, "backbone": bb if bb is not None else ""}
            cells, row_files = [label], []
            for glabel, bench, g_orders in groups:
                if (m, bench) in not_applicable:
                    cells += [NOT_APPLICABLE] * len(METRICS)
                    any_na = True
                    rec.update({f"{glabel} {name} {x}": (NOT_APPLICABLE if x == "cell" else "")
                                for name, _ in METRICS for x in ("mean", "sd", "n", "cell")})
                    continue
                files, derived, per_seed, partial = [], set(), [], False
                for s in seeds:
                    vals, complete = [], True
                    for o in g_orders:
                        hit = used.get((m, bb, bench, o, s))
                        if hit is None:
                            complete = False
                            lbl = _run_label(bench, o, bb, m, s)
                            if lbl not in missing_runs:
                                missing_runs.append(lbl)
                            continue
                        files.append(hit[0])
                        derived |= set(hit[1].get("derived") or [])
                        vals.append(hit[1][vkey])
                    if complete:
                        per_seed.append(vals)
                    else:
                        partial = True
                row_files += [f for f in files if f not in row_files]
                for name, _ in METRICS:
                    seed_vals = []
                    for vals in per_seed:
                        xs = [v.get(name) for v in vals]
                        seed_vals.append(None if any(x is None for x in xs) else sum(xs) / len(xs))
                    ok = [v for v in seed_vals if v is not None]
                    mean = sd = None
                    if not files:
                        text = MISSING
                        any_missing = True
                    elif not per_seed:
                        text = INCOMPLETE + "†"
                        any_partial = True
                    elif not ok:
                        text = NOT_APPLICABLE
                        any_na = True
                    else:
                        mean = sum(ok) / len(ok)
                        sd = statistics.stdev(ok) if len(ok) > 1 else None
                        text = fmt(mean) + ("" if sd is None else f" ± {fmt(sd)}")
                        if derived:
                            text += "*"
                            any_derived |= derived
                        if partial or len(ok) < len(seed_vals):
                            text += "†"
                            any_partial = True
                    cells.append(text)
                    rec.update({f"{glabel} {name} mean": "" if mean is None else repr(mean),
                                f"{glabel} {name} sd": "" if sd is None else repr(sd),
                                f"{glabel} {name} n": len(ok) if files and per_seed else 0,
                                f"{glabel} {name} cell": text})
            rec["sources"] = ";".join(row_files)
            rows.append(cells)
            csv_rows.append(rec)

    used_paths = [p for p in metrics_files if p in {v[0] for v in used.values()}]
    used_paths = list(dict.fromkeys(map(str, used_paths)))
    protocols = sorted({d.get("data_protocol") for _, d in used.values() if d.get("data_protocol")})
    bb_text = _join(b for b in backbones if b is not None) or "n/a (no metrics files)"
    seeds_text = (f"mean ± sample sd (ddof=1) over {n_seeds} seeds" if n_seeds > 1
                  else "1 seed (no sd)" if n_seeds == 1 else "no seeds (no metrics files)")
    what = ("Overall results" if table == "table1" else "Ablation study") if table not in PER_ORDER else \
        f"Results on each task order of the {PER_ORDER[table]} benchmark"
    if table in PER_ORDER:
        scope = f"orders {_join(g[0] for g in groups)}"
    else:
        scope = "; ".join(f"{g[1]} averaged over {_join(g[2])}" for g in groups)
    caption = (f"Table {table[5:]}: {what} with {bb_text} ({scope}): AP, F.Ra, FWT, BWT after the last task "
               f"({seeds_text}).")
    notes = []
    if any_derived:
        notes.append(f"{DERIVED_NOTE} (tasks: {_join(sorted(any_derived))}).")
    if any_partial:
        notes.append("† fewer runs than expected went into this cell (see the missing runs below); "
                     f"{INCOMPLETE}: no seed has every order.")
    if any_missing:
        notes.append(f"{MISSING}: no metrics file among the inputs for this cell.")
    if any_na:
        notes.append(f"{NOT_APPLICABLE}: not applicable (FWT without single-task scores; F.Ra and BWT with one task; "
                         "MTL: only AP, it is retrained from scratch at every step; a method that does not apply to a benchmark, "
                         "e.g. EPI on SuperNI's generation tasks).")
    if missing_runs and seeds:
        notes.append(f"Missing runs ({len(missing_runs)}): {_join(missing_runs)}.")
    notes.append(f"Backbone: {bb_text}. Data protocol: {_join(protocols) or 'unknown'}. "
                 f"Seeds: {_join(seeds) or 'none'}. Metric: {VARIANTS[variant][1]}.")
    if ignored:
        notes.append(f"Ignored inputs (other methods, backbones, orders or seeds): {_join(ignored)}.")
    return Table(caption, columns, rows, csv_fields, csv_rows, notes, used_paths, "metrics files",
                 [(g[0], len(METRICS)) for g in groups])


# --------------------------------------------------------------------------------------------------- dataset tables
def _find_manifests(dirs: list[str], bench: str) -> dict[str, list[tuple[str, dict]]]:
    from sapt_core.io import read_json

    out: dict[str, list[tuple[str, dict]]] = {}
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise SaptError(f"--manifests: {d}: not a directory")
        for f in sorted(d.rglob("manifest.json")):
            m = read_json(f, "data manifest")
            if not (isinstance(m, dict) and isinstance(m.get("counts"), dict) and "task" in m):
                continue  # not a prepare-data manifest
            if m.get("benchmark") == bench:
                out.setdefault(m["task"], []).append((str(f), m))
    return out


def dataset_table(table: str, benchmarks, benchmarks_path, manifest_dirs=()) -> Table:
    """Tables 4 (SuperNI), 5 (Long_Sequence), 6 (SuperNI_unseen): tasks with category, metric [and split sizes]."""
    bench_name = DATASET_TABLES[table]
    if bench_name not in benchmarks:
        raise SaptError(f"{benchmarks_path}: no benchmark {bench_name!r} (needed by {table})")
    bench = benchmarks[bench_name]
    manifests = _find_manifests(list(manifest_dirs), bench_name) if manifest_dirs else None
    columns = ["#", "Dataset name", "Category", "Metric"]
    csv_fields = ["index", "dataset", "category", "metric"]
    if manifests is not None:
        columns += ["Train", "Val", "Test", "Test split"]
        csv_fields += ["train", "val", "test", "test_derived", "manifests"]
    rows, csv_rows, sources = [], [], []
    derived_tasks, varying = [], False
    for i, (name, info) in enumerate(bench.tasks.items(), 1):
        metric = METRIC_NAMES.get(info.metric, info.metric)
        cells = [str(i), name, info.category, metric]
        rec = {"index": i, "dataset": name, "category": info.category, "metric": info.metric}
        if manifests is not None:
            found = manifests.get(name, [])
            sources += [f for f, _ in found]
            if not found:
                cells += [MISSING] * 4
                rec.update({"train": "", "val": "", "test": "", "test_derived": "", "manifests": ""})
            else:
                for split in ("train", "val", "test"):
                    vals = sorted({m["counts"].get(split) for _, m in found}, key=lambda v: (v is None, v or 0))
                    varying |= len(vals) > 1
                    text = "/".join(NOT_APPLICABLE if v is None else str(v) for v in vals)
                    cells.append(text)
                    rec[split] = text
                derived = any((m.get("derived") or {}).get("test") for _, m in found)
                if derived:
                    derived_tasks.append(name)
                cells.append("held out from train*" if derived else "upstream")
                rec["test_derived"] = derived
                rec["manifests"] = ";".join(f for f, _ in found)
        rows.append(cells)
        csv_rows.append(rec)
    paper = {"table4": "SuperNI benchmark (paper Table 4)", "table5": "Long Sequence benchmark (paper Table 5)",
             "table6": "unseen SuperNI tasks (paper Table 6)"}[table]
    caption = (f"Table {table[5:]}: The {len(bench.tasks)} tasks of the {paper}: category and metric"
               + (", with the prepared split sizes." if manifests is not None else "."))
    notes = []
    if derived_tasks:
        notes.append(f"{DERIVED_NOTE} (tasks: {_join(derived_tasks)}).")
    if manifests is not None:
        all_m = [m for found in manifests.values() for _, m in found]
        protocols = sorted({str(m.get("protocol")) for m in all_m if m.get("protocol") is not None})
        seeds = sorted({m.get("seed") for m in all_m if m.get("seed") is not None}, key=str)
        if varying:
            notes.append("a/b: the counts differ between the manifests found (protocols or seeds).")
        if any(not manifests.get(t) for t in bench.tasks):
            notes.append(f"{MISSING}: no prepare-data manifest of the task under {_join(manifest_dirs)}.")
        notes.append(f"Backbone: not applicable (dataset table). Data protocol: {_join(protocols) or 'unknown'}. "
                     f"Seeds: {_join(seeds) or 'none'}.")
    else:
        notes.append("Backbone: not applicable (dataset table). Data protocol, seeds: not applicable (no manifests "
                     "given).")
    return Table(caption, columns, rows, csv_fields, csv_rows, notes, [str(benchmarks_path)] + sources,
                 "files: benchmarks file and data manifests" if manifests is not None else "file: benchmarks file")


def orders_table(benchmarks, benchmarks_path, orders=None) -> Table:
    """Table 7: every task order (or ``orders``) with its benchmark and task sequence."""
    owner = _order_owner(benchmarks)
    if orders:
        unknown = [o for o in orders if o not in owner]
        if unknown:
            raise SaptError(f"--orders: unknown order(s) {_join(unknown)} (known: {_join(owner)})")
    chosen = [o for o in owner if not orders or o in orders]
    columns = ["Order", "Benchmark", "T", "Task sequence"]
    csv_fields = ["order", "benchmark", "T", "tasks"]
    rows, csv_rows = [], []
    for o in chosen:
        tasks = benchmarks[owner[o]].orders[o]
        seq = " → ".join(tasks)
        rows.append([o, owner[o], str(len(tasks)), seq])
        csv_rows.append({"order": o, "benchmark": owner[o], "T": len(tasks), "tasks": seq})
    caption = f"Table 7: The task orders ({_join(chosen)}), tasks in training order."
    notes = ["Backbone: not applicable (every backbone uses the same orders). Data protocol, seeds: not applicable."]
    return Table(caption, columns, rows, csv_fields, csv_rows, notes, [str(benchmarks_path)], "file: benchmarks file")


# --------------------------------------------------------------------------------------------------- rendering
def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|")


def render_md(t: Table) -> str:
    lines = [t.caption, "", "| " + " | ".join(map(_md_cell, t.columns)) + " |",
             "|" + "|".join([" --- "] + [" ---: " if t.groups else " --- "] * (len(t.columns) - 1)) + "|"]
    lines += ["| " + " | ".join(map(_md_cell, r)) + " |" for r in t.rows]
    lines.append("")
    # trailing double space: markdown line break; a leading "*" escaped so the note is not read as a list item
    lines += [("\\" + n if n.startswith("*") else n) + "  " for n in t.notes]
    lines += [f"Sources ({len(t.sources)} {t.sources_label}):", ""] + [f"- {s}" for s in t.sources]
    return "\n".join(lines) + "\n"


def render_csv(t: Table) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=t.csv_fields, lineterminator="\n")
    w.writeheader()
    for r in t.csv_rows:
        w.writerow(r)
    return buf.getvalue()


_TEX_ESCAPE = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
               "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_TEX_UNICODE = {"±": r"$\pm$", "†": r"$^\dagger$", "→": r"$\rightarrow$", "↑": r"$\uparrow$",
                "↓": r"$\downarrow$"}


def tex_escape(s: str) -> str:
    out = "".join(_TEX_ESCAPE.get(c, c) for c in str(s)).replace("*", r"$^*$")
    for k, v in _TEX_UNICODE.items():
        out = out.replace(k, v)
    return out


def render_tex(t: Table) -> str:
    n = len(t.columns)
    lines = [r"% generated by sapt report-table; needs \usepackage{booktabs}", r"\begin{table}[t]", r"\centering",
             r"\small", r"\begin{tabular}{l" + "c" * (n - 1) + "}", r"\toprule"]
    header = t.columns
    if t.groups:
        spans, rules, col = [""], [], 2
        for label, span in t.groups:
            spans.append(rf"\multicolumn{{{span}}}{{c}}{{{tex_escape(label)}}}")
            rules.append(rf"\cmidrule(lr){{{col}-{col + span - 1}}}")
            col += span
        lines.append(" & ".join(spans) + r" \\")
        lines.append(" ".join(rules))
        prefixes = [label + " " for label, span in t.groups for _ in range(span)]
        header = [t.columns[0]] + [c[len(p):] if c.startswith(p) else c for c, p in zip(t.columns[1:], prefixes)]
    lines.append(" & ".join(tex_escape(c) for c in header) + r" \\")
    lines.append(r"\midrule")
    lines += [" & ".join(tex_escape(c) for c in r) + r" \\" for r in t.rows]
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{tex_escape(t.caption)}}}", r"\par\smallskip",
              r"\begin{minipage}{\linewidth}\footnotesize"]
    lines += [tex_escape(note) + r"\\" for note in t.notes]
    lines.append(tex_escape(f"Sources ({len(t.sources)} {t.sources_label}): {_join(t.sources)}"))
    lines += [r"\end{minipage}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(t: Table, prefix) -> list[Path]:
    from sapt_core.io import atomic_write_text

    prefix = str(prefix)
    out = []
    for ext, render in (("csv", render_csv), ("tex", render_tex), ("md", render_md)):
        out.append(atomic_write_text(f"{prefix}.{ext}", render(t)))
    return out
