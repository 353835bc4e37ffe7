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
