"""Argument groups and provenance shared by the recipes."""

from __future__ import annotations

import argparse
from pathlib import Path

from sapt_core.io import sha256_file


def add_backbone_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backbone")
    g.add_argument("--backbone", required=True, help="hub id (google-t5/t5-large) or local save_pretrained directory")
    g.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    g.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0, ...")


def add_train_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training (Appendix C defaults live in config, not here)")
    g.add_argument("--lr", type=float, default=3e-4)
    g.add_argument("--epochs", type=float, default=1.0)
    g.add_argument("--max-steps", type=int, default=-1, help="overrides --epochs when > 0")
    g.add_argument("--batch-size", type=int, default=8)
    g.add_argument("--grad-accum", type=int, default=1)
    g.add_argument("--optimizer", default=None, choices=["adamw", "adafactor"],
                   help="default: adamw for LoRA, adafactor for prompts (Appendix C)")
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--max-grad-norm", type=float, default=1.0)
    g.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=False)
    g.add_argument("--deepspeed", default=None, help="DeepSpeed JSON config (cluster path)")
    g.add_argument("--save-steps", type=int, default=50, help="in-job checkpoint interval")
    g.add_argument("--logging-steps", type=int, default=10)
    g.add_argument("--max-source-len", type=int, default=512)
    g.add_argument("--max-target-len", type=int, default=50)
    g.add_argument("--seed", type=int, required=True)
    g.add_argument("--workdir", default=None, help="in-job checkpoints (default: <out>.work); resumed if present")
    g.add_argument("--keep-workdir", action="store_true", help="keep in-job checkpoints after success")
    g.add_argument("--no-progress", action="store_true")


def train_config(args, default_optimizer: str):
    from sapt_core.training import TrainConfig

    return TrainConfig(lr=args.lr, epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
                       grad_accum=args.grad_accum, optimizer=args.optimizer or default_optimizer,
                       weight_decay=args.weight_decay, max_grad_norm=args.max_grad_norm, bf16=args.bf16,
                       seed=args.seed, save_steps=args.save_steps, logging_steps=args.logging_steps,
                       deepspeed=args.deepspeed, max_source_len=args.max_source_len,
                       max_target_len=args.max_target_len).validate()


def backbone_provenance(backbone: str) -> dict:
    """Name of the backbone, and the sha256 of its weights when it is a local directory."""
    out = {"name": backbone}
    path = Path(backbone)
    if path.is_dir():
        for f in sorted(path.glob("*.safetensors")):
            out.setdefault("sha256", {})[f.name] = sha256_file(f)
    return out


def load_train_rows(data_dir) -> tuple[dict, list[dict]]:
    """Manifest and training rows of a prepared task directory; an empty task is an error."""
    from sapt_core.data import load_manifest, load_split
    from sapt_core.errors import SaptError

    data_dir = Path(data_dir)
    manifest = load_manifest(data_dir)
    rows = load_split(data_dir, "train")
    if not rows:
        raise SaptError(f"{data_dir / 'train.jsonl'}: task {manifest.get('task')!r} has no training instances")
    return manifest, rows


def train_summary(history: list[dict], resumed_step: int) -> dict:
    losses = [h["loss"] for h in history if "loss" in h]
    return {"train_log": [{k: h[k] for k in ("step", "loss", "epoch") if k in h} for h in history if "loss" in h],
            "final_train_loss": losses[-1] if losses else None, "resumed_from_step": resumed_step}


def fit_pet_block(args, pet_cfg, cfg, rows: list[dict], out: Path, init_tensors: dict | None = None):
    """Load the backbone, attach one fresh peft block (optionally initialised from ``init_tensors``) and train it on
    ``rows`` with in-job checkpoints in ``--workdir`` (default ``<out>.work``). Returns (backbone, model, summary)."""
    from sapt_core.models import load_backbone
    from sapt_core.models.batching import Collator, encode_rows
    from sapt_core.pet import attach_pet, load_pet_state
    from sapt_core.training import train

    bb = load_backbone(args.backbone, args.dtype, args.device)
    model = attach_pet(bb.model, bb.family, pet_cfg, seed=args.seed)
    if init_tensors is not None:
        load_pet_state(model, init_tensors)
    train_set = encode_rows(rows, bb.tokenizer, bb.family, cfg.max_source_len, cfg.max_target_len, train=True)
    history, resumed_step = train(model, train_set, Collator(bb.tokenizer.pad_token_id, bb.family), cfg,
                                  Path(args.workdir or f"{out}.work"), progress=not args.no_progress)
    return bb, model, train_summary(history, resumed_step)


def save_pet_block(args, out: Path, model, sidecar: dict) -> None:
    """Write the block (safetensors + sidecar) atomically, then drop the in-job checkpoints."""
    from sapt_core.io import save_weights
    from sapt_core.pet import pet_state
    from sapt_core.training import clear_checkpoints

    from sapt_core.training import gathered, is_main_process

    with gathered(model):  # ZeRO-3: every rank gathers, rank 0 writes
        tensors = {k: v.cpu().clone() for k, v in pet_state(model).items()}
    if not is_main_process():
        return
    save_weights(out, tensors, sidecar)
    if not args.keep_workdir:
        clear_checkpoints(Path(args.workdir or f"{out}.work"))


def block_setup(args):
    """Output path, PET config and training config of a one-block recipe (single-task, train-generator)."""
    from sapt_core.errors import SaptError
    from sapt_core.pet import PetConfig

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise SaptError(f"--out {out}: expected a path ending in .safetensors")
    pet_cfg = PetConfig(type=args.pet, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
                        lora_dropout=args.lora_dropout, prompt_len=args.prompt_len).validate()
    return out, pet_cfg, train_config(args, "adamw" if args.pet == "lora" else "adafactor")
