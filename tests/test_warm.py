"""``sapt warm`` (sapt_core/warm/server.py): a command served by the pre-imported worker is the command run on its own:
the same bytes out, the same exit status and messages, its own environment; a cancelled client stops it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SAPT = [sys.executable, "-m", "sapt_core.cli"]


def _env(**extra):
    env = dict(os.environ, PYTHONHASHSEED="0", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    env.pop("SAPT_WARM", None)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def worker(tmp_path_factory, repo_root):
    """A worker with the default preload (torch, transformers, ...), as ./run demo starts it."""
    d = tmp_path_factory.mktemp("warm")
    sock, log = d / "w.sock", d / "w.log"
    proc = subprocess.Popen([*SAPT, "warm", "--socket", str(sock), "--log", str(log)], cwd=repo_root, env=_env())
    for _ in range(600):
        if sock.exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert sock.exists(), f"worker did not start (rc {proc.poll()})"
    yield sock, log
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert not sock.exists(), "the socket outlives the worker"


def _run(args, cwd, env):
    return subprocess.run([*SAPT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _served(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _step_args(tiny_t5, cb_dir, out: Path, epochs=1):
    return ["train-step", "--method", "seq-lora", "--backbone", str(tiny_t5), "--data-dir", str(cb_dir),
            "--epochs", str(epochs), "--batch-size", "8", "--lr", "3e-3", "--seed", "0", "--no-progress",
            "--state-out", str(out / "state"), "--eval-data-dirs", str(cb_dir),
            "--scores-out", str(out / "scores.json"), "--predictions-out", str(out / "predictions.jsonl")]


def test_served_step_is_the_same_as_a_fresh_process(worker, repo_root, tiny_t5, cb_dir, tmp_path):
    sock, log = worker
    direct = _run(_step_args(tiny_t5, cb_dir, tmp_path / "direct"), repo_root, _env())
    assert direct.returncode == 0, direct.stderr[-2000:]
    before = len(_served(log))
    served = _run(_step_args(tiny_t5, cb_dir, tmp_path / "served"), repo_root, _env(SAPT_WARM=str(sock)))
    assert served.returncode == 0, served.stderr[-2000:]
    lines = _served(log)[before:]
    assert [ln.split()[0] for ln in lines] == ["start", "end"], lines  # the worker ran it, not the client
    assert lines[1].split()[3] == "0"
    for name in ("state/state.safetensors", "predictions.jsonl"):
        assert (tmp_path / "direct" / name).read_bytes() == (tmp_path / "served" / name).read_bytes(), name
    a, b = (json.loads((tmp_path / v / "scores.json").read_text()) for v in ("direct", "served"))
    assert a["tasks"] == b["tasks"]
    # the command's output reached the client's streams
    assert "optimizer steps" in served.stderr + served.stdout


def test_exit_status_and_error_line_pass_through(worker, repo_root, tmp_path):
    sock, log = worker
    args = ["verify-data", str(tmp_path / "missing")]
    direct = _run(args, repo_root, _env())
    served = _run(args, repo_root, _env(SAPT_WARM=str(sock)))
    assert direct.returncode != 0
    assert (served.returncode, served.stderr.strip()) == (direct.returncode, direct.stderr.strip())
    assert _served(log)[-1].split()[:4] == ["end", _served(log)[-2].split()[1], "rc", str(direct.returncode)]
    # argparse errors exit 2 in both
    bad = _run(["train-step"], repo_root, _env(SAPT_WARM=str(sock)))
    assert bad.returncode == 2 and "the following arguments are required: --method" in bad.stderr


def test_different_import_time_environment_runs_in_its_own_process(worker, repo_root, tmp_path):
    sock, log = worker
    served = _run(["verify-data", str(tmp_path / "missing")], repo_root,
                  _env(SAPT_WARM=str(sock), TRANSFORMERS_VERBOSITY="debug"))
    assert served.returncode != 0 and "missing" in served.stderr
    assert _served(log)[-1].startswith("decline verify-data") and "TRANSFORMERS_VERBOSITY" in _served(log)[-1]


def test_no_worker_runs_the_command_here(repo_root, tmp_path):
    r = _run(["verify-data", str(tmp_path / "missing")], repo_root,
             _env(SAPT_WARM=str(tmp_path / "gone.sock")))
    assert r.returncode != 0 and "warm" not in r.stderr


def test_cancelled_client_stops_the_command(worker, repo_root, tiny_t5, cb_dir, tmp_path):
    sock, log = worker
    before = len(_served(log))
    client = subprocess.Popen([*SAPT, *_step_args(tiny_t5, cb_dir, tmp_path / "x", epochs=200)], cwd=repo_root,
                              env=_env(SAPT_WARM=str(sock)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        started = [ln for ln in _served(log)[before:] if ln.startswith("start")]
        if started:
            break
        time.sleep(0.1)
    pid = int(started[0].split()[1])
    time.sleep(1.0)
    assert Path(f"/proc/{pid}").exists()
    client.send_signal(signal.SIGTERM)
    client.wait(timeout=30)
    for _ in range(300):
        if any(ln.startswith(f"cancelled {pid}") for ln in _served(log)):
            break
        time.sleep(0.1)
    assert any(ln.startswith(f"cancelled {pid}") for ln in _served(log)), _served(log)[before:]
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert not (tmp_path / "x" / "state" / "state.safetensors").exists()


PREWARM_CHECK = """
import json, os, random, gc
import numpy as np, torch
from transformers.utils import logging as hf_logging
os.environ.pop("TOKENIZERS_PARALLELISM", None)
torch.set_num_threads(2)
before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].tolist(), torch.get_num_threads(),
          hf_logging.is_progress_bar_enabled())
from sapt_core.warm.prewarm import prewarm
prewarm()
after = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].tolist(), torch.get_num_threads(),
         hf_logging.is_progress_bar_enabled())
print(json.dumps({"torch_rng": bool(torch.equal(before[0], after[0])), "py_rng": before[1] == after[1],
                  "np_rng": before[2] == after[2], "threads": [before[3], after[3]], "bars": [before[4], after[4]],
                  "tokenizers_env": os.environ.get("TOKENIZERS_PARALLELISM"), "frozen": gc.get_freeze_count()}))
"""


def test_prewarm_leaves_the_worker_as_imported(repo_root):
    """The worker's warm-up changes no state a job could see: random states, thread count, progress bars and
    TOKENIZERS_PARALLELISM are as before it; only the heap is frozen (a job's GC skips the worker's objects)."""
    r = subprocess.run([sys.executable, "-c", PREWARM_CHECK], cwd=repo_root, env=_env(), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["torch_rng"] and got["py_rng"] and got["np_rng"], got
    assert got["threads"] == [2, 2] and got["bars"][0] == got["bars"][1], got
    assert got["tokenizers_env"] is None, got  # restored to unset (it was "false" only during the warm-up)
    assert got["frozen"] > 100_000, got  # the imported modules' objects
