rule single_task:
    """One PET block trained on one task alone: a_{0,t} for FWT (paper section 5.1.2)."""
    input:
        backbone=backbone_input,
        manifest=TASK_MANIFEST,
    output:
        block="results/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}/block.safetensors",
        sidecar="results/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}/block.json",
    params:
        backbone=backbone_path,
        data_dir=task_data_dir,
        hparams=per_job(lambda wc: PLAN.single_task_args(wc.pet)),
        launch=per_job(lambda wc: PLAN.launcher(wc.backbone)),
        device=per_job(lambda wc: PLAN.train_device_args(wc.backbone)),
    log:
        "results/logs/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}.log",
    benchmark:
        "results/benchmarks/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}.tsv"
    threads: backbone_threads
    resources:
        **BACKBONE_RESOURCES,
    shell:
        "{params.launch} sapt single-task --backbone {params.backbone} --data-dir {params.data_dir} --pet {wildcards.pet} "
        "--seed {wildcards.seed} {params.hparams} {params.device} --no-progress --out {output.block} > {log} 2>&1"


rule evaluate_single_task:
    """Greedy decoding on the task's test set; accuracy or Rouge-L per the task's metric."""
    input:
        block=rules.single_task.output.block,
        manifest=TASK_MANIFEST,
    output:
        scores="results/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}/scores.json",
        predictions="results/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}/predictions.jsonl",
    params:
        backbone=backbone_path,
        data_dir=task_data_dir,
        eval_args=PLAN.eval_args(),
        device=per_job(lambda wc: PLAN.device_args(wc.backbone)),
    log:
        "results/logs/evaluate_single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}.log",
    benchmark:
        "results/benchmarks/evaluate_single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}.tsv"
    threads: backbone_threads
    resources:
        **BACKBONE_RESOURCES,
    shell:
        "sapt evaluate --backbone {params.backbone} --block {input.block} --data-dirs {params.data_dir} "
        "{params.eval_args} {params.device} --out {output.scores} --predictions {output.predictions} > {log} 2>&1"
