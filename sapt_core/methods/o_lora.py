"""O-LoRA (Wang et al., 2023a; paper section 5.2 baseline 7): a new LoRA block per task in its own subspace. Earlier
blocks are frozen, every block is summed with weight 1 at training and test time, and

    L = L_task + lambda_1 * sum_sites sum_{i<t} |A_i A_t^T|_1                     (O-LoRA's orthogonality loss)

keeps the new block's A orthogonal to the earlier ones (lambda_2 = 0, as O-LoRA's scripts). lambda_1 follows the task's
position in the chain as O-LoRA's long-sequence script (docs/official_code.md section 7): ``orth_lambda`` from
task 2 on, ``orth_lambda_late`` from task ``orth_lambda_late_from`` on (0.5 for tasks 2-9, 5 for tasks 10-15; task
1 has no earlier block, so its term is 0 whatever lambda). :meth:`OLora.orth_lambda_at` resolves it per step; the
step's sidecar records the value (``history[-1].orth_lambda``, :meth:`OLora.step_notes`), a taken step 1 too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sapt_core.methods.base import NON_NEGATIVE, POSITIVE, LoraKeys, Method, StepContext, TrainKeys, init_seed, key, \
    register
from sapt_core.methods.keys import Range
from sapt_core.methods.single_block import reference_method


@dataclass
class OLoraConfig(LoraKeys, TrainKeys):
    lr: float = key(1.0e-3, "learning rate (O-LoRA's scripts: 1e-3 constant)", POSITIVE)
    epochs: int = key(1, "epochs per task (O-LoRA's long-sequence script: 1)", POSITIVE)
    batch_size: int = key(8, "per-device batch size (O-LoRA's scripts: 8 per GPU)", POSITIVE)
    global_batch: int = key(64, "examples per optimizer step over all ranks (O-LoRA's 8 per GPU x 8 GPUs = 64)",
                            POSITIVE)
    lora_dropout: float = key(0.1, "dropout on the LoRA input (O-LoRA: 0.1)", NON_NEGATIVE)
    orth_lambda: float = key(0.5, "lambda_1 of the orthogonality loss from task 2 on (O-LoRA's script: 0.5 for "
                                  "tasks 2-9)", NON_NEGATIVE)
    orth_lambda_late: float = key(5.0, "lambda_1 from task orth_lambda_late_from on (O-LoRA's script: 5 for tasks "
                                       "10-15)", NON_NEGATIVE)
    orth_lambda_late_from: int | None = key(10, "task position from which orth_lambda_late holds (O-LoRA's "
                                                "script: 10; null: orth_lambda for every task)", Range(2))


def orthogonality_loss(model):
    """sum_sites sum_{i<t} |A_i A_t^T|_1 over the LoRA sites of a multi-block model (lambda_2 = 0)."""
    import torch

    from sapt_core.training.ranks import gathered_params

    total = None
    sites = [site for site in model.sites.values() if site.prev_A.shape[0]]
    # read outside the module forward: under ZeRO-3 the A matrices are gathered here (the backward needs only the
    # frozen prev_A, a buffer, so the gradient reaches the partitioned lora_A after the gather is released)
    with gathered_params([site.lora_A for site in sites]):
        for site in sites:
            gram = torch.einsum("pri,si->prs", site.prev_A, site.lora_A)     # [t-1, r, r]
            term = gram.abs().sum()
            total = term if total is None else total + term
    if total is None:
        return next(model.parameters()).new_zeros(())
    return total


@register("o-lora")
class OLora(Method):
    Config = OLoraConfig
    STRUCTURAL = ("lora_r", "lora_alpha")

    def pet(self) -> str:
        return "lora"

    def first_step_key(self) -> dict | None:
        """Step 1 is one fresh LoRA block without the orthogonality term (lambda_1 is 0 at task 1): the single-block
        step 1 of the same values, i.e. its own a_{0,1} run, so its key is that run's."""
        return reference_method(self).first_step_key()

    def _model(self, backbone, family: str, n_blocks: int, seed: int):
        from sapt_core.blocks.model import BlockModel, BlockSpec

        c = self.cfg
        return BlockModel(backbone, family, BlockSpec("lora", n_blocks, c.lora_r, c.lora_alpha, c.lora_dropout),
                          seed=seed)

    def build(self, ctx: StepContext):
        model = self._model(ctx.backbone.model, ctx.family, ctx.k, init_seed(ctx.seed, ctx.k))
        if ctx.prev_tensors is not None:
            model.load_blocks(ctx.prev_tensors)
        return model

    def orth_lambda_at(self, k: int) -> float:
        """lambda_1 of step k (task k of the chain): 0 at task 1 (no earlier block), then the schedule."""
        c = self.cfg
        if k == 1:
            return 0.0
        late = c.orth_lambda_late_from is not None and k >= c.orth_lambda_late_from
        return c.orth_lambda_late if late else c.orth_lambda

    def step_notes(self, k: int) -> dict:
        return {"orth_lambda": self.orth_lambda_at(k)}

    def extra_loss(self, ctx: StepContext, model):
        weight = self.orth_lambda_at(ctx.k)
        if weight <= 0:
            return None

        def orth(model_, inputs, global_step):
            """lambda_1 * sum over sites |A_prev A_new^T|_1."""
            return weight * orthogonality_loss(model_)

        return orth

    def load(self, backbone, family: str, tensors: dict, side: dict):
        n = next(v for k, v in tensors.items() if k.endswith(".A")).shape[0]
        model = self._model(backbone, family, n, 0)
        model.load_blocks(tensors)
        return model
