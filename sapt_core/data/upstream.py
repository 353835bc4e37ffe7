"""Read one task file (paper section 5.1's benchmarks in their published JSON, or JSONL) and validate it field by field.

Upstream JSON: ``{"Definition": [str], "Instances": [{"id"?, "input": str, "output": str | [str, ...]}], ...}``
(SuperNI keeps the Super-NaturalInstructions keys and list outputs; Long Sequence has string outputs and no ids),
plus ``labels.json`` (a list of label strings) beside Long Sequence tasks. Other keys (Positive Examples, ...) are
ignored: the pipeline is zero-shot. Every problem is a one-line :class:`SaptError` naming the file and the field,
e.g. ``.../cb/train.json: Instances[3].output: expected a string or non-empty list of strings``. The validated
instances become a :class:`datasets.Dataset` (``Dataset.from_list``) with the columns ``id``, ``input`` and
``references`` (the output as a list), which :mod:`sapt_core.data.prepare` samples from.

A benchmark of one's own may instead give ``<split>.jsonl``: one ``{"input": str, "output": str | [str, ...],
"id"?: str}`` object per line, no Definition (its instruction, if any, is the task's ``instruction`` in the benchmarks
file; docs/adding_a_benchmark.md). A task directory holds one of ``<split>.json`` / ``<split>.jsonl``
(:func:`task_file`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sapt_core.errors import SaptError


@dataclass
class UpstreamFile:
    path: Path
    sha256: str  # of the bytes parsed
    git_blob: str  # git's id of the same bytes (compared with config/upstream_manifest.json)
    definition: str  # Definition[0], or "" for an empty list
    instances: "datasets.Dataset"  # noqa: F821  columns id, input, references ([str, ...]), in file order


def _load(path: Path, what: str):
    """(parsed JSON, sha256, git blob id) of ``path``."""
    from sapt_core.data.upstream_manifest import git_blob_id

    if not path.is_file():
        raise SaptError(f"{path}: {what} not found")
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8")), hashlib.sha256(raw).hexdigest(), git_blob_id(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SaptError(f"{path}: malformed JSON ({e.__class__.__name__}: {e})") from None


TASK_FILE_SUFFIXES = (".json", ".jsonl")


def task_file(task_dir: Path, split: str) -> Path | None:
    """``<task_dir>/<split>.json`` or ``<split>.jsonl``, whichever exists (None: neither; both: an error)."""
    found = [p for p in (Path(task_dir) / f"{split}{x}" for x in TASK_FILE_SUFFIXES) if p.is_file()]
    if len(found) > 1:
        raise SaptError(f"{task_dir}: both {split}.json and {split}.jsonl exist; expected one of them")
    return found[0] if found else None


def read_task_file(path: str | Path, task: str, split: str) -> UpstreamFile:
    """Parse ``path`` (upstream JSON, or JSONL when it ends in ``.jsonl``); instance ids are the file's ``id`` when
    present, else ``f"{task}-{split}-{index}"``."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return _read_jsonl(path, task, split)
    doc, sha, blob = _load(path, "upstream task file")
    if not isinstance(doc, dict):
        raise SaptError(f"{path}: expected a JSON object with Definition and Instances, got {type(doc).__name__}")
    for key in ("Definition", "Instances"):
        if key not in doc:
            raise SaptError(f"{path}: {key}: missing")
    d = doc["Definition"]
    if not (isinstance(d, list) and all(isinstance(x, str) for x in d)):
        raise SaptError(f"{path}: Definition: expected a list of strings, got {_short(d)}")
    inst = doc["Instances"]
    if not isinstance(inst, list):
        raise SaptError(f"{path}: Instances: expected a list of objects, got {_short(inst)}")
    if not inst:
        raise SaptError(f"{path}: Instances is empty")
    return _task_file(path, sha, blob, d[0] if d else "", [(f"{path}: Instances[{i}]", x) for i, x in enumerate(inst)],
                      task, split)


def _read_jsonl(path: Path, task: str, split: str) -> UpstreamFile:
    from sapt_core.data.upstream_manifest import git_blob_id

    if not path.is_file():
        raise SaptError(f"{path}: task file not found")
    raw = path.read_bytes()
    items = []
    try:
        for n, line in enumerate(raw.decode("utf-8").splitlines(), 1):
            if line.strip():
                items.append((f"{path}: line {n}", json.loads(line)))
    except UnicodeDecodeError as e:
        raise SaptError(f"{path}: malformed JSONL (UnicodeDecodeError: {e})") from None
    except json.JSONDecodeError as e:
        raise SaptError(f"{path}: line {n}: malformed JSON ({e})") from None
    if not items:
        raise SaptError(f"{path}: no instances (expected one JSON object per line)")
    return _task_file(path, hashlib.sha256(raw).hexdigest(), git_blob_id(raw), "", items, task, split)


def _task_file(path: Path, sha: str, blob: str, definition: str, items: list, task: str, split: str) -> UpstreamFile:
    """The validated instances ``items`` (``(where, object)`` pairs) as an :class:`UpstreamFile`."""
    from datasets import Dataset

    out, seen = [], set()
    for i, (w, x) in enumerate(items):
        if not isinstance(x, dict):
            raise SaptError(f"{w}: expected an object, got {_short(x)}")
        if not isinstance(x.get("input"), str):
            raise SaptError(f"{w}.input: expected a string, got {_short(x.get('input'))}")
        o = x.get("output")
        if isinstance(o, str):
            refs = [o]
        elif isinstance(o, list) and o and all(isinstance(r, str) for r in o):
            refs = list(o)
        else:
            raise SaptError(f"{w}.output: expected a string or non-empty list of strings, got {_short(o)}")
        iid = x.get("id", f"{task}-{split}-{i}")
        if not isinstance(iid, str) or not iid:
            raise SaptError(f"{w}.id: expected a non-empty string, got {_short(iid)}")
        if iid in seen:
            raise SaptError(f"{w}.id: duplicate id {iid!r}")
        seen.add(iid)
        out.append({"id": iid, "input": x["input"], "references": refs})
    return UpstreamFile(path, sha, blob, definition, Dataset.from_list(out))


@dataclass
class LabelsFile:
    path: Path
    git_blob: str
    labels: list[str]


def read_labels(path: str | Path) -> LabelsFile | None:
    """``labels.json`` (a non-empty list of strings), or None when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return None
    doc, _, blob = _load(path, "labels file")
    if not (isinstance(doc, list) and doc and all(isinstance(x, str) for x in doc)):
        raise SaptError(f"{path}: expected a non-empty list of label strings, got {_short(doc)}")
    return LabelsFile(path, blob, doc)


def _short(x) -> str:
    s = repr(x) if not isinstance(x, (dict, list)) or len(repr(x)) <= 60 else f"a {type(x).__name__}"
    return s if len(s) <= 60 else s[:57] + "..."
