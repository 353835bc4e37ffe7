"""EPI task selection (Wang et al., 2023b; paper section 5.2): a private prompt per task, chosen at test time by the
Mahalanobis distance of frozen-backbone features to each task's class statistics.

After task t is learned, the frozen backbone (no prompt) embeds task t's training inputs (mean-pooled last hidden
states, :func:`frozen_features`); one mean per class is stored, and the class covariances of the task are averaged
into a task covariance that is accumulated over tasks and averaged by the task count:

    Sigma = (1/t) sum_{tasks} mean_{classes c} Cov(features of class c),    P = pinv(Sigma)
    score_task(x) = min_{c in task} (f(x) - mu_c)^T P (f(x) - mu_c);        task(x) = argmin_task score_task(x)

Only classification tasks have classes, so EPI refuses generation tasks (the paper runs it on Long Sequence only).
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def frozen_features(backbone: nn.Module, family: str, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the input's tokens of the frozen backbone's last hidden states (T5: encoder; LLaMA: decoder) [B, d]."""
    if family == "t5":
        h = backbone.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    else:
        h = backbone.model(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).to(h.dtype)
    return ((h * m).sum(1) / m.sum(1).clamp_min(1)).float()


class EpiStats(nn.Module):
    """Class means, their task index, and the accumulated task covariance, as buffers (saved in the step state)."""

    def __init__(self, d: int):
        super().__init__()
        self.register_buffer("means", torch.zeros(0, d))
        self.register_buffer("class_task", torch.zeros(0, dtype=torch.long))
        self.register_buffer("cov_sum", torch.zeros(d, d))
        self.register_buffer("n_tasks", torch.zeros((), dtype=torch.long))
        self.register_buffer("precision", torch.zeros(d, d), persistent=False)  # pinv(Sigma), derived, not saved

    def _update_precision(self) -> None:
        self.precision = torch.linalg.pinv(self.cov_sum / self.n_tasks.clamp_min(1))

    def add_task(self, feats: torch.Tensor, labels: list[str], task_index: int) -> None:
        feats = feats.float().cpu()
        classes = sorted(set(labels))
        means, covs = [], []
        for c in classes:
            x = feats[[i for i, y in enumerate(labels) if y == c]]
            means.append(x.mean(0))
            covs.append(torch.cov(x.t(), correction=0) if len(x) > 1 else torch.zeros(x.shape[1], x.shape[1]))
        self.means = torch.cat([self.means.cpu(), torch.stack(means)])
        self.class_task = torch.cat([self.class_task.cpu(), torch.full((len(classes),), task_index)])
        self.cov_sum = self.cov_sum.cpu() + torch.stack(covs).mean(0)
        self.n_tasks = self.n_tasks.cpu() + 1
        self._update_precision()

    def scores(self, feats: torch.Tensor) -> torch.Tensor:
        """[B, n_tasks]: per task the minimum Mahalanobis distance over its classes."""
        diff = feats.float()[:, None, :] - self.means.to(feats.device)[None]                   # [B, K, d]
        dist = torch.einsum("bkd,de,bke->bk", diff, self.precision.to(feats.device), diff)     # [B, K]
        n = int(self.n_tasks)
        out = torch.full((feats.shape[0], n), float("inf"), device=feats.device)
        for t in range(n):
            sel = self.class_task.to(feats.device) == t
            if sel.any():
                out[:, t] = dist[:, sel].min(1).values
        return out

    def select(self, feats: torch.Tensor) -> torch.Tensor:
        return self.scores(feats).argmin(1)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f"epi.{k}": v.detach().contiguous().cpu() for k, v in self.state_dict().items()}

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for k in ("means", "class_task", "cov_sum", "n_tasks"):
            setattr(self, k, tensors[f"epi.{k}"].clone())
        self._update_precision()


class EpiRouter(nn.Module):
    """EPI's router: while a task is learned (its id is known) its own prompt; at test time the prompt of the task
    whose class statistics are Mahalanobis-closest to the input's frozen features."""

    def __init__(self, d_model: int):
        super().__init__()
        self.epi = EpiStats(d_model)

    def forward(self, model, query_ids: torch.Tensor, query_mask: torch.Tensor | None) -> torch.Tensor:
        n = model.spec.n_blocks
        if self.training or int(self.epi.n_tasks) < n:
            idx = torch.full((query_ids.shape[0],), n - 1, device=query_ids.device)
        else:
            mask = query_mask if query_mask is not None else torch.ones_like(query_ids)
            idx = self.epi.select(frozen_features(model.model, model.family, query_ids, mask))
        return nn.functional.one_hot(idx, n).float()
