"""L2P, Learning to Prompt (Wang et al., 2022b; paper section 5.2 baseline 3): one prompt pool with learnable keys,
shared by every task and trained through the whole sequence; each input takes the top-N prompts whose keys are
closest (cosine) to its frozen-backbone query, at training and test time (:mod:`sapt_core.methods.l2p.model`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sapt_core.methods.base import NON_NEGATIVE, POSITIVE, Method, PromptKeys, StepContext, TrainKeys, init_seed, key, \
    register


@dataclass
class L2PConfig(PromptKeys, TrainKeys):
    lr: float = key(3.0e-2, "learning rate (L2P: Adam 0.03 constant)", POSITIVE)
    pool_size: int = key(10, "prompts in the pool, M (L2P: 10)", POSITIVE)
    top_n: int = key(4, "prompts selected per input, N (L2P: 4)", POSITIVE)
    pull_weight: float = key(0.5, "weight c of the pull-key term (EPI's text L2P: 0.5; L2P: 1.0)", NON_NEGATIVE)


@register("l2p")
class L2P(Method):
    Config = L2PConfig
    STRUCTURAL = ("prompt_len", "pool_size", "top_n")

    def pet(self) -> str:
        return "prompt"

    def _model(self, backbone, family: str, seed: int):
        from sapt_core.methods.l2p.model import L2PModel

        c = self.cfg
        return L2PModel(backbone, family, c.pool_size, c.prompt_len, c.top_n, c.pull_weight, seed=seed)

    def build(self, ctx: StepContext):
        model = self._model(ctx.backbone.model, ctx.family, init_seed(ctx.seed, ctx.k))
        if ctx.prev_tensors is not None:  # the pool keeps training across tasks
            model.load_own_state(ctx.prev_tensors)
        return model

    def block_names(self, side: dict) -> list[str]:
        return [f"prompt{m}" for m in range(self.cfg.pool_size)]

    def state_tensors(self, ctx: StepContext, model) -> dict:
        return model.own_state()

    def load(self, backbone, family: str, tensors: dict, side: dict):
        model = self._model(backbone, family, 0)
        model.load_own_state(tensors)
        return model
