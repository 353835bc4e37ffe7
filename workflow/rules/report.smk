from sapt_core.layout import RUNS_CSV
from sapt_core.report.registry import (AP_DIFF_SUFFIX, ATTENTION_FIGURES, FIGURES, METRIC_FIGURES, PAPER_RESULTS,
                                       PAPER_TABLES, RESULT_TABLES, STATIC_TABLES, VS_PAPER_SUFFIX)

# The report's front page (workflow/report/workflow.rst) is rendered over snakemake.config alone; the paper's names
# of the configured methods (the methods file's `label`, not part of the config) are added under this key for it.
config["report_method_labels"] = PLAN.report_labels()


rule result_table:
    """A paper table of continual-learning metrics (mean +- sd over seeds), from the runs its experiment declares."""
    input:
        metrics=lambda wc: PLAN.metrics_files(wc.table),
    output:
        md=layout.table_file("{table}"),
        csv=report(
            layout.table_file("{table}", "csv"),
            caption="../report/result_table.rst",
            category="Tables",
            subcategory="{table}",
            labels={"table": "{table}", "kind": "CL metrics"},
        ),
        tex=layout.table_file("{table}", "tex"),
    wildcard_constraints:
        table="|".join(RESULT_TABLES),
    params:
        prefix=layout.table_prefix("{table}"),
        ap_diff=layout.table_file("{table}" + AP_DIFF_SUFFIX),
        args=lambda wc: PLAN.table_args(wc.table),
    log:
        layout.log_file("report", "{table}"),
    shell:
        "sapt report-table --table {wildcards.table} --metrics {input.metrics} {params.args} "
        "--ap-diff-note {params.ap_diff} --out-prefix {params.prefix} > {log} 2>&1"


rule ap_diff_table:
    """A result table's companion: each method's AP minus the reference method's (experiments.<table>.
    reference_method) with a 95% paired-bootstrap interval over test instances, seeds and orders pooled, from the
    last step's per-instance predictions of every run."""
    input:
        predictions=lambda wc: PLAN.last_step_predictions(wc.table),
    output:
        md=layout.table_file("{table}" + AP_DIFF_SUFFIX),
        csv=report(
            layout.table_file("{table}" + AP_DIFF_SUFFIX, "csv"),
            caption="../report/ap_diff_table.rst",
            category="Tables",
            subcategory="{table}",
            labels={"table": "{table}" + AP_DIFF_SUFFIX, "kind": "AP differences, 95% intervals"},
        ),
        tex=layout.table_file("{table}" + AP_DIFF_SUFFIX, "tex"),
    wildcard_constraints:
        table="|".join(RESULT_TABLES),
    params:
        prefix=layout.table_prefix("{table}" + AP_DIFF_SUFFIX),
        args=lambda wc: PLAN.ap_diff_args(wc.table),
    log:
        layout.log_file("report", "{table}" + AP_DIFF_SUFFIX),
    shell:
        "sapt report-table --table {wildcards.table} --predictions {input.predictions} {params.args} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule static_table:
    """Tables 4-7: benchmark tasks, categories, metrics and split sizes (from the data manifests); task orders."""
    input:
        manifests=lambda wc: PLAN.table_manifests(STATIC_TABLES[wc.table]),
        benchmarks=config["benchmarks_file"],
    output:
        md=layout.table_file("{table}"),
        csv=report(
            layout.table_file("{table}", "csv"),
            caption="../report/static_table.rst",
            category="Tables",
            subcategory="{table}",
            labels={"table": "{table}", "kind": "benchmark definition"},
        ),
        tex=layout.table_file("{table}", "tex"),
    wildcard_constraints:
        table="|".join(STATIC_TABLES),
    params:
        prefix=layout.table_prefix("{table}"),
        manifests=lambda wc: PLAN.table_manifests_arg(STATIC_TABLES[wc.table]),
        orders=lambda wc: PLAN.orders_table_args() if wc.table == "table7" else "",
    log:
        layout.log_file("report", "{table}"),
    shell:
        "sapt report-table --table {wildcards.table} --benchmarks {input.benchmarks} {params.manifests} {params.orders} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule vs_paper_table:
    """A result table beside the paper's published numbers (config/paper_results.yaml): ours, the paper's, the
    difference, and what differs by construction."""
    input:
        files=lambda wc: PLAN.vs_paper_inputs(wc.table),
        paper=PAPER_RESULTS,
        benchmarks=config["benchmarks_file"],
    output:
        md=layout.table_file("{table}" + VS_PAPER_SUFFIX),
        csv=report(
            layout.table_file("{table}" + VS_PAPER_SUFFIX, "csv"),
            caption="../report/vs_paper_table.rst",
            category="Paper comparison",
            subcategory="{table}",
            labels={"table": "{table}", "kind": "ours vs the paper's numbers"},
        ),
    wildcard_constraints:
        table="|".join(PAPER_TABLES),
    params:
        args=lambda wc: PLAN.vs_paper_args(wc.table),
        prefix=layout.table_prefix("{table}" + VS_PAPER_SUFFIX),
    log:
        layout.log_file("report", "{table}" + VS_PAPER_SUFFIX),
    shell:
        "sapt report-table --table {wildcards.table} {params.args} --vs-paper {input.paper} "
        "--out-prefix {params.prefix} > {log} 2>&1"


for _t in (*RESULT_TABLES, *STATIC_TABLES):

    rule:
        name:
            _t
        input:
            layout.table_file(_t),
            [layout.table_file(f"{_t}{AP_DIFF_SUFFIX}")] if _t in RESULT_TABLES else [],


for _t in PAPER_TABLES:

    rule:
        name:
            _t + VS_PAPER_SUFFIX
        input:
            layout.table_file(_t + VS_PAPER_SUFFIX),


rule ap_figure:
    """Figure 8: AP after every time step, per benchmark and method (runs of experiment figure8, else table1)."""
    input:
        metrics=lambda wc: PLAN.figure_metrics("figure8"),
    output:
        png=report(
            layout.figure_file("figure8"),
            caption="../report/figure8.rst",
            category="Figures",
            subcategory="figure8",
            labels={"figure": "figure8", "kind": "AP per time step"},
        ),
        pdf=layout.figure_file("figure8", "pdf"),
    params:
        prefix=layout.figure_prefix("figure8"),
        methods=lambda wc: " ".join(PLAN.experiment(PLAN.figure_experiment("figure8"))["methods"]),
        labels=lambda wc: PLAN.labels_arg(PLAN.experiment(PLAN.figure_experiment("figure8"))["methods"]),
    log:
        layout.log_file("report", "figure8"),
    shell:
        "sapt report-figure --figure figure8 --metrics {input.metrics} --methods {params.methods} {params.labels} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule attention_figure:
    """Figures 3, 9-12: training-time vs test-time shared attention of the SAPT runs of experiment <figure>."""
    input:
        unpack(lambda wc: PLAN.attention_figure_inputs(wc.figure)),
    output:
        png=report(
            layout.figure_file("{figure}"),
            caption="../report/attention_figure.rst",
            category="Figures",
            subcategory="{figure}",
            labels={"figure": "{figure}", "kind": "shared-attention heat maps"},
        ),
        pdf=layout.figure_file("{figure}", "pdf"),
    wildcard_constraints:
        figure="|".join(ATTENTION_FIGURES),
    params:
        prefix=layout.figure_prefix("{figure}"),
        runs=lambda wc: " ".join(PLAN.attention_figure_runs(wc.figure)),
    log:
        layout.log_file("report", "{figure}"),
    shell:
        "sapt report-figure --figure {wildcards.figure} --runs {params.runs} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule metric_figure:
    """Figures 4 (backbone size) and 5, 7 (T5 vs LLaMA): AP, F.Ra, FWT per backbone and method (experiment <figure>)."""
    input:
        metrics=lambda wc: PLAN.figure_metrics(wc.figure),
    output:
        png=report(
            layout.figure_file("{figure}"),
            caption="../report/metric_figure.rst",
            category="Figures",
            subcategory="{figure}",
            labels={"figure": "{figure}", "kind": "metrics per backbone"},
        ),
        pdf=layout.figure_file("{figure}", "pdf"),
    wildcard_constraints:
        figure="|".join(f for f, kind in METRIC_FIGURES.items() if kind != "replay"),
    params:
        prefix=layout.figure_prefix("{figure}"),
        args=lambda wc: PLAN.figure_args(wc.figure),
    log:
        layout.log_file("report", "{figure}"),
    shell:
        "sapt report-figure --figure {wildcards.figure} --metrics {input.metrics} {params.args} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule replay_figure:
    """Figure 6: AP, F.Ra, FWT against the replayed volume, per method and replay type (real samples, pseudo inputs)."""
    input:
        metrics=lambda wc: PLAN.figure_metrics("figure6"),
    output:
        png=report(
            layout.figure_file("figure6"),
            caption="../report/replay_figure.rst",
            category="Figures",
            subcategory="figure6",
            labels={"figure": "figure6", "kind": "metrics per replay volume"},
        ),
        pdf=layout.figure_file("figure6", "pdf"),
    params:
        prefix=layout.figure_prefix("figure6"),
        args=lambda wc: PLAN.figure_args("figure6"),
        points=lambda wc: PLAN.replay_points_arg("figure6"),
    log:
        layout.log_file("report", "figure6"),
    shell:
        "sapt report-figure --figure figure6 --metrics {input.metrics} {params.args} {params.points} "
        "--out-prefix {params.prefix} > {log} 2>&1"


for _f in FIGURES:

    rule:
        name:
            _f
        input:
            layout.figure_file(_f),


rule runs_table:
    """results/runs.csv: every run's metrics as one tidy table (pandas.read_csv), one row per run and metric variant."""
    input:
        metrics=lambda wc: PLAN.all_metrics_files(),
    output:
        report(
            RUNS_CSV,
            caption="../report/runs_table.rst",
            category="Runs",
            labels={"table": layout.RUNS_CSV_NAME, "kind": "every run's metrics"},
        ),
    log:
        layout.log_file("report", "runs_table"),
    shell:
        "sapt report-runs --metrics {input.metrics} --out {output} > {log} 2>&1"


rule results_readme:
    """results/README.md: what each table and figure is and which runs / files fed it."""
    input:
        lambda wc: PLAN.report_outputs(),
    output:
        layout.RESULTS_INDEX,
    params:
        entries=lambda wc: PLAN.index_args(),
    log:
        layout.log_file("report", "results_readme"),
    shell:
        "sapt report-index {params.entries} --out {output} > {log} 2>&1"
