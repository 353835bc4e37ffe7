"""Recipe ``sapt generate-pseudo``: the pseudo inputs G_t of one task for the Attentive Reflection Module.

``--source generated`` (default): sample ``--n-candidates`` texts (default N_train: one per training instance, as the
official code) from the task's generator B_ref (``sapt train-generator``) with the sampling flags (``--do-sample``,
``--top-k``, ``--repetition-penalty``, ``--num-beams``, ``--max-new-tokens``: the keys of ``generator.<pet>.sampling``,
:class:`sapt_core.arm.settings.Sampling`, whose defaults are the official settings: sampling, top_k 20,
repetition_penalty 2.5, num_beams 1, max_new_tokens 512; temperature and top_p pinned to 1), seeded with
``torch.manual_seed(--seed)``, then split and select them (:mod:`sapt_core.arm.generator`): keep
``max(1, int(volume * N_train))`` of them, all with one generated instruction as definition.

``--source shipped``: the authors' shipped pseudo samples of the task (``generated_data/``, per backbone family),
with the same volume rule applied (they already are 2% of the full training sets, so with capped splits this keeps
``min(max(1, int(volume * N_train)), shipped)`` rows).

``--source real`` (Figure 6, "real" replay type): the same volume of the task's own training inputs in place of
generated ones (seeded selection from ``train.jsonl``, targets dropped), to compare replay types at equal volume.

Output: ``--out pseudo.jsonl`` (prepared-split schema: id, task, benchmark, source, target "", references [],
definition, input) and a sidecar ``pseudo.json`` beside it (same stem, with the rows' sha256, checked where
``train-step --pseudo`` reads them), both written atomically, sidecar first, both or neither.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from sapt_core import layout
from sapt_core.arm.settings import Sampling
from sapt_core.errors import SaptError
from sapt_core.methods.keys import add_flags
from sapt_core.models.backbone import FAMILIES
from sapt_core.recipes.common import add_lora_sites_arg
from sapt_core.settings.benchmarks import BENCHMARKS_FILE

SOURCES = ("generated", "shipped", "real")
# the generate kwargs the sampling flags set (their defaults: the official pseudo_data prediction settings,
# docs/official_code.md §6); temperature/top_p pinned to 1 so a checkpoint's generation_config (e.g. LLaMA-2's)
# cannot change them
SAMPLED = ("do_sample", "top_k", "repetition_penalty", "num_beams")
PINNED = {"temperature": 1.0, "top_p": 1.0}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", required=True,
                   help="prepared task directory: manifest.json gives task, benchmark, template and N_train")
    p.add_argument("--out", required=True, help="output pseudo.jsonl (sidecar written beside it as .json)")
    p.add_argument("--source", default="generated", choices=SOURCES,
                   help="generated: sample from --generator; shipped: the authors' generated_data files")
    p.add_argument("--volume", default="0.02", metavar="F",
                   help="kept pseudo samples as a fraction of N_train, in (0, 1] (default: %(default)s)")
    p.add_argument("--seed", type=int, required=True)
    g = p.add_argument_group("generated source")
    g.add_argument("--backbone", default=None, help="the base backbone the generator was trained on")
    g.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    g.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0, ...")
    add_lora_sites_arg(g)
    g.add_argument("--generator", default=None, help="generator .safetensors written by train-generator")
    g.add_argument("--n-candidates", default=None, metavar="N",
                   help="texts to sample (default: N_train, one per training instance as the official code)")
    g.add_argument("--batch-size", default="16", metavar="N", help="sampling batch size (default: %(default)s)")
    add_flags(p, Sampling, {}, "sampling of the generated source (generator.<pet>.sampling in config/methods.yaml)")
    from sapt_core.data.root import add_data_root_argument

    s = p.add_argument_group("shipped source")
    add_data_root_argument(s)
    s.add_argument("--benchmarks", default=BENCHMARKS_FILE, metavar="YAML")
    s.add_argument("--family", default=None, metavar="t5|llama", help="whose shipped pseudo samples to take")


def _positive_int(flag: str, s) -> int:
    try:
        v = int(s)
    except (TypeError, ValueError):
        raise SaptError(f"{flag}: expected a positive integer, got {s!r}") from None
    if v <= 0:
        raise SaptError(f"{flag}: expected a positive integer, got {s!r}")
    return v


def _volume(s) -> float:
    from sapt_core.arm.generator import check_volume

    try:
        v = float(s)
    except (TypeError, ValueError):
        v = s
    try:
        return check_volume(v)
    except SaptError:
        raise SaptError(f"--volume: expected a fraction of the training set in (0, 1], got {s!r}") from None


def sampling(args) -> dict:
    """The generate kwargs of the sampling flags (:data:`SAMPLED`) with temperature and top_p pinned to 1."""
    return {**{k: getattr(args, k) for k in SAMPLED}, **PINNED}


def sample_texts(model, tokenizer, family: str, n: int, batch_size: int, max_new_tokens: int, max_source_len: int,
                 seed: int, kwargs: dict) -> list[str]:
    """``n`` texts sampled from ``__gen__`` with the generate ``kwargs`` (:func:`sampling`), seeded; LLaMA: only the
    new tokens are decoded."""
    from sapt_core.arm.generator import GEN_MARKER
    from sapt_core.evaluation.generation import sample_from

    return sample_from(model, tokenizer, family, GEN_MARKER, n, batch_size, max_new_tokens, max_source_len, seed,
                       kwargs)


def _check_generator(path: Path, side: dict, manifest: dict, backbone: dict) -> None:
    if side.get("kind") != "arm_generator":
        raise SaptError(f"--generator {path}: expected an ARM generator (sidecar kind 'arm_generator'), "
                        f"got kind {side.get('kind')!r}")
    if side.get("task") != manifest.get("task"):
        raise SaptError(f"--generator {path}: trained on task {side.get('task')!r}, but --data-dir holds task "
                        f"{manifest.get('task')!r}")
    from sapt_core.state import check_backbone

    check_backbone(side, backbone, f"--generator {path}")


def _generated(args, manifest: dict, data_dir: Path, volume: float) -> tuple[list[dict], dict]:
    from sapt_core.arm.generator import select_pseudo, split_generations
    from sapt_core.data import load_split
    from sapt_core.io import load_weights, sha256_file
    from sapt_core.blocks.pet import PetConfig
    from sapt_core.recipes.common import backbone_provenance

    for flag in ("backbone", "generator"):
        if not getattr(args, flag):
            raise SaptError(f"--{flag}: required with --source generated")
    n_train = manifest["counts"]["train"]
    n_cand = _positive_int("--n-candidates", args.n_candidates) if args.n_candidates is not None else n_train
    batch_size = _positive_int("--batch-size", args.batch_size)
    max_new, kwargs = args.max_new_tokens, sampling(args)
    gen_path = Path(args.generator)
    tensors, side = load_weights(gen_path)
    backbone = backbone_provenance(args.backbone)
    _check_generator(gen_path, side, manifest, backbone)
    train_rows = load_split(data_dir, "train")
    if not train_rows:
        raise SaptError(f"{data_dir / layout.TRAIN_FILE}: task {manifest['task']!r} has no training instances")
    definition = train_rows[0]["definition"]
    pet_fields = {k: v for k, v in side.get("pet", {}).items() if k in PetConfig.__dataclass_fields__}
    pet_cfg = PetConfig(**pet_fields).validate()
    max_source_len = int(side.get("train", {}).get("max_source_len", 8))

    from sapt_core.models import load_backbone
    from sapt_core.blocks.pet import attach_pet, load_pet_state

    bb = load_backbone(args.backbone, args.dtype, args.device, args.lora_sites)
    if pet_cfg.type == "lora" and args.lora_sites and pet_cfg.targets and list(args.lora_sites) != pet_cfg.targets:
        raise SaptError(f"--generator {gen_path}: trained with LoRA sites {pet_cfg.targets}, but --lora-sites gives "
                        f"{list(args.lora_sites)} (config backbones.<name>.lora_sites changed: retrain the generator)")
    model = attach_pet(bb.model, bb.family, pet_cfg, seed=args.seed)
    load_pet_state(model, tensors)
    texts = sample_texts(model, bb.tokenizer, bb.family, n_cand, batch_size, max_new, max_source_len, args.seed,
                         kwargs)
    pairs, stats = split_generations(texts, definition, manifest["task"])
    rows = select_pseudo(pairs, n_train, volume, args.seed, manifest["template"], manifest["task"],
                         manifest["benchmark"])
    info = {
        "generator": {"path": str(gen_path), "sha256": sha256_file(gen_path), "task": side.get("task"),
                      "seed": side.get("seed"), "final_train_loss": side.get("final_train_loss"),
                      "train_steps": (side.get("train_log") or [{}])[-1].get("step")},
        "backbone": {**backbone, "family": bb.family},
        "sampling": {**kwargs, "max_new_tokens": max_new, "batch_size": batch_size,
                     "max_source_len": max_source_len, "seeded_with": "torch.manual_seed(seed)"},
        "n_candidates": n_cand, "split": stats.to_dict(), "fallbacks": stats.length_split if stats.fallback_all else 0,
        "n_distinct_instructions": len({ins for ins, _ in pairs}),
        "inputs": {layout.TRAIN_FILE: sha256_file(data_dir / layout.TRAIN_FILE)},
    }
    return rows, info


def _shipped(args, manifest: dict, volume: float) -> tuple[list[dict], dict]:
    from sapt_core.arm.generator import pseudo_rng, select_indices
    from sapt_core.settings.benchmarks import get_benchmark, load_benchmarks
    from sapt_core.data import load_pseudo_samples
    from sapt_core.data.root import default_data_root
    from sapt_core.io import sha256_file

    if args.family not in FAMILIES:
        raise SaptError(f"--family: expected one of {', '.join(FAMILIES)} with --source shipped, got {args.family!r}")
    bench = get_benchmark(load_benchmarks(args.benchmarks), manifest["benchmark"])
    root = Path(args.data_root or default_data_root())
    shipped = load_pseudo_samples(root, bench, args.family, manifest["task"])
    keep = select_indices(len(shipped), manifest["counts"]["train"], volume, pseudo_rng(args.seed, manifest["task"]))
    path = root / bench.pseudo_dir[args.family] / Path(bench.dir).name / manifest["task"] / "train.json"
    info = {"shipped": {"path": path.relative_to(root).as_posix(), "sha256": sha256_file(path),
                        "family": args.family, "available": len(shipped)}}
    return [shipped[i] for i in keep], info


def _real(args, manifest: dict, data_dir: Path, volume: float) -> tuple[list[dict], dict]:
    from sapt_core.arm.generator import pseudo_rng, select_indices
    from sapt_core.data import load_split
    from sapt_core.io import sha256_file

    train = load_split(data_dir, "train")
    keep = select_indices(len(train), manifest["counts"]["train"], volume, pseudo_rng(args.seed, manifest["task"]))
    rows = [{**train[i], "target": "", "references": []} for i in keep]
    return rows, {"inputs": {layout.TRAIN_FILE: sha256_file(data_dir / layout.TRAIN_FILE)}}


def run(args: argparse.Namespace) -> int:
    from sapt_core.arm.generator import pseudo_count
    from sapt_core.data import load_manifest
    from sapt_core.io import atomic_write_all, check_writable, json_text, sha256_file, versions

    out = Path(args.out)
    if out.suffix != ".jsonl":
        raise SaptError(f"--out {out}: expected a path ending in .jsonl")
    volume = _volume(args.volume)
    check_writable(out)
    data_dir = Path(args.data_dir)
    manifest = load_manifest(data_dir)
    for key in ("task", "benchmark", "template"):
        if not isinstance(manifest.get(key), str):
            raise SaptError(f"{data_dir / layout.DATA_MANIFEST}: {key}: expected a string, got {manifest.get(key)!r}")
    n_train = manifest["counts"].get("train")
    if isinstance(n_train, bool) or not isinstance(n_train, int) or n_train <= 0:
        raise SaptError(f"{data_dir / layout.DATA_MANIFEST}: counts.train: expected a positive integer, "
                        f"got {n_train!r}")
    if args.source == "shipped":
        rows, info = _shipped(args, manifest, volume)
    elif args.source == "real":
        rows, info = _real(args, manifest, data_dir, volume)
    else:
        rows, info = _generated(args, manifest, data_dir, volume)

    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    sidecar = {
        "kind": "pseudo_samples", "source": args.source, "benchmark": manifest["benchmark"], "task": manifest["task"],
        "template": manifest["template"], "seed": args.seed, "volume": volume, "n_train": n_train,
        "n_target": pseudo_count(n_train, volume), "n_rows": len(rows),
        "definition": rows[0]["definition"] if rows else None,
        **info,
        "inputs": {layout.DATA_MANIFEST: sha256_file(data_dir / layout.DATA_MANIFEST), **info.get("inputs", {})},
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "versions": versions(),
    }
    atomic_write_all({out.with_suffix(".json"): json_text(sidecar), out: text})  # both or neither, sidecar first
    extra = f", {info['fallbacks']} length-split fallbacks" if info.get("fallbacks") else ""
    print(f"wrote {out} ({len(rows)} pseudo samples of {manifest['task']}, source {args.source}{extra})")
    return 0
