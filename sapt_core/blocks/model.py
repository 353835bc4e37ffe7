"""A frozen backbone with t PET blocks mixed per input (paper section 4.2, Eq. 3): the model every block method
trains.

The blocks are LoRA on the backbone's LoRA sites, by default q and v of every attention module
(:mod:`sapt_core.blocks.lora`, Appendix A Eq. 7; other sites: :mod:`sapt_core.blocks.sites`) or soft prompts
prepended to the input embeddings (:mod:`sapt_core.blocks.prompt`). Per batch a **router** (the method's) gives
every input a weight vector a [B, t] over the blocks: SAPT's shared attention (Eq. 1-2), all ones (O-LoRA's sum,
Progressive Prompts' concatenation, a single block), EPI's task selection, a separate selector (Table 2's ablations).
The router sees the prompt's token ids (T5: the source; LLaMA: the prompt without the answer), is computed once per
input and reused by every layer and decoding step. Only the newest block is trainable; earlier blocks are frozen
buffers, and the backbone is frozen.

Every block and router tensor is created in float32 whatever the backbone's dtype, and the blocks compute in the
backbone's dtype (:mod:`sapt_core.blocks.lora`, :mod:`sapt_core.blocks.prompt`), so an optimizer step of a bf16
backbone updates fp32 weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from sapt_core.blocks.lora import MixingContext, inject_lora_blocks
from sapt_core.blocks.pet import PET_TYPES as PETS
from sapt_core.blocks.prompt import MultiBlockPrompt
from sapt_core.models.label_window import keep_labelled

COMBINES = ("mix", "concat")
BLOCK_MARKERS = ("lora_A", "lora_B", "prev_A", "prev_B")  # LoRA tensors inside the backbone's modules


@dataclass(frozen=True)
class BlockSpec:
    """The blocks of a model: PET type, how many, their sizes, and how prompts combine (``mix``: sum_i a_i P_i;
    ``concat``: every prompt prepended, newest first)."""

    pet: str = "lora"
    n_blocks: int = 1
    lora_r: int = 8
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_mixing: str = "output"
    prompt_len: int = 10
    combine: str = "mix"

    def to_dict(self) -> dict:
        return asdict(self)


class UniformRouter(nn.Module):
    """Every block with weight 1: O-LoRA's sum, Progressive Prompts' concatenation, a single carried block."""

    def __init__(self, d_model: int | None = None):
        super().__init__()

    def forward(self, model: "BlockModel", query_ids: torch.Tensor, query_mask: torch.Tensor | None) -> torch.Tensor:
        return torch.ones(query_ids.shape[0], model.spec.n_blocks, device=query_ids.device)


class BlockModel(nn.Module):
    generate_returns_new_tokens_only = True
    accepts_loss_kwargs = False  # HF Trainer divides the loss by gradient accumulation

    def __init__(self, backbone: nn.Module, family: str, spec: BlockSpec, make_router=UniformRouter, seed: int = 0):
        """``make_router(d_model)`` builds the router; it and the blocks draw their initial values, in that order,
        from ``torch.manual_seed(seed)`` without touching the global random state."""
        super().__init__()
        if spec.pet not in PETS or spec.combine not in COMBINES or spec.n_blocks < 1:
            raise ValueError(f"blocks: expected pet in {PETS}, combine in {COMBINES}, n_blocks >= 1, got {spec}")
        self.model, self.family, self.spec = backbone, family, spec
        for p in backbone.parameters():
            p.requires_grad_(False)
        self.d_model = int(getattr(backbone.config, "d_model", None) or backbone.config.hidden_size)
        gen = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.router = make_router(self.d_model)
            self.ctx = MixingContext()
            self.sites = {}
            if spec.pet == "lora":
                self.sites = inject_lora_blocks(backbone, family, spec.n_blocks, spec.lora_r, spec.lora_alpha,
                                                spec.lora_dropout, self.ctx, spec.lora_mixing)
            else:
                self.prompts = MultiBlockPrompt(backbone.get_input_embeddings(), spec.n_blocks, spec.prompt_len, gen)
        self.router.to(device=backbone.device)
        self.config = backbone.config  # lets HF Trainer read model attributes
        self.last_weights = None

    # ---- routing ------------------------------------------------------------------------------------------------
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.get_input_embeddings()(ids)

    def route(self, query_ids: torch.Tensor, query_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Block weights a [B, t] for a batch of prompts."""
        return self.router(self, query_ids, query_mask)

    def _prepare(self, input_ids, attention_mask, query_ids, query_mask, labels=None):
        w = self.route(input_ids if query_ids is None else query_ids,
                       attention_mask if query_ids is None else query_mask)
        self.ctx.weights = w
        self.last_weights = w.detach()
        kwargs = {"attention_mask": attention_mask}
        if self.spec.pet == "prompt":
            embeds = self.embed(input_ids)
            p = (self.prompts.concatenated(w.shape[0]) if self.spec.combine == "concat" else self.prompts(w))
            kwargs["inputs_embeds"] = torch.cat([p.to(embeds.dtype), embeds], dim=1)
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
        kwargs = self._prepare(input_ids, attention_mask, query_ids, query_mask, labels)
        return self.model(**keep_labelled(self.model, kwargs))

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

    # ---- blocks as tensors --------------------------------------------------------------------------------------
    def block_tensors(self) -> dict[str, torch.Tensor]:
        """``lora.<site>.A`` [t, r, in] / ``lora.<site>.B`` [t, out, r], or ``prompt.P`` [t, L, d]; oldest first."""
        out = {}
        for name, site in self.sites.items():
            out[f"lora.{name}.A"], out[f"lora.{name}.B"] = site.stacked()
        if self.spec.pet == "prompt":
            out["prompt.P"] = self.prompts.stacked
        return {k: v.detach().contiguous().cpu() for k, v in out.items()}

    def load_blocks(self, tensors: dict[str, torch.Tensor]) -> int:
        """Load stored blocks: all into the frozen slots when the state holds t-1 of this model's t blocks (a new
        task), or the first t-1 frozen and the last into the trainable slot when it holds t. Returns how many."""
        key = "prompt.P" if self.spec.pet == "prompt" else next((f"lora.{n}.A" for n in self.sites), None)
        if key not in tensors:
            from sapt_core.errors import SaptError

            raise SaptError(f"state holds no {self.spec.pet} blocks for this backbone (expected tensor {key!r})")
        n, t = tensors[key].shape[0], self.spec.n_blocks
        if t not in (n, n + 1):
            from sapt_core.errors import SaptError

            raise SaptError(f"state holds {n} blocks, the model has {t} (expected {n} or {n + 1})")

        def split(x: torch.Tensor, prev: torch.Tensor, cur: torch.nn.Parameter):
            prev.copy_(x[: t - 1].to(prev))
            if n == t:
                cur.data.copy_(x[t - 1].to(cur))

        with torch.no_grad():
            for name, site in self.sites.items():
                split(tensors[f"lora.{name}.A"], site.prev_A, site.lora_A)
                split(tensors[f"lora.{name}.B"], site.prev_B, site.lora_B)
            if self.spec.pet == "prompt":
                split(tensors["prompt.P"], self.prompts.prev_prompts, self.prompts.prompt)
        return n

    def own_state(self) -> dict[str, torch.Tensor]:
        """The method's tensors (blocks and router), not the frozen backbone: what in-job checkpoints hold."""
        return {k: v for k, v in self.state_dict().items()
                if not k.startswith("model.") or any(m in k for m in BLOCK_MARKERS)}
