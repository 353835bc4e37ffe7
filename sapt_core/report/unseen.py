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


def unseen_table(files: list[tuple[str, str]], benchmarks, methods: list[str] | None = None,
                 labels: dict[str, str] | None = None) -> Table:
    from sapt_core.benchmarks import get_benchmark
    from sapt_core.io import read_json

    labels = labels or {}  # method -> row name (default: the method name)
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
    order = methods or list(per_method)
    columns = ["Method", *cats, "Avg."]
    rows, csv_rows = [], []
    for m in order:
        vals = per_method.get(m, [])
        name = labels.get(m, m)
        cells, rec = [name], {"method": m, "label": name, "n": len(vals)}
        for c in (*cats, "Avg."):
            xs = [v[c] for v in vals]
            if not xs:
                text = MISSING
            else:
                mean = sum(xs) / len(xs)
                sd = statistics.stdev(xs) if len(xs) > 1 else None
                text = mean_sd_text(mean, sd)
                rec.update({f"{c} mean": repr(mean), f"{c} sd": "" if sd is None else repr(sd)})
            rec[f"{c} cell"] = text
            cells.append(text)
        rows.append(cells)
        csv_rows.append(rec)
    fields = ["method", "label", "n"] + [f"{c} {k}" for c in (*cats, "Avg.") for k in ("mean", "sd", "cell")]
    n_runs = ", ".join(f"{labels.get(m, m)} {len(per_method.get(m, []))}" for m in order)
    return Table(
        caption=("Table 3: Results on unseen tasks after the last SuperNI task: average Rouge-L of the 3 tasks of "
                 f"each category (mean ± sd over runs: {n_runs})."),
        columns=columns, rows=rows, csv_fields=fields, csv_rows=csv_rows,
        notes=["Rows: the zero-shot backbone (no PET block) and each method's final SuperNI model; Avg. = mean over "
               "the five categories."],
        sources=[p for _, p in files], sources_label="unseen-task score files")
