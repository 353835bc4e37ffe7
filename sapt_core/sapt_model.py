"""SAPT model = frozen backbone + t PET blocks (LoRA or prompt) mixed per input by shared attention (SALS, section 4.1).

``SaptModel.forward`` routes the batch once (Eq. 1-2) from the input token embeddings of the *prompt* (T5: the
source; LLaMA: the prompt without the answer, facts 2.1), stores the weights in a context that every LoRA site
reads, and runs the backbone. ``generate`` routes once and every decoding step reuses the weights.
Only block t, key t and the query projection are trainable (facts 2.6).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from sapt_core.lora_blocks import MixingContext, inject_lora_blocks
from sapt_core.prompt_blocks import MultiBlockPrompt
from sapt_core.shared_attention import SharedAttention, temperature_for

# names of SAPT's own tensors inside the model's state_dict (everything else is the frozen backbone)
OWN_MARKERS = ("lora_A", "lora_B", "prev_A", "prev_B", "attention.", "prompts.", "selector.")


# routing -> the PET types it applies to
ROUTINGS = {"attention": ("lora", "prompt"), "sum": ("lora",), "concat": ("prompt",), "epi": ("prompt",),
            "pipeline": ("lora", "prompt"), "top1": ("lora", "prompt")}


@dataclass
class SaptConfig:
    pet: str = "lora"                   # lora | prompt
    n_blocks: int = 1
    lora_r: int = 8
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_mixing: str = "output"         # output (official) | parameter (paper Eq. 3 literal)
    prompt_len: int = 10
    d_p: int = 100
    temperature: str | float = "sqrt_d"  # sqrt_d (LoRA) | d_e (prompt, Appendix C) | a number
    projection_order: str = "official"  # official | paper
    pool_mask_pads: bool = False        # official: pads enter the max-pool
    routing: str = "attention"          # attention (SAPT, Eq. 2) | sum (O-LoRA: every block with weight 1) |
    #                                     concat (ProgPrompt: all prompts prepended, newest first) |
    #                                     epi (EPI: one prompt per input, picked by Mahalanobis task selection) |
    #                                     pipeline (-Alignment) / top1 (-DA): a separate selector at test time

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> "SaptConfig":
        """PET type and routing, and which routing applies to which PET type (ValueError naming the field)."""
        if self.pet not in ("lora", "prompt"):
            raise ValueError(f"pet: expected lora or prompt, got {self.pet!r}")
        if self.routing not in ROUTINGS:
            raise ValueError(f"routing: expected one of {', '.join(ROUTINGS)}, got {self.routing!r}")
        if self.pet not in ROUTINGS[self.routing]:
            raise ValueError(f"routing {self.routing!r} does not apply to {self.pet} blocks "
                             f"({'; '.join(f'{r}: {chr(44).join(p)}' for r, p in ROUTINGS.items())})")
        return self


class SaptModel(nn.Module):
    generate_returns_new_tokens_only = True
    accepts_loss_kwargs = False  # HF Trainer divides the loss by gradient accumulation

    def __init__(self, backbone: nn.Module, family: str, cfg: SaptConfig, seed: int = 0):
        super().__init__()
        self.model, self.family, self.cfg = backbone, family, cfg.validate()
        for p in backbone.parameters():
            p.requires_grad_(False)
        d = int(getattr(backbone.config, "d_model", None) or backbone.config.hidden_size)
        gen = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.attention = SharedAttention(d, cfg.n_blocks, cfg.d_p, temperature_for(cfg.temperature, d),
                                             cfg.projection_order, cfg.pool_mask_pads)
            self.ctx = MixingContext()
            self.sites = {}
            if cfg.pet == "lora":
                self.sites = inject_lora_blocks(backbone, family, cfg.n_blocks, cfg.lora_r, cfg.lora_alpha,
                                                cfg.lora_dropout, self.ctx, cfg.lora_mixing)
            else:
                self.prompts = MultiBlockPrompt(backbone.get_input_embeddings(), cfg.n_blocks, cfg.prompt_len, gen)
        if cfg.routing == "epi":
            from sapt_core.epi import EpiStats

            self.epi = EpiStats(d)
        if cfg.routing in ("pipeline", "top1"):
            from sapt_core.selector import Selector

            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + 1)
                self.selector = Selector(d, cfg.n_blocks, cfg.d_p, temperature_for(cfg.temperature, d),
                                         cfg.projection_order, cfg.pool_mask_pads)
            self.selector.to(device=backbone.device)
        self.attention.to(device=backbone.device, dtype=backbone.dtype)
        self.config = backbone.config  # lets HF Trainer read model attributes

    # ---- routing ------------------------------------------------------------------------------------------------
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.get_input_embeddings()(ids)

    def route(self, query_ids: torch.Tensor, query_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Block weights a [B, t] of Eq. 2 for a batch of prompts (no transformer forward); all ones for ``sum``."""
        routing, n = self.cfg.routing, self.cfg.n_blocks
        dtype = self.attention.proj.down.weight.dtype

        def one_hot(idx):  # EPI and -DA: a single block per input (default: the newest, block t)
            if idx is None:
                idx = torch.full((query_ids.shape[0],), n - 1, device=query_ids.device)
            return nn.functional.one_hot(idx, n).to(dtype)

        if routing == "epi":  # training (task known): the newest prompt; testing: EPI's selected task
            if self.training or int(self.epi.n_tasks) < n:
                return one_hot(None)
            from sapt_core.epi import frozen_features

            idx = self.epi.select(frozen_features(self.model, self.family, query_ids, query_mask
                                                  if query_mask is not None else torch.ones_like(query_ids)))
            return one_hot(idx)
        if routing in ("pipeline", "top1"):  # ablations: learning and selection not aligned (selector.py)
            if not self.training and int(self.selector.n_fitted) >= n:  # test time: the separate selector
                return self.selector.weights(self.embed(query_ids), query_mask, routing == "top1")
            if routing == "top1":  # -DA learning: block t alone
                return one_hot(None)
        elif routing in ("sum", "concat"):
            return torch.ones(query_ids.shape[0], n, device=query_ids.device, dtype=dtype)
        return self.attention(self.embed(query_ids), query_mask)

    def _prepare(self, input_ids, attention_mask, query_ids, query_mask, labels=None):
        w = self.route(input_ids if query_ids is None else query_ids,
                       attention_mask if query_ids is None else query_mask)
        self.ctx.weights = w
        self.last_weights = w.detach()
        kwargs = {"attention_mask": attention_mask}
        if self.cfg.pet == "prompt":
            p = self.prompts.concatenated(w.shape[0]) if self.cfg.routing == "concat" else self.prompts(w)
            kwargs["inputs_embeds"] = torch.cat([p, self.embed(input_ids)], dim=1)
            ones = attention_mask.new_ones(p.shape[:2])
            kwargs["attention_mask"] = torch.cat([ones, attention_mask], dim=1)
            if labels is not None and self.family != "t5":
                labels = torch.cat([labels.new_full(p.shape[:2], -100), labels], dim=1)
        else:
            kwargs["input_ids"] = input_ids
        if labels is not None:
            kwargs["labels"] = labels
        return kwargs

    def forward(self, input_ids, attention_mask=None, labels=None, query_ids=None, query_mask=None):
        # no **kwargs on purpose: HF Trainer then scales the loss by gradient accumulation itself
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        return self.model(**self._prepare(input_ids, attention_mask, query_ids, query_mask, labels))

    @torch.no_grad()
    def generate(self, input_ids, attention_mask=None, **kw):
        """Greedy/sampled generation; returns only the generated tokens for both families."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        kwargs = self._prepare(input_ids, attention_mask, None, None)
        out = self.model.generate(**kwargs, **kw)
        if self.family != "t5" and "input_ids" in kwargs:
            out = out[:, input_ids.shape[1]:]
        return out

    # ---- parameters and state ------------------------------------------------------------------------------------
    def trainable_parameters(self) -> dict[str, nn.Parameter]:
        return {n: p for n, p in self.named_parameters() if p.requires_grad}

    def own_state(self) -> dict[str, torch.Tensor]:
        """SAPT's tensors only (blocks, keys, projection): what checkpoints and step states hold."""
        return {k: v for k, v in self.state_dict().items() if any(m in k for m in OWN_MARKERS)}
