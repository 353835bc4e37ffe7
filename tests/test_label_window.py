"""A decoder-only model's loss read from the labelled columns only (sapt_core/models/label_window.py) equals the loss
over the full-width logits, and so do the gradients of what trains; the window is really narrower."""

from __future__ import annotations

import pytest
import torch

from sapt_core.blocks.model import BlockModel, BlockSpec
from sapt_core.io import read_jsonl
from sapt_core.methods.l2p.model import L2PModel
from sapt_core.models import load_backbone
from sapt_core.models.batching import Collator, encode_rows
from sapt_core.models.label_window import keep_labelled


def _batch(backbone, cb_dir, n=6):
    rows = read_jsonl(cb_dir / "train.jsonl")[:n]
    enc = encode_rows(rows, backbone.tokenizer, backbone.family, max_source_len=96, max_target_len=8)
    return Collator(backbone.tokenizer.pad_token_id, backbone.family)(enc)


def _loss_and_grads(model, batch, narrow: bool, monkeypatch):
    import sapt_core.blocks.model as blocks_model
    import sapt_core.methods.l2p.model as l2p_model

    for mod in (blocks_model, l2p_model):
        monkeypatch.setattr(mod, "keep_labelled", keep_labelled if narrow else (lambda m, kw: kw))
    model.zero_grad(set_to_none=True)
    out = model(**batch)
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return out, grads


@pytest.mark.parametrize("make", [
    lambda bb: BlockModel(bb.model, bb.family, BlockSpec(pet="lora", n_blocks=2, lora_r=4)),
    lambda bb: BlockModel(bb.model, bb.family, BlockSpec(pet="prompt", n_blocks=1, prompt_len=5)),
    lambda bb: L2PModel(bb.model, bb.family, pool_size=4, prompt_len=3, top_n=2, pull_weight=0.1),
], ids=["lora", "prompt", "l2p"])
def test_same_loss_and_grads_on_fewer_logits(make, tiny_llama, cb_dir, monkeypatch):
    bb = load_backbone(str(tiny_llama))
    model = make(bb)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # LoRA's B starts at 0 (and A's gradient with it): give every trained tensor a value
        for p in model.parameters():
            if p.requires_grad and not p.any():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    batch = _batch(bb, cb_dir)
    full, g_full = _loss_and_grads(model, batch, False, monkeypatch)
    narrow, g_narrow = _loss_and_grads(model, batch, True, monkeypatch)
    width = full.logits.shape[1]
    answer = int((batch["labels"] != -100).sum(1).max())
    assert narrow.logits.shape[1] < width / 4, (narrow.logits.shape, width)  # prompts ~50 tokens, answers 2
    assert narrow.logits.shape[1] >= answer + 1
    torch.testing.assert_close(narrow.loss, full.loss, rtol=1e-6, atol=1e-6)
    assert g_full.keys() == g_narrow.keys() and g_full
    for name, g in g_full.items():  # the same sums in another order: equal to float32 rounding
        scale = float(g.abs().max())
        assert scale > 0, name
        torch.testing.assert_close(g_narrow[name], g, rtol=1e-4, atol=1e-5 * scale, msg=lambda m: f"{name}: {m}")


def test_window_edges(tiny_llama, tiny_t5, cb_dir):
    model = load_backbone(str(tiny_llama)).model
    lab = torch.full((2, 6), -100)
    assert keep_labelled(model, {"labels": lab}) == {"labels": lab}                 # no label: unchanged
    lab[0, 4:] = 7
    lab[1, 5] = 8
    kw = keep_labelled(model, {"labels": lab})
    assert kw["logits_to_keep"] == 3 and kw["labels"].tolist() == lab[:, 3:].tolist()
    lab[0, 0] = 9                                                                    # a label in column 0: all kept
    assert "logits_to_keep" not in keep_labelled(model, {"labels": lab})
    assert keep_labelled(model, {"input_ids": lab}) == {"input_ids": lab}            # no labels at all
    t5 = load_backbone(str(tiny_t5))                                                 # encoder-decoder: unchanged
    kw = _batch(t5, cb_dir)
    assert keep_labelled(t5.model, kw) is kw
