"""Backbone loading: tiny T5/LLaMA built from a config round-trip through save_pretrained/from_pretrained."""

import pytest
import torch

from sapt_core.errors import SaptError
from sapt_core.models import load_backbone
from sapt_core.models.tiny import build_model


@pytest.mark.parametrize("which", ["tiny_t5", "tiny_llama"])
def test_roundtrip_logits_identical(which, request, tmp_path):
    path = request.getfixturevalue(which)
    bb = load_backbone(str(path))
    spec = __import__("json").loads((path / "sapt_backbone.json").read_text())
    fresh = build_model(spec["family"], spec["vocab_size"], spec["d_model"], spec["layers"], spec["heads"],
                        spec["d_ff"], spec["seed"])
    ids = bb.tokenizer(["Definition: classify the sentence\nOutput: "], return_tensors="pt").input_ids
    kw = {"decoder_input_ids": torch.zeros_like(ids[:, :3])} if bb.family == "t5" else {}
    with torch.no_grad():
        a = bb.model(input_ids=ids, **kw).logits
        b = fresh.eval()(input_ids=ids, **kw).logits
    assert torch.allclose(a, b, atol=1e-6)
    # and once more through a second save_pretrained / from_pretrained
    bb.model.save_pretrained(tmp_path / "again")
    bb.tokenizer.save_pretrained(tmp_path / "again")
    bb2 = load_backbone(str(tmp_path / "again"))
    with torch.no_grad():
        assert torch.allclose(bb2.model(input_ids=ids, **kw).logits, a, atol=1e-6)
    text = "Premise: the cat sat on the mat.\nOutput: entailment"
    assert bb2.tokenizer.decode(bb2.tokenizer(text).input_ids, skip_special_tokens=True) == text


def test_family_and_padding(tiny_t5, tiny_llama):
    t5, llama = load_backbone(str(tiny_t5)), load_backbone(str(tiny_llama))
    assert (t5.family, t5.tokenizer.padding_side) == ("t5", "right")
    assert (llama.family, llama.tokenizer.padding_side) == ("llama", "left")
    assert t5.model.config.is_encoder_decoder and not llama.model.config.is_encoder_decoder


def test_unknown_backbone_path(tmp_path):
    with pytest.raises(SaptError, match="not a model directory"):
        load_backbone(str(tmp_path / "nope"))


def test_bad_dtype(tiny_t5):
    with pytest.raises(SaptError, match="dtype"):
        load_backbone(str(tiny_t5), dtype="float8")


@pytest.mark.parametrize("which", ["tiny_t5", "tiny_llama"])
def test_encoding_layout_per_family(which, request, cb_dir):
    """Rows tokenised through ``datasets`` (batched map) keep each family's layout: T5 source cut to max_source_len
    plus </s>, labels cut to max_target_len - 1 plus </s>; LLaMA prompt + answer + </s> with the prompt masked; at
    test time the prompt alone. The ids are the tokenizer's own."""
    from sapt_core.data import load_split
    from sapt_core.models.batching import IGNORE, encode_rows

    bb = load_backbone(str(request.getfixturevalue(which)))
    tok, family = bb.tokenizer, bb.family
    rows = load_split(cb_dir, "train")[:24]
    eos = tok.eos_token_id
    src = [tok(r["source"], add_special_tokens=False).input_ids[:32] for r in rows]
    tgt = [tok(r["target"], add_special_tokens=False).input_ids[:3] for r in rows]
    enc = encode_rows(rows, tok, family, max_source_len=32, max_target_len=4)
    assert any(len(tok(r["source"], add_special_tokens=False).input_ids) > 32 for r in rows)  # truncation exercised
    for e, s, t in zip(enc, src, tgt):
        if family == "t5":
            assert (e.input_ids, e.labels) == (s + [eos], t + [eos])
        else:
            assert (e.input_ids, e.labels, e.n_prompt) == (s + t + [eos], [IGNORE] * len(s) + t + [eos], len(s))
    test = encode_rows(rows, tok, family, max_source_len=32, train=False)
    assert [e.input_ids for e in test] == [s + [eos] if family == "t5" else s for s in src]
    assert all(e.labels is None for e in test)
