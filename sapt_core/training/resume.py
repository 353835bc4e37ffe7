"""In-job checkpoints (``<workdir>/checkpoint-<step>``, written by the HF ``Trainer``): which one a job resumes from,
what happens to a damaged one, and what a failed save leaves behind.

* Resume picks the newest checkpoint that is complete and valid (:func:`checkpoint_problem`): its
  ``trainer_state.json`` parses, its weights (``model.safetensors`` / ``adapter_model.safetensors``) load, its
  optimizer, scheduler and RNG files load with ``torch.load(weights_only=True)`` and, for a loop with extra state,
  that file parses. A newer one that fails is moved aside to ``<workdir>/invalid-checkpoint-<step>`` (not deleted;
  the name keeps it out of the Trainer's ``checkpoint-*`` rotation, which would otherwise delete it), the job's log
  names it, and the previous checkpoint is tried.
* A save that fails (a full disk) removes the checkpoint it was writing; a work directory the job created and left
  empty is removed too, so a failed job leaves no partial or empty artefact.
* :func:`clear_checkpoints` removes the work directory once the step's output is written, except checkpoints moved
  aside, which stay for inspection.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

EXTRA_STATE = "sapt_extra_state.json"
INVALID_PREFIX = "invalid-"
_WEIGHTS = ("model.safetensors", "adapter_model.safetensors")


def checkpoints(workdir: str | Path) -> list[Path]:
    """The ``checkpoint-<step>`` directories of a work directory, newest first."""
    workdir = Path(workdir)
    if not workdir.is_dir():
        return []
    found = [c for c in workdir.iterdir() if c.is_dir() and c.name.startswith("checkpoint-")
             and c.name[len("checkpoint-"):].isdigit()]
    return sorted(found, key=step_of, reverse=True)


def step_of(ckpt: str | Path) -> int:
    return int(Path(ckpt).name.rsplit("-", 1)[-1])


def _first_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:160]}"


def checkpoint_problem(ckpt: str | Path, need_extra: bool, ranks: int = 1) -> str | None:
    """Why a job of ``ranks`` processes cannot resume from ``ckpt`` (None: it is complete and every file of it
    loads). A multi-rank checkpoint has an RNG file per rank and, under DeepSpeed, an optimizer partition per rank:
    a rank killed while saving leaves its own missing."""
    import torch
    from safetensors.torch import load_file

    ckpt = Path(ckpt)
    state_file = ckpt / "trainer_state.json"
    if not state_file.is_file():
        return "no trainer_state.json"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        return f"trainer_state.json unreadable ({_first_line(e)})"
    if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
        return "trainer_state.json holds no global_step"
    deepspeed = (ckpt / "latest").is_file()  # DeepSpeed keeps model and optimizer state under the tag `latest` names
    weights = [ckpt / n for n in _WEIGHTS if (ckpt / n).is_file()]
    if not weights and not deepspeed:  # ZeRO-3 writes no full weights file: its partitions are in the tag directory
        return f"no weights ({' or '.join(_WEIGHTS)})"
    for w in weights:
        try:
            load_file(str(w))
        except Exception as e:  # safetensors raises its own error types
            return f"{w.name} unreadable ({_first_line(e)})"
    torch_files = sorted(ckpt.glob("rng_state*.pth"))
    if ranks > 1:
        missing = [r for r in range(ranks) if not (ckpt / f"rng_state_{r}.pth").is_file()]
        if missing:
            return f"no rng_state_{missing[0]}.pth (rank {missing[0]} of {ranks})"
    if deepspeed:
        tag = (ckpt / "latest").read_text(encoding="utf-8", errors="replace").strip()
        if not tag or not (ckpt / tag).is_dir():
            return f"DeepSpeed state {tag or '(empty tag)'} missing"
        shards = {p.name for p in (ckpt / tag).glob("*optim_states.pt")}
        missing = [r for r in range(ranks) if f"zero_pp_rank_{r}_mp_rank_00_optim_states.pt" not in shards]
        if missing:
            return f"DeepSpeed optimizer partition of rank {missing[0]} (of {ranks}) missing"
    else:
        for name in ("optimizer.pt", "scheduler.pt"):
            if not (ckpt / name).is_file():
                return f"no {name}"
            torch_files.append(ckpt / name)
    from transformers.trainer_pt_utils import safe_globals  # the numpy types the Trainer's RNG file holds

    for f in torch_files:
        try:
            with safe_globals():
                torch.load(f, map_location="cpu", weights_only=True)
        except Exception as e:
            return f"{f.name} unreadable ({_first_line(e)})"
    if need_extra:
        try:
            extra = json.loads((ckpt / EXTRA_STATE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return f"no {EXTRA_STATE} (cut off before the loop state was written)"
        except (ValueError, UnicodeDecodeError) as e:
            return f"{EXTRA_STATE} unreadable ({_first_line(e)})"
        if not isinstance(extra, dict):
            return f"{EXTRA_STATE} is not a JSON object"
    return None


def move_aside(ckpt: Path) -> Path:
    """Rename an invalid checkpoint to ``invalid-checkpoint-<step>`` (``.2``, ``.3``, ... when taken)."""
    dest = ckpt.with_name(INVALID_PREFIX + ckpt.name)
    n = 1
    while dest.exists():
        n += 1
        dest = ckpt.with_name(f"{INVALID_PREFIX}{ckpt.name}.{n}")
    ckpt.rename(dest)
    return dest


def resumable_checkpoint(workdir: str | Path, need_extra: bool, main_process: bool = True,
                         ranks: int = 1) -> str | None:
    """The newest complete and valid checkpoint of ``workdir`` (None: start from step 0). Newer invalid ones are
    moved aside by the main process (every rank reaches the same verdict) and named on stderr, the job's log."""
    for ckpt in checkpoints(workdir):
        problem = checkpoint_problem(ckpt, need_extra, ranks)
        if problem is None:
            return str(ckpt)
        if main_process and ckpt.exists():
            dest = move_aside(ckpt)
            print(f"warning: in-job checkpoint {ckpt} is invalid ({problem}); moved aside to {dest.name}, "
                  "resuming from the previous one", file=sys.stderr, flush=True)
    return None


def discard_partial(workdir: Path, after_step: int, need_extra: bool, made: list[Path],
                    ranks: int = 1) -> Path | None:
    """After a failed run: remove the checkpoints newer than ``after_step`` (written by this run) that are not
    complete, and the work directories this run made (``made``) if that leaves them empty. Returns the newest
    checkpoint removed (the save that failed), if any."""
    from sapt_core.io import remove_made_dirs

    removed = None
    for ckpt in checkpoints(workdir):
        if step_of(ckpt) <= after_step:
            break
        if checkpoint_problem(ckpt, need_extra, ranks) is not None:
            shutil.rmtree(ckpt, ignore_errors=True)
            removed = removed or ckpt
    remove_made_dirs(made)
    return removed


def clear_checkpoints(workdir: str | Path) -> None:
    """Remove in-job checkpoints once the step's final artifact is safely written; checkpoints moved aside as
    invalid are kept (and with them the work directory), and named on stderr."""
    workdir = Path(workdir)
    if not workdir.is_dir():
        return
    kept = [p for p in workdir.iterdir() if p.name.startswith(INVALID_PREFIX)]
    if not kept:
        shutil.rmtree(workdir, ignore_errors=True)
        return
    for p in workdir.iterdir():
        if p not in kept:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    print(f"note: kept {len(kept)} invalid in-job checkpoint(s) for inspection in {workdir}: "
          f"{', '.join(sorted(p.name for p in kept))}", file=sys.stderr, flush=True)
