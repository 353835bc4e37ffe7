"""Seeded subsets of an upstream file's instances with ``datasets``: class-stratified splits and per-class caps.

A *pool* is a :class:`datasets.Dataset` with the columns ``idx`` (the instance's position in its upstream file) and
``label`` (its class, the output, as a ``ClassLabel``: ``class_encode_column`` once, when the pool is made; only
read when stratifying). Every draw gets its own integer seed,
:func:`draw_seed` ``(seed, benchmark, task, step)``, a SHA-256 of the four (not Python's salted ``hash()``), so a
seed gives the same subsets on every machine and run.

* :func:`split_off` draws ``k`` of a pool and returns ``(drawn, rest)``. For classification it is
  ``train_test_split(test_size=k, stratify_by_column="label", seed=...)``,
  i.e. each class keeps its share of the pool (sklearn's StratifiedShuffleSplit allocation, largest remainders with
  seeded ties). Where stratification is impossible (``k`` or the rest smaller than the number of classes, or a class
  with a single instance) and for generation tasks it is ``shuffle(seed=...)`` then ``select``.
* :func:`per_class` keeps at most ``n`` of every class (the paper's "500 per class"), each class shuffled by its own
  seed.

Indices come back sorted, so rows are always written in upstream file order.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from typing import Iterator

STRATIFY_COLUMN = "label"


def draw_seed(seed: int, benchmark: str, task: str, step: str) -> int:
    """The integer seed of one draw (64 bits of SHA-256 over ``"{seed}-{benchmark}-{task}-{step}"``)."""
    return int.from_bytes(hashlib.sha256(f"{seed}-{benchmark}-{task}-{step}".encode()).digest()[:8], "big")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """``datasets`` without its progress bars (they would fill every prepare-data log)."""
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    level = datasets.logging.get_verbosity()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()
        datasets.logging.set_verbosity(level)


def make_pool(idx: list[int], labels: list[str]):
    """A pool over upstream indices ``idx`` with their classes ``labels``."""
    from datasets import Dataset

    with quiet():
        return Dataset.from_dict({"idx": list(idx), STRATIFY_COLUMN: list(labels)}).class_encode_column(STRATIFY_COLUMN)


def column(ds, name: str) -> list:
    """One column as a list, read as one batch (``ds[name]`` formats row by row, ~100x slower)."""
    return ds[:][name] if len(ds) else []


def indices(pool) -> list[int]:
    return sorted(column(pool, "idx"))


def _take(ds, start: int, stop: int):
    """Rows ``start:stop`` (``select`` refuses an empty range that starts at the end)."""
    return ds.select(range(start, stop)) if start < stop else ds.select([])


def _can_stratify(pool, k: int) -> bool:
    counts = Counter(column(pool, STRATIFY_COLUMN))
    return len(counts) > 1 and min(counts.values()) >= 2 and k >= len(counts) and len(pool) - k >= len(counts)


def split_off(pool, k: int, seed: int, stratify: bool):
    """``(drawn, rest)``: ``k`` instances of ``pool`` (all of it when ``k >= len(pool)``) and the others."""
    if k >= len(pool):
        return pool, pool.select([])
    if k <= 0:
        return pool.select([]), pool
    with quiet():
        if stratify and _can_stratify(pool, k):
            parts = pool.train_test_split(test_size=k, stratify_by_column=STRATIFY_COLUMN, seed=seed)
            return parts["test"], parts["train"]
        shuffled = pool.shuffle(seed=seed)
        return _take(shuffled, 0, k), _take(shuffled, k, len(pool))


def per_class(pool, n: int, seed: int):
    """``(drawn, rest)``: at most ``n`` instances of every class, each class shuffled with its own seed."""
    from datasets import concatenate_datasets

    by: dict[int, list[int]] = {}
    for pos, lab in enumerate(column(pool, STRATIFY_COLUMN)):
        by.setdefault(lab, []).append(pos)
    names = pool.features[STRATIFY_COLUMN].int2str
    drawn, rest = [], []
    with quiet():
        for lab in sorted(by):
            cls = pool.select(by[lab]).shuffle(seed=draw_seed(seed, "class", names(lab), "per-class"))
            drawn.append(_take(cls, 0, min(n, len(cls))))
            rest.append(_take(cls, min(n, len(cls)), len(cls)))
        if not drawn:
            return pool, pool
        return concatenate_datasets(drawn), concatenate_datasets(rest)
