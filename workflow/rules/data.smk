rule prepare_data:
    """Deterministic (seeded) train/val/test slices of one task as JSONL + manifest (design section 5)."""
    output:
        train="results/data/{protocol}/seed{seed}/{benchmark}/{task}/train.jsonl",
        val="results/data/{protocol}/seed{seed}/{benchmark}/{task}/val.jsonl",
        test="results/data/{protocol}/seed{seed}/{benchmark}/{task}/test.jsonl",
        manifest="results/data/{protocol}/seed{seed}/{benchmark}/{task}/manifest.json",
    wildcard_constraints:
        benchmark="SuperNI|Long_Sequence",
    params:
        data_root=DATA_ROOT,
        benchmarks=config["benchmarks_file"],
        caps=PLAN.data_caps_args(),
    log:
        "results/logs/prepare_data/{protocol}/seed{seed}/{benchmark}/{task}.log",
    benchmark:
        "results/benchmarks/prepare_data/{protocol}/seed{seed}/{benchmark}/{task}.tsv"
    resources:
        mem_mb=2000,
    shell:
        "sapt prepare-data --data-root {params.data_root} --benchmarks {params.benchmarks} "
        "--benchmark {wildcards.benchmark} --task {wildcards.task} --protocol {wildcards.protocol} "
        "--seed {wildcards.seed} {params.caps} --out results/data/{wildcards.protocol}/seed{wildcards.seed}/{wildcards.benchmark} "
        "> {log} 2>&1"


rule prepare_test_only:
    """Test-only benchmarks (the unseen SuperNI tasks of Table 3): a seeded test slice + manifest."""
    output:
        test="results/data/{protocol}/seed{seed}/{benchmark}/{task}/test.jsonl",
        manifest="results/data/{protocol}/seed{seed}/{benchmark}/{task}/manifest.json",
    wildcard_constraints:
        benchmark="SuperNI_unseen",
    params:
        data_root=DATA_ROOT,
        benchmarks=config["benchmarks_file"],
        caps=PLAN.data_caps_args(test_only=True),
    log:
        "results/logs/prepare_data/{protocol}/seed{seed}/{benchmark}/{task}.log",
    resources:
        mem_mb=2000,
    shell:
        "sapt prepare-data --data-root {params.data_root} --benchmarks {params.benchmarks} "
        "--benchmark {wildcards.benchmark} --task {wildcards.task} --protocol {wildcards.protocol} "
        "--seed {wildcards.seed} {params.caps} --out results/data/{wildcards.protocol}/seed{wildcards.seed}/{wildcards.benchmark} "
        "> {log} 2>&1"
