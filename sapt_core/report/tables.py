"""``sapt report-table``: one of the paper's tables as ``<prefix>.md`` (GitHub table), ``<prefix>.csv`` and
``<prefix>.tex``.

* ``table1`` (overall results), ``table2`` (ablations): per benchmark (SuperNI, Long_Sequence) AP, F.Ra, FWT, BWT,
  each benchmark's orders averaged; ``table8`` / ``table9``: the same per order of SuperNI / Long_Sequence. From the
  runs' ``metrics.json`` (``--metrics``): :mod:`sapt_core.report.result_tables`.
* ``table3``: Rouge-L on the unseen SuperNI tasks by category (``--unseen``): :mod:`sapt_core.report.unseen`.
* ``table4``-``table6`` (benchmark tasks, with split sizes from ``--manifests``) and ``table7`` (task orders), from
  the benchmarks file: :mod:`sapt_core.report.dataset_tables`.

``--vs-paper config/paper_results.yaml`` writes, instead of the table, its comparison with the paper's published
numbers (Tables 1, 2, 3, 8, 9) as ``<prefix>.md`` and ``<prefix>.csv``: :mod:`sapt_core.report.vs_paper`. It
compares each F.Ra / BWT cell computed with the formulas the paper's numbers were computed with (the official
score.py's, established from the transcription: :mod:`sapt_core.report.paper_formulas`); ``--formulas`` chooses the
formulas of the result tables themselves (default: the paper's equations).

``--ap-diff REFERENCE --predictions <step T predictions.jsonl ...>`` writes, instead of a result table (1, 2, 8, 9),
its companion: each method's difference in AP against the reference method with a 95% paired-bootstrap interval over
test instances, seeds and orders pooled (:mod:`sapt_core.report.ap_diff_table`, formula in
:mod:`sapt_core.report.paired_bootstrap`); ``--ap-diff-note FILE`` adds to a result table a note naming that file.

The CSV has one row per table row: for result tables ``method, label, backbone`` then for every column group and
metric ``<group> <metric> mean``, ``... sd`` (empty with one seed), ``... n`` (seeds used), ``... cell`` (the shown
text), and ``sources`` (the metrics files of that row, ``;``-separated).
"""

from __future__ import annotations

import argparse

from sapt_core.errors import SaptError
from sapt_core.report.paper_formulas import FORMULAS
from sapt_core.report.registry import DATASET_TABLES, PAPER_TABLES, RESULT_TABLES, TABLES, VARIANTS
from sapt_core.settings.benchmarks import BENCHMARKS_FILE


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--table", required=True, choices=TABLES)
    p.add_argument("--metrics", nargs="*", default=[], metavar="METRICS_JSON",
                   help="run metrics.json files (sapt run-metrics); tables 1, 2, 8, 9")
    p.add_argument("--methods", nargs="*", default=None, metavar="METHOD",
                   help="row order (default: methods in order of first appearance among --metrics)")
    p.add_argument("--out-prefix", required=True, metavar="PREFIX", help="writes PREFIX.md, PREFIX.csv, PREFIX.tex")
    p.add_argument("--benchmarks", default=BENCHMARKS_FILE, metavar="YAML",
                   help="benchmark definitions (default: %(default)s)")
    p.add_argument("--backbone", default=None, metavar="NAME",
                   help="only runs of this backbone (default: every backbone among the inputs, one row each)")
    p.add_argument("--orders", nargs="*", default=None, metavar="ORDER",
                   help="expected orders (default: the paper's orders of the table's benchmarks, config/benchmarks.yaml `orders`)")
    p.add_argument("--seeds", nargs="*", type=int, default=None, metavar="SEED",
                   help="expected seeds (default: every seed among the inputs used)")
    p.add_argument("--variant", choices=tuple(VARIANTS), default="paper",
                   help="paper metrics or the official score.py Rouge-L-for-all variant (default: %(default)s)")
    p.add_argument("--formulas", choices=FORMULAS, default="paper",
                   help="tables 1, 2, 8, 9: F.Ra, BWT, FWT by the paper's eqs. 2-4 or by the official score.py "
                        "(best earlier score, BWT over T, FWT - 50.94; docs/official_code.md). A --vs-paper "
                        "comparison always uses the formulas the paper's numbers were computed with "
                        "(default: %(default)s)")
    p.add_argument("--not-applicable", nargs="*", default=[], metavar="METHOD:BENCHMARK",
                   help="cells shown as '-': the method does not apply to the benchmark (EPI on SuperNI)")
    p.add_argument("--labels", nargs="*", default=[], metavar="METHOD=LABEL",
                   help="row names (the paper's, from config/methods.yaml `label`); default: the method name")
    p.add_argument("--unseen", nargs="*", default=[], metavar="METHOD=SCORES",
                   help="table3: unseen-task score files (sapt evaluate), each labelled with its row's method")
    p.add_argument("--manifests", nargs="*", default=[], metavar="DIR",
                   help="tables 4-6: directories searched for prepare-data manifest.json files (split counts)")
    p.add_argument("--vs-paper", default=None, metavar="YAML",
                   help="tables 1, 2, 3, 8, 9: write the table beside the paper's published numbers (from YAML: "
                        "config/paper_results.yaml) to PREFIX.md / PREFIX.csv instead of the table")
    p.add_argument("--ap-diff", default=None, metavar="REFERENCE",
                   help="tables 1, 2, 8, 9: write each method's difference in AP against method REFERENCE with a 95%% "
                        "paired-bootstrap interval over test instances (from --predictions) instead of the table")
    p.add_argument("--predictions", nargs="*", default=[], metavar="PREDICTIONS_JSONL",
                   help="--ap-diff: the last step's predictions.jsonl of every run (sapt train-step --predictions-out)")
    p.add_argument("--bootstrap-replicates", type=int, default=1000, metavar="B",
                   help="--ap-diff: bootstrap replicates (default: %(default)s)")
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="SEED",
                   help="--ap-diff: seed of the bootstrap draws (default: %(default)s)")
    p.add_argument("--ap-diff-note", default=None, metavar="FILE",
                   help="tables 1, 2, 8, 9: add a note naming FILE, the table's --ap-diff companion")


def parse_not_applicable(items: list[str], benchmarks) -> list[tuple[str, str]]:
    out = []
    for item in items:
        m, sep, b = item.partition(":")
        if not sep or b not in benchmarks:
            raise SaptError(f"--not-applicable {item!r}: expected METHOD:BENCHMARK with a known benchmark")
        out.append((m, b))
    return out


def build(args: argparse.Namespace, benchmarks):
    """The table ``args`` ask for (see the module docstring)."""
    from sapt_core.report.table_model import parse_labels

    if args.table in RESULT_TABLES:
        from sapt_core.report.result_tables import result_table

        return result_table(args.table, args.metrics, benchmarks, methods=args.methods, backbone=args.backbone,
                            orders=args.orders, seeds=args.seeds, variant=args.variant,
                            not_applicable=parse_not_applicable(args.not_applicable, benchmarks),
                            labels=parse_labels(args.labels), formulas=args.formulas, ap_diff_note=args.ap_diff_note)
    if args.table == "table3":
        from sapt_core.report.unseen import parse_unseen_args, unseen_table

        return unseen_table(parse_unseen_args(args.unseen), benchmarks, methods=args.methods,
                            labels=parse_labels(args.labels))
    from sapt_core.report.dataset_tables import dataset_table, orders_table

    if args.table in DATASET_TABLES:
        return dataset_table(args.table, benchmarks, args.benchmarks, args.manifests)
    return orders_table(benchmarks, args.benchmarks, args.orders)


def build_vs_paper(args: argparse.Namespace, benchmarks):
    """The comparison of the table ``args`` ask for with the paper's numbers (``--vs-paper``)."""
    from sapt_core.report import vs_paper
    from sapt_core.report.paper_results import load_paper_results
    from sapt_core.report.table_model import parse_labels

    if args.table not in PAPER_TABLES:
        raise SaptError(f"--vs-paper: {args.table} has no published numbers (tables: {', '.join(PAPER_TABLES)})")
    paper = load_paper_results(args.vs_paper)
    if args.table not in set(paper["table"]):
        raise SaptError(f"{args.vs_paper}: no numbers of {args.table}")
    labels = parse_labels(args.labels)
    if args.table == "table3":
        from sapt_core.report.unseen import parse_unseen_args, unseen_cells

        files = parse_unseen_args(args.unseen)
        stats = unseen_cells(files, benchmarks, methods=args.methods)
        rows = [(m, None) for m in dict.fromkeys(stats["method"])]
        context, sources = vs_paper.context_of_scores(files, benchmarks), [p for _, p in files]
    else:
        from sapt_core.report.result_tables import result_cells

        def cells_of(formulas):
            return result_cells(args.table, args.metrics, benchmarks, methods=args.methods, backbone=args.backbone,
                                orders=args.orders, seeds=args.seeds, variant=args.variant,
                                not_applicable=parse_not_applicable(args.not_applicable, benchmarks), labels=labels,
                                formulas=formulas)

        cells = cells_of("paper")
        stats = vs_paper.paper_formula_stats(args.table, {f: cells_of(f).stats for f in FORMULAS}, paper)
        rows, sources = cells.rows, cells.sources
        context = vs_paper.context_of_runs(cells, benchmarks)
    return vs_paper.vs_paper_table(args.table, stats, rows, paper, context, labels, sources)


def build_ap_diff(args: argparse.Namespace, benchmarks):
    """The companion of the result table ``args`` ask for: ΔAP against ``--ap-diff`` (``--predictions``)."""
    from sapt_core.report.ap_diff_table import ap_diff_table
    from sapt_core.report.table_model import parse_labels

    if args.table not in RESULT_TABLES:
        raise SaptError(f"--ap-diff: {args.table} is not a result table (tables: {', '.join(RESULT_TABLES)})")
    if args.bootstrap_replicates < 1:
        raise SaptError(f"--bootstrap-replicates: expected a positive number, got {args.bootstrap_replicates}")
    return ap_diff_table(args.table, args.predictions, benchmarks, args.ap_diff, methods=args.methods,
                         backbone=args.backbone, orders=args.orders, seeds=args.seeds,
                         not_applicable=parse_not_applicable(args.not_applicable, benchmarks),
                         labels=parse_labels(args.labels), replicates=args.bootstrap_replicates,
                         seed=args.bootstrap_seed)


def run(args: argparse.Namespace) -> int:
    from sapt_core.settings.benchmarks import load_benchmarks
    from sapt_core.report.render import write_table

    benchmarks = load_benchmarks(args.benchmarks)
    if args.vs_paper:
        table = build_vs_paper(args, benchmarks)
        paths = write_table(table, args.out_prefix, formats=("csv", "md"))
    elif args.ap_diff:
        table = build_ap_diff(args, benchmarks)
        paths = write_table(table, args.out_prefix)
    else:
        table = build(args, benchmarks)
        paths = write_table(table, args.out_prefix)
    print(f"{args.table}: {len(table.rows)} rows -> {', '.join(map(str, paths))}")
    return 0
