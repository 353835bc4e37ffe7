"""What each job requests from a cluster (sapt_core.plan.resources) and ``sapt resources``, the summary of a target's
requests from Snakemake's own dry run."""

import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml

from sapt_core.plan import ContinualPlan
from sapt_core.commands.resources import parse_dry_run


@pytest.fixture(scope="module")
def paper_plan(repo_root):
    return ContinualPlan(yaml.safe_load((repo_root / "config/paper.yaml").read_text()), data_root="unused")


def _wc(backbone, **kw):
    return SimpleNamespace(backbone=backbone, **kw)


@pytest.mark.parametrize("backbone", ["t5-large", "t5-xl", "llama-2-13b"])
def test_each_rule_requests_what_it_uses(paper_plan, backbone):
    p = paper_plan
    table = {key: p.resources(backbone, key) for key in ("gpu", "mem_mb", "runtime", "cpus_per_task")}
    n = table["gpu"]
    for rule in ("train_step", "single_task", "train_generator"):  # one rank per GPU under torchrun
        assert {k: p.job_resource(rule, _wc(backbone), k) for k in table} == table
    one_process = [("evaluate_unseen", _wc(backbone)), ("zero_shot_unseen", _wc(backbone)),
                   ("generate_pseudo", _wc(backbone, source="generated"))]
    for rule, wc in one_process:  # one process: one GPU and the backbone's CPUs / memory per GPU
        got = {k: p.job_resource(rule, wc, k) for k in table}
        assert got == {"gpu": 1, "mem_mb": -(-table["mem_mb"] // n), "runtime": table["runtime"],
                       "cpus_per_task": table["cpus_per_task"] // n}
        assert p.job_threads(rule, wc) == got["cpus_per_task"]
    for source in ("shipped", "real"):  # the authors' files / real inputs: no model loaded, no GPU
        wc = _wc(backbone, source=source)
        assert p.job_resource("generate_pseudo", wc, "gpu") == 0
        assert p.job_resource("generate_pseudo", wc, "cpus_per_task") == 1
    assert p.job_resource("train_step", _wc(backbone), "runtime", attempt=3) == 3 * table["runtime"]


def test_a_cpu_device_backbone_may_request_gpus(repo_root):
    """The cluster test's backbone: 2 GPUs allocated (torchrun, 2 ranks) but the model on the CPU, fp32."""
    cfg = yaml.safe_load((repo_root / "tests/cluster/config.yaml").read_text())
    plan = ContinualPlan(cfg, data_root="unused")
    name = next(b for b, v in cfg["backbones"].items() if v.get("device") == "cpu")
    assert plan.job_resource("train_step", _wc(name), "gpu") == 2
    assert plan.launcher(name) == "torchrun --standalone --nnodes=1 --nproc-per-node=2 --no-python"
    assert plan.train_device_args(name) == "--dtype float32"  # no --device cuda, no --bf16


def test_parse_dry_run_sums_gpu_hours_by_rule_backbone_and_gpus():
    text = """
Job stats:
rule train_step:
    output: x
    wildcards: benchmark=SuperNI, order=order1, backbone=t5-xl, method=sapt-lora~replay_volume=0.1,pseudo_source=real, seed=0, k=2
    resources: tmpdir=/tmp, gpu=4, mem_mb=128000, mem=128 GB, runtime=480, cpus_per_task=32
rule train_step:
    wildcards: benchmark=SuperNI, order=order1, backbone=t5-xl, method=mtl, seed=0, k=15
    resources: tmpdir=/tmp, gpu=4, runtime=480
localrule generate_pseudo:
    wildcards: benchmark=SuperNI, backbone=t5-xl, pet=lora, seed=0, source=shipped, volume=0.02, task=x
    resources: tmpdir=/tmp, gpu=0, runtime=30
rule prepare_data:
    wildcards: protocol=paper, seed=0, benchmark=SuperNI, task=x
    resources: tmpdir=/tmp, mem_mb=2000
localrule all_tables:
    jobid: 0
"""
    s = parse_dry_run(text.splitlines())
    assert s.jobs == 5 and s.gpu_jobs() == 2 and s.stated_total is None
    assert parse_dry_run(["Job stats:", "job  count", "train_step  2", "total  2", ""]).stated_total == 2
    assert s.gpu_hours == 2 * 4 * 480 / 60
    assert dict(s.rows)[("train_step", "t5-xl", 4)] == [2, 960]
    assert ("generate_pseudo", "t5-xl", 0) in s.rows and ("all_tables", "-", 0) in s.rows
    table = s.table()
    assert "| train_step | t5-xl | 4 | 2 | 480 | 64.0 |" in table and "**64.0**" in table


def test_sapt_resources_of_a_target(repo_root, data_root, tmp_path):
    """``sapt resources table1`` on .test with a 4-GPU tiny backbone (+ MTL): the training rules request 4 GPUs,
    pseudo sampling 1, everything else none; MTL plans one step job per run."""
    overlay = tmp_path / "gpus.yaml"
    overlay.write_text(yaml.safe_dump({
        "backbones": {"tiny-t5": {"family": "t5", "device": "cpu", "resources": {"gpu": 4, "runtime": 30},
                                  "tiny": {"d_model": 32, "layers": 1, "heads": 2, "d_ff": 64, "vocab_size": 1024,
                                           "seed": 0}}},
        # 2 per device x 4 ranks keeps .test's global batch 8 (the planner refuses one 4 ranks cannot split)
        "method_overrides": {"*": {"batch_size": 2}},
        "experiments": {"table1": {"methods": ["sapt-lora", "mtl"], "backbones": ["tiny-t5"],
                                   "benchmarks": ["Long_Sequence"]}}}))
    res = subprocess.run([sys.executable, "-m", "sapt_core.cli", "resources", "table1", "--all", "--configfile",
                          ".test/config.yaml", str(overlay), "--config", f"data_root={data_root}"],
                         cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = {}
    for line in res.stdout.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and cells[2].isdigit():
            rows[cells[0], int(cells[2])] = (int(cells[3]), float(cells[5].replace(",", "")))
    gpus = {rule: g for rule, g in rows}
    assert gpus["train_step"] == gpus["single_task"] == gpus["train_generator"] == 4
    assert gpus["generate_pseudo"] == 1
    assert all(gpus[r] == 0 for r in ("prepare_data", "build_backbone", "run_metrics", "result_table"))
    assert rows["train_step", 4][0] == 2 + 1  # SAPT-LoRA: steps 1 and 2; MTL: step 2 alone
    assert rows["train_step", 4][1] == 3 * 4 * 30 / 60
    total = sum(h for _, h in rows.values())
    assert f"{total:,.1f} GPU-hours requested" in res.stdout


def test_sapt_resources_of_an_unknown_target_is_one_error_line(repo_root, data_root):
    res = subprocess.run([sys.executable, "-m", "sapt_core.cli", "resources", "no_such_table", "--configfile",
                          ".test/config.yaml", "--config", f"data_root={data_root}"],
                         cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and res.stdout == ""
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: snakemake dry run of no_such_table failed")
    assert "No rule to produce no_such_table" in err and "SNAKEMAKE" not in err
