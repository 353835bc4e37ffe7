rule train_generator:
    """ARM generator B_ref of one task on the base backbone (App. C; shared by every order and method using it)."""
    input:
        backbone=backbone_input,
        manifest=task_manifest,
    output:
        gen=layout.generator_file("{benchmark}", "{backbone}", "{pet}", "{seed}", "{task}"),
        sidecar=layout.generator_sidecar("{benchmark}", "{backbone}", "{pet}", "{seed}", "{task}"),
    params:
        backbone=backbone_path,
        hub_env=backbone_env,
        data_dir=task_data_dir,
        args=per_job(lambda wc: PLAN.generator_args(wc.pet, wc.backbone)),
        launch=per_job(lambda wc: PLAN.launcher(wc.backbone)),
        device=per_job(lambda wc: PLAN.train_device_args(wc.backbone)),
        logger=per_job(lambda wc: PLAN.logger_args("train_generator", wc.benchmark, wc.backbone, wc.pet,
                                                   f"seed{wc.seed}", wc.task)),
    log:
        layout.log_file("train_generator", "{benchmark}", "{backbone}", "{pet}", "seed{seed}", "{task}"),
    benchmark:
        layout.timing_file("train_generator", "{benchmark}", "{backbone}", "{pet}", "seed{seed}", "{task}")
    threads: job_threads("train_generator")
    resources:
        **job_resources("train_generator"),
    shell:
        "{params.hub_env} {params.launch} sapt train-generator --backbone {params.backbone} --data-dir {params.data_dir} {params.args} "
        "{params.device} {params.logger} "
        "--seed {wildcards.seed} --no-progress --out {output.gen} > {log} 2>&1"


rule generate_pseudo:
    """Pseudo inputs G_t of one task: sampled from B_ref (generated) or the authors' files (shipped); volume x N_train."""
    input:
        unpack(per_job(lambda wc: PLAN.pseudo_inputs(wc))),
    output:
        pseudo=layout.pseudo_file("{benchmark}", "{backbone}", "{pet}", "{seed}", "{source}", "{volume}", "{task}"),
    params:
        args=per_job(lambda wc, input: PLAN.pseudo_args(wc, input)),
        hub_env=backbone_env,
        device=per_job(lambda wc: PLAN.device_args(wc.backbone)),
    log:
        layout.log_file("generate_pseudo", "{benchmark}", "{backbone}", "{pet}", "seed{seed}", "{source}-v{volume}",
                        "{task}"),
    benchmark:
        layout.timing_file("generate_pseudo", "{benchmark}", "{backbone}", "{pet}", "seed{seed}",
                              "{source}-v{volume}", "{task}")
    threads: job_threads("generate_pseudo")
    resources:
        **job_resources("generate_pseudo"),
    shell:
        "{params.hub_env} sapt generate-pseudo {params.args} {params.device} --seed {wildcards.seed} --volume {wildcards.volume} "
        "--out {output.pseudo} > {log} 2>&1"
