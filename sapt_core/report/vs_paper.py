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

from sapt_core.errors import SaptError
from sapt_core.report.paper_formulas import FORMULA_TEXT, OFFICIAL, PAPER, cell_formulas
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
    protocol_of: dict = field(default_factory=dict)  # benchmark -> our data protocols
    differs_in: dict = field(default_factory=dict)  # column group -> our tasks in it whose data differs from upstream
    derived_in: dict = field(default_factory=dict)  # column group -> our tasks in it whose test file is missing
    dtypes: list[str] = field(default_factory=list)  # backbone weight dtypes of our runs
    llama_kl: list[str] = field(default_factory=list)  # "<backbone> <benchmark>: <lambda>" of LLaMA rows


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
    if {"F.Ra", "BWT"} & set(metrics):
        notes.append(formulas_note(paper, table))
    notes.append(construction_note(context, paper, table))
    return Table(caption, columns, md_rows, list(csv_rows[0]) if csv_rows else ["table"], csv_rows, notes,
                 [paper.attrs.get("path", "paper results"), *sources], "files: the paper's numbers, then ours")


def formulas_note(paper, table: str) -> str:
    """Which formulas our F.Ra / BWT cells of ``table`` are computed with here (those of the paper's numbers)."""
    est, exceptions = cell_formulas(paper)
    odd = [f"{m} {g.replace('_', ' ')}: {FORMULA_TEXT[('F.Ra', f)]}, {FORMULA_TEXT[('BWT', b)]}"
           for (t, m, g), (f, b) in exceptions.items() if t == table]
    return ("Formulas compared: the paper's numbers were computed with " + est.text() + ", so our F.Ra and BWT here "
            "use the same formulas" + (f" (cells those cannot produce, compared with the formulas they are "
                                      f"consistent with: {'; '.join(odd)})" if odd else "")
            + "; FWT: paper eq. 3 (the transcription cannot tell which FWT was printed; the official score.py "
            "subtracts a constant 50.94). Our result tables use the paper's equations 2-4 (sapt report-table "
            "--formulas official shows the score.py variants).")


def paper_formula_stats(table: str, stats_by_formula: dict, paper):
    """Our cells with F.Ra / BWT computed by the formulas the paper's cell was computed with (:func:`~sapt_core.
    report.paper_formulas.cell_formulas`): ``stats_by_formula`` = {formulas: result_cells(...).stats} with rows in
    the same order."""
    ours, official = stats_by_formula[PAPER].reset_index(drop=True), stats_by_formula[OFFICIAL].reset_index(drop=True)
    keys = ["method", "backbone", "group", "metric"]
    if not ours[keys].astype(str).equals(official[keys].astype(str)):  # pragma: no cover - same inputs, same order
        raise SaptError("vs paper: the paper and official cells differ in their rows")
    est, exceptions = cell_formulas(paper)
    out = ours.copy()
    for i, r in enumerate(ours.itertuples(index=False)):
        pair = exceptions.get((table, r.method, r.group), (est.fra, est.bwt))
        if {"F.Ra": pair[0], "BWT": pair[1]}.get(r.metric, PAPER) == OFFICIAL:
            out.iloc[i] = official.iloc[i]
    return out


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
    """Every difference from the paper's ``table`` by construction, ours vs the paper's, in one place."""
    n_paper = paper.attrs.get("n_tasks")
    paper_orders = (paper.attrs.get("orders") or {}).get(table)
    published = paper.attrs.get("data_protocols") or {}
    if c.data_differs is None:
        differs = "not recorded by these runs' scores"
    elif c.data_differs:
        touched = "; ".join(f"{g.replace('_', ' ')} ({join(ts)})" for g, ts in c.differs_in.items() if ts)
        differs = (f"tasks {join(c.data_differs)}, which enter every cell of " + (touched or "no compared column")
                   + " (upstream files missing or not identical; config/README.md 'Data protocol of the published "
                   "numbers')")
    else:
        differs = "none"
    derived = "; ".join(f"{g.replace('_', ' ')} ({join(ts)})" for g, ts in c.derived_in.items() if ts)
    if derived:
        differs += (f"; test files missing from our data root (a test split held out from train, marked *) enter "
                    f"every cell of {derived}")
    ours_proto = "; ".join(f"{b}: {join(ps)}" for b, ps in c.protocol_of.items()) or join(c.data_protocols) \
        or "unknown"
    theirs = "; ".join(f"{b}: {p}" for b, p in published.items())
    llama = [b for b in c.backbones if "llama" in str(b).lower()]
    parts = [
        f"backbone: ours {join(c.backbones) or 'none'}, the paper's {paper.attrs.get('backbone')}",
        f"tasks per order: ours {join(c.n_tasks) or 'unknown'}, the paper's {n_paper}",
        f"orders: ours {join(c.orders) or 'none'}" + (f", the paper's {join(paper_orders)}" if paper_orders else ""),
        f"data protocol: ours {ours_proto} (split sizes: Tables 4-6), the published numbers' {theirs or 'unknown'} "
        f"(config/README.md 'Data protocol of the published numbers'; the paper's text says "
        f"{', '.join(c.paper_protocols) or 'nothing'}, paper section 5.1.1)",
        f"model selection: ours {join(dict.fromkeys(c.policies)) or 'not recorded'}, the paper does not state one "
        "(the authors' code keeps the best epoch on the test file for SAPT and its early stopping for Progressive "
        "Prompts: protocol.selection: official)",
        f"data that differs from upstream: {differs}",
        "backbone weights: ours " + (join(c.dtypes) if c.dtypes else "the backbone's configured dtype")
        + " (bf16 weights where config/paper.yaml sets dtype: bfloat16), the authors' T5 runs fp32 weights under bf16 "
        "autocast",
        "SAPT's KL lambda on LLaMA SuperNI: ours the official script's 1.0, App. C's 2.0"
        + ("" if llama else " (no LLaMA row here)"),
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
    protocol_of = {b: sorted(set(g["data_protocol"].dropna()) - {""}) for b, g in used.groupby("benchmark", sort=False)}
    differs_in, derived_in = {}, {}
    for r in used.itertuples(index=False):
        for out, tasks in ((differs_in, r.data_differs), (derived_in, r.derived)):
            ts = out.setdefault(r.group, [])
            ts += [t for t in split_list(tasks) if t not in ts]
    return Context(
        backbones=[b for b in cells.backbones if b is not None],
        n_tasks=sorted({int(t) for t in used["T"].dropna()}),
        orders=sorted(set(used["order"])),
        data_protocols=sorted(set(used["data_protocol"].dropna()) - {""}),
        policies=[p for p in cells.policies.values() if p is not None],
        data_differs=None if recorded.empty else sorted({t for x in recorded for t in split_list(x)}),
        seeds=list(cells.seeds),
        paper_protocols=paper_protocols(benchmarks, [g.benchmark for g in cells.groups]),
        protocol_of=protocol_of, differs_in=differs_in, derived_in=derived_in,
        dtypes=sorted(set(used["backbone_dtype"].dropna()) - {""}) if "backbone_dtype" in used else [])


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
