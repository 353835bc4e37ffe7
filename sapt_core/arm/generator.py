"""ARM generator B_ref: its training rows, the post-processing of its samples, and the pseudo-sample selection.

Follows the authors' ``pseudo_data/`` pipeline (docs/official_code.md §6):

* Training (:func:`generator_rows`): one row per real training instance, source ``__gen__``, target
  ``<Definition>__inp__<input>``. Only the instruction and the input are reconstructed, never the answer (paper
  section 4.3: "only the input part is generated conditioned on an initial token [Gen]").
* Post-processing (:func:`split_generation`, :func:`split_generations`): each sampled text is split on ``__inp__``
  into (instruction, input); texts without the marker are dropped, except for the diplomacy and samsum tasks, which
  are split at the character length of the task's original instruction.
* Selection (:func:`select_pseudo`): keep ``max(1, int(volume * N_train))`` instances chosen at random and give all of
  them ONE of the distinct generated instructions, chosen at random, as the pseudo task's definition; targets are
  empty (ARM only needs the inputs).

Deviations from the official code (documented choices):

* The markers are plain text that the tokenizer splits into ordinary pieces. The official code added three new
  tokens (``__gen__``, ``__inp__``, ``__ans__``) whose embedding rows stay random and frozen; we add no tokens and do
  not resize the embeddings, so any backbone (and its saved LoRA) is used as is. ``__ans__`` is not needed because
  the answer is never part of the target.
* When NO sampled text holds the marker (typical for a tiny or barely trained generator) the official rule would
  yield zero pseudo samples; we then split every text at the original instruction's length (the diplomacy/samsum
  rule) and count these fallbacks, so a task never silently gets no pseudo samples. If that still leaves nothing
  usable (every text empty) it is an error naming the task.
* Texts whose instruction and input are both empty after splitting are dropped (they carry nothing to replay).
* ``int(volume * N_train)`` is computed with a 1e-9 slack so that e.g. 0.29 * 100 keeps 29, not 28.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from sapt_core.data.templates import format_source
from sapt_core.errors import SaptError

GEN_MARKER = "__gen__"
INP_MARKER = "__inp__"
# tasks whose marker-less samples the official post-processing splits at the original instruction's length
SPLIT_AT_LENGTH_TASKS = ("diplomacy", "samsum")


def generator_rows(rows: list[dict]) -> list[dict]:
    """Training rows of the generator: source ``__gen__``, target ``definition + __inp__ + input`` (no answer).

    ``id``, ``task``, ``benchmark``, ``definition`` and ``input`` are kept; ``references`` is emptied so the answer
    appears in no field.
    """
    out = []
    for r in rows:
        for key in ("definition", "input"):
            if not isinstance(r.get(key), str):
                raise SaptError(f"row {r.get('id')!r}: {key}: expected a string, got {type(r.get(key)).__name__}")
        out.append({"id": r.get("id"), "task": r.get("task"), "benchmark": r.get("benchmark"),
                    "source": GEN_MARKER, "target": r["definition"] + INP_MARKER + r["input"], "references": [],
                    "definition": r["definition"], "input": r["input"]})
    return out


def splits_at_length(task: str) -> bool:
    """Whether the official post-processing splits marker-less samples of ``task`` at the instruction length."""
    return any(name in task for name in SPLIT_AT_LENGTH_TASKS)


def _at_length(text: str, original_definition: str) -> tuple[str, str]:
    cut = len(original_definition)
    return text[:cut].strip(), text[cut:].strip()


def split_generation(text: str, original_definition: str, task: str) -> tuple[str, str] | None:
    """(instruction, input) of one sampled text, or None when it is dropped (official post-processing).

    With the marker: the text before the first ``__inp__`` is the instruction, the text up to the next marker (if the
    model started over) is the input. Without it: dropped, except for diplomacy/samsum tasks, split at
    ``len(original_definition)`` characters.
    """
    if INP_MARKER in text:
        parts = text.split(INP_MARKER)
        return parts[0].strip(), parts[1].strip()
    if splits_at_length(task):
        return _at_length(text, original_definition)
    return None


@dataclass
class SplitStats:
    candidates: int = 0        # sampled texts
    with_marker: int = 0       # split on __inp__
    length_split: int = 0      # split at the original instruction's length (diplomacy/samsum rule or fallback)
    fallback_all: bool = False  # no text held the marker, so every text was split at the length (our fallback)
    dropped: int = 0           # marker-less texts dropped, or empty after splitting
    usable: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def split_generations(texts: list[str], original_definition: str, task: str) -> tuple[list[tuple[str, str]], SplitStats]:
    """Split every sampled text; returns the usable (instruction, input) pairs in sampling order and counts.

    If no text holds the marker, every text is split at the original instruction's length instead of dropping them
    all (see the module docstring). Raises :class:`SaptError` naming the task when nothing usable remains.
    """
    stats = SplitStats(candidates=len(texts))
    stats.fallback_all = bool(texts) and not any(INP_MARKER in t for t in texts) and not splits_at_length(task)
    pairs = []
    for t in texts:
        if INP_MARKER in t:
            stats.with_marker += 1
            pair = split_generation(t, original_definition, task)
        elif stats.fallback_all or splits_at_length(task):
            stats.length_split += 1
            pair = _at_length(t, original_definition)
        else:
            pair = None
        if pair is None or not (pair[0] or pair[1]):
            stats.dropped += 1
            continue
        pairs.append(pair)
    stats.usable = len(pairs)
    if not pairs:
        raise SaptError(f"task {task!r}: none of the {len(texts)} generated texts gives a usable pseudo sample "
                        "(all empty after splitting); train the generator longer or sample more candidates")
    return pairs, stats


def check_volume(volume) -> float:
    if isinstance(volume, bool) or not isinstance(volume, (int, float)) or not 0 < volume <= 1:
        raise SaptError(f"volume: expected a fraction of the training set in (0, 1], got {volume!r}")
    return float(volume)


def pseudo_count(n_train: int, volume: float) -> int:
    """``max(1, int(volume * n_train))``: how many pseudo samples a task with ``n_train`` training instances keeps."""
    if isinstance(n_train, bool) or not isinstance(n_train, int) or n_train <= 0:
        raise SaptError(f"n_train: expected a positive integer, got {n_train!r}")
    return max(1, int(check_volume(volume) * n_train + 1e-9))


def pseudo_rng(seed: int, task: str) -> random.Random:
    return random.Random(f"{seed}-pseudo-{task}")


def select_indices(n_available: int, n_train: int, volume: float, rng: random.Random) -> list[int]:
    """``min(pseudo_count, n_available)`` indices of ``range(n_available)`` chosen with ``rng``, in ascending order."""
    k = min(pseudo_count(n_train, volume), n_available)
    return sorted(rng.sample(range(n_available), k))


def select_pseudo(generated: list[tuple[str, str]], n_train: int, volume: float, seed: int, template: str, task: str,
                  benchmark: str) -> list[dict]:
    """Pseudo rows of ``task`` from split generations (``(instruction, input)`` pairs, e.g. of
    :func:`split_generations`).

    Keeps ``max(1, int(volume * n_train))`` pairs (all of them when fewer), chosen with
    ``random.Random(f"{seed}-pseudo-{task}")``, then picks one of the distinct generated instructions with the same
    rng as the definition of every row. Rows have the prepared-split schema with ``target`` "" and ``references`` [];
    ``id`` is ``<task>-pseudo-<index in generated>``.
    """
    if not generated:
        raise SaptError(f"task {task!r}: no generated pseudo samples to select from")
    rng = pseudo_rng(seed, task)
    keep = select_indices(len(generated), n_train, volume, rng)
    definition = rng.choice(sorted({ins for ins, _ in generated}))
    return [{"id": f"{task}-pseudo-{i}", "task": task, "benchmark": benchmark,
             "source": format_source(template, definition, generated[i][1]), "target": "", "references": [],
             "definition": definition, "input": generated[i][1]} for i in keep]
