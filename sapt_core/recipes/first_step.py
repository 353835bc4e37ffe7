"""A run's step 1 taken from an equal run instead of trained again (``sapt train-step --first-step-from``).

Step 1 of a run trains fresh blocks (seeded by :func:`~sapt_core.methods.base.init_seed`, the same for every method)
on task 1's rows with the task loss (Eq. 4) and the method's own step-1 terms; what acts only from task 2 on (replay
of earlier tasks, ARM's KL of Eq. 6) has nothing to act on yet. So two runs whose methods have equal
:meth:`~sapt_core.methods.base.Method.first_step_key` on the same backbone, task 1, data and seed compute the same
state 1, and the workflow trains it once (docs/methods.md "Shared first steps"). The other run's step-1 job checks
here that the state it is given is that one, then saves it as its own state 1 (its sidecar: its method and config,
and where the tensors came from) and scores it with its own method's code like any trained step.
"""

from __future__ import annotations

from pathlib import Path

from sapt_core import layout
from sapt_core.errors import SaptError

# how a job logs, not what it learns: allowed to differ between the two runs
LOGGING_KEYS = ("report_to", "run_name", "logging_dir")


def adopt(args, method, ctx, provenance: dict) -> tuple[dict, dict]:
    """(tensors, sidecar) of this run's step 1 from the state at ``args.first_step_from``; one line naming what
    differs when that state is not this run's step 1."""
    from sapt_core.blocks.sites import default_sites
    from sapt_core.io import sha256_file
    from sapt_core.state import check_backbone, check_sites, method_of, read_state

    where = f"--first-step-from {args.first_step_from}"
    if ctx.k != 1:
        raise SaptError(f"{where}: only a run's step 1 is taken from another run, this is step {ctx.k}")
    tensors, side = read_state(args.first_step_from)
    check_backbone(side, provenance, where)
    family = (side.get("backbone") or {}).get("family", "")
    check_sites(side, tensors, args.lora_sites or default_sites(family) or None, where)
    source = method_of(side, where)
    expected = {
        "step": (side.get("step"), 1),
        "tasks": (side.get("tasks"), [ctx.manifest["task"]]),
        "seed": (side.get("seed"), args.seed),
        f"sha256 of {layout.TRAIN_FILE}": ((side.get("inputs") or {}).get(layout.TRAIN_FILE),
                                           sha256_file(ctx.data_dir / layout.TRAIN_FILE)),
        "backbone dtype": ((side.get("dtypes") or {}).get("backbone"), args.dtype),
        "training settings": (_learning(side.get("train") or {}), _learning(ctx.train.to_dict())),
        "first-step key (component and values that act at step 1)": (
            source.first_step_key(), method.first_step_key()),
    }
    for what, (theirs, mine) in expected.items():
        if mine is None or theirs != mine:
            raise SaptError(f"{where}: {what}: {_difference(theirs, mine)}: not this run's step 1")
    order = list(side.get("tensors") or tensors)
    if sorted(order) == sorted(tensors):  # the sidecar lists the tensors in the order they were saved
        tensors = {k: tensors[k] for k in order}
    sidecar = {**side, "method": args.method, "component": method.component, "config": method.values(),
               "train": ctx.train.to_dict(),
               "first_step_from": {"state": str(Path(args.first_step_from)), "method": side["method"],
                                   "sha256": (side.get("sha256") or {}).get(layout.STATE_TENSORS)}}
    for k in ("sha256", "tensors", "versions"):  # written anew with this state
        sidecar.pop(k, None)
    theirs = source.step_notes(1)  # the source's step notes, replaced by this run's method's
    entry = {k: v for k, v in side["history"][-1].items() if k not in theirs and k != "train_log"}
    sidecar["history"] = [{**entry, **method.step_notes(1), "train_log": side["history"][-1].get("train_log", [])}]
    return tensors, sidecar


def _learning(train: dict) -> dict:
    """The training settings that shape what is learned (a sidecar's ``train`` without the logging keys)."""
    return {k: v for k, v in train.items() if k not in LOGGING_KEYS}


def _difference(theirs, mine) -> str:
    """What differs, key by key for two mappings (``theirs`` the given state's, ``mine`` this run's)."""
    if isinstance(theirs, dict) and isinstance(mine, dict):
        keys = [k for k in {**theirs, **mine} if theirs.get(k) != mine.get(k)]
        return ", ".join(f"{k} {theirs.get(k)!r} there, {mine.get(k)!r} here" for k in keys)
    return f"{theirs!r} there, {mine!r} here"
