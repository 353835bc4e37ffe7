"""``sapt check-lora-sites``: a backbone's LoRA sites (config ``backbones.<name>.lora_sites``) against its modules,
as soon as the model's config exists and before any job trains on it.

The planner cannot do it: it imports no torch and a hub backbone's files may not be fetched yet. This command builds
the model's module tree from its ``config.json`` alone on the meta device (no weights read, no memory for them), so
the workflow's rule ``check_lora_sites`` runs it on the submitting host right after ``build_backbone`` /
``fetch_backbone`` and every model job of the backbone waits for it: a site list that matches nothing, or names a
module that is not an ``nn.Linear``, stops the run with one line naming the backbone before a GPU job is submitted.
It writes the modules matched (:mod:`sapt_core.blocks.sites`). Every job checks the sites again when it loads the
backbone.
"""

from __future__ import annotations

import argparse

from sapt_core.errors import SaptError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True, help="the backbone's name in the workflow config (backbones.<name>)")
    p.add_argument("--backbone", required=True, help="hub id or local save_pretrained directory")
    p.add_argument("--lora-sites", nargs="+", required=True, metavar="NAME|PATTERN",
                   help="module names or full-path regular expressions (sapt_core/blocks/sites.py)")
    p.add_argument("--out", required=True, help="JSON of the modules the sites match")


def skeleton(path_or_id: str):
    """(model on the meta device, family) from the backbone's config alone."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    from sapt_core.models.backbone import family_of

    try:
        config = AutoConfig.from_pretrained(path_or_id)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        raise SaptError(f"backbone {path_or_id!r}: cannot load its config ({first})") from None
    family = family_of(config)
    cls = AutoModelForSeq2SeqLM if family == "t5" else AutoModelForCausalLM
    with torch.device("meta"):
        return cls.from_config(config), family


def run(args: argparse.Namespace) -> int:
    from sapt_core.blocks.sites import resolve
    from sapt_core.io import atomic_write_json, check_writable

    check_writable(args.out)
    model, family = skeleton(args.backbone)
    found = resolve(model, args.lora_sites, args.backbone,
                    where=f"config backbones.{args.name}.lora_sites (backbone {args.backbone})")
    atomic_write_json(args.out, {"backbone": args.name, "path": args.backbone, "family": family,
                                 "lora_sites": list(args.lora_sites), "modules": [p for p, _ in found]})
    print(f"backbone {args.name}: LoRA on {len(found)} modules ({', '.join(p for p, _ in found[:4])}"
          f"{', ...' if len(found) > 4 else ''})")
    return 0
