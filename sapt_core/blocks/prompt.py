"""Multi-block soft prompt of SAPT-Prompt (paper section 4.2, Appendix A): P = sum_i a_i P_i, P_i in R^{L x d},
prepended to the input embeddings with the attention mask extended by ones. Each new P_i is initialised from the
embeddings of uniformly sampled vocabulary tokens (Lester et al. 2021). Earlier prompts are frozen buffers. Prompts
are float32 whatever the backbone's dtype; the model casts the mixed prompt to the embeddings' dtype.

``concatenated`` is Progressive Prompts (Razdaibiedina et al., 2023): no mixing, [P_t; P_{t-1}; ...; P_1] (newest first)
prepended to every input, so the input grows by L tokens per task.
"""

from __future__ import annotations

import torch
from torch import nn


class MultiBlockPrompt(nn.Module):
    def __init__(self, embedding: nn.Embedding, n_blocks: int, length: int, generator: torch.Generator | None = None):
        super().__init__()
        d = embedding.weight.shape[1]
        w = embedding.weight
        self.register_buffer("prev_prompts", torch.zeros(n_blocks - 1, length, d, dtype=torch.float32,
                                                         device=w.device))
        ids = torch.randint(0, w.shape[0], (length,), generator=generator)
        self.prompt = nn.Parameter(w.detach()[ids.to(w.device)].float().clone())

    @property
    def stacked(self) -> torch.Tensor:
        return torch.cat([self.prev_prompts, self.prompt[None]])           # [t, L, d]

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """[B, t] block weights -> [B, L, d] mixed prompt."""
        return torch.einsum("bt,tld->bld", w.to(self.prompt.dtype), self.stacked)

    def concatenated(self, batch: int) -> torch.Tensor:
        """[B, t*L, d]: every prompt, newest first (Progressive Prompts)."""
        p = torch.cat(list(self.stacked.flip(0)), dim=0)                     # [t*L, d]
        return p[None].expand(batch, -1, -1)
