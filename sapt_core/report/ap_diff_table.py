"""A result table's companion: each method's difference in AP against the experiment's reference method, with a 95%
paired-bootstrap interval over test instances (:mod:`sapt_core.report.paired_bootstrap`), per column group of the
table (Tables 1 / 2: a benchmark, its orders pooled; Tables 8 / 9: one order), seeds and orders pooled.

Inputs are the last step's per-instance predictions of every run (``step<T>/predictions.jsonl``, written by ``sapt
train-step --predictions-out``; MTL, which trains step T alone, has them too); the run of each file is read from its
path (``results/runs/<benchmark>/<order>/<backbone>/<method>/seed<s>/step<T>/``). A method is compared with the
reference of the same backbone on the run keys (order, seed) both have; expected keys without both files mark the
cell ``†`` and are listed. A cell is ``-`` where the method or the reference does not apply to the benchmark, and
``n/a`` with the reason in the notes where the two runs cannot be paired (a task without predictions, different test
instances).
"""

from __future__ import annotations

from sapt_core.errors import SaptError
from sapt_core.report.paired_bootstrap import CONFIDENCE, REPLICATES, SEED, ap_difference, last_step_scores, pair_tasks
from sapt_core.report.registry import table_number
from sapt_core.report.result_tables import column_groups, row_label
from sapt_core.report.table_model import MISSING, NOT_APPLICABLE, Table, fmt, join

HOW = ("ΔAP = AP(method) - AP(reference) after the last task (AP: mean over tasks of the task's score, paper section "
       "5.1.2), computed from each run's last-step per-instance predictions (step<T>/predictions.jsonl: the task's "
       "metric per test instance), averaged over the group's orders and seeds. 95% interval: 2.5 and 97.5 percentiles "
       "of {B} paired bootstrap replicates (numpy default_rng({seed})): each replicate redraws the test instances of "
       "every task of every run with replacement, within the task (so each task keeps its weight 1/T in AP), with "
       "the same draws for the method and the reference (paired), and averages its ΔAP over orders and seeds. "
       "Clear: the interval excludes 0 (yes). Formula: sapt_core/report/paired_bootstrap.py.")


def signed(x: float) -> str:
    s = fmt(x)
    return s if s.startswith("-") or s == "0.00" else "+" + s


def interval_text(low: float, high: float) -> str:
    return f"[{fmt(low)}, {fmt(high)}]"


def index_predictions(files: list[str]) -> dict:
    """(benchmark, order, backbone, method, seed) -> predictions file, from each file's run directory."""
    from sapt_core.layout import metrics_file, parse_run_dir

    out = {}
    for f in files:
        run = parse_run_dir(f)
        if run is None:
            raise SaptError(f"--predictions {f}: expected a file in a run directory "
                            "(results/runs/<benchmark>/<order>/<backbone>/<method>/seed<s>/step<T>/predictions.jsonl)")
        key = tuple(run[k] for k in ("benchmark", "order", "backbone", "method", "seed"))
        if key in out:
            raise SaptError(f"--predictions {f}: same run ({metrics_file(*key)}) as {out[key]}")
        out[key] = f
    return out


class _Pairs:
    """The run pairs (method, reference) of one cell, read once per predictions file."""

    def __init__(self, files: dict):
        self.files, self.cache = files, {}

    def scores(self, path) -> dict:
        if path not in self.cache:
            self.cache[path] = last_step_scores(path)
        return self.cache[path]

    def cell(self, benchmark, orders, seeds, backbone, method, reference):
        """``(pairs, used files, missing runs, reason)``: the paired per-task scores of every (order, seed) both
        methods have, the files they came from, the runs without predictions, and why a pair cannot be paired
        (``reason``: text, None when every pair can)."""
        pairs, used, missing = [], [], []
        for o in orders:
            for s in seeds:
                fm = self.files.get((benchmark, o, backbone, method, s))
                fr = self.files.get((benchmark, o, backbone, reference, s))
                missing += [f"{who} ({benchmark} {o} seed {s})" for who, f in ((method, fm), (reference, fr))
                            if f is None]
                if fm is None or fr is None:
                    continue
                paired = pair_tasks(self.scores(fm), self.scores(fr), list(self.scores(fr)))
                if isinstance(paired, str):
                    return pairs, used, missing, f"{o} seed {s}: {paired}"
                pairs.append(paired)
                used += [fm, fr]
        return pairs, used, missing, None


def ap_diff_table(table: str, prediction_files: list[str], benchmarks, reference: str, methods=None, backbone=None,
                  orders=None, seeds=None, not_applicable=(), labels=None, replicates: int = REPLICATES,
                  seed: int = SEED) -> Table:
    """The companion of result table ``table`` (see the module docstring); ``reference`` must be one of ``methods``
    (default: the methods among the files, in order)."""
    labels, not_applicable = labels or {}, set(not_applicable)
    groups = column_groups(table, benchmarks, orders)
    files = index_predictions(prediction_files)
    methods = list(methods) if methods else list(dict.fromkeys(k[3] for k in files))
    if reference not in methods:
        raise SaptError(f"--ap-diff: reference method {reference!r} is not one of --methods ({join(methods)})")
    backbones = [backbone] if backbone is not None else list(dict.fromkeys(k[2] for k in files)) or [None]
    seeds = sorted(set(seeds)) if seeds else sorted({k[4] for k in files})
    reader = _Pairs(files)

    rows, csv_rows, used, missing, unpaired, clear, not_clear = [], [], [], [], [], [], []
    ref_name = labels.get(reference, reference)
    for m in [m for m in methods if m != reference]:
        for bb in backbones:
            row = row_label(m, bb, labels, len(backbones))
            texts, rec = [row], {"method": m, "label": labels.get(m, m), "backbone": bb or "", "reference": reference}
            row_files = []
            for g in groups:
                cell = dict.fromkeys(("dAP", "low", "high", "clear", "runs"), "")
                if (m, g.benchmark) in not_applicable or (reference, g.benchmark) in not_applicable:
                    text = ci = ok = NOT_APPLICABLE
                else:
                    pairs, files_used, short, reason = reader.cell(g.benchmark, g.orders, seeds, bb, m, reference)
                    missing += [x for x in short if x not in missing]
                    row_files += files_used
                    text, ci, ok = MISSING, "", ""
                    if reason:
                        unpaired.append(f"{row}, {g.label} ({reason})")
                        text = "n/a (unpaired)"
                    elif pairs:
                        d = ap_difference(pairs, replicates, seed, CONFIDENCE)
                        text = signed(d.estimate) + ("†" if short else "")
                        ci, ok = interval_text(d.low, d.high), "yes" if d.clear else "no"
                        cell = {"dAP": d.estimate, "low": d.low, "high": d.high, "clear": d.clear, "runs": d.runs}
                        if d.clear:
                            clear.append(f"{row} {'above' if d.estimate > 0 else 'below'} {ref_name} on {g.label} "
                                         f"({signed(d.estimate)} {ci})")
                        else:
                            not_clear.append(f"{row} on {g.label}")
                texts += [text, ci, ok]
                rec.update({f"{g.label} {k}": v for k, v in cell.items()})
                rec[f"{g.label} cell"] = f"{text} {ci}" if ci and ci != NOT_APPLICABLE else text
            rec["sources"] = ";".join(dict.fromkeys(row_files))
            used += row_files
            rows.append(texts)
            csv_rows.append(rec)

    columns = ["Method"] + [f"{g.label} {c}" for g in groups for c in ("ΔAP", "95% interval", "clear")]
    csv_fields = ["method", "label", "backbone", "reference"]
    csv_fields += [f"{g.label} {k}" for g in groups for k in ("dAP", "low", "high", "clear", "runs", "cell")]
    csv_fields.append("sources")
    notes = [HOW.format(B=replicates, seed=seed)]
    if clear:
        notes.append(f"Clear differences (interval excludes 0): {'; '.join(clear)}.")
    else:
        notes.append("No difference is clear: every interval contains 0." if not_clear
                     else f"No difference could be computed (methods: {join(methods)}; reference: {reference}).")
    if clear and not_clear:
        notes.append(f"Not clear (interval contains 0): {join(not_clear)}.")
    if missing:
        notes.append(f"† fewer runs than expected were paired; without predictions: {join(missing)}.")
    if unpaired:
        notes.append(f"n/a (unpaired): {'; '.join(unpaired)}.")
    if any(NOT_APPLICABLE in r[1:] for r in rows):
        notes.append(f"{NOT_APPLICABLE}: the method or the reference does not apply to the benchmark.")
    notes.append(f"Seeds: {join(seeds) or 'none'}. Backbone: {join(b for b in backbones if b) or 'n/a'}.")
    scope = "; ".join(g.label if g.orders == [g.label] else f"{g.label}: orders {join(g.orders)} pooled"
                      for g in groups)
    caption = (f"{table_number(table)}, difference in AP against {ref_name} (method - reference) with 95% "
               f"paired-bootstrap intervals over test instances ({scope}).")
    sources = list(dict.fromkeys(used))
    return Table(caption, columns, rows, csv_fields, csv_rows, notes, sources, "prediction files",
                 [(g.label, 3) for g in groups])
