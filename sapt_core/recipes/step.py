"""Recipe ``sapt train-step``: step k of a continual-learning run, for every method (paper section 3: task k of a
sequence, learned without the data of tasks 1..k-1 unless the method replays them).

    load state k-1 -> the method builds the model -> train on task k's rows (+ the method's extra rows) with the
    task loss (Eq. 4) + the method's losses -> the method's after-task hook -> save state k atomically -> score the
    test sets of tasks 1..k on the saved state (row k of the score matrix)

:func:`run` reads in that order; the checks of the inputs, the sidecar and the scoring are helpers below it. The
method receives values (:class:`~sapt_core.methods.base.StepContext`), not this command's flags.

The method (``--method``, an entry of ``config/methods.yaml``) is a component of :mod:`sapt_core.methods`; its keys
are this command's flags (``--lora-r``, ``--kl-lambda``, ...), defaulting to the method's values in the methods file
(the workflow passes every value resolved for the job's backbone, benchmark and order). A single-task run a_{0,t}
(FWT) is this recipe on a one-task chain (method ``single-task``).

Model selection (``--selection val|test --select-every-epochs N``): every N epochs the model is scored on that split
and the best epoch's state is kept (the official code's load_best_model_at_end), the same way for every method.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sapt_core import layout
from sapt_core.errors import SaptError
from sapt_core.settings.methods_file import METHODS_FILE
from sapt_core.recipes.common import add_backbone_args, add_run_args, backbone_provenance


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", required=True, help="method name (an entry of the methods file)")
    p.add_argument("--methods-file", default=METHODS_FILE, help="the methods file (default: %(default)s)")
    p.add_argument("--data-dir", required=True, help="prepared directory of task k")
    p.add_argument("--state-in", default=None, help="state of step k-1 (omit for the first task)")
    p.add_argument("--first-step-from", default=None, metavar="STATE",
                   help="step 1 only: take this state of a run with an equal first-step key instead of training "
                        "(checked; the workflow's shared first steps, sapt_core/recipes/first_step.py)")
    p.add_argument("--step", type=int, default=None,
                   help="k: the step trained (default: the --state-in step + 1, else 1). Without --state-in, k > 1 "
                        "only for a method that retrains from scratch on tasks 1..k (MTL: its run trains step T alone)")
    p.add_argument("--state-out", required=True, help="state directory of step k")
    p.add_argument("--pseudo", nargs="*", default=[], help="pseudo-input JSONL files the method replays, in task order")
    p.add_argument("--replay-data", nargs="*", default=[],
                   help="prepared directories of earlier tasks the method replays, in task order")
    g = p.add_argument_group("scoring the trained step (row k of the score matrix)")
    g.add_argument("--eval-data-dirs", nargs="*", default=[],
                   help="prepared directories of tasks 1..k: their test sets are scored after training")
    g.add_argument("--scores-out", default=None, help="scores JSON of --eval-data-dirs (as sapt evaluate --out)")
    g.add_argument("--predictions-out", default=None, help="per-instance predictions JSONL")
    g.add_argument("--attention-out", default=None, help="per-input block weights JSON (the heat maps)")
    add_backbone_args(p)
    add_run_args(p)


def add_dynamic_arguments(p: argparse.ArgumentParser, argv: list[str]) -> None:
    """The flags of ``--method``'s keys, defaulting to its values in the methods file."""
    from sapt_core.methods.keys import add_flags

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--method")
    pre.add_argument("--methods-file", default=METHODS_FILE)
    known, _ = pre.parse_known_args(argv)
    if not known.method:
        return
    method = method_defaults(known.methods_file, known.method)
    add_flags(p, type(method.cfg), method.values(), f"{known.method} ({method.component}) keys")


def method_defaults(methods_file: str, name: str):
    """The method ``name`` with its methods-file defaults (no family/benchmark/order layer)."""
    from sapt_core.settings.methods_file import defaults_instance, load_methods

    return defaults_instance(load_methods(methods_file), name)


def method_from_args(args):
    """The method with the values of this command's flags."""
    from sapt_core.methods import component

    base = method_defaults(args.methods_file, args.method)
    comp = component(base.component)
    values = {k: getattr(args, k) for k in comp.keys()}
    return comp(args.method, comp.make_config(values, "flags"))


def read_pseudo(paths: list[str]) -> list[list[dict]]:
    """The rows of each pseudo-input file, checked against the row schema and, where ``generate-pseudo``'s sidecar
    lies beside it, against the sha256 it recorded."""
    from sapt_core.data.rows import check_row
    from sapt_core.io import read_json, read_jsonl, verify_sha256

    out = []
    for p in paths:
        side = Path(p).with_suffix(".json")
        if side.is_file():
            verify_sha256(p, read_json(side, "pseudo-input sidecar").get("sha256"), f"the sha256 recorded in {side}")
        rows = read_jsonl(p, "pseudo-input file", check=check_row)
        if not rows:
            raise SaptError(f"{p}: no pseudo inputs")
        out.append(rows)
    return out


def run(args: argparse.Namespace) -> int:
    """Step k, as the module docstring tells it: load, build, train, after-task, save, score."""
    from sapt_core.io import check_writable
    from sapt_core.state import save_state
    from sapt_core.training.loop import clear_checkpoints
    from sapt_core.training.ranks import is_main_process

    method = method_from_args(args)
    check_writable(args.state_out, *[p for p in (args.scores_out, args.predictions_out, args.attention_out) if p])
    ctx, backbone = _load_inputs(args, method)                       # load: task k, state k-1, pseudo and replay
    eval_tasks, dec = _eval_tasks(args, method)
    if args.first_step_from:                                         # step 1 of an equal run, checked
        from sapt_core.recipes.first_step import adopt

        if not is_main_process():
            return 0
        tensors, sidecar = adopt(args, method, ctx, backbone)
    else:
        tensors, sidecar = _learn(args, method, ctx, backbone)
        if tensors is None:  # not the main rank: rank 0 writes the state and scores alone
            return 0
    save_state(Path(args.state_out), tensors, sidecar)               # save state k atomically
    if not args.keep_workdir:
        clear_checkpoints(_workdir(args))
    if eval_tasks:                                                   # score: row k of the score matrix
        _score(args, backbone, Path(args.state_out), eval_tasks, dec)
    last = sidecar["history"][-1]
    note = f", a_t = {[round(x, 3) for x in last['a_t']]}" if "a_t" in last else ""
    taken = f" (state 1 of {sidecar['first_step_from']['method']})" if "first_step_from" in sidecar else ""
    print(f"step {ctx.k} ({ctx.manifest['task']}): {args.method}{taken}, {len(ctx.rows)} rows + "
          f"{last['n_replayed']} replayed{note}, final loss {last['final_train_loss']}")
    return 0


def _learn(args, method, ctx, backbone) -> tuple[dict | None, dict | None]:
    """Build the method's model of step k, train it (Eq. 4 + the method's losses), run its after-task hook: the
    (tensors, sidecar) of state k on the main rank, (None, None) on the others."""
    from sapt_core.models import load_backbone
    from sapt_core.training.best_epoch import keeper_for
    from sapt_core.training.ranks import gathered, is_main_process, release_ranks

    _check_selection(method.cfg.selection, ctx.train)
    select_rows = ctx.split(method.cfg.selection) if method.cfg.selection != "none" else []

    import torch

    torch.manual_seed(args.seed)
    ctx.backbone = load_backbone(*ctx.backbone_source)
    model = method.build(ctx)                                        # build: the method's model of step k
    extra = method.extra_rows(ctx, model)
    ctx.train_rows = ctx.rows + extra
    workdir = _workdir(args)
    keeper = keeper_for(method.cfg, ctx, select_rows, workdir)
    history, resumed_step = _train(args, method, ctx, model, keeper, workdir)     # train (Eq. 4 + method losses)
    selected = keeper.restore(model) if keeper else None
    method.after_task(ctx, model)                                    # after-task: what the method stores
    sidecar = _sidecar(args, method, ctx, model, backbone, history, resumed_step, selected, n_extra=len(extra))
    with gathered(model):  # ZeRO-3: every rank gathers, rank 0 writes
        tensors = {k_: v.detach().contiguous().cpu().clone() for k_, v in method.state_tensors(ctx, model).items()}
    release_ranks()  # no collective after this: rank 0 writes the state and scores alone
    if not is_main_process():
        return None, None
    return tensors, sidecar


def _workdir(args) -> Path:
    """The in-job checkpoints of the step (resumed if present, removed once state k is written)."""
    return Path(args.workdir or f"{args.state_out}.work")


def _load_inputs(args, method):
    """Task k's manifest and training rows, state k-1 (checked against the backbone and the method's structure), the
    pseudo inputs and replayed tasks the method needs at step k: the step's :class:`StepContext` (no backbone yet)
    and the backbone's provenance."""
    from sapt_core.blocks.sites import default_sites
    from sapt_core.data import load_manifest, load_split
    from sapt_core.methods.base import StepContext
    from sapt_core.state import check_backbone, check_sites, read_state
    from sapt_core.training.loop import train_config

    data_dir = Path(args.data_dir)
    manifest = load_manifest(data_dir)
    rows = load_split(data_dir, "train")
    if not rows:
        raise SaptError(f"{data_dir / layout.TRAIN_FILE}: task {manifest.get('task')!r} has no training instances")
    prev_tensors, prev_side = read_state(args.state_in) if args.state_in else (None, {})
    backbone = backbone_provenance(args.backbone)
    if prev_side:
        check_backbone(prev_side, backbone, f"--state-in {args.state_in}")
        check_sites(prev_side, prev_tensors,
                    args.lora_sites or default_sites((prev_side.get("backbone") or {}).get("family", "")) or None,
                    f"--state-in {args.state_in}")
        method.check_continuation(prev_side, str(args.state_in))
    k = _step(args, method, prev_side)
    needs = method.needs(k)
    for flag, given, want in (("--pseudo", args.pseudo, needs.pseudo), ("--replay-data", args.replay_data,
                                                                          needs.replay)):
        if len(given) != want:
            raise SaptError(f"{flag}: expected {want} files for step {k} of method {args.method!r}, got {len(given)}")
    ctx = StepContext(method=args.method, k=k, seed=args.seed, data_dir=data_dir, manifest=manifest, rows=rows,
                      prev_tensors=prev_tensors, prev_side=prev_side, pseudo=read_pseudo(args.pseudo),
                      replay_dirs=list(args.replay_data), train=train_config(method.cfg, args),
                      backbone_source=(args.backbone, args.dtype, args.device, args.lora_sites))
    method.check(ctx)
    return ctx, backbone


def _eval_tasks(args, method):
    """The test sets of tasks 1..k scored after training (none without ``--eval-data-dirs``) and their decoding."""
    from sapt_core.recipes.evaluate import Decoding, load_tasks

    if bool(args.eval_data_dirs) != bool(args.scores_out):
        raise SaptError("--eval-data-dirs and --scores-out: give both (score the trained step) or neither")
    dec = Decoding(method.cfg.eval_batch_size, method.cfg.max_new_tokens, method.cfg.max_source_len)
    return (load_tasks(args.eval_data_dirs, dec.split) if args.eval_data_dirs else []), dec


def _check_selection(selection: str, cfg) -> None:
    from sapt_core.training.ranks import zero_stage

    if selection != "none" and zero_stage(cfg.deepspeed) == 3:
        raise SaptError(f"--selection {selection}: model selection is not supported under ZeRO-3 ({cfg.deepspeed}: "
                        "it partitions the trainable tensors the best epoch keeps); use --selection none or ZeRO-2")


def _train(args, method, ctx, model, keeper, workdir):
    """The task loss (Eq. 4) plus the method's loss over the task's rows and the method's extra rows."""
    from sapt_core.models.batching import Collator
    from sapt_core.training.loop import train

    extra_loss = method.extra_loss(ctx, model)
    return train(model, ctx.encode(ctx.train_rows), Collator(ctx.tokenizer.pad_token_id, ctx.family, with_query=True),
                 ctx.train, workdir, extra_loss=extra_loss, progress=not args.no_progress,
                 param_groups=method.param_groups(model), callbacks=[keeper.callback()] if keeper else None,
                 extra_state=method.loop_state() or None)


def _sidecar(args, method, ctx, model, backbone, history, resumed_step, selected, n_extra: int) -> dict:
    """state.json of step k: what was trained, on what (sha256 of every input), and how (:mod:`sapt_core.state`)."""
    from sapt_core.io import sha256_file

    selection, k, data_dir = method.cfg.selection, ctx.k, ctx.data_dir
    losses = [h["loss"] for h in history if "loss" in h]
    return {
        "kind": "step_state", "method": args.method, "component": method.component, "step": k,
        "tasks": _earlier_tasks(args, ctx.prev_side, k) + [ctx.manifest["task"]],
        "benchmark": ctx.manifest.get("benchmark"),
        "seed": args.seed, "config": method.values(), "train": ctx.train.to_dict(),
        "protocol": {"selection": selection, "select_every_epochs": method.cfg.select_every_epochs,
                     "attention_split": getattr(method.cfg, "attn_split", None)},
        "dtypes": {"backbone": str(ctx.backbone.model.dtype).replace("torch.", ""),
                   "trainable": sorted({str(p.dtype).replace("torch.", "") for p in model.parameters()
                                        if p.requires_grad})},
        "backbone": {**backbone, "family": ctx.family,
                     **({"lora_sites": ctx.backbone.sites} if getattr(model, "sites", None) else {})},
        "inputs": {layout.TRAIN_FILE: sha256_file(data_dir / layout.TRAIN_FILE),
                   **({layout.split_file_name(selection): sha256_file(data_dir / layout.split_file_name(selection))}
                      if selection != "none" else {}),
                   **({"state_in": sha256_file(Path(args.state_in) / layout.STATE_TENSORS)} if args.state_in else {}),
                   "pseudo": [sha256_file(p) for p in args.pseudo],
                   "replay": [sha256_file(Path(d) / layout.TRAIN_FILE) for d in args.replay_data]},
        "history": ctx.prev_side.get("history", []) + [{
            "task": ctx.manifest["task"], "n_train": len(ctx.rows), "n_replayed": n_extra,
            "final_train_loss": losses[-1] if losses else None, "resumed_from_step": resumed_step,
            "selected": selected, **method.step_notes(k), **ctx.notes,
            "train_log": [{k_: h[k_] for k_ in ("step", "loss", "epoch") if k_ in h} for h in history if "loss" in h]}],
    }


def _step(args, method, prev_side: dict) -> int:
    """Step k: one after ``--state-in``'s; without it ``--step`` (default 1), k > 1 only for a method whose step k
    does not continue step k-1 (:meth:`~sapt_core.methods.base.Method.last_step_only`)."""
    k = prev_side.get("step", 0) + 1 if args.state_in else (args.step or 1)
    if args.step is not None and args.step != k:
        raise SaptError(f"--step: {args.step} does not follow --state-in {args.state_in} (step {k - 1})")
    if k > 1 and not args.state_in and not method.last_step_only():
        raise SaptError(f"--state-in: step {k} of method {args.method!r} continues the state of step {k - 1}; give it")
    return k


def _earlier_tasks(args, prev_side: dict, k: int) -> list[str]:
    """Tasks 1..k-1 of the state: ``--state-in``'s, or (a step trained from scratch on tasks 1..k) the tasks of
    ``--replay-data``, which then holds every earlier task in order."""
    if args.state_in or k == 1:
        return list(prev_side.get("tasks", []))
    from sapt_core.data import load_manifest

    return [load_manifest(Path(d))["task"] for d in args.replay_data]


def _score(args, provenance: dict, state_dir: Path, tasks, dec) -> None:
    """Row k of the score matrix: the saved state, rebuilt on a freshly loaded backbone exactly as ``sapt evaluate
    --state`` does (the same :func:`~sapt_core.recipes.evaluate.score`), on the test sets of tasks 1..k."""
    from sapt_core.recipes.evaluate import score
    from sapt_core.state import read_state

    score(args, provenance, tasks, dec, args.scores_out, state_dir, read_state(state_dir), args.predictions_out,
          args.attention_out)
