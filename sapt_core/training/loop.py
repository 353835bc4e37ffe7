"""Training loop for one continual-learning step: the HF ``Trainer`` (gradient accumulation, bf16, DeepSpeed,
progress bar, in-job checkpoints and resume), with a loss hook that methods extend (SAPT adds ARM's KL, Eq. 6).

In-job checkpoints live in an undeclared work directory: a retried or requeued job resumes from its newest valid
checkpoint instead of step 0 (:mod:`sapt_core.training.resume`). Checkpoints are safetensors / ``weights_only`` torch
files only.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

from sapt_core.training.resume import EXTRA_STATE, clear_checkpoints, resumable_checkpoint  # noqa: F401 (re-exported)
from sapt_core.errors import SaptError
from sapt_core.methods.base import TrainKeys, grad_accum_for
from sapt_core.methods.keys import POSITIVE, check_value, key, specs
from sapt_core.training.ranks import device_args, is_main_process, rank, world_size


@dataclass
class RunKeys:
    """How one training job runs, not what it learns: the run flags of ``sapt train-step`` and ``train-generator``
    (:func:`sapt_core.recipes.common.add_run_args` makes one flag per field)."""

    seed: int = key(0, "training seed (data order, dropout, fresh blocks)")
    max_steps: int = key(-1, "caps the optimizer steps (overrides the epochs when > 0)")
    bf16: bool = key(False, "bf16 mixed precision (GPU backbones loaded in bf16)")
    deepspeed: str | None = key(None, "DeepSpeed JSON config (cluster path)")
    gradient_checkpointing: bool = key(False, "recompute the backbone layers' activations in the backward pass "
                                              "(less memory, ~1 more forward; config "
                                              "backbones.<name>.gradient_checkpointing)")
    save_steps: int = key(50, "in-job checkpoint interval (optimizer steps)", POSITIVE)
    logging_steps: int = key(10, "optimizer steps between two logged losses", POSITIVE)
    report_to: Literal["none", "tensorboard", "wandb", "mlflow"] = key(
        "none", "where the HF Trainer also reports the logged losses (config logging.report_to; docs/cluster.md)")
    run_name: str | None = key(None, "the run's name in that logger (the workflow: the run's results path and step)")
    logging_dir: str | None = key(None, "TensorBoard event directory (the workflow: results/logs/trainer/<run>/"
                                        "step<k>; default: <workdir>/runs)")


@dataclass
class TrainConfig(RunKeys, TrainKeys):
    """The settings of one training run: the methods file's training keys (:class:`TrainKeys`, declared once with
    their docs, defaults and ranges; a method's config holds them), the job's run flags (:class:`RunKeys`) and its
    launch's ranks."""

    ranks: int = key(1, "data-parallel processes (torchrun's WORLD_SIZE)", POSITIVE)

    @classmethod
    def of(cls, keys, **run) -> "TrainConfig":
        """The training keys of ``keys`` (a method's config, or any object holding :class:`TrainKeys`' fields)
        with the run's settings ``run`` (:class:`RunKeys`' fields and ``ranks``)."""
        return cls(**{f.name: getattr(keys, f.name) for f in fields(TrainKeys)}, **run)

    def validate(self) -> "TrainConfig":
        """Check every field against its declaration (:func:`sapt_core.methods.keys.check_value`), resolve a null
        ``grad_accum`` from ``global_batch`` / (``batch_size`` x ``ranks``), then the settings that depend on each
        other; one line naming the field. Returns self."""
        for name, spec in specs(type(self)).items():
            setattr(self, name, check_value(spec, getattr(self, name), f"train {name}"))
        if self.grad_accum is None:
            self.grad_accum = grad_accum_for(self.global_batch, self.batch_size, self.ranks,
                                             "--global-batch (WORLD_SIZE ranks)")
        if self.batch_size * self.grad_accum * self.ranks != self.global_batch:
            raise SaptError(f"train global_batch: expected batch_size x grad_accum x ranks = {self.global_batch}, got "
                            f"{self.batch_size} x {self.grad_accum} x {self.ranks} (WORLD_SIZE) = "
                            f"{self.batch_size * self.grad_accum * self.ranks}; pass --global-batch to change it")
        if self.deepspeed and not Path(self.deepspeed).is_file():
            raise SaptError(f"train deepspeed: expected a DeepSpeed JSON config file, got {self.deepspeed!r}")
        if self.deepspeed and self.optimizer == "adafactor":
            # ZeRO hands the optimizer flat 1-D partitions: Adafactor's factored second moments (per matrix row and
            # column) silently become unfactored ones, so the run would not be the plain path's (measured)
            raise SaptError(f"train deepspeed: {self.deepspeed} with optimizer adafactor is not supported (ZeRO "
                            "flattens parameters, which changes Adafactor's update); use --optimizer adamw")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def _logger(cfg: TrainConfig) -> str:
    """The Trainer's ``report_to``: the logger's package must be installed (one line naming the key otherwise);
    TensorBoard writes to ``logging_dir`` (the Trainer reads it from ``TENSORBOARD_LOGGING_DIR``)."""
    import importlib.util

    if cfg.report_to == "none":
        return "none"
    package = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}[cfg.report_to]
    if importlib.util.find_spec(package) is None:
        raise SaptError(f"--report-to {cfg.report_to} (config logging.report_to): the {package!r} package is not "
                        f"installed (pip install {package})")
    if cfg.report_to == "tensorboard" and cfg.logging_dir:
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(cfg.logging_dir)
    return cfg.report_to


def run_flags(args) -> dict:
    """The :class:`RunKeys` of a command's parsed flags (:func:`sapt_core.recipes.common.add_run_args`)."""
    return {f.name: getattr(args, f.name) for f in fields(RunKeys)}


def _trainer_class():
    import torch
    from transformers import Trainer

    class SaptTrainer(Trainer):
        """``Trainer`` whose loss is checked for finiteness and can be extended with extra terms.

        ``extra_loss(model, inputs, global_step) -> tensor | None`` is added to the task loss of every micro-batch.
        Checkpoints hold only the trainable PET state (safetensors), never the frozen backbone or pickled args.
        """

        extra_loss = None
        param_groups = None  # explicit optimizer groups (e.g. a separate LR for SAPT-Prompt's projection)
        train_config = None

        def create_optimizer(self, *args, **kwargs):
            """The optimizer over ``param_groups`` when given. Built here rather than passed to the constructor:
            the Trainer refuses a ready optimizer under DeepSpeed, and DeepSpeed calls this to wrap it."""
            if self.param_groups is None:
                return super().create_optimizer(*args, **kwargs)
            if self.optimizer is None:
                self.optimizer = build_optimizer(self.param_groups, self.train_config)
            return self.optimizer

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, outputs = super().compute_loss(model, inputs, return_outputs=True,
                                                 num_items_in_batch=num_items_in_batch)
            if self.extra_loss is not None:  # on the module itself under DDP (DeepSpeed's engine forwards attributes)
                inner = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
                extra = self.extra_loss(inner, inputs, self.state.global_step)
                if extra is not None:
                    loss = loss + extra
            if not torch.isfinite(loss.detach()).all():
                raise SaptError(f"non-finite training loss ({loss.item()}) at optimizer step {self.state.global_step + 1}; "
                                "lower the learning rate or check the data")
            return (loss, outputs) if return_outputs else loss

        def _save(self, output_dir=None, state_dict=None):
            import os

            from safetensors.torch import save_file

            output_dir = output_dir or self.args.output_dir
            if not self.args.should_save:
                return
            os.makedirs(output_dir, exist_ok=True)
            model = self.accelerator.unwrap_model(self.model)
            if hasattr(model, "own_state"):  # SaptModel: blocks, keys, projection only
                save_file({k: v.contiguous() for k, v in model.own_state().items()},
                          os.path.join(output_dir, "model.safetensors"), metadata={"format": "pt"})
            else:  # peft model: adapter_model.safetensors + adapter_config.json
                model.save_pretrained(output_dir, state_dict=state_dict)

        def _save_optimizer_and_scheduler(self, output_dir):
            """Under DeepSpeed the engine's checkpoint without the frozen backbone (``exclude_frozen_parameters``; the
            Trainer passes it for peft models only): trainable tensors, optimizer partitions and the scheduler, which
            is all a resume needs. The backbone is loaded from its own files on resume."""
            if not self.is_deepspeed_enabled:
                return super()._save_optimizer_and_scheduler(output_dir)
            from accelerate.utils import DeepSpeedSchedulerWrapper

            engine = self.model_wrapped
            # every name of a frozen parameter: DeepSpeed's exclusion walks named_parameters(), which names a tied
            # weight once, so its aliases (T5's encoder/decoder embed_tokens, lm_head: 66 MB at T5-large) stayed
            frozen = {n for n, p in engine.module.named_parameters(remove_duplicate=False) if not p.requires_grad}

            def trainable_state(*args, **kwargs):
                sd = type(engine).module_state_dict(engine, *args, **kwargs)
                for n in frozen & set(sd):
                    del sd[n]
                return sd

            engine.module_state_dict = trainable_state
            try:
                engine.save_checkpoint(output_dir, exclude_frozen_parameters=True)
            finally:
                del engine.module_state_dict
            if self.args.should_save and not isinstance(self.lr_scheduler, DeepSpeedSchedulerWrapper):
                torch.save(self.lr_scheduler.state_dict(), os.path.join(output_dir, "scheduler.pt"))

        def train(self, *args, **kwargs):
            """The Trainer's run; a DeepSpeed resume loads the module non-strictly (its checkpoint holds the trainable
            tensors only, see :meth:`_save_optimizer_and_scheduler`)."""
            import transformers.trainer as hf_trainer

            load = hf_trainer.deepspeed_load_checkpoint
            hf_trainer.deepspeed_load_checkpoint = lambda engine, path, load_module_strict=True: load(
                engine, path, load_module_strict=False)
            try:
                return super().train(*args, **kwargs)
            finally:
                hf_trainer.deepspeed_load_checkpoint = load

        def _issue_warnings_after_load(self, load_result):
            model = self.accelerator.unwrap_model(self.model)
            if not hasattr(model, "own_state"):  # backbone keys are absent by design
                return super()._issue_warnings_after_load(load_result)
            own = set(model.own_state())
            odd = list(load_result.unexpected_keys) + [k for k in load_result.missing_keys if k in own]
            if odd:  # a checkpoint of other blocks (e.g. other LoRA sites) would resume them silently
                raise SaptError(f"{self.args.output_dir}: its in-job checkpoint holds other tensors than this job's "
                                f"model (e.g. {odd[0]!r}): the blocks changed since it was written (LoRA sites, block "
                                "sizes); delete the directory to train from the start")

    return SaptTrainer


def train_config(method_cfg, args) -> TrainConfig:
    """The training settings of one step: the method's training keys and the command's run flags, on this launch's
    ranks (a null ``grad_accum`` keeps ``global_batch`` on them)."""
    return TrainConfig.of(method_cfg, **run_flags(args), ranks=world_size()).validate()


def build_optimizer(param_groups: list[dict], cfg: TrainConfig):
    """Optimizer over explicit parameter groups (e.g. a hierarchical LR for SAPT-Prompt's projection, App. C)."""
    import torch
    from transformers.optimization import Adafactor

    if cfg.optimizer == "adafactor":
        return Adafactor(param_groups, lr=cfg.lr, scale_parameter=False, relative_step=False, warmup_init=False,
                         weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(param_groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


FAULT_ENV = "SAPT_FAULT_KILL_AT_STEP"
FAULT_RANK_ENV = "SAPT_FAULT_KILL_RANK"  # with FAULT_ENV: kill this rank only (a multi-rank job losing one process)


def _fault_callback():
    """Fault injection for the preemption tests: ``SAPT_FAULT_KILL_AT_STEP=N`` SIGKILLs this process right after
    optimizer step N (a hard kill: no handler, no cleanup, like a node failure or an OOM kill); with
    ``SAPT_FAULT_KILL_RANK=r`` only rank r dies (torchrun then stops the others)."""
    from transformers import TrainerCallback

    at = int(os.environ[FAULT_ENV])
    only = os.environ.get(FAULT_RANK_ENV)
    if only is not None and int(only) != rank():
        return None

    class _Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == at:
                import signal

                os.kill(os.getpid(), signal.SIGKILL)

    return _Kill()


def _extra_state_callback(extra_state: dict):
    """Saves ``{name: obj.state_dict()}`` of training-loop state the Trainer does not know (e.g. ARM's pseudo-batch
    streams) into every in-job checkpoint, so a resumed job continues them where the checkpoint was taken."""
    from transformers import TrainerCallback

    class _Save(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if not is_main_process():
                return
            from sapt_core.io import atomic_write_json

            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            atomic_write_json(ckpt / EXTRA_STATE, {k: v.state_dict() for k, v in extra_state.items()})

    return _Save()


def train(model, train_set, collator, cfg: TrainConfig, workdir: str | Path, extra_loss=None, progress: bool = True,
          param_groups: list[dict] | None = None, callbacks: list | None = None, extra_state: dict | None = None):
    """Train ``model`` (its trainable parameters) on ``train_set``; resume from ``workdir`` if it holds a checkpoint.

    ``extra_state``: ``{name: obj}`` with ``state_dict()``/``load_state_dict(d)``, loop state beyond the Trainer's
    (model, optimizer, scheduler, RNG, data order), saved with every checkpoint and restored on resume.
    Returns (log history: list of dicts with ``loss``/``step``, the step resumed from or 0).
    """
    import time

    import torch

    from sapt_core.training.resume import discard_partial, step_of
    from sapt_core.io import make_dirs
    from sapt_core.os_errors import as_os_error

    cfg.validate()
    if len(train_set) == 0:
        raise SaptError("training set is empty")
    workdir = Path(workdir)
    made = make_dirs(workdir)
    resumed_step = 0
    if cfg.gradient_checkpointing:
        from sapt_core.training import activation_checkpointing as checkpointing

        checkpointing.enable(model)
    try:
        trainer, resume = _trainer(model, train_set, collator, cfg, workdir, extra_loss, progress, param_groups,
                                   callbacks, extra_state)
        resumed_step = step_of(resume) if resume else 0
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        t0, cpu0 = time.perf_counter(), time.process_time()
        trainer.train(resume_from_checkpoint=resume)
    except BaseException as e:  # e.g. a full disk while saving a checkpoint: no partial checkpoint stays behind
        err = as_os_error(e, workdir) if not isinstance(e, SaptError) else None  # before space is freed again
        failed = discard_partial(workdir, resumed_step, bool(extra_state), made, world_size()) \
            if is_main_process() else None
        if err is None or err is e:
            raise
        raise OSError(err.errno, err.strerror, str(failed or err.filename)) from None
    finally:
        if cfg.gradient_checkpointing:
            checkpointing.disable(model)
    seconds, steps = time.perf_counter() - t0, trainer.state.global_step - resumed_step
    cpu = time.process_time() - cpu0  # this process's CPU time (all threads): steadier on a shared machine
    peak = f", peak CUDA memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB" if torch.cuda.is_available() else ""
    print(f"train: {steps} optimizer steps in {seconds:.2f} s ({seconds / max(steps, 1):.3f} s/step, CPU "
          f"{cpu / max(steps, 1):.3f} s/step){peak}", flush=True)
    if trainer.is_deepspeed_enabled:  # the job log shows which engine trained (tests and cluster logs read it)
        engine = trainer.model_wrapped
        print(f"deepspeed: {type(engine).__name__}, ZeRO stage {engine.zero_optimization_stage()}, "
              f"world size {engine.world_size}, optimizer {type(engine.optimizer).__name__}", flush=True)
    return trainer.state.log_history, resumed_step


def _trainer(model, train_set, collator, cfg, workdir, extra_loss, progress, param_groups, callbacks, extra_state):
    """The Trainer of one step and the checkpoint it resumes from (None: step 0), its loop state restored."""
    from transformers import TrainingArguments

    args = TrainingArguments(
        output_dir=str(workdir), per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, learning_rate=cfg.lr, num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps, lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=float(cfg.warmup_ratio) if 0 < cfg.warmup_ratio < 1 else 0,
        weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm if cfg.max_grad_norm is not None else 0.0,
        optim="adamw_torch" if cfg.optimizer == "adamw" else "adafactor",
        bf16=cfg.bf16, seed=cfg.seed, data_seed=cfg.seed, save_strategy="steps", save_steps=cfg.save_steps,
        save_total_limit=2, logging_steps=cfg.logging_steps, report_to=_logger(cfg), run_name=cfg.run_name,
        disable_tqdm=not progress,
        remove_unused_columns=False, dataloader_pin_memory=False, deepspeed=cfg.deepspeed, label_names=["labels"],
        **device_args(model, cfg),
    )
    callbacks = list(callbacks or [])
    if extra_state:
        callbacks.append(_extra_state_callback(extra_state))
    fault = _fault_callback() if os.environ.get(FAULT_ENV) else None
    if fault is not None:
        callbacks.append(fault)
    trainer = _trainer_class()(model=model, args=args, train_dataset=train_set, data_collator=collator,
                               callbacks=callbacks)
    trainer.extra_loss = extra_loss
    trainer.param_groups, trainer.train_config = (param_groups or None), cfg
    resume = resumable_checkpoint(workdir, bool(extra_state), main_process=is_main_process(), ranks=world_size())
    if resume and extra_state:
        from sapt_core.io import read_json

        saved = read_json(Path(resume) / EXTRA_STATE, "in-job checkpoint extra state")
        for name, obj in extra_state.items():
            obj.load_state_dict(saved[name])
    return trainer, resume
