"""A result table beside the paper's published numbers (``sapt report-table --vs-paper``): how close did this run get?

One row per table row and column group (benchmark, order, or Table 3's unseen tasks); for each metric our cell (as
the table shows it), the paper's cell (config/paper_results.yaml) and the difference ours - paper. The difference is
marked ``✓`` where it lies within two of our sample sds over seeds, ``(1 seed)`` where one seed gives no sd to judge
by. A paper cell marked ``≠`` is one of the paper's own inconsistencies: its Table 1 (or Table 2) value is not the
mean of its Tables 8 / 9 order values, beyond the rounding of the printed numbers. Under the table: what differs
from the paper by construction (backbone, tasks per order, orders, data protocol, model selection, data that
differs from upstream, seeds), so a large difference on the tiny default reads as what it is.

The CSV has one row per (row, group, metric): ``table, method, label, backbone, group, metric, ours_mean, ours_sd,
ours_n, ours_cell, paper, paper_reported, difference, within_2sd, mark, paper_consistent``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sapt_core.report.paper_results import inconsistent_cells
from sapt_core.report.registry import PER_ORDER, UNSEEN, table_number
from sapt_core.report.table_model import NOT_APPLICABLE, Table, fmt, join

WITHIN = "✓"
ONE_SEED = "(1 seed)"
INCONSISTENT = "≠"
NOT_RUN = "not run"
NOT_IN_PAPER = "not in the paper"
NOT_REPORTED = "not reported"


@dataclass
class Context:
    """What our cells were built under, for the note on what differs from the paper by construction."""
    backbones: list[str]
    n_tasks: list[int]  # tasks per order of our runs
    orders: list[str]  # the orders our cells average (per benchmark)
    data_protocols: list[str]
    policies: list[str]  # model-selection policies of our rows
    data_differs: list[str] | None  # tasks whose data differs from upstream; None: not recorded
    seeds: list[int] = field(default_factory=list)
    paper_protocols: list[str] = field(default_factory=list)  # "<benchmark>: <sizes>" (paper section 5.1.1)


def _group_kind(table: str) -> str:
    return "Order" if table in PER_ORDER else "Unseen tasks" if table == "table3" else "Benchmark"


def _inconsistent(paper, table: str) -> dict:
    """{(method, group, metric): note} of the paper cells of ``table`` involved in a Table 1/2 vs 8/9 mismatch."""
    out = {}
    for average in ("table1", "table2"):
        for r in inconsistent_cells(paper, average).itertuples(index=False):
            orders = paper[(paper["table"].isin(PER_ORDER)) & (paper["method"] == r.method)
                           & (paper["benchmark"] == r.benchmark) & (paper["metric"] == r.metric)]
            parts = ", ".join(f"{o.order} {fmt(o.value)}" for o in orders.itertuples(index=False))
            note = (f"{r.paper_label} {r.benchmark} {r.metric}: {table_number(average)} prints {fmt(r.value)}, "
                    f"the mean of its orders ({parts}) is {r.mean_of_orders:.3f}")
            if table == average:
                out[(r.method, r.benchmark, r.metric)] = note
            elif table in PER_ORDER and PER_ORDER[table] == r.benchmark and average == "table1":
                out.update({(r.method, o.order, r.metric): note for o in orders.itertuples(index=False)})
    return out


def vs_paper_table(table: str, stats, rows: list[tuple], paper, context: Context, labels=None,
                   sources=()) -> Table:
    """The comparison of ``table``: ``stats`` = our cells (``method, backbone, group, metric, mean, sd, n, text``),
    ``rows`` = our (method, backbone) rows in order, ``paper`` = :func:`~sapt_core.report.paper_results.
    load_paper_results`, ``sources`` = the files our cells come from."""
    labels = labels or {}
    published = paper[paper["table"] == table]
    metrics = list(dict.fromkeys(published["metric"]))
    groups = list(dict.fromkeys(published["group"]))
    paper_label = dict(zip(published["method"], published["paper_label"]))
    bad = _inconsistent(paper, table)
    ours = {(r.method, r.backbone, r.group, r.metric): r for r in stats.itertuples(index=False)}
    pub = {(r.method, r.group, r.metric): r for r in published.itertuples(index=False)}
    backbones = list(dict.fromkeys(bb for _, bb in rows))
    row_keys = list(rows) + [(m, None) for m in paper_label if m not in {m for m, _ in rows}]

    columns = ["Method", _group_kind(table)] + [f"{m} {x}" for m in metrics for x in ("ours", "paper", "Δ")]
    md_rows, csv_rows = [], []
    counts = {WITHIN: 0, ONE_SEED: 0, "outside": 0, "none": 0}
    for method, bb in row_keys:
        name = labels.get(method) or paper_label.get(method, method)
        if len(backbones) > 1 and bb is not None:
            name = f"{name} ({bb})"
        for group in groups:
            cells = [name, group.replace("_", " ")]
            for metric in metrics:
                texts, rec = compare(ours.get((method, bb, group, metric)), pub.get((method, group, metric)),
                                     bad.get((method, group, metric)))
                cells += texts
                counts[rec["mark"] or ("outside" if rec["difference"] != "" else "none")] += 1
                csv_rows.append({"table": table, "method": method, "label": name, "backbone": bb or "",
                                 "group": group, "metric": metric, **rec,
                                 "paper_consistent": "" if rec["paper"] == "" or table == "table3"
                                 else (method, group, metric) not in bad})
            md_rows.append(cells)

    caption = (f"{table_number(table)} beside the paper's published numbers ({paper.attrs.get('backbone')}): our "
               "cell, the paper's cell and the difference (ours - paper) for each metric.")
    compared = counts[WITHIN] + counts[ONE_SEED] + counts["outside"]
    notes = [f"Compared cells: {compared}; within two seed sd ({WITHIN}): {counts[WITHIN]}; outside: "
             f"{counts['outside']}; {ONE_SEED}: {counts[ONE_SEED]} (no sd over seeds to judge the difference by)."]
    if bad:
        notes.append(f"{INCONSISTENT} the paper is not consistent with itself here (beyond the rounding of its "
                     f"2-decimal numbers): {'; '.join(dict.fromkeys(bad.values()))}.")
    shown = {c for r in md_rows for c in r}
    legend = {NOT_REPORTED: "the paper prints '-' (EPI selects prompts by classification labels and does not apply "
                            "to SuperNI's generation tasks)",
              NOT_IN_PAPER: "a row the paper does not have", NOT_RUN: "a paper row this configuration does not run"}
    if shown & set(legend):
        notes.append("; ".join(f"{k}: {v}" for k, v in legend.items() if k in shown) + ".")
    notes.append(construction_note(context, paper, table))
    return Table(caption, columns, md_rows, list(csv_rows[0]) if csv_rows else ["table"], csv_rows, notes,
                 [paper.attrs.get("path", "paper results"), *sources], "files: the paper's numbers, then ours")


def compare(ours, paper, inconsistent) -> tuple[list[str], dict]:
    """One metric of one row and group: the shown (ours, paper, difference) texts and the CSV fields. ``ours``: our
    cell (a stats row) or None (not run); ``paper``: the published cell or None (not in the paper);
    ``inconsistent``: whether that published cell contradicts the paper's per-order tables."""
    import pandas as pd

    def value(x):
        return None if ours is None or pd.isna(x) else float(x)

    mean, sd = (value(ours.mean), value(ours.sd)) if ours is not None else (None, None)
    n = 0 if ours is None or pd.isna(ours.n) else int(ours.n)
    published = paper is not None and bool(paper.reported)
    paper_text = (NOT_IN_PAPER if paper is None else NOT_REPORTED if not published
                  else fmt(paper.value) + (INCONSISTENT if inconsistent else ""))
    diff = within = None
    mark = ""
    if mean is not None and published:
        diff = mean - paper.value
        if sd is not None and n > 1:
            within = abs(diff) <= 2 * sd
            mark = WITHIN if within else ""
        else:
            mark = ONE_SEED
    delta = NOT_APPLICABLE if diff is None else f"{diff:+.2f}" + (f" {mark}" if mark else "")
    ours_text = NOT_RUN if ours is None else ours.text
    rec = {"ours_mean": "" if mean is None else mean, "ours_sd": "" if sd is None else sd, "ours_n": n,
           "ours_cell": ours_text, "paper": paper.value if published else "", "paper_reported": published,
           "difference": "" if diff is None else diff, "within_2sd": "" if within is None else within, "mark": mark}
    return [ours_text, paper_text, delta], rec


def construction_note(c: Context, paper, table: str) -> str:
    """What differs from the paper's ``table`` by construction, ours vs the paper's."""
    n_paper = paper.attrs.get("n_tasks")
    paper_orders = (paper.attrs.get("orders") or {}).get(table)
    differs = ("not recorded by these runs' scores" if c.data_differs is None
               else f"tasks {join(c.data_differs)}" if c.data_differs else "none")
    parts = [
        f"backbone: ours {join(c.backbones) or 'none'}, the paper's {paper.attrs.get('backbone')}",
        f"tasks per order: ours {join(c.n_tasks) or 'unknown'}, the paper's {n_paper}",
        f"orders: ours {join(c.orders) or 'none'}" + (f", the paper's {join(paper_orders)}" if paper_orders else ""),
        f"data protocol: ours {join(c.data_protocols) or 'unknown'} (split sizes: Tables 4-6), the paper's "
        f"{', '.join(c.paper_protocols) or 'own'} (paper section 5.1.1)",
        f"model selection: ours {join(dict.fromkeys(c.policies)) or 'not recorded'}, the paper does not state one",
        f"data that differs from upstream: {differs}",
        f"seeds: ours {len(c.seeds) or 'unknown'}" + (f" ({join(c.seeds)})" if c.seeds else "")
        + ", the paper does not state how many",
    ]
    return "Differs from the paper by construction: " + "; ".join(parts) + "."


def paper_protocols(benchmarks, names) -> list[str]:
    """The paper's split sizes of the given benchmarks (config/benchmarks.yaml ``paper_protocol``)."""
    words = {"n_train": "train instances per task", "n_test": "test instances per task",
             "n_test_per_class": "test instances per class"}
    out = []
    for b in names:
        proto = getattr(benchmarks.get(b), "paper_protocol", None) or {}
        if proto:
            out.append(f"{b}: " + " and ".join(f"{v} {words.get(k, k)}" for k, v in proto.items()))
    return out


def context_of_runs(cells, benchmarks) -> Context:
    """The construction context of a result table's cells (:func:`~sapt_core.report.result_tables.result_cells`)."""
    from sapt_core.report.runs_frame import split_list

    used = cells.frame
    recorded = used["data_differs"].dropna()
    return Context(
        backbones=[b for b in cells.backbones if b is not None],
        n_tasks=sorted({int(t) for t in used["T"].dropna()}),
        orders=sorted(set(used["order"])),
        data_protocols=sorted(set(used["data_protocol"].dropna()) - {""}),
        policies=[p for p in cells.policies.values() if p is not None],
        data_differs=None if recorded.empty else sorted({t for x in recorded for t in split_list(x)}),
        seeds=list(cells.seeds),
        paper_protocols=paper_protocols(benchmarks, [g.benchmark for g in cells.groups]))


def context_of_scores(files: list[tuple[str, str]], benchmarks) -> Context:
    """The construction context of Table 3's cells, from its score files (``sapt evaluate``: the final SuperNI
    model of each run, or the backbone alone)."""
    from pathlib import Path

    from sapt_core.io import read_json
    from sapt_core.layout import parse_run_dir
    from sapt_core.report.result_tables import policy_text
    from sapt_core.report.run_metrics import data_protocols

    backbones, n_tasks, orders, protocols, policies, differs, seeds = [], set(), set(), set(), [], None, set()
    for _, path in files:
        doc = read_json(path, "unseen-task scores")
        backbones.append(Path(str((doc.get("backbone") or {}).get("name", "?"))).name)
        state = doc.get("state") or {}
        if state.get("tasks"):
            n_tasks.add(len(state["tasks"]))
            p = doc.get("protocol") or {}
            policies.append(policy_text(p.get("selection"), p.get("select_every_epochs"), p.get("attention_split")))
        run = parse_run_dir(path)
        if run:
            orders.add(run["order"])
            seeds.add(run["seed"])
        protocols |= data_protocols(doc)
        for task, entry in (doc.get("tasks") or {}).items():
            if isinstance(entry, dict) and entry.get("upstream") is not None:
                differs = (differs or []) + ([task] if entry["upstream"] == "differs" else [])
    return Context(list(dict.fromkeys(backbones)), sorted(n_tasks), sorted(orders), sorted(protocols), policies,
                   differs, sorted(seeds), paper_protocols(benchmarks, ["SuperNI", UNSEEN]))
