"""Recipe ``sapt train-generator``: train the ARM generator B_ref of one task (paper section 4.3, Appendix C).

One fresh LoRA (r 8, alpha 32, dropout 0.1 on q and v, as the official ``pseudo_data/`` code) on the BASE backbone,
independent of any continual-learning run (official_code_facts.md section 3.1), learns to reconstruct
``<Definition>__inp__<input>`` from ``__gen__`` for every training instance. Defaults are Appendix C's: AdamW, lr
1e-3 constant, 5000 steps, batch 16; max source/target length 8/512. Output: ``<out>`` (safetensors, the LoRA) +
``<out>.json`` sidecar (kind ``arm_generator``). In-job checkpoints in ``<out>.work`` are resumed when present.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sapt_core.recipes.common import (add_backbone_args, add_train_args, backbone_provenance, block_setup,
                                      fit_pet_block, load_train_rows, save_pet_block)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", required=True, help="prepared task directory (its train.jsonl + manifest.json)")
    p.add_argument("--out", required=True, help="output .safetensors path (sidecar written beside it as .json)")
    p.add_argument("--pet", default="lora", choices=["lora", "prompt"],
                   help="generator block: LoRA (SAPT-LoRA) or a soft prompt (SAPT-Prompt: 300 tokens, Adafactor 0.5)")
    p.add_argument("--prompt-len", type=int, default=300)
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-alpha", type=int, default=32)
    p.add_argument("--lora-dropout", type=float, default=0.1)
    add_backbone_args(p)
    add_train_args(p)
    # Appendix C / official pseudo_data scripts: AdamW 1e-3, 5k steps, batch 16, max_target_length 512
    p.set_defaults(lr=1e-3, max_steps=5000, batch_size=16, max_target_len=512, max_source_len=8)


def run(args: argparse.Namespace) -> int:
    from sapt_core.arm.generator import GEN_MARKER, INP_MARKER, generator_rows
    from sapt_core.io import sha256_file

    out, pet_cfg, cfg = block_setup(args)
    manifest, rows = load_train_rows(args.data_dir)
    bb, model, summary = fit_pet_block(args, pet_cfg, cfg, generator_rows(rows), out)
    sidecar = {
        "kind": "arm_generator", "method": f"arm_generator-{args.pet}", "pet": pet_cfg.to_dict(), "train": cfg.to_dict(),
        "backbone": {**backbone_provenance(args.backbone), "family": bb.family},
        "benchmark": manifest.get("benchmark"), "task": manifest.get("task"), "template": manifest.get("template"),
        "seed": args.seed, "markers": {"gen": GEN_MARKER, "inp": INP_MARKER, "added_tokens": False},
        "definition": rows[0]["definition"], "n_train": len(rows),
        "inputs": {"train.jsonl": sha256_file(Path(args.data_dir) / "train.jsonl")},
        **summary,
    }
    save_pet_block(args, out, model, sidecar)
    print(f"saved {out} (ARM generator of {manifest.get('task')}, {len(rows)} train rows, "
          f"final loss {sidecar['final_train_loss']})")
    return 0
