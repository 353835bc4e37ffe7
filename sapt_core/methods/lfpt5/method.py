"""LFPT5 (Qin & Joty, 2022; paper section 5.2 baseline 4): one soft prompt trained on every task in turn, which also
learns to generate whole examples of its tasks and replays examples of the earlier tasks it samples itself
(:mod:`sapt_core.methods.lfpt5.examples`):

    L = L_task + lm_lambda * L_gen                     (L_gen: the LM loss of generating whole examples)

Before task t the prompt of step t-1 samples ``max(1, int(gen_replay_volume * N_i))`` examples of every earlier task
i (N_i from its data manifest) and they are mixed into task t's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sapt_core.methods.base import (FRACTION, NON_NEGATIVE, POSITIVE, Method, Needs, PromptKeys, StepContext,
                                    TrainKeys, init_seed, key, register)
from sapt_core.methods.single_block import load_one_block


@dataclass
class Lfpt5Config(PromptKeys, TrainKeys):
    optimizer: Literal["adamw", "adafactor"] = key("adafactor", "optimizer (LFPT5: Adafactor)")
    lr: float = key(0.5, "learning rate (LFPT5: 0.5)", POSITIVE)
    weight_decay: float = key(1.0e-5, "weight decay (LFPT5: 1e-5)", NON_NEGATIVE)
    batch_size: int = key(8, "per-device batch size (LFPT5: 2 per GPU x 2 GPUs x GAS 4 = 16)", POSITIVE)
    global_batch: int = key(16, "examples per optimizer step over all ranks (LFPT5: 2 x 2 GPUs x GAS 4 = 16)",
                            POSITIVE)
    prompt_len: int = key(300, "prompt length (App. C: 300 for LFPT5)", POSITIVE)
    lm_lambda: float = key(0.25, "weight of the example-generation LM loss (LFPT5's default)", NON_NEGATIVE)
    gen_replay_volume: float = key(0.02, "examples of each earlier task sampled from the prompt, as a share of its "
                                         "training set (App. C: 2%)", FRACTION)
    gen_top_k: int = key(64, "sampling top-k of the pseudo examples (LFPT5: 64)", POSITIVE)
    gen_repetition_penalty: float = key(2.5, "sampling repetition penalty (LFPT5: 2.5)", POSITIVE)
    gen_candidates: int = key(3, "sampled candidates per drawn example (LFPT5: 3 return sequences)", POSITIVE)
    gen_max_new_tokens: int | None = key(None, "tokens per sampled example (null = max_source_len + max_target_len)",
                                         POSITIVE)


@register("lfpt5")
class Lfpt5(Method):
    Config = Lfpt5Config
    STRUCTURAL = ("prompt_len",)

    def pet(self) -> str:
        return "prompt"

    def needs(self, k: int) -> Needs:
        return Needs(replay=k - 1 if self.cfg.gen_replay_volume > 0 else 0)  # each earlier task's name and size

    def replay_knobs(self) -> dict:
        return {"pseudo": ("gen_replay_volume", {})}  # the examples it generates itself

    def _model(self, backbone, family: str, seed: int):
        from sapt_core.blocks.model import BlockModel, BlockSpec

        return BlockModel(backbone, family, BlockSpec("prompt", 1, prompt_len=self.cfg.prompt_len), seed=seed)

    def build(self, ctx: StepContext):
        model = self._model(ctx.backbone.model, ctx.family, init_seed(ctx.seed, ctx.k))
        if ctx.prev_tensors is not None:  # task t starts from task t-1's prompt
            model.load_blocks(ctx.prev_tensors)
        return model

    def extra_rows(self, ctx: StepContext, model) -> list[dict]:
        """Examples of tasks 1..t-1 sampled from the prompt of step t-1 (before it learns task t)."""
        from sapt_core.arm.generator import pseudo_count
        from sapt_core.data import load_manifest
        from sapt_core.methods.lfpt5.examples import GenSampling, generate_examples

        c = self.cfg
        sampling = GenSampling(c.gen_top_k, c.gen_repetition_penalty, c.gen_candidates,
                               c.gen_max_new_tokens or c.max_source_len + c.max_target_len)
        rows, drawn, kept = [], [], []
        if c.gen_replay_volume > 0:
            for i, d in enumerate(ctx.replay_dirs):
                m = load_manifest(d)
                n = pseudo_count(m["counts"]["train"], c.gen_replay_volume)
                got, _ = generate_examples(model, ctx.tokenizer, ctx.family, m["task"], n, sampling,
                                           ctx.seed * 1000 + i)
                rows += got
                drawn.append(n)
                kept.append(len(got))
            model.train()
        ctx.notes["lfpt5"] = {"lm_lambda": c.lm_lambda, "gen_replay_volume": c.gen_replay_volume,
                              "sampling": sampling.to_dict(), "drawn": drawn, "kept": kept}
        return rows

    def extra_loss(self, ctx: StepContext, model):
        if self.cfg.lm_lambda <= 0:
            return None
        from sapt_core.arm.replay import PseudoReplay
        from sapt_core.methods.lfpt5.examples import generation_rows
        from sapt_core.models.batching import Collator
        from sapt_core.training.ranks import rank

        gen_rows = generation_rows(ctx.train_rows)
        self._gen = PseudoReplay([ctx.encode(gen_rows, max_source_len=32,
                                             max_target_len=self.cfg.max_source_len + self.cfg.max_target_len)],
                                 Collator(ctx.tokenizer.pad_token_id, ctx.family), ctx.train.batch_size, ctx.seed,
                                 rank(), ctx.train.ranks)
        weight, gen = self.cfg.lm_lambda, self._gen

        def gen_loss(model_, inputs, global_step):
            """lm_lambda * the LM loss of one batch of generation rows."""
            device = next(model_.parameters()).device
            return weight * model_(**{k: v.to(device) for k, v in gen.next_batches()[0].items()}).loss

        return gen_loss

    def loop_state(self) -> dict:
        gen = getattr(self, "_gen", None)
        return {"lfpt5_generation": gen} if gen is not None else {}

    def load(self, backbone, family: str, tensors: dict, side: dict):
        return load_one_block(self, backbone, family, tensors)
