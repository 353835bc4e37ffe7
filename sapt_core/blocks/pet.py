"""Single parameter-efficient tuning (PET) blocks through peft: one LoRA (Appendix A, Eq. 7: h = W0 x + B A x) or one
soft prompt (prompt tuning, Lester et al. 2021: P prepended to the input embeddings, initialised from sampled
vocabulary embeddings).

LoRA sites are the backbone's (:mod:`sapt_core.blocks.sites`, config ``backbones.<name>.lora_sites``); by default they
follow the official code (docs/official_code.md §2): q and v of every attention module (T5: encoder self, decoder self
and cross attention; LLaMA: ``q_proj``/``v_proj`` of every layer).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sapt_core.errors import SaptError

PET_TYPES = ("lora", "prompt")  # the generator's block types (the methods' blocks: sapt_core.blocks.model)


@dataclass
class PetConfig:
    type: str = "lora"
    lora_r: int = 8
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    prompt_len: int = 10
    targets: list[str] = field(default_factory=list)

    def validate(self) -> "PetConfig":
        if self.type not in PET_TYPES:
            raise SaptError(f"pet type: expected one of {', '.join(PET_TYPES)}, got {self.type!r}")
        for name in ("lora_r", "lora_alpha", "prompt_len"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise SaptError(f"pet {name}: expected a positive integer, got {getattr(self, name)!r}")
        if not 0.0 <= float(self.lora_dropout) < 1.0:
            raise SaptError(f"pet lora_dropout: expected a number in [0, 1), got {self.lora_dropout!r}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def attach_pet(model, family: str, cfg: PetConfig, seed: int):
    """Wrap ``model`` with one fresh peft block; the backbone is frozen, only the block trains."""
    import torch
    from peft import LoraConfig, PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

    cfg.validate()
    task_type = TaskType.SEQ_2_SEQ_LM if family == "t5" else TaskType.CAUSAL_LM
    torch.manual_seed(seed)
    if cfg.type == "lora":
        from sapt_core.blocks.sites import peft_targets, resolve, sites_of

        cfg.targets = list(cfg.targets or sites_of(model, family))
        resolve(model, cfg.targets, getattr(model, "name_or_path", "") or family)  # one line before peft's error
        peft_cfg = LoraConfig(task_type=task_type, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                              lora_dropout=cfg.lora_dropout, target_modules=peft_targets(cfg.targets))
    else:
        # one prompt, prepended to the encoder input only (peft's seq2seq default would add a decoder prompt too)
        peft_cfg = PromptTuningConfig(task_type=task_type, num_virtual_tokens=cfg.prompt_len,
                                      prompt_tuning_init=PromptTuningInit.SAMPLE_VOCAB,
                                      num_transformer_submodules=1)
    return get_peft_model(model, peft_cfg)


def pet_state(peft_model) -> dict:
    """The block's tensors only (peft's adapter state dict)."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().clone() for k, v in get_peft_model_state_dict(peft_model).items()}


def load_pet_state(peft_model, tensors: dict) -> None:
    from peft import set_peft_model_state_dict

    result = set_peft_model_state_dict(peft_model, tensors)
    # peft loads a prompt's "prompt_embeddings" into the prompt encoder itself and still reports it as unexpected
    unexpected = [k for k in (getattr(result, "unexpected_keys", []) or []) if k != "prompt_embeddings"]
    if unexpected:
        raise SaptError(f"PET weights do not fit this backbone (unexpected keys, e.g. {unexpected[0]})")
