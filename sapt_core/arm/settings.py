"""Settings of ARM's generator B_ref (paper section 4.3, Appendix C) per PET type, as config dataclasses
(:mod:`sapt_core.methods.keys`): the single source of their defaults, of their validation in ``config/methods.yaml``
(``generator:``) and of the ``sapt train-generator`` / ``generate-pseudo`` flags the workflow passes (every key, as
flags: :meth:`sapt_core.plan.jobs.JobPlan.generator_args` and ``sampling_args``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from sapt_core.errors import SaptError, check_keys
from sapt_core.methods.keys import FRACTION, POSITIVE, check_mapping, key


@dataclass
class LoraGenerator:
    r: int = key(8, "LoRA rank of B_ref (App. C: 8)", POSITIVE)
    alpha: int = key(32, "LoRA alpha", POSITIVE)
    dropout: float = key(0.1, "LoRA dropout", FRACTION)
    optimizer: Literal["adamw", "adafactor"] = key("adamw", "optimizer (App. C: AdamW)")
    lr: float = key(1.0e-3, "learning rate, constant (App. C: 1e-3)", POSITIVE)
    max_steps: int = key(5000, "optimizer steps (App. C: 5k)", POSITIVE)
    batch_size: int = key(16, "batch size (App. C: 16)", POSITIVE)
    max_source_len: int = key(8, "source tokens: the [Gen] marker (official: 5, with the marker one added token; "
                                 "our plain-text marker takes several pieces)", POSITIVE)
    max_target_len: int = key(512, "target tokens: instruction + input", POSITIVE)


@dataclass
class PromptGenerator:
    length: int = key(300, "prompt length of B_ref (App. C: 300)", POSITIVE)
    epochs: int = key(80, "epochs (App. C: 80)", POSITIVE)
    optimizer: Literal["adamw", "adafactor"] = key("adafactor", "optimizer (App. C: Adafactor)")
    lr: float = key(0.5, "learning rate (App. C: 0.5)", POSITIVE)
    batch_size: int = key(16, "batch size (App. C: 16)", POSITIVE)
    max_source_len: int = key(8, "source tokens: the [Gen] marker", POSITIVE)
    max_target_len: int = key(512, "target tokens: instruction + input", POSITIVE)


@dataclass
class Sampling:
    do_sample: bool = key(True, "sample with top-k (false: greedy decoding, or beam search when num_beams > 1)")
    top_k: int = key(20, "top-k: sample among the k likeliest tokens (with do_sample)", POSITIVE)
    repetition_penalty: float = key(2.5, "repetition penalty (1: none)", POSITIVE)
    num_beams: int = key(1, "beams (> 1: beam search, or beam sampling with do_sample)", POSITIVE)
    max_new_tokens: int = key(512, "new tokens per sampled text", POSITIVE)


GENERATORS = {"lora": LoraGenerator, "prompt": PromptGenerator}


def generator_settings(doc: dict, where: str) -> dict:
    """``{pet: {<keys>..., "sampling": {...}}}`` for both PET types: the dataclass defaults with ``doc``'s values on
    top (``doc`` = methods.yaml's ``generator`` section, validated key by key)."""
    check_keys(doc, GENERATORS, where, "generator")
    out = {}
    for pet, cls in GENERATORS.items():
        spec = dict(doc.get(pet) or {})
        sampling = spec.pop("sampling", None) or {}
        if not isinstance(sampling, dict):
            raise SaptError(f"{where}.{pet}.sampling: expected a mapping, got {sampling!r}")
        values = {**dataclasses.asdict(cls()), **check_mapping(cls, spec, f"{where}.{pet}")}
        values["sampling"] = {**dataclasses.asdict(Sampling()), **check_mapping(Sampling, sampling,
                                                                                f"{where}.{pet}.sampling")}
        out[pet] = values
    return out
