"""A separate PET selector: the pipeline ablations of Table 2 (paper section 6.3).

SAPT uses ONE shared attention (Eq. 1-2) both to learn block t and to select blocks at test time. The ablations cut
that link; the blocks are then chosen at test time by a selector of the same form as Eq. 1-2 (a query projection of
the max-pooled input embeddings, one key per task, softmax / T) that is trained on its own after each step:

- ``-Alignment`` (routing ``pipeline``): block t is learned with shared attention as in SAPT (no ARM), and the mean
  weights a_t it gives task t's inputs are stored. The selector is then fitted to those weights on pseudo inputs of
  every seen task i <= t:   L_sel = sum_i mean_x KL(a_i padded to t || softmax(<k_j, q(x)> / T))   (Eq. 5's loss on
  a module of its own); test inputs are mixed with the selector's soft weights.
- ``-DA`` (routing ``top1``): block t is learned on task t alone (weight 1, no attention), so a_t is one-hot; the same
  loss then trains the selector to recognise the task (cross-entropy to one-hot targets), and each test input uses
  the selector's single most confident block.

The selector is refitted from its previous state on all seen tasks' pseudo inputs at every step (full batch: the
pooled embeddings are fixed because the backbone's embeddings are frozen).
"""

from __future__ import annotations

import torch
from torch import nn

from sapt_core.methods.sapt.reflection import kl_rows
from sapt_core.methods.sapt.shared_attention import QueryProjection, max_pool

SELECTOR_ROUTINGS = ("pipeline", "top1")


class Selector(nn.Module):
    """Query projection + one key per task, all trainable (only while it is being fitted)."""

    def __init__(self, d_model: int, n_tasks: int, d_p: int, temperature: float, projection_order: str = "official",
                 pool_mask_pads: bool = False):
        super().__init__()
        self.temperature, self.pool_mask_pads = float(temperature), pool_mask_pads
        self.proj = QueryProjection(d_model, d_p, projection_order)
        self.keys = nn.Parameter(torch.empty(n_tasks, d_model).uniform_(-1.0, 1.0))
        self.register_buffer("n_fitted", torch.zeros((), dtype=torch.long))  # tasks the selector was fitted on
        self.requires_grad_(False)

    def logits_from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.proj(pooled) @ self.keys.t() / self.temperature

    def weights(self, embeds: torch.Tensor, mask: torch.Tensor | None, top1: bool) -> torch.Tensor:
        """Soft weights (pipeline) or the one-hot of the most confident block (top1) [B, t]."""
        pooled = max_pool(embeds, mask, self.pool_mask_pads).to(self.keys.dtype)
        logits = self.logits_from_pooled(pooled).float()
        if top1:
            return nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(embeds.dtype)
        return torch.softmax(logits, dim=-1).to(embeds.dtype)

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"selector.keys": self.keys, "selector.n_fitted": self.n_fitted}
        out.update({f"selector.proj.{k}": v for k, v in self.proj.state_dict().items()})
        return out

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """A previous step's selector: its keys fill the first rows, a new task's key keeps its fresh init."""
        keys = tensors["selector.keys"]
        with torch.no_grad():
            self.keys[: keys.shape[0]].copy_(keys.to(self.keys))
            self.proj.load_state_dict({k[len("selector.proj."):]: v for k, v in tensors.items()
                                       if k.startswith("selector.proj.")})
            self.n_fitted.fill_(int(tensors["selector.n_fitted"]))


class SelectorRouter(nn.Module):
    """The router of the ablations: at training time the shared attention (-Alignment) or block t alone (-DA, the
    attention frozen); at test time, once the selector is fitted on every block, the selector (soft or top-1)."""

    def __init__(self, d_model: int, n_blocks: int, d_p: int, temperature: float, projection_order: str,
                 pool_mask_pads: bool, top1: bool, seed: int):
        super().__init__()
        from sapt_core.methods.sapt.shared_attention import SharedAttention

        self.top1 = top1
        self.attention = SharedAttention(d_model, n_blocks, d_p, temperature, projection_order, pool_mask_pads)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.selector = Selector(d_model, n_blocks, d_p, temperature, projection_order, pool_mask_pads)
        if top1:  # -DA: block t learns alone; the shared attention plays no part
            self.attention.requires_grad_(False)

    def forward(self, model, query_ids: torch.Tensor, query_mask: torch.Tensor | None) -> torch.Tensor:
        n = model.spec.n_blocks
        if not self.training and int(self.selector.n_fitted) >= n:  # test time: the separate selector
            return self.selector.weights(model.embed(query_ids), query_mask, self.top1)
        if self.top1:  # -DA learning: block t alone
            idx = torch.full((query_ids.shape[0],), n - 1, device=query_ids.device)
            return nn.functional.one_hot(idx, n).to(self.attention.key.dtype)
        return self.attention(model.embed(query_ids), query_mask)


@torch.no_grad()
def pooled_inputs(model, batches) -> torch.Tensor:
    """Max-pooled input embeddings [N, d] of a task's inputs (the selector's only view of an input)."""
    device = next(model.parameters()).device
    return torch.cat([max_pool(model.embed(b["input_ids"].to(device)), b["attention_mask"].to(device),
                               model.router.selector.pool_mask_pads).float().cpu() for b in batches])


def fit_selector(selector: Selector, pooled_per_task: list[torch.Tensor], targets: torch.Tensor, steps: int,
                 lr: float, direction: str = "target_first") -> list[float]:
    """Fit the selector to ``targets`` [t, t] (row i = a_i zero-padded) on each task's pooled inputs; Adam, full batch.

    The loss is the sum over tasks of the task-mean KL (as ARM, Eq. 5). The selector keeps the parameters of the
    lowest loss seen (with near-identical inputs of different tasks, as on tiny backbones, Adam oscillates around a
    compromise). Returns the loss of the parameters before every step, then of the kept ones (``steps + 1`` values)."""
    if len(pooled_per_task) != targets.shape[0]:
        raise ValueError(f"selector: {len(pooled_per_task)} input sets for {targets.shape[0]} tasks")
    dtype = selector.keys.dtype
    x = torch.cat(pooled_per_task).to(selector.keys.device, dtype)
    sizes = [p.shape[0] for p in pooled_per_task]
    tgt = torch.cat([targets[i].expand(n, -1) for i, n in enumerate(sizes)]).to(x.device)
    selector.requires_grad_(True)
    opt = torch.optim.Adam(selector.parameters(), lr=lr)
    history, best, best_state = [], float("inf"), None
    for _ in range(steps + 1):
        per_row = kl_rows(selector.logits_from_pooled(x), tgt, direction)
        loss = torch.stack([chunk.mean() for chunk in per_row.split(sizes)]).sum()
        history.append(float(loss.detach()))
        if history[-1] < best:
            best, best_state = history[-1], {k: v.detach().clone() for k, v in selector.state_dict().items()}
        if len(history) > steps:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    selector.load_state_dict(best_state)
    history.append(best)
    selector.requires_grad_(False)
    selector.n_fitted.fill_(targets.shape[0])
    return history
