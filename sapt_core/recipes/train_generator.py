"""Recipe ``sapt train-generator``: the ARM generator B_ref of one task (paper section 4.3, Appendix C).

One fresh PET block (peft: LoRA on q and v, or a 300-token soft prompt) on the BASE backbone, independent of any
continual-learning run, learns to reconstruct ``<Definition>__inp__<input>`` from ``__gen__`` for every training
instance (:func:`sapt_core.arm.generator.generator_rows`). Defaults are Appendix C's
(:mod:`sapt_core.arm.settings`): LoRA r 8, AdamW 1e-3 constant, 5000 steps, batch 16; the prompt generator 300
tokens, Adafactor 0.5, 80 epochs. Output: ``<out>`` (safetensors, the block) + ``<out>.json`` sidecar (kind
``arm_generator``). In-job checkpoints in ``<out>.work`` are resumed when present.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sapt_core import layout
from sapt_core.errors import SaptError
from sapt_core.methods.keys import flag
from sapt_core.recipes.common import add_backbone_args, add_run_args, backbone_provenance


def _flags() -> dict:
    """``{key: (spec, PET types that have it)}`` for every key of either generator (:mod:`sapt_core.arm.settings`)
    except ``max_steps`` (the run's ``--max-steps``): each has a flag, so every key the planner passes reaches this
    job."""
    from sapt_core.arm.settings import GENERATORS
    from sapt_core.methods.keys import specs

    out: dict = {}
    for pet, cls in GENERATORS.items():
        for name, spec in specs(cls).items():
            out[name] = (spec, out.get(name, (None, ()))[1] + (pet,))
    out.pop("max_steps")
    return out


_FLAGS = _flags()
_TYPES = {"int": int, "float": float, "str": str, "choice": str}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", required=True, help="prepared task directory (its train.jsonl + manifest.json)")
    p.add_argument("--out", required=True, help="output .safetensors path (sidecar written beside it as .json)")
    p.add_argument("--pet", default="lora", choices=["lora", "prompt"],
                   help="generator block: LoRA (LoRA methods) or a soft prompt (prompt methods)")
    g = p.add_argument_group("generator settings (default: Appendix C, sapt_core/arm/settings.py)")
    for name, (spec, pets) in _FLAGS.items():
        help_ = f"generator.{'|'.join(pets)}.{name} of config/methods.yaml"
        if spec.kind == "bool":
            g.add_argument(flag(name), dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_)
        else:
            g.add_argument(flag(name), dest=name, type=_TYPES[spec.kind], default=None, help=help_)
    add_backbone_args(p)
    add_run_args(p)


def settings(args) -> dict:
    """The pet's generator settings: Appendix C's defaults with the given flags on top (validated)."""
    import dataclasses

    from sapt_core.arm.settings import GENERATORS
    from sapt_core.methods.keys import check_mapping

    cls = GENERATORS[args.pet]
    given = {k: getattr(args, k) for k in _FLAGS if getattr(args, k) is not None}
    unknown = sorted(set(given) - set(f.name for f in dataclasses.fields(cls)))
    if unknown:
        raise SaptError(f"--{unknown[0].replace('_', '-')}: not a setting of the {args.pet} generator")
    return {**dataclasses.asdict(cls()), **check_mapping(cls, given, "flags")}


def run(args: argparse.Namespace) -> int:
    from sapt_core.arm.generator import GEN_MARKER, INP_MARKER, generator_rows
    from sapt_core.data import load_manifest, load_split
    from sapt_core.io import check_writable, save_weights, sha256_file
    from sapt_core.models import load_backbone
    from sapt_core.models.batching import Collator, encode_rows
    from sapt_core.blocks.pet import PetConfig, attach_pet, pet_state
    from sapt_core.training.ranks import gathered, is_main_process, release_ranks, world_size
    from sapt_core.training.loop import TrainConfig, clear_checkpoints, run_flags, train

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise SaptError(f"--out {out}: expected a path ending in .safetensors")
    s = settings(args)
    check_writable(out)
    manifest = load_manifest(args.data_dir)
    rows = load_split(args.data_dir, "train")
    if not rows:
        raise SaptError(f"{Path(args.data_dir) / layout.TRAIN_FILE}: task {manifest.get('task')!r} has no training "
                        "instances")
    pet_cfg = PetConfig(type=args.pet, lora_r=s.get("r", 8), lora_alpha=s.get("alpha", 32),
                        lora_dropout=s.get("dropout", 0.0), prompt_len=s.get("length", 10)).validate()
    # the LoRA generator trains for max_steps (App. C: 5k steps), the prompt generator for epochs (App. C: 80)
    max_steps = args.max_steps if args.max_steps > 0 else s.get("max_steps", -1)
    # App. C's generator batch is a total: a torchrun launch splits it over its ranks (one line when it cannot)
    ranks = world_size()
    per_device = s["batch_size"] // ranks
    if per_device * ranks != s["batch_size"]:
        raise SaptError(f"generator batch_size: {s['batch_size']} is not a multiple of the {ranks} ranks (WORLD_SIZE) "
                        "of this launch")
    cfg = TrainConfig(**{**run_flags(args), "max_steps": max_steps}, ranks=ranks, lr=s["lr"], epochs=s.get("epochs", 1),
                      batch_size=per_device, grad_accum=1, global_batch=s["batch_size"], optimizer=s["optimizer"],
                      max_source_len=s["max_source_len"], max_target_len=s["max_target_len"]).validate()
    bb = load_backbone(args.backbone, args.dtype, args.device, args.lora_sites)
    model = attach_pet(bb.model, bb.family, pet_cfg, seed=args.seed)
    train_set = encode_rows(generator_rows(rows), bb.tokenizer, bb.family, cfg.max_source_len, cfg.max_target_len)
    workdir = Path(args.workdir or f"{out}.work")
    history, resumed_step = train(model, train_set, Collator(bb.tokenizer.pad_token_id, bb.family), cfg, workdir,
                                  progress=not args.no_progress)
    losses = [h["loss"] for h in history if "loss" in h]
    sidecar = {
        # the settings as trained: a --max-steps of the run replaces the methods file's max_steps
        "kind": "arm_generator", "method": f"arm_generator-{args.pet}", "pet": pet_cfg.to_dict(),
        "settings": {**s, **({"max_steps": max_steps} if "max_steps" in s else {})},
        "train": cfg.to_dict(), "backbone": {**backbone_provenance(args.backbone), "family": bb.family},
        "benchmark": manifest.get("benchmark"), "task": manifest.get("task"), "template": manifest.get("template"),
        "seed": args.seed, "markers": {"gen": GEN_MARKER, "inp": INP_MARKER, "added_tokens": False},
        "definition": rows[0]["definition"], "n_train": len(rows),
        "inputs": {layout.TRAIN_FILE: sha256_file(Path(args.data_dir) / layout.TRAIN_FILE)},
        "train_log": [{k: h[k] for k in ("step", "loss", "epoch") if k in h} for h in history if "loss" in h],
        "final_train_loss": losses[-1] if losses else None, "resumed_from_step": resumed_step,
    }
    with gathered(model):  # ZeRO-3: every rank gathers, rank 0 writes
        tensors = {k: v.cpu().clone() for k, v in pet_state(model).items()}
    release_ranks()  # no collective after this: rank 0 writes the generator alone
    if not is_main_process():
        return 0
    save_weights(out, tensors, sidecar)
    if not args.keep_workdir:
        clear_checkpoints(workdir)
    print(f"saved {out} (ARM generator of {manifest.get('task')}, {len(rows)} train rows, "
          f"final loss {sidecar['final_train_loss']})")
    return 0
