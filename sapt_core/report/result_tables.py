"""The paper's result tables from the runs' metrics: Tables 1 and 2 (a column group per benchmark, its orders
averaged, whatever the number of benchmarks) and Tables 8 and 9 (per order; the paper's: of SuperNI / Long Sequence),
with AP, F.Ra, FWT and BWT after the last task (paper section 5.1.2).

The cells come from the tidy run frame (:func:`sapt_core.report.runs_frame.runs_frame`): within each seed the mean
over the column group's orders (a seed counts only when it has every order), then the mean and sample sd (ddof=1)
over the seeds (the paper's Table 1 averages the two orders of each benchmark). Rows are the ``methods`` in order
(``method (backbone)`` when several backbones are shown).

Expected cells: orders = ``orders`` (default: the paper's orders of the table's benchmarks); seeds = ``seeds`` (default:
every seed among the inputs used). Inputs of other methods, backbones, orders or seeds are listed as ignored, never
averaged in. Marks: ``†`` = fewer runs than expected went into the cell (listed under the table), ``*`` = a run used
a derived test split (held out from train), ``‡`` = in a run that went into the cell the final model predicts one
constant string for a task (the number measures a constant output, not the method), ``§`` after a row name = its
runs' model-selection policy differs from the other rows'. Under every table: the model-selection policy of its
rows, the tasks whose data differs from upstream (when the runs record it), backbone(s), data protocol, seeds, metric
variant, the F.Ra / BWT / FWT formulas (the paper's eqs. 2-4; ``formulas="official"``, ``sapt report-table
--formulas official``: the official score.py's, docs/official_code.md section 5), missing runs and the exact list
of metrics files it was built from.
"""

from __future__ import annotations

from dataclasses import dataclass

from sapt_core.errors import SaptError, known_text
from sapt_core.layout import metrics_file
from sapt_core.report.paper_formulas import FORMULA_KEYS, FORMULA_TEXT, FORMULAS, OFFICIAL, PAPER
from sapt_core.report.registry import METRICS, PER_ORDER, VARIANTS, table_number
from sapt_core.report.runs_frame import METRIC_NAMES, runs_frame, split_list
from sapt_core.report.table_model import (DATA_DIFFERS_NOTE, DERIVED_NOTE, INCOMPLETE, MISSING, NOT_APPLICABLE, Table,
                                          join, mean_sd_text)


@dataclass
class Group:
    """A column group: its label, benchmark and the orders its cells average."""
    label: str
    benchmark: str
    orders: list[str]


def order_owner(benchmarks) -> dict[str, str]:
    return {o: b.name for b in benchmarks.values() for o in b.orders}


def check_orders(orders, benchmarks) -> None:
    owner = order_owner(benchmarks)
    unknown = [o for o in orders or () if o not in owner]
    if unknown:
        raise SaptError(f"--orders: unknown order(s) {join(unknown)}{known_text(owner)}")


def column_groups(table: str, benchmarks, orders=None) -> list[Group]:
    """Per-order tables (8 / 9): one group per order (of any benchmark; default: the paper's orders of the paper's
    benchmark of the table); Tables 1 / 2: one group per benchmark with orders chosen, as many as there are, in the
    benchmarks file's order (the paper's: SuperNI, then Long Sequence)."""
    check_orders(orders, benchmarks)
    if table in PER_ORDER:
        if not orders:
            bench = PER_ORDER[table]
            if bench not in benchmarks:
                raise SaptError(f"{table}: benchmark {bench!r} is not in the benchmarks file; expected its orders "
                                "named (--orders)")
            orders = benchmarks[bench].paper_orders
        groups = [Group(o, b.name, [o]) for b in benchmarks.values() for o in b.orders if o in orders]
    else:
        groups = [Group(b.name, b.name, chosen) for b in benchmarks.values()
                  if (chosen := [o for o in b.orders if o in (orders or b.paper_orders)])]
    if not groups:
        raise SaptError(f"{table}: no order to show (--orders {join(orders) if orders else 'not given'}; the "
                        f"benchmarks file's orders: {join(order_owner(benchmarks))})")
    return groups


@dataclass
class Cells:
    """A result table's numbers before rendering: ``stats`` has one row per (method, backbone, group, metric) with
    ``mean``, ``sd`` (NaN with one seed), ``n`` (seeds averaged) and ``text`` (the shown cell)."""
    table: str
    groups: list[Group]
    rows: list[tuple[str, str | None]]  # (method, backbone) in display order
    stats: object  # pandas DataFrame
    frame: object  # the used runs (tidy frame, this variant)
    files: dict  # (method, backbone) -> that row's metrics files
    policies: dict  # (method, backbone) -> that row's model-selection policy (text; None without runs)
    policy: str | None  # the policy of most rows
    notes: list[str]
    sources: list[str]
    backbones: list
    seeds: list[int]


def result_cells(table: str, metrics_files: list[str], benchmarks, methods=None, backbone=None, orders=None,
                 seeds=None, variant: str = "paper", not_applicable=(), labels=None, formulas: str = PAPER) -> Cells:
    """Read the metrics files and compute every cell of a result table (see the module docstring).
    ``not_applicable``: (method, benchmark) pairs the method cannot run on (EPI on SuperNI): cells ``-``;
    ``labels``: method -> the name the notes use; ``formulas``: ``paper`` (eqs. 2-4) or ``official`` (score.py's
    F.Ra, BWT and FWT, :mod:`sapt_core.report.paper_formulas`)."""
    import pandas as pd

    if formulas not in FORMULAS:
        raise SaptError(f"--formulas: expected one of {join(FORMULAS)}, got {formulas!r}")

    not_applicable = set(not_applicable)
    groups = column_groups(table, benchmarks, orders)
    expected = {(g.benchmark, o) for g in groups for o in g.orders}
    frame = runs_frame(metrics_files, benchmarks)
    methods = list(methods) if methods else list(dict.fromkeys(frame["method"]))
    dup = [m for i, m in enumerate(methods) if m in methods[:i]]
    if dup:
        raise SaptError(f"--methods: method {dup[0]!r} listed twice")

    runs = frame[frame["variant"] == variant]
    if formulas == OFFICIAL:
        runs = runs.assign(**{name: runs[keys[OFFICIAL]] for name, keys in FORMULA_KEYS.items()})
    in_groups = [(b, o) in expected for b, o in zip(runs["benchmark"], runs["order"])]
    keep = runs["method"].isin(methods) & pd.Series(in_groups, index=runs.index, dtype=bool)
    if backbone is not None:
        keep &= runs["backbone"] == backbone
    if seeds:
        keep &= runs["seed"].isin(seeds)
    used, ignored = runs[keep], list(dict.fromkeys(runs.loc[~keep, "metrics_file"]))
    backbones = [backbone] if backbone is not None else list(dict.fromkeys(used["backbone"])) or [None]
    seeds = sorted(set(seeds)) if seeds else sorted(set(used["seed"]))
    group_of = {(g.benchmark, o): g.label for g in groups for o in g.orders}
    used = used.assign(group=[group_of[b, o] for b, o in zip(used["benchmark"], used["order"])])
    over_seeds, n_complete = seed_stats(used, {g.label: len(g.orders) for g in groups})

    labels = labels or {}
    lookup = {(r.method, r.backbone, r.benchmark, r.order, r.seed): r for r in used.itertuples(index=False)}
    records, missing_runs, files_of, constant = [], [], {}, []
    any_derived, any_partial, any_na, any_missing = set(), False, False, False
    for m in methods:
        for bb in backbones:
            row_files = files_of.setdefault((m, bb), [])
            row = row_label(m, bb, labels, len(backbones))
            for g in groups:
                if (m, g.benchmark) in not_applicable:
                    any_na = True
                    records += [dict(method=m, backbone=bb, group=g.label, metric=name, mean=None, sd=None, n=None,
                                     text=NOT_APPLICABLE) for name in METRIC_NAMES]
                    continue
                files, derived, partial, flat_out = [], set(), False, []
                for s in seeds:
                    for o in g.orders:
                        hit = lookup.get((m, bb, g.benchmark, o, s))
                        if hit is None:
                            partial = True
                            label = metrics_file(g.benchmark, o, bb, m, s)
                            if label not in missing_runs:
                                missing_runs.append(label)
                            continue
                        files.append(hit.metrics_file)
                        derived |= set(split_list(hit.derived))
                        flat_out += [f"{t} ({o} seed {s})" for t in split_list(hit.constant_final)]
                row_files += [f for f in files if f not in row_files]
                if flat_out:  # a task's final predictions are one constant string
                    constant.append(f"{row}, {g.label}: {join(flat_out)}")
                key = (m, bb, g.label)
                n_ok_seeds = int(n_complete.get(key, 0))
                for name in METRIC_NAMES:
                    mean = sd = None
                    n = over_seeds.loc[key, (name, "count")] if key in over_seeds.index else 0
                    if not files:
                        text, any_missing = MISSING, True
                    elif not n_ok_seeds:
                        text, any_partial = INCOMPLETE + "†", True
                    elif not n:
                        text, any_na = NOT_APPLICABLE, True
                    else:
                        mean = float(over_seeds.loc[key, (name, "mean")])
                        sd = float(over_seeds.loc[key, (name, "std")]) if n > 1 else None
                        text = mean_sd_text(mean, sd)
                        if derived:
                            text += "*"
                            any_derived |= derived
                        if partial or n < n_ok_seeds:
                            text += "†"
                            any_partial = True
                        if flat_out:
                            text += "‡"
                    records.append(dict(method=m, backbone=bb, group=g.label, metric=name, mean=mean, sd=sd,
                                        n=int(n) if files and n_ok_seeds else 0, text=text))
    stats = pd.DataFrame(records, columns=["method", "backbone", "group", "metric", "mean", "sd", "n", "text"])
    stats = stats.astype({"mean": "float64", "sd": "float64", "n": "Int64"})  # None -> NaN / <NA>

    sources = list(dict.fromkeys(str(p) for p in used["metrics_file"]))
    protocols = sorted(set(used["data_protocol"].dropna()) - {""})
    bb_text = backbones_text(backbones)
    rows = [(m, bb) for m in methods for bb in backbones]
    policies = {r: row_policy(used, *r) for r in rows}
    policy = majority([p for p in policies.values() if p is not None])
    notes = []
    if any_derived:
        notes.append(f"{DERIVED_NOTE} (tasks: {join(sorted(any_derived))}).")
    if any_partial:
        notes.append("† fewer runs than expected went into this cell (see the missing runs below); "
                     f"{INCOMPLETE}: no seed has every order.")
    if any_missing:
        notes.append(f"{MISSING}: no metrics file among the inputs for this cell.")
    if any_na:
        notes.append(f"{NOT_APPLICABLE}: not applicable (FWT without single-task scores; F.Ra and BWT with one task; "
                     "MTL: only AP, one model trained from scratch on every task after the last; a method that does not apply to a "
                     "benchmark, e.g. EPI on SuperNI's generation tasks).")
    if constant:
        notes.append("‡ the number measures a constant output, not the method: in a run that went into the cell, "
                     f"the final model predicts one string for every test input of a task ({'; '.join(constant)}).")
    if missing_runs and seeds:
        notes.append(f"Missing runs ({len(missing_runs)}): {join(missing_runs)}.")
    notes.append(f"Backbone: {bb_text}. Data protocol: {join(protocols) or 'unknown'}. "
                 f"Seeds: {join(seeds) or 'none'}. Metric: {VARIANTS[variant][1]}. {formulas_note(formulas)}")
    notes.append(selection_note(policies, policy, labels, len(backbones)))
    differs = sorted({t for x in used["data_differs"].dropna() for t in split_list(x)})
    if differs:
        notes.append(f"{DATA_DIFFERS_NOTE}): tasks {join(differs)}.")
    if ignored:
        notes.append(f"Ignored inputs (other methods, backbones, orders or seeds): {join(ignored)}.")
    return Cells(table, groups, rows, stats, used, files_of, policies, policy, notes, sources, backbones, seeds)


def formulas_note(formulas: str) -> str:
    """Which F.Ra / BWT / FWT formulas the cells use (``--formulas``)."""
    used = "; ".join(FORMULA_TEXT[(m, formulas)] for m in FORMULA_KEYS)
    other = PAPER if formulas == OFFICIAL else OFFICIAL
    return (f"Formulas: {used} (`sapt report-table --formulas {other}` shows the "
            f"{'paper equations' if other == PAPER else 'official score.py variants'}).")


def seed_stats(used, n_orders: dict):
    """Per (method, backbone, group): ``mean`` / ``std`` (ddof=1) / ``count`` over the seeds of each metric, each
    seed's value the mean over the group's orders (NaN when one order lacks the metric), and how many seeds have
    every order of the group (``n_orders``: group -> its number of orders)."""
    import pandas as pd

    keys = ["method", "backbone", "group"]
    if used.empty:
        return pd.DataFrame(), pd.Series(dtype=int)
    by_seed = used.groupby([*keys, "seed"], sort=False)
    per_seed = by_seed[list(METRIC_NAMES)].mean(skipna=False)
    complete = per_seed[[n == n_orders[k[2]] for k, n in by_seed.size().items()]]
    return (complete.groupby(level=keys, sort=False).agg(["mean", "std", "count"]),
            complete.groupby(level=keys, sort=False).size())


def policy_text(selection, every, attention_split) -> str:
    """The model-selection policy of a run (``protocol`` in its scores) in words."""
    if not isinstance(selection, str):
        return "not recorded"
    split = {"val": "validation", "test": "test"}
    text = ("none (the last epoch's state)" if selection == "none"
            else f"best state every {int(every)} epochs on the {split.get(selection, selection)} split")
    if isinstance(attention_split, str):
        text += f", a_t from the {split.get(attention_split, attention_split)} split"
    return text


def row_policy(used, method, backbone) -> str | None:
    """The policy of a row's runs (``; ``-joined when they differ); None without runs."""
    runs = used[(used["method"] == method) & (used["backbone"] == backbone)]
    texts = dict.fromkeys(policy_text(*r) for r in runs[["selection", "select_every_epochs", "attention_split"]]
                          .itertuples(index=False))
    return "; ".join(sorted(texts)) if texts else None


def majority(values: list):
    """The most frequent value (the first of the tied ones), None for no values."""
    return max(dict.fromkeys(values), key=values.count) if values else None


def selection_note(policies: dict, policy, labels: dict, n_backbones: int) -> str:
    if policy is None:
        return "Model selection: no runs."
    odd = [f"{row_label(m, bb, labels, n_backbones)}: {p}" for (m, bb), p in policies.items()
           if p is not None and p != policy]
    if not odd:
        return f"Model selection: {policy} (every row)."
    return f"Model selection: {policy}; § rows whose runs differ: {'; '.join(odd)}."


def backbones_text(backbones) -> str:
    return join(b for b in backbones if b is not None) or "n/a (no metrics files)"


def caption(cells: Cells) -> str:
    n_seeds = len(cells.seeds)
    seeds_text = (f"mean ± sample sd (ddof=1) over {n_seeds} seeds" if n_seeds > 1
                  else "1 seed (no sd)" if n_seeds == 1 else "no seeds (no metrics files)")
    if cells.table in PER_ORDER:
        benches = list(dict.fromkeys(g.benchmark for g in cells.groups))
        what = f"Results on each task order of the {join(benches)} benchmark{'s' if len(benches) > 1 else ''}"
        scope = f"orders {join(g.label for g in cells.groups)}"
    else:
        what = "Overall results" if cells.table == "table1" else "Ablation study"
        scope = "; ".join(f"{g.benchmark} averaged over {join(g.orders)}" for g in cells.groups)
    return (f"{table_number(cells.table)}: {what} with {backbones_text(cells.backbones)} ({scope}): AP, F.Ra, FWT, "
            f"BWT after the last task ({seeds_text}).")


def csv_value(v):
    """A number of the stats frame as a CSV field: empty for NaN / <NA>, else the plain Python value."""
    import pandas as pd

    return "" if pd.isna(v) else v.item() if hasattr(v, "item") else v


def row_label(method: str, backbone, labels: dict, n_backbones: int) -> str:
    shown = labels.get(method, method)
    return shown if n_backbones == 1 else f"{shown} ({backbone})"


def result_table(table: str, metrics_files: list[str], benchmarks, methods=None, backbone=None, orders=None,
                 seeds=None, variant: str = "paper", not_applicable=(), labels=None, formulas: str = PAPER,
                 ap_diff_note: str | None = None) -> Table:
    """Tables 1, 2, 8, 9 (see the module docstring). ``labels``: method -> row name (the CSV keeps the method name
    too); ``formulas``: the paper's equations (default) or the official score.py variants; ``ap_diff_note``: the
    table's companion of AP differences with their intervals (:mod:`sapt_core.report.ap_diff_table`), named in a
    note."""
    labels = labels or {}
    cells = result_cells(table, metrics_files, benchmarks, methods, backbone, orders, seeds, variant, not_applicable,
                         labels, formulas)
    columns = ["Method"] + [f"{g.label} {name} {arrow}" for g in cells.groups for name, arrow in METRICS]
    csv_fields = ["method", "label", "backbone"] + [f"{g.label} {name} {x}" for g in cells.groups
                                                    for name, _ in METRICS for x in ("mean", "sd", "n", "cell")]
    csv_fields += ["selection", "sources"]
    stats = cells.stats.set_index(["method", "backbone", "group", "metric"])
    rows, csv_rows = [], []
    for m, bb in cells.rows:
        shown = labels.get(m, m)
        rec = {"method": m, "label": shown, "backbone": bb if bb is not None else ""}
        policy = cells.policies[(m, bb)]
        odd = policy is not None and policy != cells.policy
        texts = [row_label(m, bb, labels, len(cells.backbones)) + (" §" if odd else "")]
        for g in cells.groups:
            for name in METRIC_NAMES:
                s = stats.loc[(m, bb, g.label, name)]
                texts.append(s["text"])
                rec.update({f"{g.label} {name} {x}": csv_value(s[x]) for x in ("mean", "sd", "n")})
                rec[f"{g.label} {name} cell"] = s["text"]
        rec["selection"] = policy or ""
        rec["sources"] = ";".join(cells.files[(m, bb)])
        rows.append(texts)
        csv_rows.append(rec)
    notes = list(cells.notes)
    if ap_diff_note:
        notes.append(f"Differences in AP against a reference method, with 95% intervals from a paired bootstrap over "
                     f"test instances (seeds and orders pooled): {ap_diff_note}.")
    return Table(caption(cells), columns, rows, csv_fields, csv_rows, notes, cells.sources, "metrics files",
                 [(g.label, len(METRICS)) for g in cells.groups])
