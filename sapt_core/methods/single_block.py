"""One PET block carried through the whole task sequence (paper section 5.2 baselines 1-2, Appendix E.2):

- SeqLoRA: ``init: continue``, no replay: the block of step t-1 is fine-tuned on task t;
- Replay: SeqLoRA + a stored ``real_replay_volume`` (2%) of each earlier task's real training data mixed into task
  t's data;
- MTL, the upper bound: ``init: fresh``, ``real_replay_volume: 1``: a fresh block on the union of tasks 1..t (only AP
  is meaningful);
- the single-task run a_{0,t} of FWT (section 5.1.2): a fresh block trained on task t alone, i.e. step 1 of a chain
  whose only task is t (``config/methods.yaml`` entry ``single-task``).

The block is LoRA on q and v or a soft prompt (``pet``), always with weight 1.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from sapt_core.methods.base import (FRACTION, LoraKeys, Method, Needs, PromptKeys, StepContext, TrainKeys, init_seed,
                                    key, register)


@dataclass
class SingleBlockConfig(PromptKeys, LoraKeys, TrainKeys):
    pet: Literal["lora", "prompt"] = key("lora", "the block: LoRA on q and v, or a soft prompt")
    init: Literal["continue", "fresh"] = key("continue", "continue step t-1's block (SeqLoRA, Replay) or start a "
                                                         "fresh one (MTL)")
    real_replay_volume: float = key(0.0, "share of each earlier task's training set mixed in (Replay: 0.02; MTL: 1)",
                                    FRACTION)


def replay_sample(rows: list[dict], volume: float, seed: int, task_index: int) -> list[dict]:
    """``max(1, int(volume * len(rows)))`` real rows of an earlier task (ARM's volume rule,
    :func:`sapt_core.arm.generator.pseudo_count`), drawn without replacement, seeded per (seed, task), so real and
    pseudo replay match at equal volume."""
    from sapt_core.arm.generator import select_indices

    if not 0 < volume <= 1:
        raise ValueError(f"replay volume: expected a fraction in (0, 1], got {volume}")
    return [rows[i] for i in select_indices(len(rows), len(rows), volume, random.Random(seed * 1000 + task_index))]


def load_one_block(method, backbone, family: str, tensors: dict):
    """The model of a one-block state (a single LoRA or prompt: single-block methods, LFPT5's carried prompt)."""
    model = method._model(backbone, family, 0)
    model.load_blocks(tensors)
    return model


@register("single-block")
class SingleBlock(Method):
    Config = SingleBlockConfig
    STRUCTURAL = ("pet", "lora_r", "lora_alpha", "prompt_len")
    FROM_TASK_2 = ("init", "real_replay_volume")  # step 1 has no block to continue and no earlier task to replay

    def ap_only(self) -> bool:
        return self.cfg.init == "fresh" and self.cfg.real_replay_volume >= 1

    def last_step_only(self) -> bool:  # MTL: step T is a fresh block on tasks 1..T; steps 1..T-1 feed nothing
        return self.ap_only()

    def needs(self, k: int) -> Needs:
        return Needs(replay=k - 1 if self.cfg.real_replay_volume > 0 else 0)

    def replay_knobs(self) -> dict:
        return {"real": ("real_replay_volume", {})}

    def _model(self, backbone, family: str, seed: int):
        from sapt_core.blocks.model import BlockModel, BlockSpec

        c = self.cfg
        return BlockModel(backbone, family, BlockSpec(c.pet, 1, c.lora_r, c.lora_alpha, c.lora_dropout,
                                                      prompt_len=c.prompt_len), seed=seed)

    def build(self, ctx: StepContext):
        model = self._model(ctx.backbone.model, ctx.family, init_seed(ctx.seed, ctx.k))
        if ctx.prev_tensors is not None and self.cfg.init == "continue":
            model.load_blocks(ctx.prev_tensors)
        return model

    def extra_rows(self, ctx: StepContext, model) -> list[dict]:
        from sapt_core.data import load_split

        if self.cfg.real_replay_volume <= 0:
            return []
        return [r for i, d in enumerate(ctx.replay_dirs)
                for r in replay_sample(load_split(d, "train"), self.cfg.real_replay_volume, ctx.seed, i)]

    def load(self, backbone, family: str, tensors: dict, side: dict):
        return load_one_block(self, backbone, family, tensors)


def reference_method(method: Method) -> SingleBlock:
    """The ``single-task`` method of ``method.reference()``: what ``method``'s a_{0,t} runs train (paper section
    5.1.2)."""
    return SingleBlock("single-task", SingleBlock.make_config(method.reference()))
