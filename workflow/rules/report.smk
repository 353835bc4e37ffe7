from sapt_core.plan import RESULT_TABLES, STATIC_TABLES


rule result_table:
    """A paper table of continual-learning metrics (mean +- sd over seeds), from the runs its experiment declares."""
    input:
        metrics=lambda wc: PLAN.metrics_files(wc.table),
    output:
        md="results/tables/{table}.md",
        csv="results/tables/{table}.csv",
        tex="results/tables/{table}.tex",
    wildcard_constraints:
        table="|".join(RESULT_TABLES),
    params:
        args=lambda wc: PLAN.table_args(wc.table),
    log:
        "results/logs/report/{table}.log",
    shell:
        "sapt report-table --table {wildcards.table} --metrics {input.metrics} {params.args} "
        "--out-prefix results/tables/{wildcards.table} > {log} 2>&1"


rule static_table:
    """Tables 4-7: benchmark tasks, categories, metrics and split sizes (from the data manifests); task orders."""
    input:
        manifests=lambda wc: PLAN.table_manifests(STATIC_TABLES[wc.table]),
        benchmarks=config["benchmarks_file"],
    output:
        md="results/tables/{table}.md",
        csv="results/tables/{table}.csv",
        tex="results/tables/{table}.tex",
    wildcard_constraints:
        table="|".join(STATIC_TABLES),
    params:
        manifests=lambda wc, input: f"--manifests {' '.join(os.path.dirname(m) for m in input.manifests)}"
        if input.manifests else "",
    log:
        "results/logs/report/{table}.log",
    shell:
        "sapt report-table --table {wildcards.table} --benchmarks {input.benchmarks} {params.manifests} "
        "--out-prefix results/tables/{wildcards.table} > {log} 2>&1"


for _t in (*RESULT_TABLES, *STATIC_TABLES):

    rule:
        name:
            _t
        input:
            f"results/tables/{_t}.md",


rule figure8:
    """Figure 8: AP after every time step, per benchmark and method (runs of experiment table1)."""
    input:
        metrics=lambda wc: PLAN.metrics_files("table1"),
    output:
        png="results/figures/figure8.png",
        pdf="results/figures/figure8.pdf",
    params:
        methods=lambda wc: " ".join(config["experiments"]["table1"]["methods"]),
    log:
        "results/logs/report/figure8.log",
    shell:
        "sapt report-figure --figure figure8 --metrics {input.metrics} --methods {params.methods} "
        "--out-prefix results/figures/figure8 > {log} 2>&1"


rule figure3:
    """Figure 3: learning-time vs test-time shared attention of the SAPT runs of experiment table1."""
    input:
        states=lambda wc: PLAN.final_step_files("table1", "state/state.safetensors"),
        attention=lambda wc: PLAN.final_step_files("table1", "attention.json"),
    output:
        png="results/figures/figure3.png",
        pdf="results/figures/figure3.pdf",
    params:
        runs=lambda wc: " ".join(PLAN.sapt_run_dirs("table1")),
    log:
        "results/logs/report/figure3.log",
    shell:
        "sapt report-figure --figure figure3 --runs {params.runs} --out-prefix results/figures/figure3 > {log} 2>&1"


rule results_readme:
    """results/README.md: what each table and figure is and which runs / files fed it."""
    input:
        lambda wc: PLAN.report_outputs(),
    output:
        "results/README.md",
    params:
        entries=lambda wc: PLAN.index_args(),
    log:
        "results/logs/report/results_readme.log",
    shell:
        "sapt report-index {params.entries} --out {output} > {log} 2>&1"
