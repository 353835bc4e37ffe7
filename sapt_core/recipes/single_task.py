"""Recipe ``sapt single-task``: train one PET block (LoRA or soft prompt) on one task and save it.

This is the ``single_task`` job of the workflow (a_{0,t} for FWT, paper section 5.1.2) and, chained with
``--init-from``, one step of SeqLoRA. Output: ``<out>`` (safetensors, the block's tensors) + ``<out>.json`` sidecar.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sapt_core.recipes.common import (add_backbone_args, add_train_args, backbone_provenance, block_setup,
                                      fit_pet_block, load_train_rows, save_pet_block)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", required=True, help="prepared task directory (train.jsonl + manifest.json)")
    p.add_argument("--out", required=True, help="output .safetensors path (sidecar written beside it as .json)")
    p.add_argument("--pet", default="lora", choices=["lora", "prompt"])
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-alpha", type=int, default=32)
    p.add_argument("--lora-dropout", type=float, default=0.0)
    p.add_argument("--prompt-len", type=int, default=10)
    p.add_argument("--init-from", default=None, help="start from this block's weights (SeqLoRA chaining)")
    p.add_argument("--step", type=int, default=1, help="position of the task in its sequence (recorded)")
    add_backbone_args(p)
    add_train_args(p)


def run(args: argparse.Namespace) -> int:
    from sapt_core.io import load_weights, sha256_file

    out, pet_cfg, cfg = block_setup(args)
    manifest, rows = load_train_rows(args.data_dir)
    init = load_weights(args.init_from)[0] if args.init_from else None
    bb, model, summary = fit_pet_block(args, pet_cfg, cfg, rows, out, init)
    sidecar = {
        "kind": "pet_block", "method": f"single_task-{args.pet}", "pet": pet_cfg.to_dict(), "train": cfg.to_dict(),
        "backbone": {**backbone_provenance(args.backbone), "family": bb.family},
        "benchmark": manifest.get("benchmark"), "task": manifest.get("task"), "step": args.step, "seed": args.seed,
        "inputs": {"train.jsonl": sha256_file(Path(args.data_dir) / "train.jsonl"),
                   **({"init_from": sha256_file(args.init_from)} if args.init_from else {})},
        **summary,
    }
    save_pet_block(args, out, model, sidecar)
    print(f"saved {out} (task {manifest.get('task')}, {len(rows)} train rows, final loss {sidecar['final_train_loss']})")
    return 0
