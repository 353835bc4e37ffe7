import shlex

from sapt_core import layout
from sapt_core.data.upstream_manifest import DEFAULT_MANIFEST

UPSTREAM_MANIFEST = config.get("upstream_manifest") or str(DEFAULT_MANIFEST)
REDRAW_TEST = "--redraw-test" if config["data"].get("redraw_test") else ""
TASK_DATA = ("{protocol}", "{seed}", "{benchmark}", "{task}")  # a prepared task (wildcard patterns)

# downloads run on the submitting host: cluster compute nodes often have no internet
localrules:
    fetch_data,


rule fetch_data:
    """The upstream data at its pinned commits, every file verified by its git blob id, into the project-local data
    root (sapt fetch-data; marker written last). The first job when data_root is results/upstream and not there."""
    input:
        manifest=UPSTREAM_MANIFEST,
    output:
        layout.UPSTREAM_VERIFIED,
    params:
        dest=layout.UPSTREAM_DATA_ROOT,
        sources=" ".join(f"--source {shlex.quote(s)}" for s in config.get("data_sources") or []),
    log:
        layout.log_file("fetch_data"),
    shell:
        "sapt fetch-data --dest {params.dest} --manifest {input.manifest} {params.sources} > {log} 2>&1"


rule prepare_data:
    """Deterministic (seeded) train/val/test slices of one task as JSONL + manifest (docs/data.md)."""
    input:
        DATA_READY,
    output:
        train=layout.data_split_file(*TASK_DATA, "train"),
        val=layout.data_split_file(*TASK_DATA, "val"),
        test=layout.data_split_file(*TASK_DATA, "test"),
        manifest=layout.data_manifest(*TASK_DATA),
    wildcard_constraints:
        benchmark=PLAN.benchmark_pattern(),
    params:
        data_root=DATA_ROOT,
        benchmarks=config["benchmarks_file"],
        caps=PLAN.data_caps_args(),
        redraw=REDRAW_TEST,
        upstream_manifest=UPSTREAM_MANIFEST,
        out=layout.data_root_dir("{protocol}", "{seed}", "{benchmark}"),
    log:
        layout.log_file("prepare_data", "{protocol}", "seed{seed}", "{benchmark}", "{task}"),
    benchmark:
        layout.timing_file("prepare_data", "{protocol}", "seed{seed}", "{benchmark}", "{task}")
    resources:
        mem_mb=2000,
    shell:
        "sapt prepare-data --data-root {params.data_root} --benchmarks {params.benchmarks} "
        "--benchmark {wildcards.benchmark} --task {wildcards.task} --protocol {wildcards.protocol} "
        "--seed {wildcards.seed} {params.caps} {params.redraw} --upstream-manifest {params.upstream_manifest} "
        "--out {params.out} > {log} 2>&1"


rule prepare_test_only:
    """Test-only benchmarks (the unseen SuperNI tasks of Table 3): a seeded test slice + manifest."""
    input:
        DATA_READY,
    output:
        test=layout.data_split_file(*TASK_DATA, "test"),
        manifest=layout.data_manifest(*TASK_DATA),
    wildcard_constraints:
        benchmark=PLAN.benchmark_pattern(test_only=True),
    params:
        data_root=DATA_ROOT,
        benchmarks=config["benchmarks_file"],
        caps=PLAN.data_caps_args(test_only=True),
        redraw=REDRAW_TEST,
        upstream_manifest=UPSTREAM_MANIFEST,
        out=layout.data_root_dir("{protocol}", "{seed}", "{benchmark}"),
    log:
        layout.log_file("prepare_data", "{protocol}", "seed{seed}", "{benchmark}", "{task}"),
    resources:
        mem_mb=2000,
    shell:
        "sapt prepare-data --data-root {params.data_root} --benchmarks {params.benchmarks} "
        "--benchmark {wildcards.benchmark} --task {wildcards.task} --protocol {wildcards.protocol} "
        "--seed {wildcards.seed} {params.caps} {params.redraw} --upstream-manifest {params.upstream_manifest} "
        "--out {params.out} > {log} 2>&1"
