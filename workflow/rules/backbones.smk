rule build_backbone:
    """Tiny backbone + tokenizer trained on the benchmark text, saved with save_pretrained (no model hub)."""
    input:
        DATA_READY,
    output:
        config="results/backbones/{backbone}/config.json",
    params:
        args=lambda wc: PLAN.tiny_backbone_args(wc.backbone),
        data_root=DATA_ROOT,
        benchmarks=config["benchmarks_file"],
    log:
        "results/logs/build_backbone/{backbone}.log",
    benchmark:
        "results/benchmarks/build_backbone/{backbone}.tsv"
    shell:
        "sapt build-backbone {params.args} --data-root {params.data_root} --benchmarks {params.benchmarks} "
        "--out results/backbones/{wildcards.backbone} > {log} 2>&1"
