"""Shared first steps (sapt_core/recipes/first_step.py, docs/methods.md "Shared first steps"): runs whose methods agree
on everything that acts at step 1 train it once; the others take that state, checked, and score it as their own."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import pytest
import yaml

from sapt_core import layout
from sapt_core.plan import ContinualPlan

LS = ("Long_Sequence", "longseq_demo")


def _owners(cfg: dict) -> dict:
    """(benchmark, backbone, method) -> where its step 1 comes from: ``single-task`` (its a_{0,1} run), the method
    whose run trains it, or None (it trains it)."""
    plan = ContinualPlan(cfg, data_root="unused")
    out = {}
    for exp in cfg["experiments"]:
        for b, o, bb, m, s in plan.runs(exp):
            owner = plan.first_step_owner(b, o, bb, m, s)
            parsed = layout.parse_run_dir(owner) if owner else None
            out[(b, bb, m)] = parsed["method"] if parsed else ("single-task" if owner else None)
    return out


def test_the_default_shares_step1_exactly_between_runs_equal_at_step1(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    cfg = yaml.safe_load((repo_root / "config/config.yaml").read_text())
    owners = _owners(cfg)
    # SeqLoRA's step 1 is its a_{0,1} run (the same recipe on task 1 alone); Replay and its Figure 6 volume differ
    # from it only in what they replay from task 2 on; O-LoRA's step 1 is one LoRA block without its loss
    for key in [(b, "tiny-t5", m) for b in ("Long_Sequence", "SuperNI") for m in ("seq-lora", "replay", "o-lora")] + [
            ("Long_Sequence", "tiny-t5", "replay~real_replay_volume=0.02")]:
        assert owners[key] == "single-task", key
    # -ARM, +Replay and the pseudo volume / type variants differ from SAPT-LoRA only in ARM (task 2 on)
    for m in ("sapt-lora-noarm", "sapt-lora-replay", "sapt-lora-tiny~replay_volume=0.02",
              "sapt-lora-tiny~replay_volume=0.02,pseudo_source=real",
              "sapt-lora-tiny~replay_volume=0.1,pseudo_source=real"):
        assert owners[("Long_Sequence", "tiny-t5", m)] == "sapt-lora-tiny", m
    # what acts at step 1 differs (settings, component, selector), or another backbone or benchmark: trained
    for key in [("Long_Sequence", "tiny-t5", m) for m in ("sapt-lora-tiny", "sapt-lora", "sapt-prompt",
                                                         "sapt-lora-noalign", "sapt-lora-noda", "mtl")] + [
            ("SuperNI", "tiny-t5", "sapt-lora-tiny"), ("Long_Sequence", "tiny-llama", "sapt-lora-tiny"),
            ("Long_Sequence", "tiny-t5-s", "sapt-lora-tiny")]:
        assert owners[key] is None, key
    assert sum(o is not None for o in owners.values()) == 12
    # a value that acts at step 1 separates two runs
    changed = copy.deepcopy(cfg)
    changed["method_overrides"]["sapt-lora-noarm"]["lr"] = 1.0e-3
    assert _owners(changed)[("Long_Sequence", "tiny-t5", "sapt-lora-noarm")] is None
    plan = ContinualPlan(cfg, data_root="unused")
    changed["method_overrides"]["replay"]["lr"] = 1.0e-3  # its own a_{0,1} recipe then, not SeqLoRA's
    other = ContinualPlan(changed, data_root="unused")
    mine = other.first_step_owner(*LS, "tiny-t5", "replay", 0)
    assert mine == layout.single_task_state_dir("Long_Sequence", "tiny-t5", other.reference("replay", "tiny-t5", *LS),
                                                0, "cb")
    assert mine != plan.first_step_owner(*LS, "tiny-t5", "seq-lora", 0)


def test_a_shared_step1_job_reads_the_owners_state_and_step2_its_own(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    plan = ContinualPlan(yaml.safe_load((repo_root / "config/config.yaml").read_text()), data_root="unused")
    wc = SimpleNamespace(benchmark=LS[0], order=LS[1], backbone="tiny-t5", method="sapt-lora-noarm", seed="0", k="1")
    assert plan.step_inputs(wc)["first_step"] == layout.state_file(*LS, "tiny-t5", "sapt-lora-tiny", "0", 1)
    assert plan.state_in_args(wc) == f"--first-step-from {layout.state_dir(*LS, 'tiny-t5', 'sapt-lora-tiny', '0', 1)}"
    wc.k = "2"
    assert "first_step" not in plan.step_inputs(wc)
    assert plan.state_in_args(wc) == f"--state-in {layout.state_dir(*LS, 'tiny-t5', 'sapt-lora-noarm', '0', 1)}"
    wc.method, wc.k = "sapt-lora-tiny", "1"  # the owner trains
    assert "first_step" not in plan.step_inputs(wc) and plan.state_in_args(wc) == ""


COMMON = ["--seed", "0", "--batch-size", "4", "--global-batch", "4", "--max-steps", "3", "--lr", "1e-2",
          "--max-source-len", "48", "--max-new-tokens", "4", "--selection", "none", "--no-progress"]


@pytest.mark.slow
def test_a_taken_step1_equals_the_trained_one_and_a_different_one_is_refused(tiny_t5, cb_dir, tmp_path):
    from sapt_core.cli import main

    def step1(method, name, *extra):
        out = tmp_path / name
        args = ["train-step", "--method", method, "--backbone", str(tiny_t5), "--data-dir", str(cb_dir),
                "--state-out", str(out / "state"), "--eval-data-dirs", str(cb_dir), "--scores-out",
                str(out / "scores.json"), "--predictions-out", str(out / "predictions.jsonl"), "--attention-out",
                str(out / "attention.json"), *COMMON, *extra]
        return main(args), out

    for owner, owner_extra, other, extra in (
            ("seq-lora", [], "replay", ["--real-replay-volume", "0.3"]),
            ("single-task", [], "seq-lora", []),
            ("single-task", ["--lora-dropout", "0.1", "--epochs", "1"], "o-lora", ["--orth-lambda", "2"]),
            ("sapt-lora", [], "sapt-lora-noarm", ["--kl-start-step", "7"])):
        name = f"{owner}-{len(owner_extra)}"
        assert step1(owner, name, *owner_extra)[0] == 0
        assert step1(other, f"{other}-own", *extra)[0] == 0                          # trained by itself
        rc, taken = step1(other, f"{other}-taken", *extra, "--first-step-from", str(tmp_path / name / "state"))
        assert rc == 0
        own = tmp_path / f"{other}-own"
        for f in ("state/state.safetensors", "predictions.jsonl", "attention.json"):
            assert (taken / f).read_bytes() == (own / f).read_bytes(), (other, f)
        side, own_side = (json.loads((d / "state/state.json").read_text()) for d in (taken, own))
        assert side["method"] == other and side["config"] == own_side["config"]
        assert side["history"] == own_side["history"], other  # its notes too (O-LoRA's orth_lambda at task 1)
        assert side["first_step_from"]["method"] == owner
        assert json.loads((taken / "scores.json").read_text())["tasks"] == \
            json.loads((own / "scores.json").read_text())["tasks"]
    # a state trained with another value that acts at step 1: one line, nothing written
    rc, bad = step1("replay", "bad", "--lr", "5e-3", "--first-step-from", str(tmp_path / "seq-lora-0" / "state"))
    assert rc == 2 and not bad.exists()
