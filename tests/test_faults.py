"""Bad input and faults: every case gives one `error:` line naming the file / key / path and what was expected, a
non-zero exit, and leaves nothing behind: no partial or empty artefact, no existing output changed
(docs/faults.md).

How the OS faults are produced: a read-only file system and a full disk are real (a read-only bind mount and a tiny
tmpfs in a private mount namespace, ``unshare -m``), skipped where the test may not mount; a permission error and a
full disk inside a checkpoint save are simulated in-process by making ``tempfile.mkstemp`` / ``torch.save`` raise
the OSError the system would (running as root, ``chmod`` blocks nothing).
"""

import errno
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from sapt_core.cli import main
from wf_helpers import _copy_workflow, _snakemake

FAST = ["--seed", "0", "--batch-size", "8", "--global-batch", "8", "--max-source-len", "64", "--no-progress"]


def snapshot(root: Path) -> dict:
    """Every file under ``root`` (hidden ones too) with its sha256: what "nothing changed" compares."""
    root = Path(root)
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def error_line(err: str) -> str:
    """The one `error:` line of a command's stderr (library warnings may precede it; no traceback)."""
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert "Traceback" not in err, err[-2000:]
    assert [x for x in lines if x.startswith("error:")] == lines[-1:], err[-2000:]
    return lines[-1]


def step(method, backbone, data_dir, out, *extra):
    return main(["train-step", "--method", method, "--backbone", str(backbone), "--data-dir", str(data_dir),
                 "--state-out", str(out), *FAST, *extra])


def evaluate(backbone, state, data_dir, out, *extra):
    return main(["evaluate", "--backbone", str(backbone), "--state", str(state), "--data-dirs", str(data_dir),
                 "--batch-size", "8", "--max-new-tokens", "4", "--out", str(out), *extra])


def copy_rows(src: Path, dest: Path, split: str, edit) -> Path:
    """A copy of a prepared task directory whose ``split``.jsonl has its third line replaced by ``edit(bytes)``."""
    shutil.copytree(src, dest)
    lines = (dest / f"{split}.jsonl").read_bytes().splitlines(keepends=True)
    lines[2] = edit(lines[2])
    (dest / f"{split}.jsonl").write_bytes(b"".join(lines))
    return dest


def drop_key(key):
    def edit(line: bytes) -> bytes:
        row = json.loads(line)
        del row[key]
        return (json.dumps(row) + "\n").encode()

    return edit


def non_utf8(line: bytes) -> bytes:
    return line.replace(b'"source": "', b'"source": "\xff\xfe', 1)


def flip_tensor_bytes(path: Path) -> None:
    """Flip 64 bytes inside the tensor data of a safetensors file (its header stays intact)."""
    b = bytearray(path.read_bytes())
    start = 8 + struct.unpack("<Q", b[:8])[0] + 16
    for i in range(start, start + 64):
        b[i] ^= 0xFF
    path.write_bytes(bytes(b))


# ---- fixtures: a second backbone with the same LoRA rank, states trained on the first --------------------------
@pytest.fixture(scope="module")
def other_t5(tmp_path_factory, data_root, benchmarks_path):
    """A tiny T5 of another width (d_model 32): same LoRA rank, other shapes, other weights."""
    from sapt_core.models.tiny import build_tiny_backbone

    return build_tiny_backbone(tmp_path_factory.mktemp("other") / "tiny-t5-32", "t5", str(data_root),
                               str(benchmarks_path), vocab_size=2048, d_model=32, layers=1, heads=2, d_ff=64, seed=1,
                               corpus_per_task=60)


@pytest.fixture(scope="module")
def rte_dir(tmp_path_factory, data_root, benchmarks_path):
    from conftest import _prepared

    return _prepared(tmp_path_factory, data_root, benchmarks_path, "Long_Sequence", "rte")


@pytest.fixture(scope="module")
def states(tiny_t5, cb_dir, tmp_path_factory):
    """Step-1 states on tiny_t5 and cb: single-task (LoRA), seq-lora, sapt-lora (whose step 2 replays pseudo inputs)."""
    root = tmp_path_factory.mktemp("states")
    out = {}
    for method, extra in (("single-task", ["--pet", "lora"]), ("seq-lora", []), ("sapt-lora", [])):
        assert step(method, tiny_t5, cb_dir, root / method, "--max-steps", "2", *extra) == 0
        out[method] = root / method
    return out


@pytest.fixture(scope="module")
def pseudo_file(cb_dir, tmp_path_factory):
    """Pseudo inputs of cb from generate-pseudo --source real, with its sidecar (the rows' sha256)."""
    out = tmp_path_factory.mktemp("pseudo") / "cb.jsonl"
    assert main(["generate-pseudo", "--source", "real", "--data-dir", str(cb_dir), "--volume", "0.1", "--seed", "0",
                 "--out", str(out)]) == 0
    return out


# ---- 1. the workflow config, validated whole before any DAG, even when the outputs exist ------------------------
TARGET = "results/data/official/seed0/Long_Sequence/cb/manifest.json"


@pytest.fixture(scope="module")
def wf_tree(repo_root, data_root, tmp_path_factory):
    """A workflow copy whose target's outputs exist (prepare_data of cb): a re-run is "Nothing to be done"."""
    wd = _copy_workflow(repo_root, tmp_path_factory.mktemp("wf"))
    res = _snakemake(wd, "--cores", "1", TARGET, "--config", f"data_root={data_root}")
    assert res.returncode == 0, res.stderr[-3000:]
    res = _snakemake(wd, "--cores", "1", TARGET, "--config", f"data_root={data_root}")
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr
    return wd


CONFIG_CASES = {  # overlay -> the one line (after "error: ")
    "wrong_type": ("method_overrides:\n  sapt-lora: {epochs: two}\n",
                   "bad.yaml: method_overrides.sapt-lora.epochs: expected an integer > 0, got 'two'"),
    "typo_key": ("method_overrides:\n  sapt-lora: {epocsh: 3}\n",
                 "bad.yaml: method_overrides.sapt-lora.epocsh: unknown key of method 'sapt-lora' (component sapt) "
                 "(did you mean 'epochs'?)"),
    "star_wrong_value": ("method_overrides:\n  '*': {lr: fast}\n",
                         "bad.yaml: method_overrides.*.lr: expected a number > 0, got 'fast'"),
    "override_unknown_method": ("method_overrides:\n  seq-lroa: {lr: 0.001}\n",
                                "bad.yaml: method_overrides.seq-lroa: unknown method 'seq-lroa' (did you mean "
                                "'seq-lora'?)"),
    "override_variant": ("method_overrides:\n  replay~real_replay_volume=0.5: {lr: 0.001}\n",
                         "bad.yaml: method_overrides.replay~real_replay_volume=0.5: expected a method of the methods "
                         "file, not a variant"),
    "experiment_unknown_method": ("experiments:\n  table1: {methods: [seq-lroa], backbones: [tiny-t5], "
                                  "benchmarks: [SuperNI]}\n",
                                  "bad.yaml: experiments.table1.methods[0]: unknown method 'seq-lroa'"),
    "experiment_bad_variant_key": ("experiments:\n  figure6: {methods: [replay~real_replay_volum=0.5], backbones: "
                                   "[tiny-t5], benchmarks: [Long_Sequence]}\n",
                                   "bad.yaml: experiments.figure6.methods[0].real_replay_volum: unknown key of "
                                   "'replay'"),
    "experiment_reference_not_listed": ("experiments:\n  table1: {methods: [seq-lora, replay], backbones: [tiny-t5], "
                                        "benchmarks: [SuperNI], reference_method: sapt-lora}\n",
                                        "bad.yaml: experiments.table1.reference_method: expected one of the "
                                        "experiment's methods (seq-lora, replay), got 'sapt-lora'"),
    "experiment_unknown_backbone": ("experiments:\n  table1: {methods: [seq-lora], backbones: [tiny-t9], "
                                    "benchmarks: [SuperNI]}\n",
                                    "bad.yaml: experiments.table1.backbones[0]: unknown backbone 'tiny-t9' (did you "
                                    "mean 'tiny-t5'?)"),
    "override_unknown_base": ("method_overrides:\n  sapt-lora-noarm: {extends: sapt-lora-tny}\n",
                              "bad.yaml: method_overrides.sapt-lora-noarm.extends: expected another method of "
                              "config/methods.yaml, got 'sapt-lora-tny'"),
    "typo_top_level": ("experimnets:\n  table1: {methods: [seq-lora], backbones: [tiny-t5], benchmarks: [SuperNI]}\n",
                       "bad.yaml: experimnets: unknown key (did you mean 'experiments'?)"),
    "typo_backbone_key": ("backbones:\n  tiny-t5: {family: t5, pth: x, tiny: {d_model: 8, layers: 1, heads: 1, "
                          "d_ff: 8, vocab_size: 64, seed: 0}}\n",
                          "bad.yaml: backbones.tiny-t5.pth: unknown key"),
    "unknown_order": ("orders:\n  SuperNI: [order7]\n",
                      "bad.yaml: orders.SuperNI[0]: expected an order of SuperNI (order1, order2, superni_demo), got 'order7'"),
    "unknown_demo_task": ("demo:\n  runs:\n    - {backbone: tiny-t5, benchmark: Long_Sequence, task: cbb, "
                          "method: seq-lora, seed: 0}\n",
                          "bad.yaml: demo.runs[0].task: expected a task of Long_Sequence (did you mean 'cb'?), "
                          "got 'cbb'"),
    "unsafe_backbone_name": ("backbones:\n  ../../evil: {family: t5, tiny: {d_model: 8, layers: 1, heads: 1, d_ff: 8, "
                             "vocab_size: 64, seed: 0}}\n",
                             "bad.yaml: backbones.../../evil: expected a name of letters, digits"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_invalid_config_fails_before_any_dag_even_when_outputs_exist(case, wf_tree, data_root):
    overlay, expected = CONFIG_CASES[case]
    (wf_tree / "bad.yaml").write_text(overlay)
    before = snapshot(wf_tree / "results")
    res = _snakemake(wf_tree, "--cores", "1", TARGET, "--configfile", "bad.yaml", "--config",
                     f"data_root={data_root}")
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    assert error_line(res.stderr).startswith(f"error: {expected}"), res.stderr
    assert "Nothing to be done" not in res.stdout + res.stderr
    assert snapshot(wf_tree / "results") == before


def test_config_from_the_command_line_is_named_as_such(wf_tree, data_root):
    res = _snakemake(wf_tree, "--cores", "1", TARGET, "--config", f"data_root={data_root}", "n_tasks=two")
    assert res.returncode == 1
    assert error_line(res.stderr) == "error: --config: n_tasks: 'two' is not of type 'integer', 'null'"


def test_yaml_syntax_error_names_the_file_and_the_line(wf_tree, data_root):
    cfg = wf_tree / "config/config.yaml"
    text = cfg.read_text()
    lines = text.splitlines(keepends=True)
    n = next(i for i, x in enumerate(lines) if x.startswith("seeds:"))
    before = snapshot(wf_tree / "results")
    try:
        cfg.write_text("".join(lines[:n] + ["seeds: [0\n"] + lines[n + 1:]))
        res = _snakemake(wf_tree, "--cores", "1", TARGET, "--config", f"data_root={data_root}")
    finally:
        cfg.write_text(text)
    assert res.returncode == 1
    assert error_line(res.stderr).startswith(f"error: config/config.yaml:{n + 2}:")  # PyYAML stops on the next line
    assert "malformed YAML" in res.stderr and snapshot(wf_tree / "results") == before
    # a --configfile overlay: Snakemake reads it before the Snakefile runs, so ./run checks it first
    (wf_tree / "bad.yaml").write_text("seeds: [0\nn_tasks: 2\n")
    res = subprocess.run([sys.executable, "-m", "sapt_core.plan.validate", "-n", TARGET, "--configfile", "bad.yaml"],
                         cwd=wf_tree, capture_output=True, text=True)
    assert res.returncode == 1
    assert error_line(res.stderr) == "error: bad.yaml:2:8: malformed YAML (expected ',' or ']', but got ':')"


def test_every_shipped_config_passes(repo_root):
    """No false alarm: the embedded default, the paper's config and the CI overlays validate."""
    import yaml
    from snakemake.utils import update_config

    from sapt_core.plan import drop_disabled_experiments
    from sapt_core.plan.validate import check_schema, validate_config

    base = yaml.safe_load((repo_root / "config/config.yaml").read_text())
    for overlays in ([], ["config/paper.yaml"], [".test/config.yaml"], [".test/config.yaml", "tests/cluster/config.yaml"]):
        cfg = json.loads(json.dumps(base))
        for o in overlays:
            update_config(cfg, yaml.safe_load((repo_root / o).read_text()))
        cwd = os.getcwd()
        os.chdir(repo_root)
        try:
            check_schema(cfg, "workflow/schemas/config.schema.yaml")
            drop_disabled_experiments(cfg)
            validate_config(cfg)
        finally:
            os.chdir(cwd)


# ---- 2. JSONL rows validated where they enter ---------------------------------------------------------------------
@pytest.mark.parametrize("split,edit,field", [("train", drop_key("source"), "source: expected a string, got nothing"),
                                              ("train", non_utf8, "source: expected UTF-8 text, got byte 0xff"),
                                              ("train", drop_key("references"), "references: expected a list")],
                         ids=["no_source", "non_utf8", "no_references"])
def test_single_task_refuses_a_bad_train_row(split, edit, field, tiny_t5, cb_dir, tmp_path, capsys):
    bad = copy_rows(cb_dir, tmp_path / "bad", split, edit)
    out = tmp_path / "state"
    assert step("single-task", tiny_t5, bad, out, "--pet", "lora", "--max-steps", "1") == 2
    assert error_line(capsys.readouterr().err).startswith(f"error: {bad / 'train.jsonl'}:3: {field}")
    assert not out.exists() and not (tmp_path / "state.work").exists()


@pytest.mark.parametrize("edit,field", [(drop_key("target"), "target: expected a string, got nothing (missing)"),
                                        (non_utf8, "source: expected UTF-8 text, got byte 0xff at column")],
                         ids=["no_target", "non_utf8"])
def test_evaluate_refuses_a_bad_test_row_and_keeps_the_old_scores(edit, field, tiny_t5, states, cb_dir, tmp_path,
                                                                  capsys):
    bad = copy_rows(cb_dir, tmp_path / "bad", "test", edit)
    out = tmp_path / "scores.json"
    out.write_text("old scores\n")
    assert evaluate(tiny_t5, states["single-task"], bad, out, "--predictions", str(tmp_path / "p.jsonl")) == 2
    assert error_line(capsys.readouterr().err).startswith(f"error: {bad / 'test.jsonl'}:3: {field}")
    assert out.read_text() == "old scores\n" and sorted(p.name for p in tmp_path.iterdir()) == ["bad", "scores.json"]


@pytest.mark.parametrize("edit,field", [(drop_key("source"), "source: expected a string, got nothing (missing)"),
                                        (non_utf8, "source: expected UTF-8 text")], ids=["no_source", "non_utf8"])
def test_train_step_refuses_a_bad_pseudo_row(edit, field, tiny_t5, states, rte_dir, pseudo_file, tmp_path, capsys):
    bad = tmp_path / "pseudo.jsonl"
    lines = pseudo_file.read_bytes().splitlines(keepends=True)
    bad.write_bytes(b"".join(lines[:1] + [edit(lines[1])] + lines[2:]))
    out = tmp_path / "state2"
    assert step("sapt-lora", tiny_t5, rte_dir, out, "--state-in", str(states["sapt-lora"]), "--pseudo", str(bad),
                "--max-steps", "1") == 2
    assert error_line(capsys.readouterr().err).startswith(f"error: {bad}:2: {field}")
    assert not out.exists()


# ---- 3. a state used with another backbone --------------------------------------------------------------------
def test_state_on_another_backbone_is_one_line(tiny_t5, other_t5, states, cb_dir, rte_dir, pseudo_file, tmp_path,
                                               capsys):
    out = tmp_path / "scores.json"
    assert evaluate(other_t5, states["single-task"], cb_dir, out) == 2
    line = error_line(capsys.readouterr().err)
    assert line.startswith(f"error: --state {states['single-task']}: trained on backbone {tiny_t5} "
                           f"(model.safetensors sha256 ") and f"but --backbone {other_t5} has model.safetensors" in line
    assert not out.exists()
    # the same shapes with other weights: no crash to catch it, only the checksum
    same_shape = tmp_path / "perturbed"
    shutil.copytree(tiny_t5, same_shape)
    flip_tensor_bytes(same_shape / "model.safetensors")
    assert evaluate(same_shape, states["single-task"], cb_dir, out) == 2
    assert "trained on backbone" in error_line(capsys.readouterr().err) and not out.exists()
    # continuing a run on another backbone
    nxt = tmp_path / "state2"
    assert step("sapt-lora", other_t5, rte_dir, nxt, "--state-in", str(states["sapt-lora"]), "--pseudo",
                str(pseudo_file), "--max-steps", "1") == 2
    assert error_line(capsys.readouterr().err).startswith(f"error: --state-in {states['sapt-lora']}: trained on "
                                                          f"backbone {tiny_t5}")
    assert not nxt.exists()


# ---- 4. weights that changed after they were written --------------------------------------------------------------
def test_flipped_bytes_in_a_state_are_detected(tiny_t5, states, cb_dir, rte_dir, tmp_path, capsys):
    for method in ("single-task", "seq-lora"):
        shutil.copytree(states[method], tmp_path / method)
        flip_tensor_bytes(tmp_path / method / "state.safetensors")
    out = tmp_path / "scores.json"
    assert evaluate(tiny_t5, tmp_path / "single-task", cb_dir, out) == 2
    state = tmp_path / "single-task"
    assert error_line(capsys.readouterr().err).startswith(
        f"error: {state / 'state.safetensors'}: sha256 ") and not out.exists()
    nxt = tmp_path / "next"
    assert step("seq-lora", tiny_t5, rte_dir, nxt, "--state-in", str(tmp_path / "seq-lora"), "--max-steps", "1") == 2
    line = error_line(capsys.readouterr().err)
    assert f"differs from the sha256 recorded in {tmp_path / 'seq-lora' / 'state.json'}" in line and not nxt.exists()


def test_flipped_bytes_in_a_generator_and_an_edited_pseudo_file_are_detected(tiny_t5, states, cb_dir, rte_dir,
                                                                             pseudo_file, tmp_path, capsys):
    gen = tmp_path / "gen.safetensors"
    assert main(["train-generator", "--backbone", str(tiny_t5), "--data-dir", str(cb_dir), "--out", str(gen),
                 "--seed", "0", "--batch-size", "8", "--max-steps", "1", "--max-target-len", "32", "--no-progress"]) == 0
    assert json.loads(gen.with_suffix(".json").read_text())["sha256"]["gen.safetensors"]
    flip_tensor_bytes(gen)
    out = tmp_path / "p.jsonl"
    assert main(["generate-pseudo", "--backbone", str(tiny_t5), "--generator", str(gen), "--data-dir", str(cb_dir),
                 "--out", str(out), "--seed", "0", "--max-new-tokens", "4", "--n-candidates", "2"]) == 2
    assert error_line(capsys.readouterr().err).startswith(f"error: {gen}: sha256 ") and not out.exists()
    edited = tmp_path / "pseudo" / "cb.jsonl"
    edited.parent.mkdir()
    shutil.copy(pseudo_file.with_suffix(".json"), edited.with_suffix(".json"))
    edited.write_text(pseudo_file.read_text().replace("sentence", "sentense", 1))
    nxt = tmp_path / "state2"
    assert step("sapt-lora", tiny_t5, rte_dir, nxt, "--state-in", str(states["sapt-lora"]), "--pseudo", str(edited),
                "--max-steps", "1") == 2
    assert error_line(capsys.readouterr().err).startswith(f"error: {edited}: sha256 ") and not nxt.exists()


# ---- 5. a corrupt newest in-job checkpoint ---------------------------------------------------------------------
def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:100])


@pytest.mark.parametrize("damage", {
    "weights": lambda c: _truncate(c / "model.safetensors"),
    "trainer_state": lambda c: (c / "trainer_state.json").write_text('{"global_step": '),
    "optimizer": lambda c: _truncate(c / "optimizer.pt"),
}.items(), ids=lambda d: d[0])
def test_resume_falls_back_past_a_corrupt_checkpoint_and_keeps_it(damage, tiny_t5, cb_dir, tmp_path, capsys):
    name, hurt = damage
    work = tmp_path / "work"
    common = ["--pet", "lora", "--save-steps", "2", "--logging-steps", "1", "--workdir", str(work)]
    assert step("single-task", tiny_t5, cb_dir, tmp_path / "first", *common, "--max-steps", "4", "--keep-workdir") == 0
    hurt(work / "checkpoint-4")
    damaged = snapshot(work / "checkpoint-4")
    capsys.readouterr()
    assert step("single-task", tiny_t5, cb_dir, tmp_path / "second", *common, "--max-steps", "6") == 0
    err = capsys.readouterr().err
    assert f"warning: in-job checkpoint {work / 'checkpoint-4'} is invalid (" in err
    assert "moved aside to invalid-checkpoint-4, resuming from the previous one" in err
    assert snapshot(work / "invalid-checkpoint-4") == damaged  # moved aside, not deleted, not altered
    assert sorted(p.name for p in work.iterdir()) == ["invalid-checkpoint-4"]  # the valid ones cleared after success
    hist = json.loads((tmp_path / "second" / "state.json").read_text())["history"][0]
    assert hist["resumed_from_step"] == 2 and [h["step"] for h in hist["train_log"]] == [1, 2, 3, 4, 5, 6]


# ---- 6. OS errors: one line naming the path, exit 2, nothing partial ---------------------------------------------
def test_permission_denied_names_the_output_and_keeps_the_old_one(tiny_t5, states, cb_dir, tmp_path, monkeypatch,
                                                                  capsys):
    import tempfile

    out = tmp_path / "out" / "scores.json"
    out.parent.mkdir()
    out.write_text("old\n")
    real = tempfile.mkstemp

    def mkstemp(*a, dir=None, **kw):
        if dir is not None and Path(dir) == out.parent:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(Path(dir) / ".x.tmp"))
        return real(*a, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    assert evaluate(tiny_t5, states["single-task"], cb_dir, out) == 2
    assert error_line(capsys.readouterr().err) == f"error: {out}: Permission denied (EACCES)"
    assert out.read_text() == "old\n" and sorted(p.name for p in out.parent.iterdir()) == ["scores.json"]


def test_full_disk_in_a_checkpoint_save_leaves_no_partial_checkpoint(tiny_t5, cb_dir, tmp_path, monkeypatch, capsys):
    """torch.save of the optimizer hits ENOSPC half-way (simulated: it writes part of the file, then raises the
    OSError a full disk gives, which names no file)."""
    import torch

    def full(obj, f, *a, **kw):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    out, work = tmp_path / "state", tmp_path / "state.work"
    assert step("single-task", tiny_t5, cb_dir, out, "--pet", "lora", "--max-steps", "4", "--save-steps", "2") == 2
    assert error_line(capsys.readouterr().err) == (f"error: {work / 'checkpoint-2'}: No space left on device "
                                                   "(ENOSPC)")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no checkpoint, no work directory, no state


def test_full_disk_in_the_final_save_keeps_the_old_state(tiny_t5, cb_dir, states, tmp_path, monkeypatch, capsys):
    import sapt_core.io as sio

    out = tmp_path / "state"
    shutil.copytree(states["single-task"], out)
    before = snapshot(out)
    real = sio.write_bytes

    def full(tmp, data):
        if Path(tmp).name == "state.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
        return real(tmp, data)

    monkeypatch.setattr(sio, "write_bytes", full)
    assert step("single-task", tiny_t5, cb_dir, out, "--pet", "lora", "--max-steps", "1") == 2
    assert error_line(capsys.readouterr().err) == f"error: {out / 'state.json'}: No space left on device (ENOSPC)"
    assert snapshot(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["state", "state.work"]
    assert [p.name for p in (tmp_path / "state.work").iterdir()] == ["checkpoint-1"]  # complete: the retry resumes


def test_atomic_files_all_or_none(tmp_path, monkeypatch):
    import sapt_core.io as sio

    (tmp_path / "a.json").write_text("old a")
    calls = []

    def second_fails(tmp, data):
        calls.append(tmp)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
        with open(tmp, "w") as fh:
            fh.write(data)

    monkeypatch.setattr(sio, "write_bytes", second_fails)
    with pytest.raises(OSError) as e:
        sio.atomic_write_all({tmp_path / "a.json": "new a", tmp_path / "new" / "dir" / "b.json": "b"})
    assert e.value.filename == str(tmp_path / "new" / "dir" / "b.json") and e.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"] and (tmp_path / "a.json").read_text() == "old a"


def test_library_write_errors_become_os_errors_naming_the_path(tmp_path, monkeypatch):
    from sapt_core import os_errors
    from sapt_core.os_errors import as_os_error, os_error_line

    class SafetensorError(Exception):
        pass

    e = as_os_error(SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)"),
                    tmp_path / "x.safetensors")
    assert os_error_line(e) == f"{tmp_path / 'x.safetensors'}: No space left on device (ENOSPC)"
    monkeypatch.setattr(os_errors, "_filesystem_errno", lambda p: errno.EROFS)
    e = as_os_error(RuntimeError("[enforce fail at inline_container.cc:747] . open file failed with strerror"),
                    tmp_path / "optimizer.pt")
    assert (e.errno, e.filename) == (errno.EROFS, str(tmp_path / "optimizer.pt"))
    assert as_os_error(ValueError("not an I/O failure"), tmp_path) is None


def _private_mount(tmp_path: Path, script: str) -> subprocess.CompletedProcess:
    """``script`` (bash) in a private mount namespace with $RO a read-only bind mount and $FULL a 120 KiB tmpfs."""
    ro, full = tmp_path / "ro", tmp_path / "full"
    ro.mkdir()
    full.mkdir()
    setup = (f"mount --bind {ro} {ro} && mount -o remount,ro,bind {ro} && "
             f"mount -t tmpfs -o size=120k tmpfs {full} || exit 99\n")
    probe = subprocess.run(["unshare", "-m", "bash", "-c", setup], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no private mount namespace here (needs root and CAP_SYS_ADMIN): real EROFS/ENOSPC not tested")
    env = {**os.environ, "RO": str(ro), "FULL": str(full), "PY": sys.executable}
    return subprocess.run(["unshare", "-m", "bash", "-c", setup + script], capture_output=True, text=True, env=env,
                          timeout=600)


def test_real_read_only_file_system_and_full_disk(tiny_t5, states, cb_dir, tmp_path):
    fast = " ".join(FAST)
    script = f"""
    st="$PY -m sapt_core train-step --method single-task --pet lora --backbone {tiny_t5} --data-dir {cb_dir} {fast}"
    ev="$PY -m sapt_core evaluate --backbone {tiny_t5} --state {states['single-task']} --data-dirs {cb_dir}"
    run() {{ name=$1; shift; "$@" > /dev/null 2> "$FULL.$name.err"; echo "$name $?"; tail -n 1 "$FULL.$name.err"; }}
    run ro_train $st --max-steps 4 --save-steps 2 --state-out $RO/state
    run ro_eval $ev --out $RO/scores.json
    run ro_prepare $PY -m sapt_core prepare-data --task cb --seed 0 --n-train 8 --n-val 2 --n-test 4 --out $RO/data
    run full_train $st --max-steps 4 --save-steps 2 --state-out $FULL/state
    echo "left: $(ls -A $FULL)"
    run full_prepare $PY -m sapt_core prepare-data --task dbpedia --seed 0 --out $FULL/data
    echo "left: $(ls -A $FULL)"
    echo old > $FULL/scores.json; dd if=/dev/zero of=$FULL/filler bs=1k count=400 2>/dev/null
    run full_eval $ev --out $FULL/scores.json --predictions $FULL/p.jsonl
    echo "left: $(ls -A $FULL | tr '\\n' ' ') old=$(cat $FULL/scores.json)"
    """
    res = _private_mount(tmp_path, script)
    out = res.stdout.splitlines()
    ro, full = tmp_path / "ro", tmp_path / "full"
    assert out == [
        "ro_train 2", f"error: {ro / 'state'}: Read-only file system (EROFS)",
        "ro_eval 2", f"error: {ro / 'scores.json'}: Read-only file system (EROFS)",
        "ro_prepare 2", f"error: {ro / 'data'}: Read-only file system (EROFS)",
        "full_train 2", f"error: {full / 'state.work' / 'checkpoint-2'}: No space left on device (ENOSPC)",
        "left: ",
        "full_prepare 2", f"error: {full / 'data' / 'dbpedia' / 'train.jsonl'}: No space left on device (ENOSPC)",
        "left: ",
        "full_eval 2", f"error: {full / 'p.jsonl'}: No space left on device (ENOSPC)",
        "left: filler scores.json  old=old",
    ], res.stdout + res.stderr[-2000:]


# ---- 7. scores outside 0-100 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("matrix,single,expected", [
    ("step,cb,rte\n1,150,\n2,40,55\n", None, "m.csv: line 2 (after step 1), column 2 (task 1 (cb)): expected a score "
                                             "in 0-100 (percent), got '150'"),
    ("step,cb,rte\n1,50,\n2,40,-3\n", None, "m.csv: line 3 (after step 2), column 3 (task 2 (rte)): expected a score "
                                            "in 0-100 (percent), got '-3'"),
    ("step,cb,rte\n1,50,\n2,40,55\n", "task,score\ncb,101\nrte,50\n",
     "s.csv: line 2, column score: expected a score in 0-100 (percent), got '101'"),
], ids=["matrix_150", "matrix_negative", "single_101"])
def test_metrics_refuses_scores_outside_0_100(matrix, single, expected, tmp_path, capsys):
    (tmp_path / "m.csv").write_text(matrix)
    args = ["metrics", "--matrix", str(tmp_path / "m.csv"), "--out", str(tmp_path / "metrics.json")]
    if single:
        (tmp_path / "s.csv").write_text(single)
        args += ["--single", str(tmp_path / "s.csv")]
    assert main(args) == 2
    assert error_line(capsys.readouterr().err) == f"error: {tmp_path}/{expected}"
    assert not (tmp_path / "metrics.json").exists()


def test_matrix_api_refuses_scores_outside_0_100():
    from sapt_core.errors import SaptError
    from sapt_core.evaluation.metrics import cl_metrics

    with pytest.raises(SaptError, match=r"row 2, column 1: expected a finite score in 0-100.*got 100.5"):
        cl_metrics([[50, None], [100.5, 20]])
    with pytest.raises(SaptError, match=r"single-task score 2: expected a finite score in 0-100"):
        cl_metrics([[50, None], [40, 20]], single=[10, -1])


# ---- 8. names that become path components ---------------------------------------------------------------------
def _benchmarks_with(tmp_path, **edit) -> Path:
    import yaml

    spec = {"dir": "CL_Benchmark/Long_Sequence", "template": "long",
            "tasks": {"cb": {"category": "CL", "metric": "accuracy"}}, **edit.pop("spec", {})}
    name = edit.pop("name", "Evil")
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump({"benchmarks": {name: spec}}))
    return path


@pytest.mark.parametrize("edit,task,expected", [
    ({"spec": {"tasks": {"../Long_Sequence/cb": {"category": "CL", "metric": "accuracy"}}}}, "../Long_Sequence/cb",
     "benchmarks.Evil.tasks.../Long_Sequence/cb: expected a task name of letters, digits"),
    ({"spec": {"orders": {"../../o": ["cb"]}}}, "cb", "benchmarks.Evil.orders.../../o: expected an order name of"),
    ({"name": "../Evil"}, "cb", "benchmarks.../Evil: expected a benchmark name of"),
    ({"spec": {"dir": "CL_Benchmark/../../../etc"}}, "cb",
     "benchmarks.Evil.dir: expected a relative directory below the data root (no '..', not absolute), got "
     "'CL_Benchmark/../../../etc'"),
], ids=["task", "order", "benchmark", "dir"])
def test_unsafe_names_in_a_benchmarks_file_are_refused(edit, task, expected, data_root, tmp_path, capsys):
    bench = _benchmarks_with(tmp_path, **edit)
    out = tmp_path / "out" / "sub"
    out.mkdir(parents=True)
    before = snapshot(tmp_path)
    assert main(["prepare-data", "--data-root", str(data_root), "--benchmarks", str(bench), "--task", task,
                 "--seed", "0", "--n-train", "8", "--n-val", "2", "--n-test", "4", "--out", str(out)]) == 2
    assert error_line(capsys.readouterr().err).startswith(f"error: {bench}: {expected}")
    assert snapshot(tmp_path) == before


def test_unsafe_task_name_in_a_manifest_is_refused(cb_dir, tmp_path, capsys):
    d = tmp_path / "cb"
    shutil.copytree(cb_dir, d)
    m = json.loads((d / "manifest.json").read_text())
    (d / "manifest.json").write_text(json.dumps({**m, "task": "../../x"}))
    out = tmp_path / "p.jsonl"
    assert main(["generate-pseudo", "--source", "real", "--data-dir", str(d), "--seed", "0", "--out", str(out)]) == 2
    assert error_line(capsys.readouterr().err).startswith(f"error: {d / 'manifest.json'}: task: expected a task name")
    assert not out.exists()


def test_unsafe_method_and_backbone_names_in_the_methods_file(repo_root, tmp_path):
    import yaml

    from sapt_core.errors import SaptError
    from sapt_core.settings.methods_file import load_methods

    doc = yaml.safe_load((repo_root / "config/methods.yaml").read_text())
    doc["methods"]["../x"] = doc["methods"]["seq-lora"]
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(SaptError, match=r"m.yaml: methods.\.\./x: expected a method name of letters, digits and _ \. \+ - only"):
        load_methods(tmp_path / "m.yaml")
    del doc["methods"]["../x"]
    doc["backbone_sizes"]["a/b"] = {"family": "t5", "size": "large"}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(SaptError, match=r"m.yaml: backbone_sizes.a/b: expected a backbone name of"):
        load_methods(tmp_path / "m.yaml")
