"""Progressive Prompts (Razdaibiedina et al., 2023; paper section 5.2 baseline 5): a new soft prompt per task, earlier
prompts frozen, and every learned prompt prepended to every input, newest first: [P_t; P_{t-1}; ...; P_1; x]. No
selection: the input grows by one prompt per task, at training and test time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sapt_core.methods.base import NON_NEGATIVE, POSITIVE, Method, PromptKeys, StepContext, TrainKeys, init_seed, key, \
    register


@dataclass
class ProgPromptConfig(PromptKeys, TrainKeys):
    lr: float = key(0.3, "learning rate (Progressive Prompts' README: 0.3)", POSITIVE)
    weight_decay: float = key(1.0e-5, "weight decay (Progressive Prompts: 1e-5)", NON_NEGATIVE)
    batch_size: int = key(8, "per-device batch size (Progressive Prompts' T5 code: 8)", POSITIVE)
    global_batch: int = key(8, "examples per optimizer step over all ranks (Progressive Prompts' T5 code: 8)",
                            POSITIVE)
    selection: Literal["none", "val", "test"] = key("val", "model selection (Progressive Prompts: early stopping on "
                                                           "validation accuracy, the best epoch kept)")
    select_every_epochs: int = key(1, "epochs between two selection scores", POSITIVE)


@register("progprompt")
class ProgPrompt(Method):
    Config = ProgPromptConfig
    STRUCTURAL = ("prompt_len",)

    def pet(self) -> str:
        return "prompt"

    def _model(self, backbone, family: str, n_blocks: int, seed: int):
        from sapt_core.blocks.model import BlockModel, BlockSpec

        return BlockModel(backbone, family, BlockSpec("prompt", n_blocks, prompt_len=self.cfg.prompt_len,
                                                      combine="concat"), seed=seed)

    def build(self, ctx: StepContext):
        model = self._model(ctx.backbone.model, ctx.family, ctx.k, init_seed(ctx.seed, ctx.k))
        if ctx.prev_tensors is not None:
            model.load_blocks(ctx.prev_tensors)
        return model

    def load(self, backbone, family: str, tensors: dict, side: dict):
        model = self._model(backbone, family, tensors["prompt.P"].shape[0], 0)
        model.load_blocks(tensors)
        return model
