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

from sapt_core.errors import SaptError
from sapt_core.recipes.common import add_backbone_args, add_train_args, backbone_provenance, train_config


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
    from sapt_core.data import load_manifest, load_split
    from sapt_core.io import save_weights, sha256_file
    from sapt_core.pet import PetConfig

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise SaptError(f"--out {out}: expected a path ending in .safetensors")
    pet_cfg = PetConfig(type=args.pet, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
                        lora_dropout=args.lora_dropout, prompt_len=args.prompt_len).validate()
    cfg = train_config(args, "adamw" if args.pet == "lora" else "adafactor")
    data_dir = Path(args.data_dir)
    manifest = load_manifest(data_dir)
    rows = load_split(data_dir, "train")
    if not rows:
        raise SaptError(f"{data_dir / 'train.jsonl'}: task {manifest.get('task')!r} has no training instances")
    gen_rows = generator_rows(rows)

    from sapt_core.models import load_backbone
    from sapt_core.models.batching import Collator, encode_rows
    from sapt_core.pet import attach_pet, pet_state
    from sapt_core.training import clear_checkpoints, train

    bb = load_backbone(args.backbone, args.dtype, args.device)
    model = attach_pet(bb.model, bb.family, pet_cfg, seed=args.seed)
    train_set = encode_rows(gen_rows, bb.tokenizer, bb.family, cfg.max_source_len, cfg.max_target_len, train=True)
    workdir = Path(args.workdir or f"{out}.work")
    history, resumed_step = train(model, train_set, Collator(bb.tokenizer.pad_token_id, bb.family), cfg, workdir,
                                  progress=not args.no_progress)
    losses = [h["loss"] for h in history if "loss" in h]
    sidecar = {
        "kind": "arm_generator", "method": f"arm_generator-{args.pet}", "pet": pet_cfg.to_dict(), "train": cfg.to_dict(),
        "backbone": {**backbone_provenance(args.backbone), "family": bb.family},
        "benchmark": manifest.get("benchmark"), "task": manifest.get("task"), "template": manifest.get("template"),
        "seed": args.seed, "markers": {"gen": GEN_MARKER, "inp": INP_MARKER, "added_tokens": False},
        "definition": rows[0]["definition"], "n_train": len(rows),
        "inputs": {"train.jsonl": sha256_file(data_dir / "train.jsonl")},
        "train_log": [{k: h[k] for k in ("step", "loss", "epoch") if k in h} for h in history if "loss" in h],
        "final_train_loss": losses[-1] if losses else None,
        "resumed_from_step": resumed_step,
    }
    save_weights(out, pet_state(model), sidecar)
    if not args.keep_workdir:
        clear_checkpoints(workdir)
    print(f"saved {out} (ARM generator of {manifest.get('task')}, {len(rows)} train rows, "
          f"final loss {sidecar['final_train_loss']})")
    return 0
