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
    add_lora_sites_arg(g)


def add_lora_sites_arg(g) -> None:
    g.add_argument("--lora-sites", nargs="+", default=None, metavar="NAME|PATTERN",
                   help="modules LoRA attaches to: module names or full-path regular expressions (config "
                        "backbones.<name>.lora_sites; default: the family's q/v projections, q v or q_proj v_proj)")


def add_run_args(p: argparse.ArgumentParser) -> None:
    """How one training job runs (not what it learns): seed, length cap, precision, engine, checkpoints, output."""
    g = p.add_argument_group("run")
    g.add_argument("--seed", type=int, required=True)
    g.add_argument("--max-steps", type=int, default=-1, help="caps the optimizer steps (overrides the epochs when > 0)")
    g.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=False,
                   help="bf16 mixed precision (GPU backbones loaded in bf16)")
    g.add_argument("--deepspeed", default=None, help="DeepSpeed JSON config (cluster path)")
    g.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=False,
                   help="recompute the backbone layers' activations in the backward pass (less memory, ~1 more "
                        "forward; config backbones.<name>.gradient_checkpointing)")
    g.add_argument("--save-steps", type=int, default=50, help="in-job checkpoint interval (optimizer steps)")
    g.add_argument("--logging-steps", type=int, default=10)
    g.add_argument("--workdir", default=None, help="in-job checkpoints (default: <out>.work); resumed if present")
    g.add_argument("--keep-workdir", action="store_true", help="keep in-job checkpoints after success")
    g.add_argument("--no-progress", action="store_true")




def backbone_provenance(backbone: str) -> dict:
    """Name of the backbone, and the sha256 of its weights when it is a local directory."""
    out = {"name": backbone}
    path = Path(backbone)
    if path.is_dir():
        for f in sorted(path.glob("*.safetensors")):
            out.setdefault("sha256", {})[f.name] = sha256_file(f)
    return out
