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
