"""Preemption and faults: a train job SIGKILLed mid-task resumes from its last in-job checkpoint and ends with the
weights of an uninterrupted run; a workflow killed between tasks keeps the finished steps and
``snakemake --rerun-incomplete`` redoes only what was cut off."""

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from sapt_core.arm.replay import PseudoReplay
from sapt_core.io import sha256_file
from sapt_core.training.loop import EXTRA_STATE, resumable_checkpoint
from wf_helpers import _copy_workflow, _snakemake


def test_pseudo_replay_fast_forward_continues_the_streams():
    enc = [list(range(10)), list(range(100, 107))]
    a = PseudoReplay(enc, lambda rows: list(rows), batch_size=3, seed=5)
    for _ in range(7):
        a.next_batches()
    b = PseudoReplay(enc, lambda rows: list(rows), batch_size=3, seed=5)
    b.load_state_dict(a.state_dict())
    assert a.state_dict() == {"consumed": 7}
    assert [b.next_batches() for _ in range(9)] == [a.next_batches() for _ in range(9)]
    with pytest.raises(ValueError):
        a.load_state_dict({"consumed": 1})


def fake_checkpoint(workdir: Path, step: int, extra: bool = True) -> Path:
    """A complete in-job checkpoint as the Trainer writes it (tiny tensors), with the loop's extra state if asked."""
    import torch
    from safetensors.torch import save_file

    ckpt = workdir / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    save_file({"w": torch.zeros(2)}, str(ckpt / "model.safetensors"))
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
        torch.save({"state": {}, "step": step}, ckpt / name)
    if extra:
        (ckpt / EXTRA_STATE).write_text("{}")
    return ckpt


def test_resume_skips_a_checkpoint_cut_off_before_its_extra_state(tmp_path):
    for step, extra in ((4, True), (8, False)):
        fake_checkpoint(tmp_path, step, extra)
    assert Path(resumable_checkpoint(tmp_path, need_extra=False)).name == "checkpoint-8"
    assert Path(resumable_checkpoint(tmp_path, need_extra=True)).name == "checkpoint-4"
    assert (tmp_path / "invalid-checkpoint-8").is_dir()  # moved aside, not deleted
    assert resumable_checkpoint(tmp_path / "absent", need_extra=True) is None


def _train_step(backbone, data_dir, out, *extra, env=None):
    args = ["--method", "sapt-lora", "--backbone", str(backbone), "--data-dir", str(data_dir), "--seed", "0",
            "--lr", "3e-3", "--batch-size", "4", "--global-batch", "4", "--max-source-len", "64", "--logging-steps", "1", "--no-progress",
            "--state-out", str(out), *extra]
    e = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "sapt_core", "train-step", *args], capture_output=True, text=True,
                          env=e, timeout=600)


@pytest.mark.slow
def test_sigkill_mid_task_resumes_from_checkpoint_with_identical_weights(tiny_t5, cb_dir, tmp_path):
    """Step 2 of a SAPT-LoRA chain (ARM on: pseudo batches of task 1 every micro-batch), 12 optimizer steps with a
    checkpoint every 4; SIGKILL after step 6, start again: it resumes from step 4 (model, optimizer, RNG, data order
    and the pseudo-batch streams) and ends bit-identical to the uninterrupted run."""
    res = _train_step(tiny_t5, cb_dir, tmp_path / "s1", "--max-steps", "4")
    assert res.returncode == 0, res.stderr[-2000:]
    step2 = ["--state-in", str(tmp_path / "s1"), "--pseudo", str(cb_dir / "train.jsonl"), "--max-steps", "12",
             "--save-steps", "4"]
    res = _train_step(tiny_t5, cb_dir, tmp_path / "whole", *step2)
    assert res.returncode == 0, res.stderr[-2000:]

    killed = tmp_path / "killed"
    res = _train_step(tiny_t5, cb_dir, killed, *step2, env={"SAPT_FAULT_KILL_AT_STEP": "6"})
    assert res.returncode == -signal.SIGKILL
    work = Path(f"{killed}.work")
    assert sorted(p.name for p in work.glob("checkpoint-*")) == ["checkpoint-4"]
    assert not killed.exists()
    # the pseudo-batch streams' position: micro-batches of optimizer steps 2..4 (KL from step 1, 0-based)
    assert json.loads((work / "checkpoint-4" / EXTRA_STATE).read_text()) == {"pseudo_replay": {"consumed": 3}}

    res = _train_step(tiny_t5, cb_dir, killed, *step2)
    assert res.returncode == 0, res.stderr[-2000:]
    side = json.loads((killed / "state.json").read_text())["history"][-1]
    whole_side = json.loads((tmp_path / "whole" / "state.json").read_text())["history"][-1]
    assert side["resumed_from_step"] == 4 and whole_side["resumed_from_step"] == 0
    assert [h["loss"] for h in side["train_log"]] == [h["loss"] for h in whole_side["train_log"]]
    a, b = load_file(str(tmp_path / "whole" / "state.safetensors")), load_file(str(killed / "state.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] == b[k]).all(), k
    assert not work.exists()  # in-job checkpoints are dropped once the step state is written


RUN = "results/runs/Long_Sequence/order3/tiny-t5/sapt-lora/seed0"


def _incomplete(wd: Path) -> set[Path]:
    """Outputs Snakemake marked incomplete (jobs running when it was killed): .snakemake/incomplete/ holds one record
    per output, named by the urlsafe base64 of its path (long names split into '@'-prefixed directories)."""
    root = wd / ".snakemake" / "incomplete"
    out = set()
    for rec in root.rglob("*"):
        if rec.is_file() and rec.name != "migration_underway":
            b64 = "".join(part.lstrip("@") for part in rec.relative_to(root).parts)
            out.add(wd / base64.urlsafe_b64decode(b64).decode())
    return out


def _outputs(wd: Path) -> dict:
    """sha256 and mtime of every finished workflow output (not logs, benchmark records, in-job work directories or
    outputs of jobs that were running at the kill)."""
    skip, incomplete = {"logs", "timings"}, _incomplete(wd)
    return {p: (sha256_file(p), p.stat().st_mtime_ns) for p in (wd / "results").rglob("*")
            if p.is_file() and p.relative_to(wd / "results").parts[0] not in skip and p not in incomplete
            and not any(part.endswith(".work") for part in p.parts)}


@pytest.mark.slow
def test_workflow_killed_between_tasks_redoes_only_the_cut_off_step(repo_root, data_root, tmp_path_factory):
    """Snakemake (and its job) SIGKILLed as step 2's train job starts: step 1 stays as it was, and after --unlock
    ``snakemake --rerun-incomplete`` trains step 2 only (no step-1 or upstream job is redone)."""
    wd = _copy_workflow(repo_root, tmp_path_factory.mktemp("wf-kill"))
    (wd / ".test").mkdir()
    (wd / ".test/config.yaml").write_text((repo_root / ".test/config.yaml").read_text())
    (wd / "cluster.yaml").write_text((repo_root / "tests/cluster/config.yaml").read_text())
    conf = ["--configfile", ".test/config.yaml", "cluster.yaml", "--config", f"data_root={data_root}"]
    target = f"{RUN}/metrics.json"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", target, *conf], cwd=wd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    step2_log = wd / "results/logs/train_step/Long_Sequence/order3/tiny-t5/sapt-lora/seed0/step2.log"
    deadline = time.monotonic() + 600
    while not step2_log.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole session: snakemake and the running job(s)
    proc.wait()
    assert step2_log.exists(), "step 2's train job had started"
    assert not (wd / RUN / "step2/state/state.safetensors").exists()
    assert {p.name for p in (wd / RUN / "step1/state").iterdir()} == {"state.safetensors", "state.json"}
    before = _outputs(wd)  # everything finished before the kill (step 1, data, backbone, generator, ...)
    assert wd / RUN / "step1/state/state.safetensors" in before

    assert _snakemake(wd, "--unlock", target, *conf).returncode == 0
    res = _snakemake(wd, "--cores", "2", "--rerun-incomplete", target, *conf)
    assert res.returncode == 0, res.stderr[-4000:]
    trained = re.findall(r"rule train_step:.*?wildcards: ([^\n]*)", res.stderr + res.stdout, re.S)
    assert len(trained) == 1 and "k=2" in trained[0], trained
    after = _outputs(wd)
    assert {p: after[p] for p in before} == before  # no finished job was redone
    assert (wd / target).is_file()
