rule single_task:
    """One PET block trained on one task alone: a_{0,t} for FWT (paper section 5.1.2)."""
    input:
        backbone=lambda wc: PLAN.backbone_input(wc.backbone),
        manifest=lambda wc: f"{PLAN.data_dir(wc.benchmark, wc.task, wc.seed)}/manifest.json",
    output:
        block="results/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}/block.safetensors",
        sidecar="results/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}/block.json",
    params:
        backbone=lambda wc: PLAN.backbone_path(wc.backbone),
        data_dir=lambda wc: PLAN.data_dir(wc.benchmark, wc.task, wc.seed),
        hparams=lambda wc: PLAN.single_task_args(wc.pet),
        launch=lambda wc: PLAN.launcher(wc.backbone),
        device=lambda wc: PLAN.train_device_args(wc.backbone),
    log:
        "results/logs/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}.log",
    benchmark:
        "results/benchmarks/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}.tsv"
    threads: lambda wc: PLAN.threads(wc.backbone)
    resources:
        gpu=lambda wc: PLAN.resources(wc.backbone, "gpu"),
        mem_mb=lambda wc, attempt: PLAN.resources(wc.backbone, "mem_mb"),
        runtime=lambda wc, attempt: PLAN.resources(wc.backbone, "runtime", attempt),
        cpus_per_task=lambda wc: PLAN.resources(wc.backbone, "cpus_per_task"),
    shell:
        "{params.launch} sapt single-task --backbone {params.backbone} --data-dir {params.data_dir} --pet {wildcards.pet} "
        "--seed {wildcards.seed} {params.hparams} {params.device} --no-progress --out {output.block} > {log} 2>&1"


rule evaluate_single_task:
    """Greedy decoding on the task's test set; accuracy or Rouge-L per the task's metric."""
    input:
        block=rules.single_task.output.block,
        manifest=lambda wc: f"{PLAN.data_dir(wc.benchmark, wc.task, wc.seed)}/manifest.json",
    output:
        scores="results/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}/scores.json",
        predictions="results/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}/predictions.jsonl",
    params:
        backbone=lambda wc: PLAN.backbone_path(wc.backbone),
        data_dir=lambda wc: PLAN.data_dir(wc.benchmark, wc.task, wc.seed),
        eval_args=PLAN.eval_args(),
        device=lambda wc: PLAN.device_args(wc.backbone),
    log:
        "results/logs/evaluate_single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}.log",
    benchmark:
        "results/benchmarks/evaluate_single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{task}.tsv"
    threads: lambda wc: PLAN.threads(wc.backbone)
    resources:
        gpu=lambda wc: PLAN.resources(wc.backbone, "gpu"),
        mem_mb=lambda wc, attempt: PLAN.resources(wc.backbone, "mem_mb"),
        runtime=lambda wc, attempt: PLAN.resources(wc.backbone, "runtime", attempt),
        cpus_per_task=lambda wc: PLAN.resources(wc.backbone, "cpus_per_task"),
    shell:
        "sapt evaluate --backbone {params.backbone} --block {input.block} --data-dirs {params.data_dir} "
        "{params.eval_args} {params.device} --out {output.scores} --predictions {output.predictions} > {log} 2>&1"
