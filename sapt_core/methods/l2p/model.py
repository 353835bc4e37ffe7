"""L2P, Learning to Prompt (Wang et al., 2022b; paper section 5.2), adapted to generative T5/LLaMA as in SAPT's setting.

A pool of M prompts P_m (length L, vocabulary-initialised) with learnable keys k_m (U(-1, 1)). For an input x:

    q(x)   = mean over x's tokens of the frozen backbone's last hidden states (T5: encoder; LLaMA: decoder, no prompt)
    s_m    = cos(q(x), k_m);   K_x = the top-N m by s_m
    input  = [P_{K_x[0]}; ...; P_{K_x[N-1]}; x]          (selected prompts, most similar first, prepended)
    loss   = LM loss - c * mean_{m in K_x} s_m             (the pull-key term; c = 0.5 in EPI's text L2P, 1.0 official)

The same selection runs at test time (per instance; no task id). One pool is shared by all tasks and keeps training
across the sequence. ``last_weights`` holds the multi-hot selection [B, M] (for the selection-frequency output).
"""

from __future__ import annotations

import torch
from torch import nn

from sapt_core.models.label_window import keep_labelled


class L2PModel(nn.Module):
    generate_returns_new_tokens_only = True
    accepts_loss_kwargs = False

    def __init__(self, backbone: nn.Module, family: str, pool_size: int, prompt_len: int, top_n: int,
                 pull_weight: float, seed: int = 0):
        super().__init__()
        if min(pool_size, prompt_len, top_n) <= 0 or top_n > pool_size or pull_weight < 0:
            raise ValueError(f"L2P: expected 0 < top_n <= pool_size, prompt_len > 0 and pull_weight >= 0, got "
                             f"pool {pool_size}, top_n {top_n}, length {prompt_len}, pull {pull_weight}")
        self.model, self.family = backbone, family
        self.pool_size, self.top_n, self.pull_weight = pool_size, top_n, pull_weight
        for p in backbone.parameters():
            p.requires_grad_(False)
        emb = backbone.get_input_embeddings().weight
        g = torch.Generator().manual_seed(seed)
        ids = torch.randint(0, emb.shape[0], (pool_size, prompt_len), generator=g)
        self.prompts = nn.Parameter(emb.detach()[ids.to(emb.device)].float().clone())        # [M, L, d], fp32
        self.keys = nn.Parameter(torch.empty(pool_size, emb.shape[1]).uniform_(-1.0, 1.0, generator=g)
                                 .to(device=emb.device))
        self.config = backbone.config
        self.last_weights = None
        self._pull = None

    def query(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled last hidden states of the frozen backbone without prompts [B, d]."""
        from sapt_core.methods.epi.router import frozen_features

        return frozen_features(self.model, self.family, ids, mask).to(self.keys.dtype)

    def select(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-N prompt indices [B, N] by cosine similarity, and those similarities (differentiable in the keys)."""
        sim = nn.functional.cosine_similarity(q[:, None, :], self.keys[None], dim=-1)       # [B, M]
        top = sim.topk(self.top_n, dim=-1)
        return top.indices, top.values

    def _prepare(self, input_ids, attention_mask, query_ids, query_mask, labels=None):
        q = self.query(input_ids if query_ids is None else query_ids,
                       attention_mask if query_ids is None else query_mask)
        idx, sims = self.select(q)
        self._pull = sims.mean()
        self.last_weights = torch.zeros(idx.shape[0], self.pool_size, device=idx.device).scatter_(1, idx, 1.0)
        p = self.prompts[idx].flatten(1, 2)                                                    # [B, N*L, d]
        embeds = self.model.get_input_embeddings()(input_ids)
        kwargs = {"inputs_embeds": torch.cat([p.to(embeds.dtype), embeds], dim=1),
                  "attention_mask": torch.cat([attention_mask.new_ones(p.shape[:2]), attention_mask], dim=1)}
        if labels is not None:
            if self.family != "t5":
                labels = torch.cat([labels.new_full(p.shape[:2], -100), labels], dim=1)
            kwargs["labels"] = labels
        return kwargs

    def forward(self, input_ids, attention_mask=None, labels=None, query_ids=None, query_mask=None):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        kwargs = self._prepare(input_ids, attention_mask, query_ids, query_mask, labels)
        out = self.model(**keep_labelled(self.model, kwargs))
        if labels is not None and self.pull_weight > 0:
            out.loss = out.loss - self.pull_weight * self._pull
        return out

    @torch.no_grad()
    def generate(self, input_ids, attention_mask=None, **kw):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        return self.model.generate(**self._prepare(input_ids, attention_mask, None, None), **kw)

    def own_state(self) -> dict[str, torch.Tensor]:
        return {"l2p.prompts": self.prompts.detach().contiguous().cpu(),
                "l2p.keys": self.keys.detach().contiguous().cpu()}

    def load_own_state(self, tensors: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            self.prompts.copy_(tensors["l2p.prompts"].to(self.prompts))
            self.keys.copy_(tensors["l2p.keys"].to(self.keys))
