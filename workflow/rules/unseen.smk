# Table 3 (paper section 6.4): the final SuperNI model of each run, and the backbone alone, on the unseen tasks.


rule evaluate_unseen:
    """The last step's model of a SuperNI run on the 15 unseen SuperNI tasks (never trained on)."""
    input:
        state=lambda wc: PLAN.final_state_file("SuperNI", wc.order, wc.backbone, wc.method, wc.seed),
        manifests=lambda wc: PLAN.unseen_manifests(wc.seed),
    output:
        scores=layout.unseen_scores_file("SuperNI", "{order}", "{backbone}", "{method}", "{seed}"),
    params:
        backbone=backbone_path,
        hub_env=backbone_env,
        state=lambda wc: PLAN.final_state_dir("SuperNI", wc.order, wc.backbone, wc.method, wc.seed),
        data_dirs=lambda wc: " ".join(PLAN.unseen_data_dirs(wc.seed)),
        args=lambda wc: PLAN.eval_args(wc.method, wc.backbone, "SuperNI", wc.order),
        device=per_job(lambda wc: PLAN.device_args(wc.backbone)),
    log:
        layout.log_file("evaluate_unseen", "SuperNI", "{order}", "{backbone}", "{method}", "seed{seed}"),
    benchmark:
        layout.timing_file("evaluate_unseen", "SuperNI", "{order}", "{backbone}", "{method}", "seed{seed}")
    threads: job_threads("evaluate_unseen")
    resources:
        **job_resources("evaluate_unseen"),
    shell:
        "{params.hub_env} sapt evaluate --backbone {params.backbone} --state {params.state} --data-dirs {params.data_dirs} "
        "{params.args} {params.device} --out {output.scores} > {log} 2>&1"


rule zero_shot_unseen:
    """Table 3's zero-shot row (T5-ZS): the backbone without any PET block on the unseen tasks."""
    input:
        backbone=backbone_input,
        manifests=lambda wc: PLAN.unseen_manifests(wc.seed),
    output:
        scores=layout.zero_shot_scores("SuperNI_unseen", "{backbone}", "{seed}"),
    params:
        backbone=backbone_path,
        hub_env=backbone_env,
        data_dirs=lambda wc: " ".join(PLAN.unseen_data_dirs(wc.seed)),
        args=lambda wc: PLAN.eval_args(),
        device=per_job(lambda wc: PLAN.device_args(wc.backbone)),
    log:
        layout.log_file("zero_shot_unseen", "{backbone}", "seed{seed}"),
    benchmark:
        layout.timing_file("zero_shot_unseen", "{backbone}", "seed{seed}")
    threads: job_threads("zero_shot_unseen")
    resources:
        **job_resources("zero_shot_unseen"),
    shell:
        "{params.hub_env} sapt evaluate --backbone {params.backbone} --data-dirs {params.data_dirs} {params.args} {params.device} "
        "--out {output.scores} > {log} 2>&1"


rule unseen_table:
    """Table 3: Rouge-L per unseen-task category, per method (mean +- sd over orders and seeds)."""
    input:
        scores=lambda wc: [p for _, p in PLAN.unseen_score_files()],
        benchmarks=config["benchmarks_file"],
    output:
        md=layout.table_file("table3"),
        csv=report(
            layout.table_file("table3", "csv"),
            caption="../report/unseen_table.rst",
            category="Tables",
            subcategory="table3",
            labels={"table": "table3", "kind": "unseen tasks"},
        ),
        tex=layout.table_file("table3", "tex"),
    params:
        unseen=lambda wc: " ".join(f"{m}={p}" for m, p in PLAN.unseen_score_files()),
        methods=lambda wc: " ".join(PLAN.experiment("table3")["methods"]),
        labels=lambda wc: PLAN.labels_arg(PLAN.experiment("table3")["methods"]),
        prefix=layout.table_prefix("table3"),
    log:
        layout.log_file("report", "table3"),
    shell:
        "sapt report-table --table table3 --benchmarks {input.benchmarks} --unseen {params.unseen} "
        "--methods {params.methods} {params.labels} --out-prefix {params.prefix} > {log} 2>&1"


rule table3:
    input:
        layout.table_file("table3"),
