rule build_backbone:
    """Tiny backbone + tokenizer trained on the benchmark text, saved with save_pretrained (no model hub)."""
    input:
        DATA_READY,
    output:
        config=layout.backbone_dir("{backbone}") + "/config.json",
    params:
        args=lambda wc: PLAN.tiny_backbone_args(wc.backbone),
        data_root=DATA_ROOT,
        benchmarks=config["benchmarks_file"],
    log:
        layout.log_file("build_backbone", "{backbone}"),
    benchmark:
        layout.benchmark_file("build_backbone", "{backbone}")
    shell:
        "sapt build-backbone {params.args} --data-root {params.data_root} --benchmarks {params.benchmarks} "
        "--out $(dirname {output.config}) > {log} 2>&1"
