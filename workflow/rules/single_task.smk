rule single_task:
    """a_{0,t} for FWT (paper section 5.1.2): task t alone, trained by the step recipe (method single-task) with the
    recipe of the methods that name it (PET type, rank, optimiser, epochs, batches, selection), then scored on its
    test set (greedy decoding; accuracy or Rouge-L per the task's metric) in the same job."""
    input:
        backbone=backbone_input,
        manifest=task_manifest,
    output:
        state=layout.single_task_state_file(*SINGLE),
        sidecar=layout.single_task_state_sidecar(*SINGLE),
        scores=layout.single_task_scores(*SINGLE),
        predictions=layout.single_task_predictions(*SINGLE),
    params:
        backbone=backbone_path,
        hub_env=backbone_env,
        data_dir=task_data_dir,
        state_out=layout.single_task_state_dir(*SINGLE),
        hparams=per_job(lambda wc: PLAN.reference_args(wc.reference, wc.backbone)),
        methods_file=PLAN.methods_file,
        launch=per_job(lambda wc: PLAN.launcher(wc.backbone)),
        device=per_job(lambda wc: PLAN.train_device_args(wc.backbone)),
        logger=per_job(lambda wc: PLAN.logger_args("single_task", wc.benchmark, wc.backbone, wc.reference,
                                                   f"seed{wc.seed}", wc.task)),
    log:
        layout.log_file("single_task", SINGLE_PARTS),
    benchmark:
        layout.timing_file("single_task", SINGLE_PARTS)
    threads: job_threads("single_task")
    resources:
        **job_resources("single_task"),
    shell:
        "{params.hub_env} {params.launch} sapt train-step --method single-task --methods-file {params.methods_file} "
        "--backbone {params.backbone} --data-dir {params.data_dir} {params.hparams} {params.device} {params.logger} "
        "--seed {wildcards.seed} --no-progress --state-out {params.state_out} "
        "--eval-data-dirs {params.data_dir} --scores-out {output.scores} --predictions-out {output.predictions} "
        "> {log} 2>&1"
