"""Recipe ``sapt train-seq``: one step of a single-block baseline run (facts section 10).

One PET block (LoRA on q/v, or a soft prompt) is carried through the whole task sequence:
- SeqLoRA: ``--init continue``, no replay: the block of step t-1 is fine-tuned on task t;
- Replay: SeqLoRA + ``--real-replay-volume 0.02`` of each earlier task's real training data mixed into task t's data
  (``--replay-data`` = the earlier tasks' prepared directories);
- MTL (the upper bound): ``--init fresh --real-replay-volume 1.0``: a fresh block on the union of tasks 1..t;
- L2P: ``--pet l2p``: the carried-over state is L2P's prompt pool with its keys (:mod:`sapt_core.l2p`);
- LFPT5: ``--pet prompt --prompt-len 300 --lm-lambda 0.25 --gen-replay-volume 0.02``: one prompt carried through the
  sequence that also learns to generate its tasks' examples, and replays examples of tasks 1..t-1 it samples itself
  (:mod:`sapt_core.lfpt5`; ``--replay-data`` then only gives each earlier task's name and training-set size).

The output is a step state in the SAPT layout (one block, weight 1), so ``sapt evaluate --state`` scores it and the
workflow treats every method alike.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sapt_core.errors import SaptError
from sapt_core.recipes.common import (add_backbone_args, add_train_args, backbone_provenance, load_train_rows,
                                      train_config, train_summary)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", required=True, help="method name (config/methods.yaml), recorded in the state")
    p.add_argument("--pet", default="lora", choices=["lora", "prompt", "l2p"])
    p.add_argument("--data-dir", required=True, help="prepared directory of task t")
    p.add_argument("--state-in", default=None, help="state of step t-1 (omit for the first task)")
    p.add_argument("--state-out", required=True, help="state directory of step t")
    p.add_argument("--init", default="continue", choices=["continue", "fresh"],
                   help="continue: start from step t-1's block (SeqLoRA, Replay); fresh: a new block (MTL)")
    p.add_argument("--replay-data", nargs="*", default=[], help="prepared directories of tasks 1..t-1, in order")
    p.add_argument("--real-replay-volume", dest="replay_volume", type=float, default=0.0,
                   help="fraction of each earlier task's training set mixed in (0 = none, 1 = all)")
    g = p.add_argument_group("LFPT5 (generation loss and generative replay)")
    g.add_argument("--lm-lambda", type=float, default=0.0, help="weight of the example-generation LM loss")
    g.add_argument("--gen-replay-volume", type=float, default=0.0,
                   help="examples of each earlier task sampled from the prompt, as a fraction of its training set")
    g.add_argument("--gen-top-k", type=int, default=64)
    g.add_argument("--gen-repetition-penalty", type=float, default=2.5)
    g.add_argument("--gen-candidates", type=int, default=3, help="sampled candidates per drawn example")
    g.add_argument("--gen-max-new-tokens", type=int, default=None, help="default: max source + target length")
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-alpha", type=int, default=32)
    p.add_argument("--lora-dropout", type=float, default=0.0)
    p.add_argument("--prompt-len", type=int, default=10)
    g = p.add_argument_group("L2P (--pet l2p)")
    g.add_argument("--pool-size", type=int, default=10, help="prompts in the pool (M)")
    g.add_argument("--top-n", type=int, default=4, help="prompts selected per input (N)")
    g.add_argument("--pull-weight", type=float, default=0.5, help="c of the pull-key term (EPI text L2P: 0.5)")
    add_backbone_args(p)
    add_train_args(p)


def run(args: argparse.Namespace) -> int:
    import torch

    from sapt_core.baselines import replay_sample
    from sapt_core.data import load_split
    from sapt_core.io import sha256_file
    from sapt_core.state import check_compatible, read_state

    for flag, v in (("--real-replay-volume", args.replay_volume), ("--gen-replay-volume", args.gen_replay_volume)):
        if not 0 <= v <= 1:
            raise SaptError(f"{flag}: expected a fraction in [0, 1], got {v}")
    if args.lm_lambda < 0:
        raise SaptError(f"--lm-lambda: expected a non-negative number, got {args.lm_lambda}")
    if args.gen_replay_volume > 0 and (args.replay_volume > 0 or args.pet != "prompt" or args.lm_lambda <= 0):
        raise SaptError("--gen-replay-volume: LFPT5's generative replay needs --pet prompt, --lm-lambda > 0 "
                        "and no real replay")
    cfg = train_config(args, "adafactor" if args.pet == "prompt" else "adamw")
    manifest, rows = load_train_rows(args.data_dir)
    prev_tensors, prev_side = read_state(args.state_in) if args.state_in else (None, {})
    n_prev = prev_side.get("step", 0)
    if prev_side and prev_side.get("method") != args.method:
        raise SaptError(f"{args.state_in}: state of method {prev_side.get('method')!r}, not {args.method!r}")
    if (args.replay_volume > 0 or args.gen_replay_volume > 0) and len(args.replay_data) != n_prev:
        raise SaptError(f"--replay-data: expected {n_prev} directories (one per earlier task), got {len(args.replay_data)}")
    replayed = []
    for i, d in enumerate(args.replay_data if args.replay_volume > 0 else []):
        replayed += replay_sample(load_split(d, "train"), args.replay_volume, args.seed, i)

    from sapt_core.models import load_backbone
    from sapt_core.models.batching import Collator, encode_rows
    from sapt_core.sapt_model import SaptConfig, SaptModel
    from sapt_core.state import load_into, save_state, state_tensors
    from sapt_core.training import clear_checkpoints, gathered, is_main_process, train

    torch.manual_seed(args.seed)
    step = n_prev + 1
    if args.pet == "l2p":
        from sapt_core.l2p import L2PConfig, L2PModel

        try:
            pcfg = L2PConfig(args.pool_size, args.prompt_len, args.top_n, args.pull_weight).validate()
        except ValueError as e:
            raise SaptError(f"--pool-size/--top-n/--prompt-len/--pull-weight: {e}") from None
        if prev_side and prev_side.get("l2p") != pcfg.to_dict():
            raise SaptError(f"{args.state_in}: L2P settings {prev_side.get('l2p')} differ from {pcfg.to_dict()}")
        bb = load_backbone(args.backbone, args.dtype, args.device)
        model = L2PModel(bb.model, bb.family, pcfg, seed=args.seed * 100003 + step)
        if prev_tensors is not None and args.init == "continue":
            model.load_own_state(prev_tensors)
        structure = {"l2p": pcfg.to_dict()}
    else:
        scfg = SaptConfig(pet=args.pet, n_blocks=1, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
                          lora_dropout=args.lora_dropout, prompt_len=args.prompt_len)
        if prev_side:
            check_compatible(prev_side, scfg.to_dict(), str(args.state_in))
        bb = load_backbone(args.backbone, args.dtype, args.device)
        model = SaptModel(bb.model, bb.family, scfg, seed=args.seed * 100003 + step)
        for p in model.attention.parameters():  # one block, weight 1: the routing plays no part
            p.requires_grad_(False)
        if prev_tensors is not None and args.init == "continue":
            load_into(model, prev_tensors)
        structure = {"sapt": scfg.to_dict()}
    tok = bb.tokenizer
    lfpt5 = None
    if args.gen_replay_volume > 0:  # LFPT5: examples of tasks 1..t-1 sampled from the prompt of step t-1
        replayed, lfpt5 = _generative_replay(args, model, tok, bb.family, cfg)
    train_rows = rows + replayed
    train_set = encode_rows(train_rows, tok, bb.family, cfg.max_source_len, cfg.max_target_len, train=True)
    extra = gen = None
    if args.lm_lambda > 0:  # LFPT5: lm_lambda * LM loss of generating whole examples, one batch per micro-step
        from sapt_core.arm.reflection import PseudoReplay
        from sapt_core.lfpt5 import generation_rows

        gen = PseudoReplay([encode_rows(generation_rows(train_rows), tok, bb.family, 32,
                                        cfg.max_source_len + cfg.max_target_len, train=True)],
                           Collator(tok.pad_token_id, bb.family), cfg.batch_size, args.seed)

        def gen_loss(model_, inputs, global_step):
            device = next(model_.parameters()).device
            return args.lm_lambda * model_(**{k: v.to(device) for k, v in gen.next_batches()[0].items()}).loss

        extra = gen_loss
    state_out = Path(args.state_out)
    workdir = Path(args.workdir or f"{state_out}.work")
    history, resumed_step = train(model, train_set, Collator(tok.pad_token_id, bb.family, with_query=True), cfg,
                                  workdir, extra_loss=extra, progress=not args.no_progress,
                                  extra_state={"lfpt5_generation": gen} if extra is not None else None)
    summary = train_summary(history, resumed_step)
    sidecar = {
        "kind": "seq_state", "method": args.method, "step": step,
        "tasks": prev_side.get("tasks", []) + [manifest["task"]], "benchmark": manifest.get("benchmark"),
        "seed": args.seed, **structure, "train": cfg.to_dict(),
        "seq": {"init": args.init, "replay_volume": args.replay_volume, "n_replayed": len(replayed)},
        **({"lfpt5": lfpt5 or {"lm_lambda": args.lm_lambda, "drawn": [], "kept": []}} if args.lm_lambda > 0 else {}),
        "backbone": {**backbone_provenance(args.backbone), "family": bb.family},
        "inputs": {"train.jsonl": sha256_file(Path(args.data_dir) / "train.jsonl"),
                   **({"state_in": sha256_file(Path(args.state_in) / "state.safetensors")} if args.state_in else {}),
                   "replay": [sha256_file(Path(d) / "train.jsonl") for d in args.replay_data]},
        "history": prev_side.get("history", []) + [{"task": manifest["task"], "n_train": len(rows),
                                                    "n_replayed": len(replayed), **summary}],
    }
    with gathered(model):  # ZeRO-3: every rank gathers, rank 0 writes
        tensors = model.own_state() if args.pet == "l2p" else state_tensors(model, torch.ones(1, 1))
        tensors = {k: v.detach().cpu().clone() for k, v in tensors.items()}
    if not is_main_process():
        return 0
    save_state(state_out, tensors, sidecar)
    if not args.keep_workdir:
        clear_checkpoints(workdir)
    print(f"step {step} ({manifest['task']}): {len(rows)} rows + {len(replayed)} replayed, final loss "
          f"{summary['final_train_loss']}")
    return 0


def _generative_replay(args, model, tok, family: str, cfg) -> tuple[list[dict], dict]:
    """LFPT5's replay: ``max(1, int(v * N_i))`` drawn examples of every earlier task i (N_i from its manifest)."""
    from sapt_core.arm.generator import pseudo_count
    from sapt_core.data import load_manifest
    from sapt_core.lfpt5 import GenSampling, generate_examples

    sampling = GenSampling(args.gen_top_k, args.gen_repetition_penalty, args.gen_candidates,
                           args.gen_max_new_tokens or cfg.max_source_len + cfg.max_target_len)
    rows, drawn, kept = [], [], []
    for i, d in enumerate(args.replay_data):
        m = load_manifest(d)
        n = pseudo_count(m["counts"]["train"], args.gen_replay_volume)
        got, _ = generate_examples(model, tok, family, m["task"], n, sampling, args.seed * 1000 + i)
        rows += got
        drawn.append(n)
        kept.append(len(got))
    model.train()
    return rows, {"lm_lambda": args.lm_lambda, "gen_replay_volume": args.gen_replay_volume,
                  "sampling": sampling.to_dict(), "drawn": drawn, "kept": kept}
