"""Recipe ``sapt train-step``: one step t of a SAPT run (SAPT-LoRA or SAPT-Prompt; also O-LoRA, same block layout).

  1. build the model with t blocks: blocks/keys 1..t-1 and the projection from ``--state-in`` (frozen blocks and
     keys), a fresh block t and key t (facts 2.8);
  2. train on task t: task loss + lambda * ARM's KL over one pseudo batch of every earlier task (Eq. 5-6, facts 3.5);
  3. store a_t = mean attention of task t's inputs (``--attn-split``, facts 3.3) and write the step state.

Baselines with the same block layout (facts 10):
- ``--routing concat --pet prompt``: Progressive Prompts, a new prompt per task, earlier ones frozen, all prepended
  newest first;
- ``--routing epi --pet prompt``: EPI, a private prompt per task; after training, task t's class statistics of
  frozen-backbone features join the state, and test inputs take the prompt of the Mahalanobis-closest task
  (:mod:`sapt_core.epi`; classification tasks only);
- ``--routing sum --orth-lambda L``: O-LoRA, every LoRA block with weight 1 (no attention, no ARM), and
  L * sum_sites |A_prev A_new^T|_1 added to the task loss.
Ablations of Table 2 (paper section 6.3):
- -ARM: ``--lambda 0``;
- +Replay: ``--reflection mix --lambda 0``: instead of ARM's KL, the pseudo inputs of tasks 1..t-1, labelled by the
  model of step t-1 (greedy decoding; the pseudo inputs carry no answers, facts 3.1), are mixed into task t's data;
- -Alignment: ``--routing pipeline``: block t learns with shared attention (no ARM), then a separate selector is
  fitted to the stored weights a_1..a_t on pseudo inputs of tasks 1..t and routes the test inputs;
- -DA: ``--routing top1``: block t learns on task t alone; the selector learns to recognise tasks 1..t on their
  pseudo inputs and each test input takes its single most confident block (:mod:`sapt_core.selector`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sapt_core.errors import SaptError
from sapt_core.recipes.common import add_backbone_args, add_train_args, backbone_provenance, train_config

METHODS = {"sapt-lora": "lora", "sapt-prompt": "prompt"}  # PET type of the paper's methods (others pass --pet)


def add_sapt_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("SAPT (defaults = official code; see config/README.md)")
    g.add_argument("--lora-r", type=int, default=8)
    g.add_argument("--lora-alpha", type=int, default=32)
    g.add_argument("--lora-dropout", type=float, default=0.0)
    g.add_argument("--lora-mixing", default="output", choices=["output", "parameter"])
    g.add_argument("--prompt-len", type=int, default=10)
    g.add_argument("--d-p", type=int, default=100, help="hidden width of the query projection")
    g.add_argument("--temperature", default="sqrt_d", help="sqrt_d | d_e | a number (Eq. 2)")
    g.add_argument("--projection-order", default="official", choices=["official", "paper"])
    g.add_argument("--pool-mask-pads", action=argparse.BooleanOptionalAction, default=False,
                   help="mask pads out of the max-pool (official: no)")
    g.add_argument("--routing", default="attention", choices=["attention", "sum", "concat", "epi", "pipeline", "top1"],
                   help="attention: shared attention (SAPT); sum: every LoRA block with weight 1 (O-LoRA); concat: "
                        "every prompt prepended, newest first (ProgPrompt); epi: Mahalanobis task selection (EPI); "
                        "pipeline / top1: a separate selector at test time (Table 2 -Alignment / -DA)")
    g.add_argument("--orth-lambda", type=float, default=0.0,
                   help="O-LoRA: weight of sum |A_prev A_new^T|_1 (orthogonal subspaces)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", required=True, help="method name (config/methods.yaml), recorded in the state")
    p.add_argument("--pet", default=None, choices=["lora", "prompt"],
                   help=f"PET type; default from the method name ({', '.join(f'{k}: {v}' for k, v in METHODS.items())})")
    p.add_argument("--data-dir", required=True, help="prepared directory of task t")
    p.add_argument("--state-in", default=None, help="state of step t-1 (omit for the first task)")
    p.add_argument("--state-out", required=True, help="state directory of step t")
    p.add_argument("--pseudo", nargs="*", default=[], help="pseudo-input JSONL of tasks 1..t-1, in order")
    add_sapt_args(p)
    g = p.add_argument_group("ARM (Eq. 5-6)")
    g.add_argument("--lambda", dest="lam", type=float, default=0.1, help="weight of the KL term")
    g.add_argument("--reflection", default="kl", choices=["kl", "mix"],
                   help="kl: ARM's KL on the pseudo inputs (Eq. 5-6); mix: +Replay, the pseudo inputs labelled by "
                        "step t-1's model are mixed into the training data (Table 2)")
    g.add_argument("--kl-direction", default="target_first", choices=["target_first", "paper"])
    g.add_argument("--kl-scale-by-gas", action=argparse.BooleanOptionalAction, default=False,
                   help="divide the KL by gradient accumulation like the task loss (official T5: no)")
    g.add_argument("--kl-start-step", type=int, default=1, help="first optimizer step with KL (official: 1)")
    g.add_argument("--attn-split", default="test", choices=["test", "val"], help="inputs whose mean attention is a_t")
    g.add_argument("--proj-lr", type=float, default=None, help="separate LR of the query projection (App. C prompts)")
    g.add_argument("--selector-steps", type=int, default=300,
                   help="--routing pipeline/top1: full-batch Adam steps that fit the selector after the step")
    g.add_argument("--selector-lr", type=float, default=1e-2, help="--routing pipeline/top1: the selector's LR")
    g.add_argument("--eval-every-epochs", dest="select_every_epochs", type=int, default=0,
                   help="model selection: score the --attn-split set every N epochs and keep the best epoch "
                        "(official: 5, on the test=dev file); 0 = keep the last epoch")
    g.add_argument("--eval-batch-size", type=int, default=32)
    g.add_argument("--max-new-tokens", type=int, default=50)
    add_backbone_args(p)
    add_train_args(p)


def pet_type(args) -> str:
    pet = args.pet or METHODS.get(args.method)
    if pet is None:
        raise SaptError(f"--pet: required for method {args.method!r} (lora or prompt)")
    return pet


def sapt_config_from_args(args, n_blocks: int):
    from sapt_core.sapt_model import SaptConfig

    for name in ("lora_r", "lora_alpha", "prompt_len", "d_p"):
        if getattr(args, name) <= 0:
            raise SaptError(f"--{name.replace('_', '-')}: expected a positive integer, got {getattr(args, name)}")
    if args.temperature not in ("sqrt_d", "d_e"):
        try:
            if float(args.temperature) <= 0:
                raise ValueError
        except ValueError:
            raise SaptError(f"--temperature: expected sqrt_d, d_e or a positive number, got {args.temperature!r}") from None
    cfg = SaptConfig(pet=pet_type(args), n_blocks=n_blocks, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
                     lora_dropout=args.lora_dropout, lora_mixing=args.lora_mixing, prompt_len=args.prompt_len,
                     d_p=args.d_p, temperature=args.temperature, projection_order=args.projection_order,
                     pool_mask_pads=args.pool_mask_pads, routing=args.routing)
    try:
        return cfg.validate()
    except ValueError as e:
        raise SaptError(f"--pet/--routing: {e}") from None


def run(args: argparse.Namespace) -> int:
    import torch

    from sapt_core.data import load_manifest, load_split
    from sapt_core.io import read_jsonl, sha256_file
    from sapt_core.state import check_compatible, read_state

    for flag, v in (("--lambda", args.lam), ("--orth-lambda", args.orth_lambda)):
        if v < 0:
            raise SaptError(f"{flag}: expected a non-negative number, got {v}")
    cfg = train_config(args, "adamw" if pet_type(args) == "lora" else "adafactor")
    data_dir = Path(args.data_dir)
    manifest = load_manifest(data_dir)
    rows = load_split(data_dir, "train")
    if not rows:
        raise SaptError(f"{data_dir / 'train.jsonl'}: task {manifest.get('task')!r} has no training instances")
    if args.routing == "epi" and manifest.get("metric") != "accuracy":
        raise SaptError(f"{data_dir / 'manifest.json'}: task {manifest.get('task')!r} is scored by "
                        f"{manifest.get('metric')!r}; EPI selects tasks by class statistics and needs classification "
                        "tasks (the paper runs it on Long Sequence only)")
    attn_rows = load_split(data_dir, args.attn_split)
    prev_tensors, prev_side = (read_state(args.state_in) if args.state_in else (None, {}))
    n_prev = prev_side.get("step", 0)
    uses_arm = args.routing == "attention" and args.lam > 0 and args.reflection == "kl"
    mixes = args.routing == "attention" and args.reflection == "mix"
    selects = args.routing in ("pipeline", "top1")
    if args.reflection == "mix" and (args.lam > 0 or not mixes):
        raise SaptError("--reflection mix: +Replay replaces ARM's KL (use --lambda 0) and needs --routing attention")
    if selects and args.selector_steps <= 0:
        raise SaptError(f"--selector-steps: expected a positive integer, got {args.selector_steps}")
    want = n_prev + 1 if selects else n_prev if (uses_arm or mixes) else len(args.pseudo)
    if len(args.pseudo) != want:
        raise SaptError(f"--pseudo: expected {want} files (one per {'seen' if selects else 'earlier'} task of this "
                        f"step), got {len(args.pseudo)}")
    if prev_side and prev_side.get("method") != args.method:
        raise SaptError(f"{args.state_in}: state of method {prev_side.get('method')!r}, not {args.method!r}")
    pseudo_rows = [read_jsonl(p, "pseudo-input file") for p in args.pseudo]
    for p, r in zip(args.pseudo, pseudo_rows):
        if not r:
            raise SaptError(f"{p}: no pseudo inputs")
    scfg = sapt_config_from_args(args, n_prev + 1)
    if prev_side:
        check_compatible(prev_side, scfg.to_dict(), str(args.state_in))

    from sapt_core.arm.reflection import PseudoReplay, mean_attention, pad_target, reflection_loss
    from sapt_core.models import load_backbone
    from sapt_core.models.batching import Collator, encode_rows
    from sapt_core.sapt_model import SaptModel
    from sapt_core.state import load_into, save_state, state_tensors
    from sapt_core.training import clear_checkpoints, gathered, is_main_process, train

    step = n_prev + 1
    mixed = []
    if mixes and n_prev:  # +Replay: answers for the pseudo inputs from the model of step t-1
        from dataclasses import replace

        from sapt_core.baselines import label_pseudo

        mixed = label_pseudo(args, replace(scfg, n_blocks=n_prev), prev_tensors, pseudo_rows)
    torch.manual_seed(args.seed)
    bb = load_backbone(args.backbone, args.dtype, args.device)
    model = SaptModel(bb.model, bb.family, scfg, seed=args.seed * 100003 + step)
    if args.routing == "top1":  # -DA: block t learns alone; the shared attention plays no part
        model.attention.requires_grad_(False)
    targets = torch.zeros(0, 0)
    if prev_tensors is not None:
        load_into(model, prev_tensors)
        targets = prev_tensors["arm.targets"].float()
    tok = bb.tokenizer
    train_set = encode_rows(rows + mixed, tok, bb.family, cfg.max_source_len, cfg.max_target_len, train=True)
    query_collate = Collator(tok.pad_token_id, bb.family)

    def query_batches(enc):  # prompts only, 64 at a time (routing features: attention, EPI, selector)
        return (query_collate(enc[i:i + 64]) for i in range(0, len(enc), 64))
    extra, replay = None, None
    if n_prev and uses_arm:
        replay = PseudoReplay([encode_rows(r, tok, bb.family, cfg.max_source_len, train=False) for r in pseudo_rows],
                              query_collate, cfg.batch_size, args.seed)
        kl_targets = torch.stack([pad_target(targets[i, : i + 1], step) for i in range(n_prev)])
        scale = args.lam * (1 if args.kl_scale_by_gas else cfg.grad_accum)

        def arm_kl(model_, inputs, global_step):
            """lambda * sum_i KL over one pseudo batch of every earlier task (Eq. 5-6), from kl_start_step on."""
            if global_step < args.kl_start_step:
                return None
            return scale * reflection_loss(model_, replay.next_batches(), kl_targets, args.kl_direction)

        extra = arm_kl
    elif n_prev and args.orth_lambda > 0:
        from sapt_core.baselines import orthogonality_loss

        def orth(model_, inputs, global_step):
            """O-LoRA: lambda_1 * sum over sites |A_prev A_new^T|_1."""
            return args.orth_lambda * orthogonality_loss(model_)

        extra = orth

    param_groups = None
    if args.proj_lr is not None:
        proj = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("attention.proj.")]
        rest = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("attention.proj.")]
        param_groups = [{"params": rest, "lr": cfg.lr}, {"params": proj, "lr": args.proj_lr}]
    state_out = Path(args.state_out)
    workdir = Path(args.workdir or f"{state_out}.work")
    selector = None
    if args.select_every_epochs > 0:
        from sapt_core.generation import greedy_generate
        from sapt_core.scoring import reference_lists, score_task
        from sapt_core.training import BestSelector

        def score_fn(m):
            preds = greedy_generate(m, tok, bb.family, attn_rows, args.eval_batch_size, args.max_new_tokens,
                                    cfg.max_source_len)
            refs = reference_lists(attn_rows)
            return score_task(preds, refs, manifest["metric"])["score"]

        selector = BestSelector(score_fn, args.select_every_epochs, workdir, lambda m: m.own_state(),
                                lambda m, t: m.load_state_dict(t, strict=False))
    history, resumed_step = train(model, train_set, Collator(tok.pad_token_id, bb.family, with_query=True), cfg,
                                  workdir, extra_loss=extra, progress=not args.no_progress, param_groups=param_groups,
                                  callbacks=[selector.callback()] if selector else None,
                                  extra_state={"pseudo_replay": replay} if replay is not None else None)
    selected = selector.restore(model) if selector else None
    if args.routing == "epi":  # EPI: task t's class statistics of frozen-backbone features (no prompt)
        from sapt_core.epi import frozen_features

        enc = encode_rows(rows, tok, bb.family, cfg.max_source_len, train=False)
        feats = torch.cat([frozen_features(bb.model, bb.family, b["input_ids"].to(bb.model.device),
                                           b["attention_mask"].to(bb.model.device)).cpu()
                           for b in query_batches(enc)])
        model.epi.add_task(feats, [r["target"] for r in rows], step - 1)
    attn_enc = encode_rows(attn_rows, tok, bb.family, cfg.max_source_len, train=False)
    a_t = mean_attention(model, query_batches(attn_enc))
    new_targets = torch.zeros(step, step)
    new_targets[:n_prev, :n_prev] = targets
    new_targets[step - 1] = a_t
    selector_log = None
    if selects:  # -Alignment / -DA: fit the separate selector to a_1..a_t on pseudo inputs of tasks 1..t
        from sapt_core.selector import fit_selector, pooled_inputs

        pooled = [pooled_inputs(model, query_batches(enc))
                  for enc in (encode_rows(r, tok, bb.family, cfg.max_source_len, train=False) for r in pseudo_rows)]
        torch.manual_seed(args.seed)
        losses_sel = fit_selector(model.selector, pooled, new_targets, args.selector_steps, args.selector_lr,
                                  args.kl_direction)
        selector_log = {"steps": args.selector_steps, "lr": args.selector_lr, "first_loss": losses_sel[0],
                        "final_loss": losses_sel[-1], "n_inputs": [p.shape[0] for p in pooled]}
    losses = [h["loss"] for h in history if "loss" in h]
    sidecar = {
        "kind": "sapt_state", "method": args.method, "step": step,
        "tasks": prev_side.get("tasks", []) + [manifest["task"]], "benchmark": manifest.get("benchmark"),
        "seed": args.seed, "sapt": scfg.to_dict(),
        "arm": {"lambda": args.lam, "kl_direction": args.kl_direction, "kl_scale_by_gas": args.kl_scale_by_gas,
                "kl_start_step": args.kl_start_step, "attn_split": args.attn_split, "proj_lr": args.proj_lr,
                "used": bool(n_prev and uses_arm), "reflection": args.reflection},
        "selector": selector_log,
        "orth_lambda": args.orth_lambda,
        "train": cfg.to_dict(), "backbone": {**backbone_provenance(args.backbone), "family": bb.family},
        "inputs": {"train.jsonl": sha256_file(data_dir / "train.jsonl"),
                   f"{args.attn_split}.jsonl": sha256_file(data_dir / f"{args.attn_split}.jsonl"),
                   **({"state_in": sha256_file(Path(args.state_in) / "state.safetensors")} if args.state_in else {}),
                   "pseudo": [sha256_file(p) for p in args.pseudo]},
        "a_t": a_t.tolist(),
        "history": prev_side.get("history", []) + [{
            "task": manifest["task"], "final_train_loss": losses[-1] if losses else None,
            "resumed_from_step": resumed_step, "n_train": len(rows), "n_replayed": len(mixed), "selected": selected,
            "train_log": [{k: h[k] for k in ("step", "loss") if k in h} for h in history if "loss" in h]}],
    }
    with gathered(model):  # ZeRO-3: every rank gathers, rank 0 writes
        tensors = {k: v.clone() for k, v in state_tensors(model, new_targets).items()}
    if not is_main_process():
        return 0
    save_state(state_out, tensors, sidecar)
    if not args.keep_workdir:
        clear_checkpoints(workdir)
    print(f"step {step} ({manifest['task']}): a_t = {[round(x, 3) for x in a_t.tolist()]}, final loss "
          f"{sidecar['history'][-1]['final_train_loss']}")
    return 0
