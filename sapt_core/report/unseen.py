"""Table 3 (paper section 6.4, "Scale to unseen tasks"): after the last SuperNI step, Rouge-L on the 15 unseen SuperNI
tasks, averaged over the 3 tasks of each category (Dialog, IE, QA, Sum, SA), plus the mean over the categories.

Inputs are ``sapt evaluate`` score files of the unseen tasks, given as ``METHOD=PATH`` (one per run: order x seed;
the zero-shot backbone row, T5-ZS, has one per seed). A cell is the mean ± sample sd over the method's files; every
file must score every unseen task (a missing task is an error naming the file), and Rouge-L is used for every task
as the paper's caption says (also for the SA classification tasks).
"""

from __future__ import annotations

import statistics

from sapt_core.errors import SaptError
from sapt_core.report.registry import UNSEEN
from sapt_core.report.table_model import MISSING, Table, mean_sd_text


def parse_unseen_args(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        method, sep, path = item.partition("=")
        if not sep or not method or not path:
            raise SaptError(f"--unseen {item!r}: expected METHOD=PATH (a scores JSON of the unseen tasks)")
        out.append((method, path))
    return out


def unseen_scores(files: list[tuple[str, str]], benchmarks) -> tuple[list[str], dict[str, list[dict]]]:
    """(categories, {method: [per file: {category: mean Rouge-L of its tasks, "Avg.": mean over categories}]})."""
    from sapt_core.settings.benchmarks import get_benchmark
    from sapt_core.io import read_json

    bench = get_benchmark(benchmarks, UNSEEN)
    categories: dict[str, list[str]] = {}
    for task, info in bench.tasks.items():
        categories.setdefault(info.category, []).append(task)
    cats = list(categories)
    per_method: dict[str, list[dict[str, float]]] = {}
    for method, path in files:
        doc = read_json(path, "unseen-task scores")
        scores = doc.get("tasks") or {}
        row = {}
        for cat, tasks in categories.items():
            missing = [t for t in tasks if t not in scores]
            if missing:
                raise SaptError(f"{path}: no score for unseen task {missing[0]!r} (category {cat})")
            row[cat] = sum(float(scores[t]["rougeL"]) for t in tasks) / len(tasks)
        row["Avg."] = sum(row[c] for c in cats) / len(cats)
        per_method.setdefault(method, []).append(row)
    return cats, per_method


def unseen_cells(files: list[tuple[str, str]], benchmarks, methods: list[str] | None = None):
    """Table 3's cells as a frame: ``method, backbone (None), group (SuperNI_unseen), metric (a category or Avg.),
    mean, sd, n, text``, rows in ``methods`` order (default: as found)."""
    import pandas as pd

    cats, per_method = unseen_scores(files, benchmarks)
    records = []
    for m in methods or list(per_method):
        vals = per_method.get(m, [])
        for c in (*cats, "Avg."):
            xs = [v[c] for v in vals]
            mean = sum(xs) / len(xs) if xs else None
            sd = statistics.stdev(xs) if len(xs) > 1 else None
            records.append(dict(method=m, backbone=None, group=UNSEEN, metric=c, mean=mean, sd=sd, n=len(xs),
                                text=MISSING if mean is None else mean_sd_text(mean, sd)))
    return pd.DataFrame(records, columns=["method", "backbone", "group", "metric", "mean", "sd", "n", "text"])


def unseen_table(files: list[tuple[str, str]], benchmarks, methods: list[str] | None = None,
                 labels: dict[str, str] | None = None) -> Table:
    import pandas as pd

    labels = labels or {}  # method -> row name (default: the method name)
    stats = unseen_cells(files, benchmarks, methods)
    metrics = list(dict.fromkeys(stats["metric"])) or [*unseen_scores([], benchmarks)[0], "Avg."]
    order = list(dict.fromkeys(stats["method"]))
    rows, csv_rows = [], []
    for m in order:
        cells = stats[stats["method"] == m]
        name = labels.get(m, m)
        texts, rec = [name], {"method": m, "label": name, "n": int(cells["n"].iloc[0])}
        for c in cells.itertuples(index=False):
            if c.n:
                rec.update({f"{c.metric} mean": repr(float(c.mean)),
                            f"{c.metric} sd": "" if pd.isna(c.sd) else repr(float(c.sd))})
            rec[f"{c.metric} cell"] = c.text
            texts.append(c.text)
        rows.append(texts)
        csv_rows.append(rec)
    fields = ["method", "label", "n"] + [f"{c} {k}" for c in metrics for k in ("mean", "sd", "cell")]
    n_runs = ", ".join(f"{labels.get(m, m)} {int(stats[stats['method'] == m]['n'].iloc[0])}" for m in order)
    return Table(
        caption=("Table 3: Results on unseen tasks after the last SuperNI task: average Rouge-L of the 3 tasks of "
                 f"each category (mean ± sd over runs: {n_runs})."),
        columns=["Method", *metrics], rows=rows, csv_fields=fields, csv_rows=csv_rows,
        notes=["Rows: the zero-shot backbone (no PET block) and each method's final SuperNI model; Avg. = mean over "
               "the five categories."],
        sources=[p for _, p in files], sources_label="unseen-task score files")
