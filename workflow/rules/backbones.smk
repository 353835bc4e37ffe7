localrules:
    fetch_backbone,
    check_lora_sites,


rule build_backbone:
    """Tiny backbone + tokenizer trained on the benchmark text, saved with save_pretrained (no model hub)."""
    input:
        DATA_READY,
    output:
        config=layout.backbone_config("{backbone}"),
    params:
        args=lambda wc: PLAN.tiny_backbone_args(wc.backbone),
        out=layout.backbone_dir("{backbone}"),
        data_root=DATA_ROOT,
        benchmarks=config["benchmarks_file"],
    log:
        layout.log_file("build_backbone", "{backbone}"),
    benchmark:
        layout.timing_file("build_backbone", "{backbone}")
    shell:
        "sapt build-backbone {params.args} --data-root {params.data_root} --benchmarks {params.benchmarks} "
        "--out {params.out} > {log} 2>&1"


rule fetch_backbone:
    """A hub backbone's config, tokenizer and weights, fetched once into hub_cache on the submitting host (a local
    rule: compute nodes need no network); the token comes from HF_TOKEN or `hf auth login`, never from the command
    line. Every model job of the backbone then reads the cache with HF_HUB_OFFLINE=1 (sapt_core/models/hub.py)."""
    output:
        manifest=layout.hub_manifest("{backbone}"),
    params:
        repo=per_job(lambda wc: PLAN.hub_repo(wc.backbone)),
        cache=PLAN.hub_cache(),
    log:
        layout.log_file("fetch_backbone", "{backbone}"),
    shell:
        "sapt fetch-backbone --name {wildcards.backbone} --repo {params.repo} --hub-cache {params.cache} "
        "--no-progress --out {output.manifest} > {log} 2>&1"


rule check_lora_sites:
    """A backbone's own LoRA sites (config backbones.<name>.lora_sites) against its modules, built from its config on
    the meta device (no weights) as soon as the backbone is built or fetched: every model job of the backbone waits for
    it, so a site list that matches nothing or names a non-Linear module is one line before any job trains. Only
    backbones that set lora_sites (other than their family's default) have this job."""
    input:
        per_job(lambda wc: PLAN.backbone_files(wc.backbone)),
    output:
        sites=layout.lora_sites_file("{backbone}"),
    params:
        backbone=backbone_path,
        hub_env=backbone_env,
        sites=per_job(lambda wc: PLAN.lora_site_args(wc.backbone)),
    log:
        layout.log_file("check_lora_sites", "{backbone}"),
    shell:
        "{params.hub_env} sapt check-lora-sites --name {wildcards.backbone} --backbone {params.backbone}{params.sites} "
        "--out {output.sites} > {log} 2>&1"


onstart:
    # Before any job starts or is submitted: every hub backbone this run has to fetch is reachable with the user's
    # token, so a gated model without a token, an unknown id or no network is one line, not a failed GPU job later.
    try:
        PLAN.check_hub_access(sorted({j.wildcards.backbone for j in workflow.dag.needrun_jobs()
                                      if j.rule.name == "fetch_backbone"}))
    except SaptError as e:
        sys.exit(f"error: {e}")
