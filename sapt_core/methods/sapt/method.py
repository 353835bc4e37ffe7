"""SAPT (paper section 4): shared attentive learning & selection over per-task PET blocks (SALS, Eq. 1-4) with the
attentive reflection module (ARM, Eq. 5-6). One component for SAPT-LoRA and SAPT-Prompt (``pet``), with the knobs of
Table 2's ablations -ARM (``kl_lambda: 0``) and +Replay (``reflection: mix``); -Alignment and -DA, which add a
separate selector, are :mod:`sapt_core.methods.sapt.pipeline`.

Step t (section 4.2): the model holds t blocks; blocks 1..t-1, their keys and the stored a_1..a_{t-1} come from
state t-1, block t and key t are fresh, and block t, key t and the query projection train on

    L = L_task + lambda * sum_{i<t} KL(a_i || a_hat_i)                              (Eq. 6; direction: kl_direction)

over one pseudo batch of every earlier task per micro-batch (section 4.3). After the task, a_t = the mean attention
of the task's selection-split inputs is stored (the ARM target of later steps and the heat maps' learning-time row).

+Replay (section 6.3) replaces the KL by mixing the pseudo inputs of tasks 1..t-1 into task t's data, answered by
the model of step t-1 (greedy decoding; the generator writes inputs only, section 4.3, so their answers are the
step t-1 model's own, as in pseudo-rehearsal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sapt_core.errors import SaptError
from sapt_core.methods.base import (NON_NEGATIVE, OPEN_FRACTION, POSITIVE, LoraKeys, Method, Needs, PromptKeys,
                                    PseudoSpec, StepContext, TrainKeys, init_seed, key, register)
from sapt_core.methods.keys import Temperature


@dataclass
class SaptConfig(PromptKeys, LoraKeys, TrainKeys):
    pet: Literal["lora", "prompt"] = key("lora", "PET blocks: LoRA (SAPT-LoRA) or soft prompts (SAPT-Prompt)")
    selection: Literal["none", "val", "test"] = key(
        "test", "model selection (official: the dev file = the test file, every 5 epochs; the workflow's "
                "protocol.selection sets it for every method)")
    lora_mixing: Literal["output", "parameter"] = key(
        "output", "LoRA mixing: output = sum_i a_i B_i A_i x (official); parameter = (sum a_i B_i)(sum a_i A_i) x, "
                  "Eq. 3 literally")
    d_p: int = key(100, "hidden width of the query projection (App. C: 100)", POSITIVE)
    temperature: Temperature = key("sqrt_d", "T of Eq. 2: sqrt_d (App. C, LoRA), d_e (App. C, prompts) or a number")
    kl_lambda: float = key(0.1, "lambda of Eq. 6, the KL weight (App. C: 0.1 Long Sequence, 0.5 SuperNI)",
                           NON_NEGATIVE)
    replay_volume: float = key(0.02, "pseudo inputs per earlier task, as a share of its training set (App. C: 2%)",
                               OPEN_FRACTION)
    pseudo_source: Literal["generated", "shipped", "real"] = key(
        "generated", "pseudo inputs: our generator B_ref, the authors' shipped samples, or real inputs (Figure 6)")
    projection_order: Literal["official", "paper"] = key(
        "official", "query projection: official Linear-Linear-SiLU-LayerNorm; paper Linear-SiLU-Linear-LayerNorm "
                    "(Eq. 1)")
    pool_mask_pads: bool = key(False, "mask pad embeddings out of Eq. 1's max-pool (official: no)")
    kl_direction: Literal["target_first", "paper"] = key(
        "target_first", "KL direction: target_first = KL(a_i || a_hat_i) (official); paper = KL(a_hat_i || a_i), "
                        "Eq. 5")
    kl_scale_by_gas: bool = key(False, "divide the KL by gradient accumulation like the task loss (official T5: "
                                       "no, so the effective lambda is lambda x GAS)")
    kl_start_step: int = key(1, "first optimizer step with the KL term (official: 1)", NON_NEGATIVE)
    attn_split: Literal["train", "val", "test"] = key(
        "test", "split whose inputs give the stored a_t (paper: the test samples; official: the dev file = test)")
    proj_lr: float | None = key(None, "separate learning rate of the query projection (App. C prompts, Long "
                                      "Sequence: 1e-2; null = lr)", POSITIVE)
    reflection: Literal["kl", "mix"] = key(
        "kl", "kl = ARM (Eq. 5-6); mix = Table 2 +Replay: the pseudo inputs, answered by step t-1's model, mixed "
              "into the training data")


@register("sapt")
class Sapt(Method):
    Config = SaptConfig
    STRUCTURAL = ("pet", "lora_r", "lora_alpha", "lora_mixing", "prompt_len", "d_p", "temperature",
                  "projection_order", "pool_mask_pads")
    # ARM and +Replay act on the pseudo inputs of earlier tasks: step 1 has none (needs, extra_rows, extra_loss)
    FROM_TASK_2 = ("kl_lambda", "replay_volume", "pseudo_source", "kl_direction", "kl_scale_by_gas", "kl_start_step",
                   "reflection")
    has_attention = True

    # ---- plan time -----------------------------------------------------------------------------------------------
    def uses_kl(self) -> bool:
        return self.cfg.reflection == "kl" and self.cfg.kl_lambda > 0

    def needs(self, k: int) -> Needs:
        return Needs(pseudo=k - 1 if (self.uses_kl() or self.cfg.reflection == "mix") else 0)

    def pseudo(self) -> PseudoSpec | None:
        return PseudoSpec(self.cfg.pet, self.cfg.pseudo_source, self.cfg.replay_volume)

    def replay_knobs(self) -> dict:
        """ARM's pseudo inputs, or real inputs of the earlier tasks in their place (Figure 6)."""
        return {"pseudo": ("replay_volume", {}), "real": ("replay_volume", {"pseudo_source": "real"})}

    # ---- model ---------------------------------------------------------------------------------------------------
    def router(self, n_blocks: int, seed: int = 0):
        """``make_router(d_model)`` of the model: the shared attention over ``n_blocks`` keys (Eq. 1-2)."""
        from sapt_core.methods.sapt.shared_attention import AttentionRouter

        c = self.cfg
        return lambda d: AttentionRouter(d, n_blocks, c.d_p, c.temperature, c.projection_order, c.pool_mask_pads)

    def block_spec(self, n_blocks: int):
        from sapt_core.blocks.model import BlockSpec

        c = self.cfg
        return BlockSpec(c.pet, n_blocks, c.lora_r, c.lora_alpha, c.lora_dropout, c.lora_mixing, c.prompt_len)

    def new_model(self, backbone, family: str, n_blocks: int, seed: int):
        from sapt_core.blocks.model import BlockModel

        return BlockModel(backbone, family, self.block_spec(n_blocks), self.router(n_blocks, seed), seed=seed)

    def load_router(self, model, tensors: dict) -> None:
        """Earlier keys (frozen) and the projection of a state; the newest key stays fresh on a new task."""
        import torch

        att = model.router.attention
        keys = tensors["attention.keys"]
        with torch.no_grad():
            att.prev_keys.copy_(keys[: att.n_blocks - 1].to(att.prev_keys))
            if keys.shape[0] == att.n_blocks:
                att.key.data.copy_(keys[-1:].to(att.key))
            att.proj.load_state_dict({k[len("attention.proj."):]: v for k, v in tensors.items()
                                      if k.startswith("attention.proj.")})

    def build(self, ctx: StepContext):
        model = self.new_model(ctx.backbone.model, ctx.family, ctx.k, init_seed(ctx.seed, ctx.k))
        if ctx.prev_tensors is not None:
            model.load_blocks(ctx.prev_tensors)
            self.load_router(model, ctx.prev_tensors)
        return model

    def load(self, backbone, family: str, tensors: dict, side: dict):
        model = self.new_model(backbone, family, tensors["attention.keys"].shape[0], 0)
        model.load_blocks(tensors)
        self.load_router(model, tensors)
        return model

    def targets(self, ctx: StepContext):
        """The stored a_1..a_{t-1} [t-1, t-1] (row i = a_{i+1}, zero-padded)."""
        import torch

        return torch.zeros(0, 0) if ctx.prev_tensors is None else ctx.prev_tensors["arm.targets"].float()

    # ---- training ------------------------------------------------------------------------------------------------
    def extra_rows(self, ctx: StepContext, model) -> list[dict]:
        if self.cfg.reflection != "mix" or ctx.k == 1:
            return []
        return self._label_pseudo(ctx)

    def _label_pseudo(self, ctx: StepContext) -> list[dict]:
        """+Replay: the pseudo rows of tasks 1..t-1 answered by the model of step t-1 (a copy of the backbone)."""
        from sapt_core.evaluation.generation import greedy_generate

        bb = ctx.fresh_backbone()
        prev = self.load(bb.model, bb.family, ctx.prev_tensors, ctx.prev_side)
        out = []
        for rows in ctx.pseudo:
            preds = greedy_generate(prev, bb.tokenizer, bb.family, rows, self.cfg.eval_batch_size,
                                    self.cfg.max_new_tokens, self.cfg.max_source_len)
            out += [{**r, "target": p, "references": [p]} for r, p in zip(rows, preds)]
        return out

    def extra_loss(self, ctx: StepContext, model):
        if ctx.k == 1 or not self.uses_kl():
            return None
        import torch

        from sapt_core.arm.replay import PseudoReplay
        from sapt_core.methods.sapt.reflection import pad_target, reflection_loss
        from sapt_core.models.batching import Collator
        from sapt_core.training.ranks import rank

        targets = self.targets(ctx)
        self._replay = PseudoReplay([ctx.encode(r, train=False) for r in ctx.pseudo],
                                    Collator(ctx.tokenizer.pad_token_id, ctx.family), ctx.train.batch_size, ctx.seed,
                                    rank(), ctx.train.ranks)
        kl_targets = torch.stack([pad_target(targets[i, : i + 1], ctx.k) for i in range(ctx.k - 1)])
        # official T5 (one GPU): the KL is not divided by GAS, so its weight is lambda x GAS; here GAS is that of one
        # rank carrying the whole global batch (grad_accum x ranks), so the rank count does not change the loss
        scale = self.cfg.kl_lambda * (1 if self.cfg.kl_scale_by_gas else ctx.train.grad_accum * ctx.train.ranks)
        start, direction, replay = self.cfg.kl_start_step, self.cfg.kl_direction, self._replay

        def arm_kl(model_, inputs, global_step):
            """lambda * sum_i KL over one pseudo batch of every earlier task (Eq. 5-6), from kl_start_step on."""
            if global_step < start:
                return None
            return scale * reflection_loss(model_.router.attention, model_.embed, replay.next_batches(), kl_targets,
                                           direction)

        ctx.notes["arm_kl"] = True
        return arm_kl

    def loop_state(self) -> dict:
        replay = getattr(self, "_replay", None)
        return {"pseudo_replay": replay} if replay is not None else {}

    def param_groups(self, model) -> list[dict] | None:
        if self.cfg.proj_lr is None:
            return None
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        proj = [p for n, p in named if n.startswith("router.attention.proj.")]
        rest = [p for n, p in named if not n.startswith("router.attention.proj.")]
        return [{"params": rest, "lr": self.cfg.lr}, {"params": proj, "lr": self.cfg.proj_lr}]

    def after_task(self, ctx: StepContext, model) -> None:
        import torch

        from sapt_core.methods.sapt.reflection import mean_attention

        a_t = mean_attention(model, ctx.query_batches(ctx.split(self.cfg.attn_split)))
        targets = torch.zeros(ctx.k, ctx.k)
        targets[: ctx.k - 1, : ctx.k - 1] = self.targets(ctx)
        targets[ctx.k - 1] = a_t
        self.new_targets = targets
        ctx.notes["a_t"] = a_t.tolist()

    def state_tensors(self, ctx: StepContext, model) -> dict:
        att = model.router.attention
        out = {**model.block_tensors(), "attention.keys": att.keys}
        out.update({f"attention.proj.{k}": v for k, v in att.proj.state_dict().items()})
        out["arm.targets"] = self.new_targets
        return {k: v.detach().contiguous().cpu() for k, v in out.items()}

    def check(self, ctx: StepContext) -> None:
        if self.cfg.reflection == "mix" and self.cfg.kl_lambda > 0:
            raise SaptError("--reflection mix: +Replay replaces ARM's KL (use --kl-lambda 0)")
