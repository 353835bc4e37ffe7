"""Pieces of the paper's baselines (facts section 10) that are not SAPT's own modules.

- O-LoRA (Wang et al. 2023): ``orthogonality_loss`` = sum over LoRA sites of |A_prev A_new^T|_1, the elementwise L1
  norm of the cross-Gram between every earlier block's A and the new block's A; added as lambda_1 * L_orth to the task
  loss. The blocks are summed (``SaptModel`` with ``routing="sum"``).
- Replay / MTL: ``replay_sample`` = a seeded real sample of an earlier task's training set, sized by ARM's volume rule
  (at least 1; volume 1.0 = the whole set, which makes MTL the union of all tasks so far), mixed into task t's data.
- +Replay (Table 2): ``label_pseudo`` answers the pseudo inputs of tasks 1..t-1 with the SAPT model of step t-1
  (greedy decoding, as at test time), so they can be mixed into task t's data in place of ARM's KL. The paper does
  not say where the answers of its pseudo samples come from (the generator writes inputs only, facts 3.1); the
  model's own answers before learning task t are the samples' best available labels (pseudo-rehearsal).
"""

from __future__ import annotations

import random

import torch


def orthogonality_loss(model) -> torch.Tensor:
    """sum_sites sum_{i<t} |A_i A_t^T|_1 over the LoRA sites of a multi-block model (O-LoRA Eq. 5, lambda_2 = 0)."""
    total = None
    for site in model.sites.values():
        if site.prev_A.shape[0] == 0:
            continue
        gram = torch.einsum("pri,si->prs", site.prev_A, site.lora_A)     # [t-1, r, r]
        term = gram.abs().sum()
        total = term if total is None else total + term
    if total is None:
        return next(model.parameters()).new_zeros(())
    return total


def replay_sample(rows: list[dict], volume: float, seed: int, task_index: int) -> list[dict]:
    """The ARM volume rule (:func:`sapt_core.arm.generator.pseudo_count`: ``max(1, int(volume * len(rows)))``) applied
    to real rows, drawn without replacement, seeded per (seed, task), so real and pseudo replay match at equal volume."""
    from sapt_core.arm.generator import select_indices

    if not 0 < volume <= 1:
        raise ValueError(f"replay volume: expected a fraction in (0, 1], got {volume}")
    return [rows[i] for i in select_indices(len(rows), len(rows), volume, random.Random(seed * 1000 + task_index))]


def label_pseudo(args, scfg_prev, tensors: dict, rows_per_task: list[list[dict]]) -> list[dict]:
    """+Replay: the pseudo rows of tasks 1..t-1 with ``target`` = the answer of the step t-1 model ``tensors``."""
    from sapt_core.generation import greedy_generate
    from sapt_core.models import load_backbone
    from sapt_core.sapt_model import SaptModel
    from sapt_core.state import load_into

    bb = load_backbone(args.backbone, args.dtype, args.device)
    model = SaptModel(bb.model, bb.family, scfg_prev, seed=args.seed)
    load_into(model, tensors)
    out = []
    for rows in rows_per_task:
        preds = greedy_generate(model, bb.tokenizer, bb.family, rows, args.eval_batch_size, args.max_new_tokens,
                                args.max_source_len)
        out += [{**r, "target": p, "references": [p]} for r, p in zip(rows, preds)]
    return out
