"""benchmarks/gpu_smoke.sh without a GPU: it stops at once with a clear message, its commands are valid ``sapt``
invocations forming a 3-task SAPT-LoRA chain in bf16 on CUDA, and (slow) the whole script runs on the CPU with a
tiny backbone, so only the GPU itself is untested here."""

import os
import shlex
import subprocess
import time

import pytest

from sapt_core.cli import build_parser


def _smoke(repo_root, *args, env=None, timeout=60):
    return subprocess.run(["bash", str(repo_root / "benchmarks/gpu_smoke.sh"), *args], cwd=repo_root,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_without_cuda_it_fails_fast_with_a_clear_message(repo_root):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    t0 = time.monotonic()
    res = _smoke(repo_root)
    assert res.returncode == 2, res.stderr
    assert "gpu_smoke: no CUDA device" in res.stderr or "torch.cuda.is_available() is False" in res.stderr
    assert time.monotonic() - t0 < 30
    assert "[gpu_smoke] sapt" not in res.stderr


def test_its_commands_are_a_bf16_cuda_sapt_lora_chain(repo_root):
    res = _smoke(repo_root, "--print-commands")
    assert res.returncode == 0, res.stderr
    cmds = [shlex.split(line) for line in res.stdout.splitlines()]
    parsed = [build_parser(c[1:]).parse_args(c[1:]) for c in cmds]  # every line is a valid `sapt` command
    steps = [a for a in parsed if a.command == "train-step"]
    assert [a.state_out for a in steps] == [f"results/gpu_smoke/step{k}" for k in (1, 2, 3)]
    assert [a.state_in for a in steps] == [None, "results/gpu_smoke/step1", "results/gpu_smoke/step2"]
    assert [len(a.pseudo) for a in steps] == [0, 1, 2]  # ARM: pseudo inputs of every earlier task
    for a in steps:
        assert (a.method, a.dtype, a.device, a.bf16) == ("sapt-lora", "bfloat16", "cuda", True)
    build = next(a for a in parsed if a.command == "build-backbone")
    assert (build.d_model, build.layers, build.heads, build.d_ff) == (768, 12, 12, 3072)  # T5-base's shape
    for a in steps:  # each step's pseudo files are generated before the step runs
        assert all(any(p.command == "generate-pseudo" and p.out == f and parsed.index(p) < parsed.index(a)
                       for p in parsed) for f in a.pseudo)


@pytest.mark.slow
def test_the_script_runs_end_to_end_on_cpu_with_a_tiny_backbone(repo_root, data_root, tmp_path):
    res = _smoke(repo_root, env={"SMOKE_DEVICE": "cpu", "SMOKE_SIZE": "tiny", "SMOKE_STEPS": "3", "SMOKE_BATCH": "4",
                                 "SMOKE_OUT": str(tmp_path / "smoke"), "SAPT_DATA_ROOT": str(data_root),
                                 "OMP_NUM_THREADS": "1"}, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [line for line in res.stdout.splitlines() if line.startswith("  step ")]
    assert [line.split(":")[0].strip() for line in lines] == ["step 1 (mnli)", "step 2 (cb)", "step 3 (wic)"]
    assert all("3 optimizer steps in" in line and "s/step" in line for line in lines), lines
    assert (tmp_path / "smoke/step3/state.safetensors").is_file()
