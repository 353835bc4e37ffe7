"""The protocol every method shares: fp32 trainable weights on a bf16 backbone, one model-selection policy for every
method and its single-task runs, and a_{0,t} trained with the method's own PET recipe."""

from __future__ import annotations

import json
import shlex

import pytest
import torch
import yaml
from safetensors.torch import load_file

from sapt_core.cli import main

COMMON = ["--seed", "0", "--batch-size", "4", "--global-batch", "4", "--max-source-len", "48", "--logging-steps", "1",
          "--no-progress"]


def _state(path):
    return load_file(str(path / "state.safetensors")), json.loads((path / "state.json").read_text())


def _two_steps(backbone, cb_dir, sst2_dir, tmp_path, tag, dtype, method, extra):
    """Step 1 (fp32 backbone) then step 2 of ``method`` on a ``dtype`` backbone: 6 optimizer steps at the paper's LR."""
    s1, s2 = tmp_path / "s1", tmp_path / f"s2-{tag}"
    if not s1.exists():
        assert main(["train-step", "--method", method, "--backbone", str(backbone), "--data-dir", str(cb_dir),
                     "--state-out", str(s1), "--max-steps", "3", *COMMON, *extra]) == 0
    assert main(["train-step", "--method", method, "--backbone", str(backbone), "--data-dir", str(sst2_dir),
                 "--state-in", str(s1), "--pseudo", str(cb_dir / "val.jsonl"), "--state-out", str(s2),
                 "--max-steps", "6", "--kl-start-step", "0", "--dtype", dtype, *COMMON, *extra]) == 0
    return _state(s1)[0], *_state(s2)


def _initial_key(backbone, side):
    """Key 2 as step 2 drew it (the same seeded construction as the recipe)."""
    from sapt_core.methods.base import init_seed
    from sapt_core.models import load_backbone
    from sapt_core.state import method_of

    bb = load_backbone(str(backbone))
    return method_of(side, "state").new_model(bb.model, bb.family, 2, init_seed(0, 2)).router.attention.key[0].detach()


@pytest.mark.parametrize("method,extra,tol", [
    ("sapt-lora", ["--lr", "3e-4", "--kl-lambda", "0.5"], 0.15),
    ("sapt-prompt", ["--lr", "3e-2", "--kl-lambda", "1.0", "--temperature", "sqrt_d"], 0.15)])
def test_trainable_weights_stay_fp32_on_a_bf16_backbone(method, extra, tol, tiny_t5, cb_dir, sst2_superni_dir,
                                                        tmp_path):
    """Every trainable tensor is fp32 on a bf16 backbone (compute in bf16); the keys, the projection and its LayerNorm
    move at the paper's LR, and the weights stay within ``tol`` of the same step on an fp32 backbone."""
    before, bf16, side = _two_steps(tiny_t5, cb_dir, sst2_superni_dir, tmp_path, "bf16", "bfloat16", method, extra)
    _, fp32, _ = _two_steps(tiny_t5, cb_dir, sst2_superni_dir, tmp_path, "fp32", "float32", method, extra)
    assert side["dtypes"] == {"backbone": "bfloat16", "trainable": ["float32"]}
    assert all(v.dtype == torch.float32 for v in bf16.values())
    # nearly every element of the new key, the projection and its LayerNorm moved (bf16 weights would keep every
    # |w| >> lr, e.g. the LayerNorm gains at 1.0 and most U(-1, 1) key entries, where they were)
    for k in ("attention.keys", "attention.proj.down.weight", "attention.proj.up.weight",
              "attention.proj.norm.weight", "attention.proj.norm.bias"):
        new, old = (bf16[k][-1], _initial_key(tiny_t5, side)) if k == "attention.keys" else (bf16[k], before[k])
        assert (new != old).float().mean() > 0.9, k
    # the bf16-backbone step makes the fp32-backbone step's update: same direction, nearly the same size (the gap
    # is bf16 compute noise in the gradients; were updates rounded away, the update would be ~0 and the cosine ~0)
    keys = [k for k in before if k != "arm.targets"]
    upd = {n: torch.cat([(w[k][: before[k].shape[0]] - before[k]).flatten() for k in keys])
           for n, w in (("bf16", bf16), ("fp32", fp32))}
    cos = float(torch.nn.functional.cosine_similarity(upd["bf16"], upd["fp32"], dim=0))
    rel = float((upd["bf16"] - upd["fp32"]).norm() / upd["fp32"].norm())
    print(f"\n[precision] {method}: update cosine(bf16, fp32) {cos:.4f}, |bf16 - fp32| / |fp32 update| {rel:.4f}, "
          f"max |bf16 - fp32| {float((upd['bf16'] - upd['fp32']).abs().max()):.2e}")
    assert cos > 1 - tol and rel < tol


@pytest.fixture(scope="module")
def default_plan(repo_root):
    from sapt_core.plan import ContinualPlan

    cfg = yaml.safe_load((repo_root / "config/config.yaml").read_text())
    cfg["methods_file"] = str(repo_root / "config/methods.yaml")
    cfg["benchmarks_file"] = str(repo_root / "config/benchmarks.yaml")
    return ContinualPlan(cfg, data_root="unused")


def test_one_selection_policy_for_every_method(default_plan, repo_root):
    """The default protocol (no selection: the last epoch; SAPT's a_i from the training inputs) and a switched one
    (validation split every epoch, a_i from validation) each reach every method and every single-task recipe; the
    authors' asymmetric protocol (SAPT family on the test file every 5 epochs, baselines none, ProgPrompt's early
    stopping on validation) is `protocol.selection: official`."""
    from sapt_core.plan import ContinualPlan

    plan = default_plan
    names = [m for m in plan.method_names() if m != "single-task"]
    val = ContinualPlan({**plan.config, "protocol": {"selection": "val", "select_every_epochs": 1,
                                                     "attention_split": "val"}}, data_root="unused")
    for p, (want, split) in ((plan, ("none", "train")), (val, ("val", "val"))):
        for m in names:
            h = p.hparams(m, "tiny-t5", "Long_Sequence", "order3")
            assert (h["selection"], h["select_every_epochs"]) == (want, 1), m
            assert p.reference_values(p.reference(m, "tiny-t5", "Long_Sequence", "order3"))["selection"] == want
            if "attn_split" in h:
                assert h["attn_split"] == split, m
    official = ContinualPlan({**plan.config, "protocol": {"selection": "official", "select_every_epochs": 1,
                                                          "attention_split": "official"}}, data_root="unused")
    sel = {m: tuple(official.hparams(m, "tiny-t5", "SuperNI", "order1")[k]
                    for k in ("selection", "select_every_epochs")) for m in names}
    sapt = {m for m in names if m.startswith("sapt-")}
    assert all(sel[m] == ("test", 5) for m in sapt)
    assert sel["progprompt"] == ("val", 1)
    assert all(sel[m][0] == "none" for m in names if m not in sapt | {"progprompt"})


def test_seqlora_first_step_is_its_single_task_run(default_plan, tiny_t5, cb_dir, tmp_path):
    """a_{0,t} is trained with the method's own recipe: SeqLoRA's step 1 and its single-task run of the same task and
    seed are the same computation, so a_{1,1} == a_{0,1} exactly."""
    plan = default_plan
    ref = plan.reference("seq-lora", "tiny-t5", "Long_Sequence", "order3")
    common = ["--backbone", str(tiny_t5), "--data-dir", str(cb_dir), "--seed", "0", "--no-progress",
              "--max-steps", "4"]
    step = shlex.split(plan.step_args("seq-lora", "tiny-t5", "Long_Sequence", "order3"))
    single = shlex.split(plan.reference_args(ref, "tiny-t5"))
    assert main(["train-step", "--method", "seq-lora", *step, *common, "--state-out", str(tmp_path / "step1")]) == 0
    assert main(["train-step", "--method", "single-task", *single, *common, "--state-out", str(tmp_path / "a0")]) == 0
    a, b = _state(tmp_path / "step1")[0], _state(tmp_path / "a0")[0]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    scores = []
    for name in ("step1", "a0"):
        out = tmp_path / f"{name}.json"
        assert main(["evaluate", "--backbone", str(tiny_t5), "--state", str(tmp_path / name), "--data-dirs",
                     str(cb_dir), *shlex.split(plan.reference_eval_args(ref)), "--out", str(out)]) == 0
        scores.append(json.loads(out.read_text())["tasks"]["cb"])
    assert scores[0]["score"] == scores[1]["score"]
    assert scores[0]["predictions"] == scores[1]["predictions"]
    # the score the step job writes for its own state equals a separate `sapt evaluate --state`
    fused = tmp_path / "fused.json"
    assert main(["train-step", "--method", "seq-lora", *step, *common, "--state-out", str(tmp_path / "again"),
                 "--eval-data-dirs", str(cb_dir), "--scores-out", str(fused)]) == 0
    assert json.loads(fused.read_text())["tasks"]["cb"] == scores[0]
    # and the score file says what the predictions look like (constant outputs are visible)
    p = scores[0]["predictions"]
    assert p["n"] == 16 and 0 < p["top_share"] <= 1 and 0 <= p["empty_share"] <= 1 and 0 <= p["valid_share"] <= 1


def test_empty_prediction_never_matches():
    from sapt_core.evaluation.scoring import exact_match, score_task

    assert exact_match("", "-") == 0.0 and exact_match("", "") == 0.0 and exact_match("!", "-") == 0.0
    assert exact_match("Entailment.", "entailment") == 100.0
    assert score_task(["", "yes"], [["-"], ["yes"]], "accuracy")["score"] == 50.0


def test_run_metrics_accepts_every_attention_split():
    """A state's protocol.attention_split is any value of the sapt component's attn_split (and null)."""
    import typing

    from sapt_core.methods.sapt import SaptConfig
    from sapt_core.report.run_metrics import ATTENTION_SPLITS

    assert set(typing.get_args(typing.get_type_hints(SaptConfig)["attn_split"])) | {None} == set(ATTENTION_SPLITS)
