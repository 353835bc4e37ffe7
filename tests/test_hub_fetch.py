"""Hub backbones on offline compute nodes (sapt_core/models/hub.py, rule fetch_backbone): fetched once from a model
hub on 127.0.0.1 (tests/hub_server.py, ``HF_ENDPOINT``) into hub_cache, loaded from it offline; a cut download
resumes on the next run; gated without token, unknown id and no network are one line before any model job; the
token appears in no file the run wrote."""

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
import yaml

from hub_server import COMMIT, FakeHub
from sapt_core.models.hub import select_files
from wf_helpers import _copy_workflow

REPO = "sapt-test/tiny-t5"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(hub, **extra) -> dict:
    """HF_ENDPOINT at the fake hub, no stored token (HF_HOME in the test's own folder), HF_TOKEN only if given."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE")}
    return {**env, "HF_ENDPOINT": hub.endpoint if hub else "", "HF_HOME": extra.pop("HF_HOME"), **extra}


def _fetch(env, cache, out, *extra):
    return subprocess.run([sys.executable, "-m", "sapt_core", "fetch-backbone", "--name", "hub-t5", "--repo", REPO,
                           "--hub-cache", str(cache), "--out", str(out), "--no-progress", *extra],
                          env=env, capture_output=True, text=True, timeout=300)


def test_select_files_one_weight_format():
    names = ["config.json", "generation_config.json", "model-00001-of-00002.safetensors",
             "model-00002-of-00002.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
             "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack", "tokenizer.json",
             "tokenizer.model", "special_tokens_map.json", "original/consolidated.00.pth", "README.md", ".gitattributes"]
    assert select_files(names) == sorted(["config.json", "generation_config.json", "model-00001-of-00002.safetensors",
                                          "model-00002-of-00002.safetensors", "model.safetensors.index.json",
                                          "tokenizer.json", "tokenizer.model", "special_tokens_map.json"])
    legacy = ["config.json", "pytorch_model.bin", "tf_model.h5", "spiece.model", "tokenizer_config.json"]
    assert select_files(legacy) == ["config.json", "pytorch_model.bin", "spiece.model", "tokenizer_config.json"]


def test_cut_download_resumes_and_loads_offline(tiny_t5, tmp_path):
    """A weight file cut mid-transfer: the run fails with one line and keeps the part; the next run asks for the
    rest (Range) and ends with the file verified against the hub's sha256; the backbone then loads from the cache
    with HF_HUB_OFFLINE=1 and gives the source model's logits. Files of other weight formats are not fetched."""
    cache, out = tmp_path / "hub", tmp_path / "hub.json"
    with FakeHub() as hub:
        hub.add_dir(REPO, tiny_t5, extra={"pytorch_model.bin": b"\0" * 4096})
        size = len(hub.repos[REPO].files["model.safetensors"])
        hub.cut["model.safetensors"] = size // 3
        env = _env(hub, HF_HOME=str(tmp_path / "home"))
        first = _fetch(env, cache, out, "--retries", "0")
        assert first.returncode != 0 and not out.exists()
        err = [ln for ln in first.stderr.splitlines() if ln.strip()]
        assert len(err) == 1 and err[0].startswith("error: backbone hub-t5 (sapt-test/tiny-t5): model.safetensors: "
                                                   "download interrupted"), first.stderr
        assert "run snakemake again" in err[0]
        parts = list(cache.glob("models--sapt-test--tiny-t5/blobs/*.part"))
        assert len(parts) == 1 and parts[0].stat().st_size == size // 3
        second = _fetch(env, cache, out)
        assert second.returncode == 0, second.stderr
        gets = [(p, r) for m, p, _, r in hub.requests if m == "GET" and p.endswith("/model.safetensors")]
        assert [r for _, r in gets] == [None, f"bytes={size // 3}-"]  # the second run asked only for the rest
        print(f"\n[resume] run 1: rc={first.returncode} {err[0]}\n[resume] run 2: rc=0, GET model.safetensors with "
              f"Range {gets[1][1]} (of {size} bytes); {second.stdout.strip().splitlines()[-1]}")
        assert not any(p.endswith(("pytorch_model.bin", "sapt_backbone.json")) for _, p, _, _ in hub.requests)
    snap = cache / "models--sapt-test--tiny-t5" / "snapshots" / COMMIT
    assert (snap / "model.safetensors").read_bytes() == (tiny_t5 / "model.safetensors").read_bytes()
    assert (cache / "models--sapt-test--tiny-t5" / "refs" / "main").read_text() == COMMIT
    assert not list(cache.rglob("*.part"))
    # offline, from the cache alone (the hub is gone): same logits as the directory it was served from
    code = ("import torch, sys; from sapt_core.models import load_backbone; "
            "a = load_backbone(sys.argv[1]); b = load_backbone(sys.argv[2]); ids = torch.tensor([[5, 6, 7, 1]]); "
            "d = torch.tensor([[0, 5]]); "
            "print(float((a.model(input_ids=ids, decoder_input_ids=d).logits - "
            "b.model(input_ids=ids, decoder_input_ids=d).logits).abs().max()))")
    res = subprocess.run([sys.executable, "-c", code, REPO, str(tiny_t5)], capture_output=True, text=True,
                         env={**env, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache),
                              "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"}, timeout=300)
    assert res.returncode == 0 and float(res.stdout.strip().splitlines()[-1]) == 0.0, res.stderr[-2000:]
    # a complete snapshot in the cache does without the hub (a submitting host that lost its network)
    again = _fetch({**env, "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"}, cache, tmp_path / "again.json")
    assert again.returncode == 0 and "hub not reachable, using the complete snapshot" in again.stdout, again.stderr
    assert json.loads((tmp_path / "again.json").read_text())["files"] == json.loads(out.read_text())["files"]


# ---- through Snakemake: a hub backbone in a small workflow config ---------------------------------------------------
def _workflow(repo_root, tmp_path, path: str) -> Path:
    (tmp_path / "wf").mkdir(parents=True)
    wd = _copy_workflow(repo_root, tmp_path / "wf")
    shutil.copytree(repo_root / ".test", wd / ".test")
    cfg = {"backbones": {"hub-t5": {"family": "t5", "path": path}},
           "hub_cache": "results/hub",
           "demo": {"runs": [{"backbone": "hub-t5", "benchmark": "Long_Sequence", "task": "cb",
                              "method": "seq-lora", "seed": 0}]}}
    (wd / "hub.yaml").write_text(yaml.safe_dump(cfg))
    return wd


def _run(wd, env, data_root):
    """wf_helpers._snakemake with this environment (-p: the shell commands shown)."""
    env = {**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "-p", "demo", "--configfile",
                           ".test/config.yaml", "hub.yaml", "--config", f"data_root={data_root}"], cwd=wd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_workflow_fetches_once_and_runs_offline_without_leaking_the_token(repo_root, data_root, tiny_t5, tmp_path):
    """Failures first (gated without token, unknown id, no network): exit 1 with one `error:` line naming the backbone
    and what to do, before any job ran. Then the gated model with HF_TOKEN: fetched once by the local rule, the model
    job runs offline (no request reaches the hub after the fetch), and the token is in no file under the workflow
    directory (results/, .snakemake/) nor in Snakemake's output."""
    token = f"hf_sapt{uuid.uuid4().hex}"
    with FakeHub() as hub:
        hub.add_dir("sapt-test/gated-t5", tiny_t5, token=token)
        home = str(tmp_path / "home")
        cases = {
            "gated": ("sapt-test/gated-t5", _env(hub, HF_HOME=home),
                      "error: backbone hub-t5 (sapt-test/gated-t5): gated model and no hub token on this host: set "
                      "HF_TOKEN or run `hf auth login`, and accept the licence at"),
            "unknown": ("sapt-test/no-such-model", _env(hub, HF_HOME=home),
                        "error: backbone hub-t5 (sapt-test/no-such-model): no such model on"),
            "offline": ("sapt-test/gated-t5", {**_env(hub, HF_HOME=home, HF_TOKEN=token),
                                               "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"},
                        "error: backbone hub-t5 (sapt-test/gated-t5): cannot reach http://127.0.0.1:"),
        }
        transcript = []
        for case, (path, env, line) in cases.items():
            wd = _workflow(repo_root, tmp_path / case, path)
            res = _run(wd, env, data_root)
            errors = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.startswith("error:")]
            transcript.append(f"{case}: rc={res.returncode} {errors}")
            assert res.returncode != 0 and len(errors) == 1 and errors[0].startswith(line), (case, res.stderr[-3000:])
            assert not (wd / "results" / "logs").exists()  # onstart: no job started, not even the local fetch
        n_before = len(hub.requests)
        wd = _workflow(repo_root, tmp_path / "ok", "sapt-test/gated-t5")
        res = _run(wd, _env(hub, HF_HOME=home, HF_TOKEN=token), data_root)
        assert res.returncode == 0, res.stderr[-4000:]
        reqs = hub.requests[n_before:]
        transcript.append(f"ok: rc=0, {len(reqs)} hub requests: {[(m, p) for m, p, _, _ in reqs]}")
        print("\n".join(transcript))
        resolves = [p for m, p, _, _ in reqs if "/resolve/" in p]
        assert sorted(p.rsplit("/", 1)[1] for p in resolves) == select_files(list(hub.repos["sapt-test/gated-t5"].files))
        assert all(m == "GET" for m, *_ in reqs)  # no HEAD: nothing resolved the hub id online
        assert all(a for m, p, a, _ in reqs if "/sapt-test/" in p)  # every request for the repo carried the token
        # the fetch was the last contact with the hub: the model job ran after it and asked nothing
        log = (wd / "results/logs/fetch_backbone/hub-t5.log").read_text()
        assert "model.safetensors fetched and verified" in log
    assert list((wd / "results").rglob("scores.json"))  # the single-task job of the demo ran and scored
    shown = res.stdout + res.stderr
    assert "HF_HUB_OFFLINE=1 HF_HUB_CACHE=results/hub  sapt train-step --method single-task" in shown
    files = [p for p in wd.rglob("*") if p.is_file() and not p.is_symlink()]
    leaked = [str(p) for p in files if token.encode() in p.read_bytes()]
    print(f"[grep] token in {len(leaked)} of {len(files)} files under the workflow directory (results/, "
          f".snakemake/, logs, hub cache); in Snakemake's output: {token in shown}")
    assert leaked == [] and token not in shown
    assert token not in "".join(transcript)
