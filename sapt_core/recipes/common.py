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
    """How one training job runs (not what it learns): the run settings (:class:`sapt_core.training.loop.RunKeys`: seed,
    precision, engine, checkpoint interval, ...) and where its in-job checkpoints and progress go."""
    from sapt_core.methods.keys import add_flags
    from sapt_core.training.loop import RunKeys

    g = add_flags(p, RunKeys, {}, "run", required=("seed",))
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
