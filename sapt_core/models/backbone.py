"""Load a backbone by hub id or local path: ``google-t5/t5-large``, ``meta-llama/Llama-2-7b-hf`` or a directory
written by ``save_pretrained`` (the tiny backbones of the embedded default).

The family decides the data layout (docs/official_code.md §5): ``t5`` = encoder-decoder, source right-padded, labels are the answer;
``llama`` = decoder-only, prompt left-padded, the answer appended to the prompt during training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sapt_core.errors import SaptError

FAMILIES = ("t5", "llama")
DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class Backbone:
    model: Any
    tokenizer: Any
    family: str
    name: str
    lora_sites: list[str] | None = None  # where LoRA attaches (sapt_core.blocks.sites); None: the family's default

    @property
    def sites(self) -> list[str]:
        """The LoRA sites of this backbone: the ones it was loaded with, else its family's default."""
        from sapt_core.blocks.sites import default_sites

        return list(self.lora_sites or default_sites(self.family))

    @property
    def hidden_size(self) -> int:
        cfg = self.model.config
        return int(getattr(cfg, "d_model", None) or cfg.hidden_size)


def family_of(config) -> str:
    if getattr(config, "is_encoder_decoder", False):
        return "t5"
    return "llama"


def _looks_local(path_or_id: str) -> bool:
    p = Path(path_or_id)
    return p.exists() or path_or_id.startswith((".", "/", "~")) or path_or_id.count("/") > 1


def resolve_device(device: str) -> str:
    """``cuda`` under a multi-process launcher (torchrun sets ``LOCAL_RANK``) means this rank's own GPU."""
    import os

    if device == "cuda" and os.environ.get("LOCAL_RANK") is not None:
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return device


def load_backbone(path_or_id: str, dtype: str = "float32", device: str = "cpu",
                  lora_sites: list[str] | None = None) -> Backbone:
    """Load model + tokenizer with ``from_pretrained``. Errors are one line naming the backbone. ``lora_sites``
    (config ``backbones.<name>.lora_sites``) are matched against the model's modules here, before any training, and
    recorded on the model for the blocks (:mod:`sapt_core.blocks.sites`)."""
    import os

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # weight-loading bars would bury the one-line errors in job logs

    if dtype not in DTYPES:
        raise SaptError(f"backbone dtype: expected one of {', '.join(DTYPES)}, got {dtype!r}")
    if _looks_local(path_or_id) and not (Path(path_or_id) / "config.json").is_file():
        raise SaptError(f"backbone {path_or_id!r}: not a model directory (no config.json there)")
    try:
        config = AutoConfig.from_pretrained(path_or_id)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
            cache = os.environ.get("HF_HUB_CACHE", "the hub cache")
            raise SaptError(f"backbone {path_or_id!r}: not in {cache} and this job is offline (HF_HUB_OFFLINE=1): "
                            f"rule fetch_backbone fills hub_cache on the submitting host; rerun snakemake there "
                            f"({first})") from None
        raise SaptError(f"backbone {path_or_id!r}: cannot load its config ({first})") from None
    family = family_of(config)
    cls = AutoModelForSeq2SeqLM if family == "t5" else AutoModelForCausalLM
    model = cls.from_pretrained(path_or_id, dtype=getattr(torch, dtype))
    if lora_sites:
        from sapt_core.blocks.sites import resolve, set_sites

        resolve(model, lora_sites, str(path_or_id))
        set_sites(model, lora_sites)
    model.to(resolve_device(device))
    tokenizer = AutoTokenizer.from_pretrained(path_or_id)
    if tokenizer.pad_token_id is None:
        # LLaMA checkpoints ship no pad token; the official code pads with id 1 (<s>), i.e. bos.
        tokenizer.pad_token = tokenizer.bos_token or tokenizer.eos_token
    tokenizer.padding_side = "right" if family == "t5" else "left"
    if getattr(model.generation_config, "pad_token_id", None) is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return Backbone(model=model, tokenizer=tokenizer, family=family, name=str(path_or_id),
                    lora_sites=list(lora_sites) if lora_sites else None)
