"""Multi-GPU training: the launch command and DeepSpeed config of each backbone (from config/paper.yaml), and the
DeepSpeed code path itself run on the CPU (one process, gloo): ZeRO-2 and ZeRO-3 give the plain path's loss trajectory
and weights."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from sapt_core.plan import ContinualPlan


@pytest.fixture(scope="module")
def paper_plan(repo_root):
    return ContinualPlan(yaml.safe_load((repo_root / "config/paper.yaml").read_text()), data_root="unused")


def test_multi_gpu_backbones_train_through_torchrun_with_their_zero_stage(paper_plan, repo_root):
    p = paper_plan
    assert p.launcher("t5-large") == ""  # 1 GPU: plain `sapt`
    for name, stage in (("t5-xl", 2), ("llama-2-7b", 2), ("t5-xxl", 3), ("llama-2-13b", 3)):
        assert p.launcher(name) == "torchrun --standalone --nnodes=1 --nproc-per-node=4 --no-python"
        args = p.train_device_args(name).split()
        assert args[:4] == ["--dtype", "bfloat16", "--device", "cuda"] and "--bf16" in args
        ds = args[args.index("--deepspeed") + 1]
        assert ds == f"config/deepspeed/zero{stage}.json" and (repo_root / ds).is_file()
    assert p.train_device_args("t5-large") == "--dtype bfloat16 --device cuda --bf16"
    assert p.device_args("llama-2-13b") == "--dtype bfloat16 --device cuda"  # evaluation: one process, no DeepSpeed
    tiny = ContinualPlan(yaml.safe_load((repo_root / "config/config.yaml").read_text()), data_root="unused")
    assert (tiny.launcher("tiny-t5"), tiny.train_device_args("tiny-t5")) == ("", "--dtype float32")
    rule = (repo_root / "workflow/rules/continual.smk").read_text()
    assert '{params.launch} sapt train-step --method' in rule and "{params.device}" in rule


@pytest.mark.parametrize("stage", [2, 3])
def test_deepspeed_configs_are_bf16_zero_without_jit_ops(repo_root, stage):
    cfg = json.loads((repo_root / f"config/deepspeed/zero{stage}.json").read_text())
    assert cfg["zero_optimization"]["stage"] == stage
    assert cfg["bf16"]["enabled"] == "auto"  # follows --bf16 (set for bf16 GPU backbones by the plan)
    # the Trainer's torch AdamW / Adafactor (no DeepSpeed optimizer section: no fused/CPU-Adam op to JIT-compile)
    assert "optimizer" not in cfg and cfg["zero_force_ds_cpu_optimizer"] is False
    assert cfg["zero_allow_untested_optimizer"] is True
    assert cfg["train_micro_batch_size_per_gpu"] == cfg["gradient_accumulation_steps"] == "auto"


def test_deepspeed_with_adafactor_is_refused(repo_root):
    from sapt_core.errors import SaptError
    from sapt_core.training.loop import TrainConfig

    with pytest.raises(SaptError, match="adafactor is not supported"):
        TrainConfig(optimizer="adafactor", deepspeed=str(repo_root / "config/deepspeed/zero2.json")).validate()
    TrainConfig(optimizer="adamw", deepspeed=str(repo_root / "config/deepspeed/zero2.json")).validate()


def test_torchrun_rank_takes_its_own_gpu(monkeypatch):
    from sapt_core.models.backbone import resolve_device

    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert resolve_device("cuda") == "cuda" and resolve_device("cpu") == "cpu"
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert resolve_device("cuda") == "cuda:3" and resolve_device("cpu") == "cpu"


def _train_step(tiny_t5, cb_dir, out, *extra, env=None):
    args = ["--method", "sapt-lora", "--backbone", str(tiny_t5), "--data-dir", str(cb_dir), "--seed", "0",
            "--lr", "3e-3", "--batch-size", "4", "--global-batch", "8", "--selection", "none", "--max-steps", "6",
            "--logging-steps", "1",
            "--max-source-len", "64", "--no-progress", "--state-out", str(out), *extra]
    e = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    res = subprocess.run([sys.executable, "-m", "sapt_core", "train-step", *args], capture_output=True, text=True,
                         env=e, timeout=900, cwd=Path(__file__).resolve().parents[1])  # config/deepspeed/ paths
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout + res.stderr


# single-process DeepSpeed on the CPU: torch.distributed over gloo, rank 0 of 1
DS_ENV = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29517", "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1"}
LOSS_TOL = 1e-4     # absolute, per logged optimizer step (measured: <= 1e-6)
# absolute, per tensor element of the step state. Measured (deepspeed 0.19.8, torch 2.13 CPU): ZeRO-2 2.4e-7; ZeRO-3
# 2.2e-5 on one LoRA A element: ZeRO-3's flat fp32 partitions sum the gradients in another order and AdamW's
# m / sqrt(v) amplifies that rounding for near-zero gradients; 1e-4 is 1/30 of one AdamW step at lr 3e-3 (the same
# tolerance as tests/test_multirank.py, which gives what a real error moves: >= 1e-2)
WEIGHT_TOL = 1e-4


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None,
                    reason="deepspeed is not installed (optional extra `pip install --no-build-isolation "
                           "deepspeed==0.19.8`; .ci/run installs it)")
def test_deepspeed_zero2_zero3_match_the_plain_loss_trajectory(tiny_t5, cb_dir, tmp_path):
    """SAPT-LoRA step 2 with ARM (the KL over pseudo batches flows through the engine too), fp32, 6 optimizer steps
    of 2 micro-batches. The first DeepSpeed run on a machine JIT-compiles DeepSpeed's shm_comm op (~1.5 min, cached
    in ~/.cache/torch_extensions); no other op is built."""
    _train_step(tiny_t5, cb_dir, tmp_path / "s1")
    step2 = ["--state-in", str(tmp_path / "s1"), "--pseudo", str(cb_dir / "train.jsonl")]
    _train_step(tiny_t5, cb_dir, tmp_path / "plain", *step2)
    plain_log = json.loads((tmp_path / "plain/state.json").read_text())["history"][-1]["train_log"]
    plain_w = load_file(str(tmp_path / "plain/state.safetensors"))
    for stage in (2, 3):
        out = tmp_path / f"zero{stage}"
        log = _train_step(tiny_t5, cb_dir, out, *step2, "--deepspeed", f"config/deepspeed/zero{stage}.json",
                          env=DS_ENV)
        assert f"deepspeed: DeepSpeedEngine, ZeRO stage {stage}, world size 1" in log
        side = json.loads((out / "state.json").read_text())
        assert side["train"]["deepspeed"] == f"config/deepspeed/zero{stage}.json"
        ds_log = side["history"][-1]["train_log"]
        assert [h["step"] for h in ds_log] == [h["step"] for h in plain_log] == list(range(1, 7))
        diffs = [abs(a["loss"] - b["loss"]) for a, b in zip(ds_log, plain_log)]
        assert max(diffs) <= LOSS_TOL, diffs
        w = load_file(str(out / "state.safetensors"))
        assert w.keys() == plain_w.keys()
        for k in w:  # ZeRO-3 partitions the parameters: the state is gathered before it is written
            assert w[k].shape == plain_w[k].shape and (w[k] - plain_w[k]).abs().max() <= WEIGHT_TOL, k
        print(f"\n[deepspeed] ZeRO-{stage}: max |loss - plain| {max(diffs):.2e}, "
              f"max |weight - plain| {max((w[k] - plain_w[k]).abs().max().item() for k in w):.2e}")

    # explicit optimizer groups (SAPT-Prompt's projection LR) reach DeepSpeed through Trainer.create_optimizer
    prompt = ["--method", "sapt-prompt", "--lr", "0.03", "--proj-lr", "1e-3", "--optimizer", "adamw", "--kl-lambda", "0"]
    _train_step(tiny_t5, cb_dir, tmp_path / "prompt-plain", *prompt)
    _train_step(tiny_t5, cb_dir, tmp_path / "prompt-zero2", *prompt, "--deepspeed", "config/deepspeed/zero2.json",
                env=DS_ENV)
    logs = [[h["loss"] for h in json.loads((tmp_path / f"prompt-{v}/state.json").read_text())["history"][-1]["train_log"]]
            for v in ("plain", "zero2")]
    assert max(abs(a - b) for a, b in zip(*logs)) <= LOSS_TOL, logs
