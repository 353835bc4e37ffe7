"""The interface every continual-learning method implements, and the keys every method shares.

A method is a component: a config dataclass (its keys, :mod:`sapt_core.methods.keys`) and a :class:`Method`
subclass registered under a component name with :func:`register`. ``config/methods.yaml`` names the component of
each method entry. The one step recipe (:mod:`sapt_core.recipes.step`) runs every method the same way:

    load state k-1 -> ``build`` the model -> train on the task rows + ``extra_rows`` with the task loss +
    ``extra_loss`` -> ``after_task`` (what the method stores, e.g. SAPT's a_t) -> save ``state_tensors`` as state k

and the workflow planner asks the plan-time hooks (``needs``, ``pseudo``, ``reference``) what a step reads. The
plan-time part imports no torch: the planner runs at Snakemake parse time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from sapt_core import layout
from sapt_core.errors import SaptError
from sapt_core.methods.keys import FRACTION, NON_NEGATIVE, OPEN_FRACTION, POSITIVE, key, specs

REGISTRY: dict[str, type["Method"]] = {}


def register(name: str):
    """Class decorator: make a :class:`Method` subclass the component ``name`` of ``config/methods.yaml``."""

    def deco(cls):
        if name in REGISTRY and REGISTRY[name] is not cls:
            raise RuntimeError(f"method component {name!r} registered twice ({REGISTRY[name].__module__}, "
                               f"{cls.__module__})")
        cls.component = name
        REGISTRY[name] = cls
        return cls

    return deco


# ---- keys every method has (optimisation, batching, evaluation); defaults are the official T5 scripts' ----------
@dataclass
class TrainKeys:
    optimizer: Literal["adamw", "adafactor"] = key("adamw", "optimizer (App. C: AdamW for LoRA, Adafactor for prompts)")
    lr: float = key(3.0e-4, "learning rate (App. C: 3e-4 for T5-Large LoRA)", POSITIVE)
    lr_scheduler: Literal["constant", "linear"] = key("constant", "learning-rate schedule (official scripts: constant)")
    warmup_ratio: float = key(0.0, "share of the optimizer steps with linear warm-up (official scripts: 0)", FRACTION)
    weight_decay: float = key(0.0, "weight decay (official: HF default 0)", NON_NEGATIVE)
    max_grad_norm: float | None = key(1.0, "gradient clipping norm (official: HF default 1.0; null = none)", POSITIVE)
    epochs: int = key(10, "training epochs per task (official T5 Long Sequence script: 10)", POSITIVE)
    batch_size: int = key(16, "per-device batch size (official T5 Long Sequence: 16)", POSITIVE)
    global_batch: int = key(32, "examples per optimizer step over all ranks = batch_size x grad_accum x ranks (App. C: "
                                "32 for T5 and LLaMA-2; official T5 Long Sequence: 16 x 2 on 1 GPU)", POSITIVE)
    grad_accum: int | None = key(None, "gradient accumulation steps; null: global_batch / (batch_size x ranks), "
                                       "ranks = the backbone's resources.gpu (planner) or WORLD_SIZE (run time)",
                                 POSITIVE)
    eval_batch_size: int = key(128, "evaluation batch size (official T5 scripts: 128)", POSITIVE)
    selection: Literal["none", "val", "test"] = key(
        "none", "model selection: score this split every select_every_epochs and keep the best epoch (none: the "
                "last epoch; the workflow's protocol.selection sets it for every method)")
    select_every_epochs: int = key(5, "epochs between two selection scores (official SAPT scripts: 5)", POSITIVE)
    max_source_len: int = key(512, "source tokens kept (official T5: 512)", POSITIVE)
    max_target_len: int = key(50, "target tokens kept (official: 50)", POSITIVE)
    max_new_tokens: int = key(50, "greedy decoding length at evaluation (official: 50)", POSITIVE)


@dataclass
class LoraKeys:
    lora_r: int = key(8, "LoRA rank r (App. C: 8 on Long Sequence, 4 on SuperNI)", POSITIVE)
    lora_alpha: int = key(32, "LoRA alpha; scaling = alpha / r (official: 32)", POSITIVE)
    lora_dropout: float = key(0.0, "dropout on the LoRA input (official SAPT: 0)", FRACTION)


@dataclass
class PromptKeys:
    prompt_len: int = key(10, "soft-prompt length in tokens (App. C: 10)", POSITIVE)


# ---- what a step reads -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Needs:
    """The inputs step k of a chain reads besides its own task: pseudo inputs of the chain's first ``pseudo`` tasks,
    the prepared data of the first ``replay`` tasks (real replay, or just their names and sizes)."""

    pseudo: int = 0
    replay: int = 0


@dataclass(frozen=True)
class PseudoSpec:
    """Which pseudo inputs a method replays: generator PET type, source (generated | shipped | real), volume."""

    pet: str
    source: str
    volume: float


@dataclass
class StepContext:
    """Everything one step of the recipe knows; built by :mod:`sapt_core.recipes.step`."""

    method: str                    # the config name of the method (``sapt-lora``)
    k: int                         # the step: task k of the chain
    seed: int
    data_dir: Path                 # the prepared directory of task k
    manifest: dict                 # the task's data manifest
    rows: list[dict]               # its training rows
    prev_tensors: dict | None      # state k-1 (None at step 1)
    prev_side: dict
    pseudo: list[list[dict]]       # pseudo inputs, per task (Needs.pseudo of them)
    replay_dirs: list[str]         # prepared directories of earlier tasks (Needs.replay of them)
    train: Any                     # sapt_core.training.loop.TrainConfig
    backbone_source: tuple = ()    # (path or hub id, dtype, device, lora sites): what the recipe loads, fresh_backbone() too
    backbone: Any = None           # sapt_core.models.Backbone, loaded by the recipe
    train_rows: list[dict] = field(default_factory=list)  # rows + the method's extra rows (set before extra_loss)
    notes: dict = field(default_factory=dict)  # what the method reports into the step's sidecar

    def split(self, name: str) -> list[dict]:
        """The rows of one of the task's splits (``train`` = the training rows); an empty split is one line."""
        if name == "train":
            return self.rows
        from sapt_core.data import load_split

        rows = load_split(self.data_dir, name)
        if not rows:
            raise SaptError(f"{self.data_dir}/{layout.split_file_name(name)}: task {self.manifest.get('task')!r} has "
                            f"no {name} instances (the data protocol leaves none); choose another split in the "
                            "workflow's protocol (selection / attention_split)")
        return rows

    def fresh_backbone(self):
        """A second copy of the backbone (e.g. the step t-1 model that answers +Replay's pseudo inputs)."""
        from sapt_core.models import load_backbone

        return load_backbone(*self.backbone_source)

    @property
    def tokenizer(self):
        return self.backbone.tokenizer

    @property
    def family(self) -> str:
        return self.backbone.family

    def encode(self, rows: list[dict], train: bool = True, max_source_len: int | None = None,
               max_target_len: int | None = None):
        from sapt_core.models.batching import encode_rows

        return encode_rows(rows, self.tokenizer, self.family, max_source_len or self.train.max_source_len,
                           max_target_len or self.train.max_target_len, train=train)

    def query_batches(self, rows_or_encoded, size: int = 64):
        """Prompt-only batches of ``size`` (routing features: attention, EPI, selector inputs)."""
        from sapt_core.models.batching import Collator

        enc = rows_or_encoded
        if enc and isinstance(enc[0], dict):
            enc = self.encode(enc, train=False)
        collate = Collator(self.tokenizer.pad_token_id, self.family)
        return (collate(enc[i:i + size]) for i in range(0, len(enc), size))


class Method:
    """Base class of a method component. Subclasses set ``Config`` and override the hooks they need."""

    component: ClassVar[str] = ""
    Config: ClassVar[type] = TrainKeys
    STRUCTURAL: ClassVar[tuple[str, ...]] = ()  # keys every step of one run must share (the blocks' shape)
    FROM_TASK_2: ClassVar[tuple[str, ...]] = ()  # keys that act only from task 2 on (:meth:`first_step_key`)
    has_attention: ClassVar[bool] = False       # its states hold shared-attention weights to plot (Figures 3, 9-12)

    def __init__(self, name: str, cfg):
        self.name, self.cfg = name, cfg

    @classmethod
    def keys(cls) -> dict:
        return specs(cls.Config)

    @classmethod
    def make_config(cls, values: dict, where: str = "config"):
        """The config dataclass from a resolved mapping (unknown keys are an error naming them)."""
        from sapt_core.methods.keys import check_mapping

        return cls.Config(**check_mapping(cls.Config, values, where))

    def values(self) -> dict:
        return dataclasses.asdict(self.cfg)

    # ---- plan time (no torch) ------------------------------------------------------------------------------------
    def ap_only(self) -> bool:
        """Only AP is meaningful (MTL: one model trained from scratch on tasks 1..T), so F.Ra, FWT and BWT are not
        reported."""
        return False

    def last_step_only(self) -> bool:
        """Only the state after the last task is used: the method retrains from scratch on every task so far at each
        step (MTL), so a run trains its step T alone, with no state T-1 (``sapt train-step --step T``)."""
        return False

    def first_step_key(self) -> dict | None:
        """What this method's step 1 is computed from besides the backbone, task, data and seed: its component and
        every value except :attr:`FROM_TASK_2`, the keys that act only from task 2 on (replay volumes, ARM's KL).
        Runs with equal keys train the same step 1, so the workflow trains it once and the others take it
        (:mod:`sapt_core.recipes.first_step`, docs/methods.md "Shared first steps"); None: never shared (a run
        whose only step retrains from scratch, MTL)."""
        if self.last_step_only():
            return None
        return {"component": self.component,
                **{k: v for k, v in self.values().items() if k not in self.FROM_TASK_2}}

    def pet(self) -> str:
        """The PET type of the method's blocks (``lora`` | ``prompt``): its single-task reference and generator."""
        return getattr(self.cfg, "pet", "prompt")

    def needs(self, k: int) -> Needs:
        return Needs()

    def step_notes(self, k: int) -> dict:
        """What the step's sidecar records of step k that follows from the method's values and k alone (a
        schedule's value at k): written for a trained step and for a step 1 taken from an equal run alike."""
        return {}

    def pseudo(self) -> PseudoSpec | None:
        """The pseudo inputs :meth:`needs` counts (None when it needs none)."""
        return None

    def replay_knobs(self) -> dict[str, tuple[str, dict]]:
        """Figure 6 (App. E.2): replay type (``real`` | ``pseudo``) -> (the key holding its volume, other keys the
        type sets). Empty: the method replays nothing."""
        return {}

    def reference(self) -> dict:
        """a_{0,t} for FWT (paper section 5.1.2): the values of a single fresh block of this method's PET type
        (the ``single-task`` method, :mod:`sapt_core.methods.single_block`) trained on task t alone with this
        method's optimisation, batching, evaluation and selection settings."""
        own = self.values()
        keys = {**specs(TrainKeys), **specs(LoraKeys), **specs(PromptKeys)}
        ref = {k: own.get(k, s.default) for k, s in keys.items()}
        ref.update(pet=self.pet(), init="fresh", real_replay_volume=0.0)
        unused = ("prompt_len",) if ref["pet"] == "lora" else ("lora_r", "lora_alpha", "lora_dropout")
        ref.update({k: keys[k].default for k in unused})  # keys the block type does not use: one job for all
        return ref

    def check(self, ctx: StepContext) -> None:
        """Refuse inputs the method cannot train on (one line naming the file); default: nothing to check."""

    # ---- training (torch) ----------------------------------------------------------------------------------------
    def build(self, ctx: StepContext):
        raise NotImplementedError

    def extra_rows(self, ctx: StepContext, model) -> list[dict]:
        """Rows mixed into the task's training data (replay)."""
        return []

    def extra_loss(self, ctx: StepContext, model):
        """``fn(model, inputs, global_step) -> tensor | None`` added to the task loss of every micro-batch."""
        return None

    def loop_state(self) -> dict:
        """Training-loop state beyond the Trainer's (``{name: obj}`` with state_dict / load_state_dict), saved with
        every in-job checkpoint so a resumed job continues it."""
        return {}

    def param_groups(self, model) -> list[dict] | None:
        return None

    def after_task(self, ctx: StepContext, model) -> None:
        """What the method computes once task k is learned (before the state is written)."""

    def state_tensors(self, ctx: StepContext, model) -> dict:
        """The tensors of state k: the model's blocks (a method with more, e.g. a router, adds them)."""
        return model.block_tensors()

    # ---- evaluation ----------------------------------------------------------------------------------------------
    def load(self, backbone, family: str, tensors: dict, side: dict):
        """The model of a saved state, for evaluation."""
        raise NotImplementedError

    def block_names(self, side: dict) -> list[str]:
        """Names of the weights the model gives each input (``attention.json``): one per task by default."""
        return list(side["tasks"])

    # ---- shared helpers ------------------------------------------------------------------------------------------
    def check_continuation(self, side: dict, where: str) -> None:
        """Step k of a run continues the structure of its earlier steps (same method, component, block shapes)."""
        if side.get("method") != self.name:
            raise SaptError(f"{where}: state of method {side.get('method')!r}, not {self.name!r}")
        prev = side.get("config") or {}
        for k in self.STRUCTURAL:
            if k in prev and prev[k] != getattr(self.cfg, k):
                raise SaptError(f"{where}: {k} = {prev[k]!r} in the state, {getattr(self.cfg, k)!r} requested")


def grad_accum_for(global_batch: int, batch_size: int, ranks: int, where: str) -> int:
    """The gradient accumulation that keeps the global batch (App. C's batch sizes are totals): ``global_batch`` =
    ``batch_size`` x accumulation x ``ranks`` (at least 1); one line naming ``where`` when it does not divide."""
    ranks = max(int(ranks), 1)
    if global_batch % (batch_size * ranks):
        raise SaptError(f"{where}: global_batch {global_batch} is not a multiple of batch_size {batch_size} x {ranks} "
                        f"rank(s) = {batch_size * ranks}")
    return global_batch // (batch_size * ranks)


def init_seed(seed: int, k: int) -> int:
    """The seed a method's fresh tensors of step k are drawn with (the same for every method)."""
    return seed * 100003 + k


__all__ = ["FRACTION", "NON_NEGATIVE", "OPEN_FRACTION", "POSITIVE", "LoraKeys", "Method", "Needs", "PromptKeys", "PseudoSpec",
           "REGISTRY", "StepContext", "TrainKeys", "grad_accum_for", "key", "register"]
