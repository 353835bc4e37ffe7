"""Table 2's -Alignment and -DA (paper section 6.3): SAPT with the alignment of learning and selection cut. The blocks
are chosen at test time by a separate selector of Eq. 1-2's form (:mod:`sapt_core.methods.sapt.selector`) fitted after every step
on the pseudo inputs of every seen task.

- ``selector: soft`` (-Alignment): block t learns with shared attention as in SAPT (no ARM); the selector is fitted
  to the stored a_1..a_t and mixes the test inputs' blocks with its soft weights.
- ``selector: top1`` (-DA): block t learns on task t alone (weight 1), so a_t is one-hot; the selector learns to
  recognise the tasks and each test input takes its single most confident block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sapt_core.methods.base import POSITIVE, Needs, StepContext, key, register
from sapt_core.methods.sapt.method import Sapt, SaptConfig


@dataclass
class SaptPipelineConfig(SaptConfig):
    selector: Literal["soft", "top1"] = key("soft", "soft = -Alignment (the selector's weights); top1 = -DA (its "
                                                    "most confident block; blocks learned alone)")
    selector_steps: int = key(300, "full-batch Adam steps fitting the selector after every step (ours)", POSITIVE)
    selector_lr: float = key(1.0e-2, "the selector's learning rate (ours)", POSITIVE)


@register("sapt-pipeline")
class SaptPipeline(Sapt):
    Config = SaptPipelineConfig
    STRUCTURAL = Sapt.STRUCTURAL + ("selector",)
    FROM_TASK_2 = ()  # its selector is fitted on task 1's pseudo inputs at step 1 already (replay_volume, source)

    def needs(self, k: int) -> Needs:
        return Needs(pseudo=k)  # the selector is fitted on the pseudo inputs of every seen task

    def router(self, n_blocks: int, seed: int = 0):
        from sapt_core.methods.sapt.selector import SelectorRouter
        from sapt_core.methods.sapt.shared_attention import temperature_for

        c = self.cfg
        return lambda d: SelectorRouter(d, n_blocks, c.d_p, temperature_for(c.temperature, d), c.projection_order,
                                        c.pool_mask_pads, c.selector == "top1", seed + 1)

    def load_router(self, model, tensors: dict) -> None:
        super().load_router(model, tensors)
        if "selector.keys" in tensors:
            model.router.selector.load_tensors(tensors)

    def after_task(self, ctx: StepContext, model) -> None:
        import torch

        from sapt_core.methods.sapt.selector import fit_selector, pooled_inputs

        super().after_task(ctx, model)
        pooled = [pooled_inputs(model, ctx.query_batches(rows)) for rows in ctx.pseudo]
        torch.manual_seed(ctx.seed)
        losses = fit_selector(model.router.selector, pooled, self.new_targets, self.cfg.selector_steps,
                              self.cfg.selector_lr, self.cfg.kl_direction)
        ctx.notes["selector"] = {"steps": self.cfg.selector_steps, "lr": self.cfg.selector_lr,
                                 "first_loss": losses[0], "final_loss": losses[-1],
                                 "n_inputs": [p.shape[0] for p in pooled]}

    def state_tensors(self, ctx: StepContext, model) -> dict:
        out = super().state_tensors(ctx, model)
        out.update({k: v.detach().contiguous().cpu() for k, v in model.router.selector.tensors().items()})
        return out
