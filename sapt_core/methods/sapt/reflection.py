"""Attentive reflection (paper section 4.2, Eq. 5-6): keep the shared attention of earlier tasks in place.

After task i the mean attention of task i's inputs is stored: a_i = mean_x Attn(x) over t = i blocks (docs/official_code.md §4).
While learning task t, pseudo inputs of each earlier task i pass through embeddings -> pooling -> projection ->
attention only (no transformer forward) and

    L = L_task + lambda * sum_{i<t} KL(a_i padded with zeros for blocks i+1..t, a_hat_i)          (Eq. 5-6)

``direction``: ``target_first`` = KL(a_i || a_hat_i), what the official code computes (docs/official_code.md §3, default);
``paper`` = KL(a_hat_i || a_i) as Eq. 5 writes it; the zero-padded target then needs a floor (``eps``) inside the log.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sapt_core.methods.sapt.shared_attention import max_pool

KL_DIRECTIONS = ("target_first", "paper")


def kl_rows(logits: torch.Tensor, target: torch.Tensor, direction: str = "target_first",
            eps: float = 1e-8) -> torch.Tensor:
    """Per-row KL [B] between stored attention vectors ``target`` ([t] or [B, t]) and softmax(logits) [B, t]."""
    logp = F.log_softmax(logits.float(), dim=-1)
    tgt = target.float().to(logp.device).expand_as(logp)
    if direction == "target_first":
        per_row = torch.xlogy(tgt, tgt) - tgt * logp                    # a (log a - log a_hat), 0 log 0 = 0
    elif direction == "paper":
        per_row = logp.exp() * (logp - torch.log(tgt.clamp_min(eps)))
    else:
        raise ValueError(f"kl_direction: expected one of {KL_DIRECTIONS}, got {direction!r}")
    return per_row.sum(-1)


def kl_to_target(logits: torch.Tensor, target: torch.Tensor, direction: str = "target_first",
                 eps: float = 1e-8) -> torch.Tensor:
    """Batch-mean KL between a stored attention vector ``target`` [t] and the current attention softmax(logits) [B, t]
    (the official ``KLDivLoss(reduction="batchmean")``)."""
    return kl_rows(logits, target, direction, eps).mean()


def pad_target(a: torch.Tensor, t: int) -> torch.Tensor:
    """a_i (length i) zero-padded to the t current blocks (paper: positions (i, t] are 0)."""
    return torch.cat([a, a.new_zeros(t - a.shape[0])])


def reflection_loss(att, embed, batches: list[dict], targets: torch.Tensor,
                    direction: str = "target_first") -> torch.Tensor:
    """sum_i KL(target_i, current attention of task i's pseudo batch) for the shared attention ``att``
    (:class:`~sapt_core.methods.sapt.shared_attention.SharedAttention`); ``embed`` maps token ids to the backbone's input
    embeddings; ``targets`` [n_prev, t] (rows zero-padded).

    Embedding lookup and max-pool run per batch without autograd (the embeddings are frozen; each batch keeps its own
    padding, as the official code); the projection, the logits and the KL run once for all earlier tasks (Eq. 5).
    """
    device = att.key.device
    with torch.no_grad():
        pooled = [max_pool(embed(b["input_ids"].to(device)), b["attention_mask"].to(device), att.pool_mask_pads)
                  for b in batches]
    sizes = [p.shape[0] for p in pooled]
    logits = att(pooled=torch.cat(pooled))  # the module call (not .logits_from_pooled): ZeRO-3 gathers `key` for it
    tgt = torch.cat([targets[i].to(device).expand(n, -1) for i, n in enumerate(sizes)])
    per_row = kl_rows(logits, tgt, direction)
    # batch-mean per earlier task, summed over tasks (Eq. 5 with the official batchmean reduction)
    return torch.stack([chunk.mean() for chunk in per_row.split(sizes)]).sum()


@torch.no_grad()
def mean_attention(model, batches) -> torch.Tensor:
    """a_t: the mean block weights over all inputs of a task (instance mean; the official code averages batch means)."""
    total, n = None, 0
    device = next(model.parameters()).device
    for b in batches:
        w = model.route(b["input_ids"].to(device), b["attention_mask"].to(device)).float()
        total = w.sum(0) if total is None else total + w.sum(0)
        n += w.shape[0]
    return (total / n).cpu()
