"""Shared attention of SALS (paper section 4.1, Eq. 1-2).

    q   = Proj(Pool(E(x)))                        Eq. 1: E = the backbone's input token embeddings, Pool = max over
                                                  the sequence, Proj = the query projection d -> d_p -> d
    a_i = softmax_i( <k_i, q> / T )                Eq. 2: one learnable key k_i per PET block, temperature T

Computed once per input; every LoRA site (and, for T5, every decoder generation step) reuses the same weights.

Block order is oldest-first (index i = task i+1). The official code orders keys newest-first and zero-pads stored
attention vectors at the front; both conventions give the same model, ours keeps indices equal to task positions.
Switches (defaults = the official code, docs/official_code.md §1):
- ``projection_order``: ``official`` Linear(d,d_p) -> Linear(d_p,d) -> SiLU -> LayerNorm (no bias), or ``paper``
  Linear -> SiLU -> Linear -> LayerNorm.
- ``pool_mask_pads``: False = pad embeddings enter the max (official); True = pads masked out.
"""

from __future__ import annotations

import math

import torch
from torch import nn

PROJECTION_ORDERS = ("official", "paper")


def temperature_for(spec, d_model: int) -> float:
    """T of Eq. 2: ``sqrt_d`` (LoRA, Appendix C), ``d_e`` (the prompt variant as Appendix C writes it: d x e) or a
    positive number (numeric strings from the CLI too)."""
    if spec == "sqrt_d":
        return math.sqrt(d_model)
    if spec == "d_e":
        return d_model * math.e
    value = float(spec)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"temperature: expected sqrt_d, d_e or a positive number, got {spec!r}")
    return value


class QueryProjection(nn.Module):
    """Proj of Eq. 1 (the official code's ``trans_input``)."""

    def __init__(self, d_model: int, d_p: int = 100, order: str = "official"):
        super().__init__()
        if order not in PROJECTION_ORDERS:
            raise ValueError(f"projection_order: expected one of {PROJECTION_ORDERS}, got {order!r}")
        self.order = order
        self.down = nn.Linear(d_model, d_p, bias=False)
        self.up = nn.Linear(d_p, d_model, bias=False)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.order == "official":
            return self.norm(nn.functional.silu(self.up(self.down(x))))
        return self.norm(self.up(nn.functional.silu(self.down(x))))


def max_pool(embeds: torch.Tensor, mask: torch.Tensor | None, mask_pads: bool) -> torch.Tensor:
    """Element-wise max over the sequence axis: [B, S, d] -> [B, d]."""
    if mask_pads and mask is not None:
        embeds = embeds.masked_fill(~mask.bool().unsqueeze(-1), torch.finfo(embeds.dtype).min)
    return embeds.max(dim=1).values


class SharedAttention(nn.Module):
    """Keys k_1..k_t and the query projection; only the newest key (and the projection) is trainable."""

    def __init__(self, d_model: int, n_blocks: int, d_p: int = 100, temperature: float | None = None,
                 projection_order: str = "official", pool_mask_pads: bool = False):
        super().__init__()
        if n_blocks < 1:
            raise ValueError("n_blocks must be >= 1")
        self.d_model, self.n_blocks = d_model, n_blocks
        self.temperature = float(temperature if temperature is not None else math.sqrt(d_model))
        self.pool_mask_pads = pool_mask_pads
        self.proj = QueryProjection(d_model, d_p, projection_order)
        self.register_buffer("prev_keys", torch.zeros(n_blocks - 1, d_model))
        self.key = nn.Parameter(torch.empty(1, d_model).uniform_(-1.0, 1.0))  # U(-1, 1), as the official code

    @property
    def keys(self) -> torch.Tensor:
        return torch.cat([self.prev_keys, self.key], dim=0)

    def query(self, embeds: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.proj(max_pool(embeds, mask, self.pool_mask_pads))

    def logits_from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """<k_i, Proj(pooled)> / T for already pooled embeddings [B, d] -> [B, t]."""
        return self.proj(pooled) @ self.keys.t() / self.temperature

    def logits(self, embeds: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.logits_from_pooled(max_pool(embeds, mask, self.pool_mask_pads))

    def forward(self, embeds: torch.Tensor | None = None, mask: torch.Tensor | None = None, *,
                pooled: torch.Tensor | None = None) -> torch.Tensor:
        """Attention weights a [B, t] over the blocks (Eq. 2); with ``pooled`` (already max-pooled embeddings [B, d])
        the logits [B, t] instead (ARM's KL). Both through the module call: DeepSpeed ZeRO-3 fetches a module's
        partitioned parameters (``key``) only around its ``forward``. The query is computed in the module's own
        dtype (float32), whatever the backbone's embeddings are in; the weights come back in the embeddings' dtype."""
        dtype = self.key.dtype
        if pooled is not None:
            return self.logits_from_pooled(pooled.to(dtype))
        pooled = max_pool(embeds, mask, self.pool_mask_pads).to(dtype)
        return torch.softmax(self.logits_from_pooled(pooled).float(), dim=-1).to(embeds.dtype)


class AttentionRouter(nn.Module):
    """The shared attention as the block router of a :class:`~sapt_core.blocks.model.BlockModel`: a [B, t] of Eq. 2
    from the prompt's token embeddings. ``temperature`` is a spec (``sqrt_d``, ``d_e`` or a number)."""

    def __init__(self, d_model: int, n_blocks: int, d_p: int = 100, temperature="sqrt_d",
                 projection_order: str = "official", pool_mask_pads: bool = False):
        super().__init__()
        self.attention = SharedAttention(d_model, n_blocks, d_p, temperature_for(temperature, d_model),
                                         projection_order, pool_mask_pads)

    def forward(self, model, query_ids: torch.Tensor, query_mask: torch.Tensor | None) -> torch.Tensor:
        return self.attention(model.embed(query_ids), query_mask)
