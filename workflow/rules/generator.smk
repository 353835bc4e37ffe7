rule train_generator:
    """ARM generator B_ref of one task on the base backbone (App. C; shared by every order and method using it)."""
    input:
        backbone=lambda wc: PLAN.backbone_input(wc.backbone),
        manifest=lambda wc: f"{PLAN.data_dir(wc.benchmark, wc.task, wc.seed)}/manifest.json",
    output:
        gen="results/generators/{benchmark}/{backbone}/{pet}/seed{seed}/{task}/gen.safetensors",
        sidecar="results/generators/{benchmark}/{backbone}/{pet}/seed{seed}/{task}/gen.json",
    params:
        backbone=lambda wc: PLAN.backbone_path(wc.backbone),
        data_dir=lambda wc: PLAN.data_dir(wc.benchmark, wc.task, wc.seed),
        args=lambda wc: PLAN.generator_args(wc.pet),
        launch=lambda wc: PLAN.launcher(wc.backbone),
        device=lambda wc: PLAN.train_device_args(wc.backbone),
    log:
        "results/logs/train_generator/{benchmark}/{backbone}/{pet}/seed{seed}/{task}.log",
    benchmark:
        "results/benchmarks/train_generator/{benchmark}/{backbone}/{pet}/seed{seed}/{task}.tsv"
    threads: lambda wc: PLAN.threads(wc.backbone)
    resources:
        gpu=lambda wc: PLAN.resources(wc.backbone, "gpu"),
        mem_mb=lambda wc, attempt: PLAN.resources(wc.backbone, "mem_mb"),
        runtime=lambda wc, attempt: PLAN.resources(wc.backbone, "runtime", attempt),
        cpus_per_task=lambda wc: PLAN.resources(wc.backbone, "cpus_per_task"),
    shell:
        "{params.launch} sapt train-generator --backbone {params.backbone} --data-dir {params.data_dir} {params.args} "
        "{params.device} "
        "--seed {wildcards.seed} --no-progress --out {output.gen} > {log} 2>&1"


rule generate_pseudo:
    """Pseudo inputs G_t of one task: sampled from B_ref (generated) or the authors' files (shipped); volume x N_train."""
    input:
        unpack(lambda wc: PLAN.pseudo_inputs(wc)),
    output:
        pseudo="results/pseudo/{benchmark}/{backbone}/{pet}/seed{seed}/{source}-v{volume}/{task}.jsonl",
    params:
        args=lambda wc, input: PLAN.pseudo_args(wc, input),
        device=lambda wc: PLAN.device_args(wc.backbone),
    log:
        "results/logs/generate_pseudo/{benchmark}/{backbone}/{pet}/seed{seed}/{source}-v{volume}/{task}.log",
    benchmark:
        "results/benchmarks/generate_pseudo/{benchmark}/{backbone}/{pet}/seed{seed}/{source}-v{volume}/{task}.tsv"
    threads: lambda wc: PLAN.threads(wc.backbone)
    resources:
        gpu=lambda wc: PLAN.resources(wc.backbone, "gpu"),
        mem_mb=lambda wc, attempt: PLAN.resources(wc.backbone, "mem_mb"),
        runtime=lambda wc, attempt: PLAN.resources(wc.backbone, "runtime", attempt),
        cpus_per_task=lambda wc: PLAN.resources(wc.backbone, "cpus_per_task"),
    shell:
        "sapt generate-pseudo {params.args} {params.device} --seed {wildcards.seed} --volume {wildcards.volume} "
        "--out {output.pseudo} > {log} 2>&1"
