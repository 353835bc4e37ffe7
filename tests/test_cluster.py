"""The cluster path against a live SLURM (marker ``cluster``; run by .ci/run, not by default).

tests/cluster/local_slurm.sh brings up a single-node SLURM on 127.0.0.1 (slurmctld, slurmd, slurmdbd + MariaDB for
sacct) whose node has 2 fake GPUs as a generic resource, in a CPU and a GPU partition. The tiny configuration
(.test/config.yaml + tests/cluster/config.yaml: SAPT-LoRA, a 2-task chain, 12 jobs with Table 1's AP differences) runs
once locally and once through ``snakemake --profile workflow/profiles/slurm`` with the profile's partitions replaced by
the local ones.
Every job must have gone through sbatch (sacct: COMPLETED), the model jobs into the GPU partition, the others into
the CPU one, none of them with a GPU; the metrics, scores and step weights must equal the local run's. One step job
of a 2-GPU backbone (fake GPUs, model on the CPU) is allocated 2 GPUs by SLURM (sacct AllocTRES gres/gpu=2) and
trains with 2 torchrun ranks. A job that dies is reported FAILED after the profile's retries (with the runtime limit
growing per attempt) and makes Snakemake exit non-zero. The test stops only daemons it started.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sapt_core.io import sha256_file
from wf_helpers import _copy_workflow, _snakemake

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[1]
SLURM = REPO / "tests" / "cluster" / "local_slurm.sh"
PARTITION = "sapt_ci"
GPU_PARTITION = "sapt_ci_gpu"
RUN = "results/runs/Long_Sequence/order3/tiny-t5/sapt-lora/seed0"
CONFIGS = ("--configfile", ".test/config.yaml", "cluster.yaml")


def _sh(*args, timeout=900, env=None):
    return subprocess.run(["bash", str(SLURM), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "SAPT_SLURM_PARTITION": PARTITION,
                               "SAPT_SLURM_GPU_PARTITION": GPU_PARTITION, "SAPT_SLURM_GPUS": "2", **(env or {})})


@pytest.fixture(scope="module")
def slurm():
    """A running local SLURM; started (and afterwards stopped) here unless one started by local_slurm.sh is up."""
    check = _sh("check")
    if check.returncode != 0:
        pytest.skip(f"cannot run a local SLURM here: {check.stdout.strip() or check.stderr.strip()}")
    already = _sh("status").returncode == 0
    t0 = time.monotonic()
    up = _sh("up")
    assert up.returncode == 0, up.stderr[-3000:]
    print(f"\n[cluster] local SLURM up in {time.monotonic() - t0:.1f} s ({'reused' if already else 'started'})")
    yield
    if not already:
        down = _sh("down")
        assert down.returncode == 0, down.stderr[-2000:]


def _workdir(repo_root, tmp_path_factory, name):
    wd = _copy_workflow(repo_root, tmp_path_factory.mktemp(name))
    shutil.copytree(repo_root / ".test", wd / ".test")
    shutil.copy(repo_root / "tests" / "cluster" / "config.yaml", wd / "cluster.yaml")
    return wd


def _slurm_snakemake(wd, data_root, *args, env=None, timeout=1200):
    """``snakemake --profile workflow/profiles/slurm`` with the profile's default resources and set-resources, the
    CPU and GPU partitions replaced by the local ones; the first status check after 2 s (the profile's 30 s suits a
    real cluster, not a 10-s-per-job CI run) and 2 jobs at a time (the 2-CPU node). Everything else (retries,
    requeue, log dir, sacct status) is the profile's."""
    profile = REPO / "workflow" / "profiles" / "slurm"
    prof = yaml.safe_load((profile / "config.yaml").read_text())
    defaults = {**prof["default-resources"], "slurm_partition": PARTITION}
    per_rule = [f"{rule}:slurm_partition={GPU_PARTITION}" for rule in prof["set-resources"]]
    cmd = [sys.executable, "-m", "snakemake", "--profile", str(profile), *args, *CONFIGS,
           "--config", f"data_root={data_root}", "--jobs", "2", "--slurm-init-seconds-before-status-checks", "2",
           "--default-resources", *[f"{k}={v}" for k, v in defaults.items()], "--set-resources", *per_rule]
    e = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **(env or {})}
    # timeout -k: a Snakemake that lost track of its jobs can ignore SIGTERM (feasibility notes)
    return subprocess.run(["timeout", "-k", "20", str(timeout), *cmd], cwd=wd, env=e, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)


def _submitted(log: str) -> dict[str, str]:
    """SLURM job id -> rule, from Snakemake's submission lines."""
    out = {}
    for m in re.finditer(r"Job (\d+) has been submitted with SLURM jobid (\d+)|"
                         r"Submitted job (\d+) with external jobid '(\d+)'", log):
        out[m.group(2) or m.group(4)] = m.group(1) or m.group(3)
    return out


SACCT = ("JobIDRaw", "State", "Comment", "Timelimit", "Partition", "ReqTRES", "AllocTRES")


def _sacct(ids) -> dict[str, dict]:
    res = subprocess.run(["sacct", "-X", "-n", "-P", "-j", ",".join(ids), "-o", ",".join(SACCT)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    rows = [line.split("|") for line in res.stdout.splitlines() if line.strip()]
    return {r[0]: {k.lower(): v for k, v in zip(SACCT[1:], r[1:])} for r in rows}


def _rule(a: dict) -> str:
    return a["comment"].removeprefix("rule_").split("_wildcards")[0]


def _gpus(tres: str) -> int:
    m = re.search(r"gres/gpu=(\d+)", tres)
    return int(m.group(1)) if m else 0


def _executed_jobs(log: str) -> int:
    m = re.search(r"Job stats:.*?\ntotal\s+(\d+)", log, re.S)
    assert m, log[-3000:]
    return int(m.group(1))


def _run_outputs(wd: Path) -> dict:
    run = wd / RUN
    return {"metrics": {k: v for k, v in json.loads((run / "metrics.json").read_text()).items() if k != "sources"},
            "scores": [json.loads((run / f"step{k}/scores.json").read_text())["tasks"] for k in (1, 2)],
            "weights": [sha256_file(run / f"step{k}/state/state.safetensors") for k in (1, 2)],
            "table": (wd / "results/tables/table1.csv").read_text()}


def test_slurm_run_equals_local_run_and_failures_are_reported(slurm, repo_root, data_root, tmp_path_factory):
    local = _workdir(repo_root, tmp_path_factory, "local")
    t0 = time.monotonic()
    res = _snakemake(local, "--cores", "2", "table1", *CONFIGS, "--config", f"data_root={data_root}")
    assert res.returncode == 0, res.stderr[-4000:]
    t_local = time.monotonic() - t0

    wd = _workdir(repo_root, tmp_path_factory, "slurm")
    t0 = time.monotonic()
    res = _slurm_snakemake(wd, data_root, "table1")
    t_slurm = time.monotonic() - t0
    assert res.returncode == 0, res.stderr[-6000:]
    log = res.stdout + res.stderr
    jobs = _submitted(log)
    n_rule_jobs = _executed_jobs(log) - 1  # `table1` itself is a target without a command
    assert len(jobs) == n_rule_jobs == 12, (len(jobs), n_rule_jobs, log[-3000:])  # ap_diff_table included
    acct = _sacct(jobs)
    assert set(acct) == set(jobs), "every submitted job is in SLURM accounting"
    assert {a["state"] for a in acct.values()} == {"COMPLETED"}, acct
    assert {_rule(a) for a in acct.values()} >= {
        "build_backbone", "prepare_data", "train_step", "run_metrics", "result_table"}
    assert len(list((wd / "results/logs/slurm").rglob("*.log"))) == len(jobs)  # the profile's log directory
    for a in acct.values():  # a CPU backbone's jobs ask for no GPU; only the model rules go to the GPU partition
        model_job = _rule(a) in ("train_step", "single_task", "train_generator", "generate_pseudo")
        assert (a["partition"], _gpus(a["reqtres"]), _gpus(a["alloctres"])) == (
            GPU_PARTITION if model_job else PARTITION, 0, 0), a

    mine, theirs = _run_outputs(wd), _run_outputs(local)
    assert mine["metrics"] == theirs["metrics"]
    assert mine["scores"] == theirs["scores"]
    assert mine["weights"] == theirs["weights"], "the step states are bit-identical"
    assert mine["table"] == theirs["table"]
    print(f"[cluster] local run {t_local:.1f} s, SLURM run {t_slurm:.1f} s, {len(jobs)} sbatch jobs COMPLETED")

    # a 2-GPU backbone's step (tests/cluster/config.yaml: the built tiny T5, device cpu): SLURM allocates 2 GPUs,
    # CUDA_VISIBLE_DEVICES names them, torchrun starts 2 ranks that train on the CPU
    t0 = time.monotonic()
    gpu_run = RUN.replace("/tiny-t5/", "/tiny-t5-2gpu/")
    res = _slurm_snakemake(wd, data_root, f"{gpu_run}/step1/scores.json")
    t_gpu = time.monotonic() - t0
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-6000:]
    jobs = _submitted(log)
    acct = _sacct(jobs)
    assert [(_rule(a), a["state"], a["partition"], _gpus(a["reqtres"]), _gpus(a["alloctres"]))
            for a in acct.values()] == [("train_step", "COMPLETED", GPU_PARTITION, 2, 2)], acct
    assert "torchrun --standalone --nnodes=1 --nproc-per-node=2 --no-python sapt train-step" in log
    assert json.loads((wd / gpu_run / "step1/scores.json").read_text())["tasks"]
    text = (wd / "results/logs/train_step/Long_Sequence/order3/tiny-t5-2gpu/sapt-lora/seed0/step1.log").read_text()
    assert len(re.findall(r"^train: \d+ optimizer steps", text, re.M)) == 2, text[-3000:]  # one line per rank
    # data parallel, not two independent copies (the Trainer's warning when the ranks' process group goes unused)
    assert "parallel_mode != ParallelMode.DISTRIBUTED" not in text, text[-3000:]
    (jid, a), = acct.items()
    print(f"[cluster] 2-GPU step job {jid}: {a['partition']} ReqTRES {a['reqtres']} AllocTRES {a['alloctres']}, "
          f"{t_gpu:.1f} s")

    # a job that dies (SIGKILL at its first optimizer step): retried twice by the profile, runtime 10/20/30 min
    t0 = time.monotonic()
    target = RUN.replace("seed0", "seed1") + "/step1/state/state.safetensors"
    res = _slurm_snakemake(wd, data_root, target, env={"SAPT_FAULT_KILL_AT_STEP": "1"})
    t_fail = time.monotonic() - t0
    log = res.stdout + res.stderr
    assert res.returncode != 0, log[-3000:]
    assert "SLURM status is: 'FAILED'" in log, log[-3000:]
    jobs = _submitted(log)
    acct = _sacct(jobs)
    train = sorted((j for j, a in acct.items() if a["comment"].startswith("rule_train_step")), key=int)
    assert [acct[j]["state"] for j in train] == ["FAILED"] * 3, acct
    assert [acct[j]["timelimit"] for j in train] == ["00:10:00", "00:20:00", "00:30:00"], acct
    assert not (wd / target).exists()
    print(f"[cluster] failing job: 3 attempts FAILED, Snakemake exit {res.returncode}, {t_fail:.1f} s")
