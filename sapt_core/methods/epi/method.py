"""EPI (Wang et al., 2023; paper section 5.2 baseline 6): a private soft prompt per task, chosen at test time by the
Mahalanobis distance of the input's frozen-backbone features to each task's class statistics
(:mod:`sapt_core.methods.epi.router`). Class statistics need classes, so EPI runs on classification tasks only (the paper shows it on
Long Sequence; ``benchmarks: [Long_Sequence]`` in config/methods.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass

from sapt_core import layout
from sapt_core.errors import SaptError
from sapt_core.methods.base import POSITIVE, Method, PromptKeys, StepContext, TrainKeys, init_seed, key, register


@dataclass
class EpiConfig(PromptKeys, TrainKeys):
    lr: float = key(3.0e-2, "learning rate (EPI: AdamW 0.03, swept 0.005-0.05)", POSITIVE)
    epochs: int = key(5, "epochs per task (EPI: 5)", POSITIVE)
    batch_size: int = key(32, "per-device batch size (EPI: 32)", POSITIVE)
    global_batch: int = key(32, "examples per optimizer step over all ranks (EPI: 32)", POSITIVE)


@register("epi")
class Epi(Method):
    Config = EpiConfig
    STRUCTURAL = ("prompt_len",)

    def pet(self) -> str:
        return "prompt"

    def _model(self, backbone, family: str, n_blocks: int, seed: int):
        from sapt_core.blocks.model import BlockModel, BlockSpec
        from sapt_core.methods.epi.router import EpiRouter

        return BlockModel(backbone, family, BlockSpec("prompt", n_blocks, prompt_len=self.cfg.prompt_len), EpiRouter,
                          seed=seed)

    def check(self, ctx: StepContext) -> None:
        if ctx.manifest.get("metric") != "accuracy":
            raise SaptError(f"{ctx.data_dir}/{layout.DATA_MANIFEST}: task {ctx.manifest.get('task')!r} is scored by "
                            f"{ctx.manifest.get('metric')!r}; EPI selects tasks by class statistics and needs "
                            "classification tasks (the paper runs it on Long Sequence only)")

    def build(self, ctx: StepContext):
        model = self._model(ctx.backbone.model, ctx.family, ctx.k, init_seed(ctx.seed, ctx.k))
        if ctx.prev_tensors is not None:
            model.load_blocks(ctx.prev_tensors)
            model.router.epi.load_tensors(ctx.prev_tensors)
        return model

    def after_task(self, ctx: StepContext, model) -> None:
        """Task k's class statistics of frozen-backbone features of its training inputs (no prompt)."""
        import torch

        from sapt_core.methods.epi.router import frozen_features

        device = ctx.backbone.model.device
        feats = torch.cat([frozen_features(ctx.backbone.model, ctx.family, b["input_ids"].to(device),
                                           b["attention_mask"].to(device)).cpu()
                           for b in ctx.query_batches(ctx.rows)])
        model.router.epi.add_task(feats, [r["target"] for r in ctx.rows], ctx.k - 1)

    def state_tensors(self, ctx: StepContext, model) -> dict:
        return {**model.block_tensors(), **model.router.epi.tensors()}

    def load(self, backbone, family: str, tensors: dict, side: dict):
        model = self._model(backbone, family, tensors["prompt.P"].shape[0], 0)
        model.load_blocks(tensors)
        model.router.epi.load_tensors(tensors)
        return model
