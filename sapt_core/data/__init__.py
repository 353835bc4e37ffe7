"""Data layer: upstream task files -> deterministic JSONL splits + manifest (docs/data.md).

The upstream files are fetched and verified by :mod:`sapt_core.data.fetch` (``sapt fetch-data``) against
``config/upstream_manifest.json`` (:mod:`sapt_core.data.upstream_manifest`) and checked by
:mod:`sapt_core.data.verify` (``sapt verify-data``); :mod:`sapt_core.data.root` says which data root is read. A
prepared task directory holds ``train.jsonl``, ``val.jsonl``, ``test.jsonl`` (only ``test.jsonl`` for test-only
benchmarks) and ``manifest.json``; see :mod:`sapt_core.data.prepare`. Rows are
``{"id", "task", "benchmark", "source", "target", "references", "definition", "input"}``.
"""

from __future__ import annotations

from pathlib import Path

from sapt_core import layout
from sapt_core.data.prepare import load_pseudo_samples, prepare_task
from sapt_core.data.templates import format_source
from sapt_core.errors import SaptError

__all__ = ["format_source", "load_manifest", "load_pseudo_samples", "load_split", "prepare_task"]

SPLIT_NAMES = ("train", "val", "test", "pseudo")


def load_split(task_dir, split: str) -> list[dict]:
    """Rows of ``<task_dir>/<split>.jsonl`` written by ``prepare-data``, each checked against the row schema
    (:mod:`sapt_core.data.rows`)."""
    from sapt_core.data.rows import check_row
    from sapt_core.io import read_jsonl

    if split not in SPLIT_NAMES:
        raise SaptError(f"split: expected one of {', '.join(SPLIT_NAMES)}, got {split!r}")
    return read_jsonl(Path(task_dir) / layout.split_file_name(split), f"prepared {split} split", check=check_row)


def load_manifest(task_dir) -> dict:
    """``<task_dir>/manifest.json`` written by ``prepare-data`` (present only when the directory is complete)."""
    from sapt_core.io import read_json

    from sapt_core.settings.names import check_name

    path = Path(task_dir) / layout.DATA_MANIFEST
    m = read_json(path, "data manifest")
    if not isinstance(m, dict) or not isinstance(m.get("counts"), dict):
        raise SaptError(f"{path}: expected a prepare-data manifest with 'counts'")
    for key in ("task", "benchmark"):  # names that become path components (pseudo files, shipped samples)
        check_name(m.get(key), f"{path}: {key}", f"a {key} name")
    return m
