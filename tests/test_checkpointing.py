"""Activation checkpointing (sapt_core/training/activation_checkpointing.py): a backbone switch on for T5-XXL and LLaMA-2-13B in the
paper config; each layer's forward runs again in the backward pass; gradients reach the PET blocks of a frozen
backbone; on vs off gives the same losses and weights for SAPT-LoRA (with ARM's KL) and SAPT-Prompt on tiny T5 and
LLaMA backbones (CPU)."""

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from sapt_core.plan import ContinualPlan

LOSS_TOL = 1e-5     # absolute, per logged optimizer step (measured on CPU: <= 4.8e-7; LLaMA 0.0)
WEIGHT_TOL = 5e-5   # absolute, per element of the step state (measured: <= 6.5e-6, T5 SAPT-LoRA; Adam's first
                    # steps divide by sqrt of tiny second moments, so float rounding in the recompute shows here)


def test_switch_in_the_paper_config(repo_root):
    plan = ContinualPlan(yaml.safe_load((repo_root / "config/paper.yaml").read_text()), data_root="unused")
    on = {b for b in plan.config["backbones"] if "--gradient-checkpointing" in plan.train_device_args(b).split()}
    assert on == {"t5-xxl", "llama-2-13b"}
    assert "--gradient-checkpointing" not in plan.device_args("t5-xxl")  # evaluation jobs do not train


def _block_model(backbone, n_blocks=2):
    from sapt_core.blocks.model import BlockModel, BlockSpec

    return BlockModel(backbone.model, backbone.family, BlockSpec(pet="lora", n_blocks=n_blocks, lora_r=4,
                                                                 lora_alpha=8), seed=0)


@pytest.mark.parametrize("which", ["tiny_t5", "tiny_llama"])
def test_recomputes_layers_and_keeps_gradients_of_two_forwards(which, request):
    """Two forwards with different block weights before one backward (as ARM's pseudo batch): with checkpointing
    every layer runs again in the backward, and the LoRA gradients equal those without it (each recomputation sees
    its own forward's block weights)."""
    from sapt_core.training import activation_checkpointing as checkpointing
    from sapt_core.models import load_backbone

    grads, calls = {}, {}
    for on in (False, True):
        bb = load_backbone(str(request.getfixturevalue(which)))
        model = _block_model(bb)
        layer = next(m for m in bb.model.modules() if type(m).__name__ in ("T5Block", "LlamaDecoderLayer"))
        n = [0]  # calls of a linear map inside the first layer (a layer checkpoints its forward, inside its hooks)
        next(m for m in layer.modules() if isinstance(m, torch.nn.Linear)).register_forward_pre_hook(
            lambda *a: n.__setitem__(0, n[0] + 1))
        if on:
            checkpointing.enable(model)
        model.train()
        ids = bb.tokenizer(["premise: a cat. hypothesis: an animal.", "is it good?"], return_tensors="pt",
                           padding=True)
        labels = bb.tokenizer(["entailment", "yes"], return_tensors="pt", padding=True).input_ids
        torch.manual_seed(0)
        loss = 0
        for w in (torch.tensor([[0.9, 0.1], [0.2, 0.8]]), torch.tensor([[0.1, 0.9], [0.7, 0.3]])):
            model.route = lambda *a, w=w: w  # fixed block weights per forward
            kw = {"labels": labels} if bb.family == "t5" else {"labels": ids.input_ids}
            loss = loss + model(ids.input_ids, ids.attention_mask, **kw).loss
        loss.backward()
        grads[on] = {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}
        calls[on] = n[0]
        if on:
            checkpointing.disable(model)
    assert calls[False] == 2 and calls[True] == 4  # the layer ran again in the backward of each forward
    assert grads[True].keys() == grads[False].keys() and grads[True]
    nonzero = [k for k, g in grads[True].items() if g.abs().sum() > 0]
    assert any("lora_B" in k for k in nonzero), nonzero  # gradients reach the blocks of the frozen backbone
    for k in grads[False]:
        assert torch.allclose(grads[True][k], grads[False][k], atol=1e-6, rtol=0), k


def _step(tiny, data, out, method, *extra):
    from sapt_core.cli import main

    args = ["train-step", "--method", method, "--backbone", str(tiny), "--data-dir", str(data), "--seed", "0",
            "--batch-size", "4", "--global-batch", "8", "--max-steps", "4", "--logging-steps", "1",
            "--max-source-len", "48", "--no-progress", "--state-out", str(out), *extra]
    assert main(args) == 0
    side = json.loads((out / "state.json").read_text())
    return [h["loss"] for h in side["history"][-1]["train_log"]], load_file(str(out / "state.safetensors")), side


@pytest.mark.slow
@pytest.mark.parametrize("which", ["tiny_t5", "tiny_llama"])
def test_on_vs_off_same_losses_and_weights(which, request, cb_dir, tmp_path):
    """SAPT-LoRA step 2 with ARM's KL over pseudo batches, and SAPT-Prompt step 1: 4 optimizer steps of 2
    micro-batches each, checkpointing off vs on."""
    tiny = request.getfixturevalue(which)
    _step(tiny, cb_dir, tmp_path / "s1", "sapt-lora", "--lr", "3e-3")
    runs = {"sapt-lora": ["--lr", "3e-3", "--state-in", str(tmp_path / "s1"), "--pseudo", str(cb_dir / "train.jsonl")],
            "sapt-prompt": ["--lr", "0.03", "--kl-lambda", "0"]}
    for method, extra in runs.items():
        off = _step(tiny, cb_dir, tmp_path / f"{method}-off", method, *extra)
        on = _step(tiny, cb_dir, tmp_path / f"{method}-on", method, *extra, "--gradient-checkpointing")
        assert on[2]["train"]["gradient_checkpointing"] is True and off[2]["train"]["gradient_checkpointing"] is False
        assert on[2]["history"][-1].get("arm_kl") is (True if method == "sapt-lora" else None)  # KL batches ran
        assert len(on[0]) == len(off[0]) == 4
        dl = max(abs(a - b) for a, b in zip(on[0], off[0]))
        assert on[1].keys() == off[1].keys()
        dw = max((on[1][k].float() - off[1][k].float()).abs().max().item() for k in on[1])
        assert off[0][0] != off[0][-1]  # it trained
        print(f"\n[checkpointing] {which} {method}: losses {[round(x, 5) for x in off[0]]}, "
              f"max |loss on - off| {dl:.2e}, max |weight on - off| {dw:.2e}")
        assert dl <= LOSS_TOL and dw <= WEIGHT_TOL, (dl, dw)
