rule train_step:
    """Step k of a run: any method (sapt train-step --method): state k-1 + task k's data (+ the pseudo inputs or
    earlier tasks' data the method replays) -> state k, then row k of the score matrix: the state on the test sets of
    tasks 1..k (+ per-input block weights), in the same job (the backbone is loaded once per step)."""
    input:
        unpack(per_job(lambda wc: PLAN.step_inputs(wc))),
        manifests=per_job(lambda wc: PLAN.eval_manifests(wc.benchmark, wc.order, wc.seed, wc.k)),
    output:
        state=layout.state_file(*STEP),
        sidecar=layout.state_sidecar(*STEP),
        scores=layout.step_scores(*STEP),
        attention=layout.step_attention(*STEP),
        predictions=layout.step_predictions(*STEP),
    params:
        backbone=backbone_path,
        hub_env=backbone_env,
        data_dir=per_job(lambda wc: PLAN.step_data_dir(wc.benchmark, wc.order, wc.seed, wc.k)),
        eval_dirs=per_job(lambda wc: " ".join(PLAN.eval_data_dirs(wc.benchmark, wc.order, wc.seed, wc.k))),
        state_in=per_job(lambda wc: PLAN.state_in_args(wc)),
        state_out=layout.state_dir(*STEP),
        pseudo=per_job(lambda wc, input: f"--pseudo {' '.join(input.pseudo)}" if input.pseudo else ""),
        replay=per_job(lambda wc: PLAN.replay_args(wc)),
        hparams=per_job(lambda wc: PLAN.step_args(wc.method, wc.backbone, wc.benchmark, wc.order)),
        methods_file=PLAN.methods_file,
        launch=per_job(lambda wc: PLAN.launcher(wc.backbone)),
        device=per_job(lambda wc: PLAN.train_device_args(wc.backbone)),
        logger=per_job(lambda wc: PLAN.logger_args("train_step", wc.benchmark, wc.order, wc.backbone, wc.method,
                                                   f"seed{wc.seed}", layout.step_name(wc.k))),
    log:
        layout.log_file("train_step", RUN_PARTS, layout.step_name("{k}")),
    benchmark:
        layout.timing_file("train_step", RUN_PARTS, layout.step_name("{k}"))
    threads: job_threads("train_step")
    resources:
        **job_resources("train_step"),
    shell:
        "{params.hub_env} {params.launch} sapt train-step --method {wildcards.method} --methods-file {params.methods_file} "
        "--backbone {params.backbone} --data-dir {params.data_dir} {params.state_in} {params.pseudo} {params.replay} "
        "{params.hparams} {params.device} {params.logger} --seed {wildcards.seed} --no-progress "
        "--state-out {params.state_out} --eval-data-dirs {params.eval_dirs} --scores-out {output.scores} "
        "--attention-out {output.attention} --predictions-out {output.predictions} > {log} 2>&1"


rule run_metrics:
    """AP, F.Ra, FWT, BWT (+ official variants) of one run from its score-matrix rows and the single-task scores."""
    input:
        steps=per_job(lambda wc: PLAN.step_scores_files(wc.method, wc.backbone, wc.benchmark, wc.order, wc.seed)),
        single=per_job(lambda wc: PLAN.single_task_scores(wc.method, wc.backbone, wc.benchmark, wc.order,
                                                           wc.seed)),
    output:
        metrics=layout.metrics_file(*RUN),
        matrix=layout.matrix_file(*RUN),
    params:
        tasks=per_job(lambda wc: " ".join(PLAN.order_tasks(wc.benchmark, wc.order))),
        run_dir=layout.run_dir(*RUN),
        extra=per_job(lambda wc: PLAN.run_metrics_args(wc.method, wc.backbone, wc.benchmark, wc.order)),
    log:
        layout.log_file("run_metrics", RUN_PARTS),
    shell:
        "sapt run-metrics --run-dir {params.run_dir} --tasks {params.tasks} --single {input.single} "
        "--benchmark {wildcards.benchmark} --order {wildcards.order} --backbone {wildcards.backbone} "
        "--method {wildcards.method} --seed {wildcards.seed} {params.extra} --out {output.metrics} > {log} 2>&1"
