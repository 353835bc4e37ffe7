"""Multi-block LoRA of SAPT-LoRA (paper Eq. 3, Appendix A Eq. 7), with per-input block weights a [B, t].

Output-level mixing (official code, docs/official_code.md §2; default):   h = W0 x + s * sum_i a_i B_i A_i x
Parameter-level mixing (paper Eq. 3 read literally):       h = W0 x + s * (sum_i a_i B_i)(sum_i a_i A_i) x

All t blocks of a site are stacked, so output-level mixing is two matmuls whatever t is:
x [B,S,in] @ A_cat^T [in, t*r] -> scale each block's r columns by a_i -> @ B_cat [t*r, out]. Earlier blocks are
buffers (frozen); only the newest block ``lora_A``/``lora_B`` is a parameter. Init as peft/the official code:
A ~ Kaiming-uniform(a=sqrt(5)), B = 0, scaling s = alpha / r.

Blocks are float32 whatever the backbone's dtype (an optimizer update of a bf16 weight is rounded away once
|w| >> lr); the mixing runs in the input's dtype (bf16 compute on a bf16 backbone), so gradients reach the fp32
weights through the cast.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sapt_core.blocks.sites import DEFAULT_SITES as LORA_SITES  # noqa: F401 (the family defaults)

MIXINGS = ("output", "parameter")


class MixingContext:
    """Holds the block weights of the current batch; set once per input by the model, read by every site."""

    weights: torch.Tensor | None = None


class MultiBlockLoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, n_blocks: int, r: int, alpha: int, dropout: float, ctx: MixingContext,
                 mixing: str = "output"):
        super().__init__()
        if mixing not in MIXINGS:
            raise ValueError(f"lora_mixing: expected one of {MIXINGS}, got {mixing!r}")
        self.base, self.ctx, self.mixing = base, ctx, mixing
        self.r, self.scaling = r, alpha / r
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        d_in, d_out = base.in_features, base.out_features
        dev, dt = base.weight.device, torch.float32
        self.register_buffer("prev_A", torch.zeros(n_blocks - 1, r, d_in, device=dev, dtype=dt))
        self.register_buffer("prev_B", torch.zeros(n_blocks - 1, d_out, r, device=dev, dtype=dt))
        self.lora_A = nn.Parameter(torch.empty(r, d_in, device=dev, dtype=dt))
        self.lora_B = nn.Parameter(torch.zeros(d_out, r, device=dev, dtype=dt))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    @property
    def n_blocks(self) -> int:
        return self.prev_A.shape[0] + 1

    def stacked(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A [t, r, in], B [t, out, r], oldest block first."""
        return torch.cat([self.prev_A, self.lora_A[None]]), torch.cat([self.prev_B, self.lora_B[None]])

    def delta(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        A, B = self.stacked()
        if A.dtype != x.dtype:  # fp32 blocks, backbone-dtype compute
            A, B = A.to(x.dtype), B.to(x.dtype)
        t, r, d_in = A.shape
        x = self.dropout(x)
        w = w.to(x.dtype)
        if self.mixing == "output":
            h = x @ A.reshape(t * r, d_in).t()                                   # [B, S, t*r]
            h = (h.unflatten(-1, (t, r)) * w[:, None, :, None]).flatten(-2)    # a_i scales block i
            return (h @ B.permute(0, 2, 1).reshape(t * r, -1)) * self.scaling  # [B, S, out]
        A_mix = torch.einsum("bt,tri->bri", w, A)
        B_mix = torch.einsum("bt,tor->bor", w, B)
        return torch.bmm(torch.bmm(x, A_mix.transpose(1, 2)), B_mix.transpose(1, 2)) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.ctx.weights
        if w is None:
            raise RuntimeError("MultiBlockLoRALinear called without block weights (route the batch first)")
        return self.base(x) + self.delta(x, w)


def inject_lora_blocks(model: nn.Module, family: str, n_blocks: int, r: int, alpha: int, dropout: float,
                       ctx: MixingContext, mixing: str = "output") -> dict[str, MultiBlockLoRALinear]:
    """Replace every LoRA site of the backbone (:mod:`sapt_core.blocks.sites`; by default the q/v projections of
    every attention module, docs/official_code.md §2) with a multi-block LoRA layer, in the model's module order."""
    from sapt_core.blocks.sites import resolve, sites_of

    sites = {}
    for path, child in resolve(model, sites_of(model, family), getattr(model, "name_or_path", "") or family):
        parent_name, _, child_name = path.rpartition(".")
        layer = MultiBlockLoRALinear(child, n_blocks, r, alpha, dropout, ctx, mixing)
        setattr(model.get_submodule(parent_name), child_name, layer)
        sites[path] = layer
    return sites


def per_block_loop(x: torch.Tensor, w: torch.Tensor, A: torch.Tensor, B: torch.Tensor, scaling: float) -> torch.Tensor:
    """Reference: sum_i a_i * s * B_i A_i x with one LoRA forward per block (the official code's approach)."""
    out = 0
    for i in range(A.shape[0]):
        out = out + w[:, i, None, None] * ((x @ A[i].t()) @ B[i].t()) * scaling
    return out
