"""The benchmark tables, from config/benchmarks.yaml and the prepare-data manifests: Tables 4 (SuperNI), 5 (Long
Sequence), 6 (the unseen SuperNI tasks) list each task's category and metric (with the manifests: the prepared
train / val / test counts, whether the test split is derived and, where the manifests record it, how many
classification instances were dropped because their output is not one of the task's labels); Table 7 lists the task
orders (order, benchmark, T, task sequence joined by arrows)."""

from __future__ import annotations

from pathlib import Path

from sapt_core import layout
from sapt_core.errors import SaptError
from sapt_core.report.registry import DATASET_TABLES, table_number
from sapt_core.report.result_tables import check_orders, order_owner
from sapt_core.report.table_model import DATA_DIFFERS_NOTE, DERIVED_NOTE, MISSING, NOT_APPLICABLE, Table, join

METRIC_NAMES = {"rougeL": "Rouge-L", "accuracy": "accuracy"}
SPLITS = ("train", "val", "test")
NOT_RECORDED = "not recorded"
PAPER = {"table4": "SuperNI benchmark (paper Table 4)", "table5": "Long Sequence benchmark (paper Table 5)",
         "table6": "unseen SuperNI tasks (paper Table 6)"}


def find_manifests(dirs: list[str], bench: str) -> dict[str, list[tuple[str, dict]]]:
    """{task: [(path, manifest), ...]} of the prepare-data manifests of ``bench`` under ``dirs``."""
    from sapt_core.io import read_json

    out: dict[str, list[tuple[str, dict]]] = {}
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise SaptError(f"--manifests: {d}: not a directory")
        for f in sorted(d.rglob(layout.DATA_MANIFEST)):
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
    manifests = find_manifests(list(manifest_dirs), bench_name) if manifest_dirs else None
    # the Dropped column where any manifest records the instances it dropped (older manifests do not)
    dropping = manifests is not None and any("dropped" in m for found in manifests.values() for _, m in found)
    columns = ["#", "Dataset name", "Category", "Metric"]
    csv_fields = ["index", "dataset", "category", "metric"]
    if manifests is not None:
        columns += ["Train", "Val", "Test", "Test split"] + (["Dropped"] if dropping else [])
        csv_fields += ["train", "val", "test", "test_derived"]
        csv_fields += [f"dropped_{split}" for split in SPLITS] if dropping else []
        csv_fields.append("manifests")
    rows, csv_rows, sources = [], [], []
    derived_tasks, varying, dropped_labels, reasons = [], False, [], []
    for i, (name, info) in enumerate(bench.tasks.items(), 1):
        metric = METRIC_NAMES.get(info.metric, info.metric)
        cells = [str(i), name, info.category, metric]
        rec = {"index": i, "dataset": name, "category": info.category, "metric": info.metric}
        if manifests is not None:
            found = manifests.get(name, [])
            sources += [f for f, _ in found]
            if not found:
                cells += [MISSING] * (5 if dropping else 4)
                rec.update({f: "" for f in csv_fields[4:]})
            else:
                for split in SPLITS:
                    text = _counts_text([m["counts"].get(split) for _, m in found])
                    varying |= "/" in text
                    cells.append(text)
                    rec[split] = text
                derived = any((m.get("derived") or {}).get("test") for _, m in found)
                if derived:
                    derived_tasks.append(name)
                cells.append("held out from train*" if derived else "upstream")
                rec["test_derived"] = derived
                if dropping:
                    drops = [m.get("dropped") for _, m in found]
                    cells.append(" / ".join(dict.fromkeys(_dropped_text(d) for d in drops)))
                    rec.update({f"dropped_{split}": _counts_text([(d or {}).get(split) for d in drops])
                                for split in SPLITS})
                    dropped_labels += [f"{name} {_labels_text(d['labels'])}" for d in drops
                                       if d and d.get("labels")][:1]
                    reasons += [d["reason"] for d in drops if d and d.get("reason") and d["reason"] not in reasons]
                rec["manifests"] = ";".join(f for f, _ in found)
        rows.append(cells)
        csv_rows.append(rec)
    caption = (f"{table_number(table)}: The {len(bench.tasks)} tasks of the {PAPER[table]}: category and metric"
               + (", with the prepared split sizes." if manifests is not None else "."))
    notes = []
    if derived_tasks:
        notes.append(f"{DERIVED_NOTE} (tasks: {join(derived_tasks)}).")
    if manifests is not None:
        all_m = [m for found in manifests.values() for _, m in found]
        protocols = sorted({str(m.get("protocol")) for m in all_m if m.get("protocol") is not None})
        seeds = sorted({m.get("seed") for m in all_m if m.get("seed") is not None}, key=str)
        if varying:
            notes.append("a/b: the counts differ between the manifests found (protocols or seeds).")
        if dropping:
            notes.append("Dropped: classification instances (train / val / test) removed when the data was prepared "
                         "because their output is not one of the task's labels (labels.json)"
                         + (f": {'; '.join(reasons)}" if reasons else "")
                         + (f". Outputs dropped: {'; '.join(dropped_labels)}" if dropped_labels else "") + "."
                         + (f" {NOT_RECORDED}: the manifest predates the record." if any(
                             "dropped" not in m for m in all_m) else ""))
        differs = [f"{t} ({'/'.join(_differing_splits(found))})" for t, found in manifests.items()
                   if any(m.get("upstream") == "differs" for _, m in found)]
        if differs:
            notes.append(f"{DATA_DIFFERS_NOTE}; the split in brackets): {join(differs)}.")
        if any(not manifests.get(t) for t in bench.tasks):
            notes.append(f"{MISSING}: no prepare-data manifest of the task under {join(manifest_dirs)}.")
        notes.append(f"Backbone: not applicable (dataset table). Data protocol: {join(protocols) or 'unknown'}. "
                     f"Seeds: {join(seeds) or 'none'}.")
    else:
        notes.append("Backbone: not applicable (dataset table). Data protocol, seeds: not applicable (no manifests "
                     "given).")
    return Table(caption, columns, rows, csv_fields, csv_rows, notes, [str(benchmarks_path)] + sources,
                 "files: benchmarks file and data manifests" if manifests is not None else "file: benchmarks file")


def _differing_splits(found) -> list[str]:
    """The splits whose upstream source file differs from the pinned upstream one (the manifests' ``source``)."""
    return [s for s in SPLITS if any(((m.get("source") or {}).get(s) or {}).get("upstream") == "differs"
                                     for _, m in found)]


def _dropped_text(dropped) -> str:
    """A manifest's dropped counts: ``0``, or the non-zero splits (``train 3, test 1``)."""
    if not isinstance(dropped, dict):
        return NOT_RECORDED
    counts = [(split, dropped.get(split) or 0) for split in SPLITS]
    return ", ".join(f"{split} {n}" for split, n in counts if n) or "0"


def _labels_text(labels) -> str:
    """The dropped outputs: ``'-' x3, 'maybe' x1`` from {output: count}, else the outputs as given."""
    if isinstance(labels, dict):
        return ", ".join(f"{k!r} x{v}" for k, v in labels.items())
    return ", ".join(map(repr, labels)) if isinstance(labels, list) else repr(labels)


def _counts_text(values) -> str:
    """One count, or ``a/b`` when the manifests found disagree (``-`` for a split a manifest lacks)."""
    vals = sorted(set(values), key=lambda v: (v is None, v or 0))
    return "/".join(NOT_APPLICABLE if v is None else str(v) for v in vals)


def orders_table(benchmarks, benchmarks_path, orders=None) -> Table:
    """Table 7: the paper's task orders (or ``orders``, the demo orders among them) with benchmark and task sequence."""
    owner = order_owner(benchmarks)
    if orders:
        check_orders(orders, benchmarks)
    chosen = [o for o in owner if o in orders] if orders else [o for b in benchmarks.values() for o in b.paper_orders]
    columns = ["Order", "Benchmark", "T", "Task sequence"]
    csv_fields = ["order", "benchmark", "T", "tasks"]
    rows, csv_rows = [], []
    for o in chosen:
        tasks = benchmarks[owner[o]].orders[o]
        seq = " → ".join(tasks)
        rows.append([o, owner[o], str(len(tasks)), seq])
        csv_rows.append({"order": o, "benchmark": owner[o], "T": len(tasks), "tasks": seq})
    caption = f"Table 7: The task orders ({join(chosen)}), tasks in training order."
    notes = ["Backbone: not applicable (every backbone uses the same orders). Data protocol, seeds: not applicable."]
    extra = [o for o in chosen if o not in benchmarks[owner[o]].paper_orders]
    if extra:
        notes.append(f"Not in the paper: {join(extra)} (the benchmarks file's demo_orders: the embedded default's "
                     "chains).")
    return Table(caption, columns, rows, csv_fields, csv_rows, notes, [str(benchmarks_path)], "file: benchmarks file")
