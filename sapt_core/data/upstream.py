"""Read one upstream task file (facts section 5.1) and validate its shape field by field.

Upstream JSON: ``{"Definition": [str], "Instances": [{"id"?, "input": str, "output": str | [str, ...]}], ...}``
(SuperNI keeps the Super-NaturalInstructions keys and list outputs; Long Sequence has string outputs and no ids),
plus ``labels.json`` (a list of label strings) beside Long Sequence tasks. Other keys (Positive Examples, ...) are
ignored: the official pipeline is zero-shot. Every problem is a one-line :class:`SaptError` naming the file and the
field, e.g. ``.../cb/train.json: Instances[3].output: expected a string or non-empty list of strings``.
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
    definition: str  # Definition[0], or "" for an empty list
    instances: list[dict]  # {"id", "input", "references": [str, ...]}, in file order


def _load(path: Path, what: str):
    if not path.is_file():
        raise SaptError(f"{path}: {what} not found")
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8")), hashlib.sha256(raw).hexdigest()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SaptError(f"{path}: malformed JSON ({e.__class__.__name__}: {e})") from None


def read_task_file(path: str | Path, task: str, split: str) -> UpstreamFile:
    """Parse ``path``; instance ids are the upstream ``id`` when present, else ``f"{task}-{split}-{index}"``."""
    path = Path(path)
    doc, sha = _load(path, "upstream task file")
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
    out, seen = [], set()
    for i, x in enumerate(inst):
        w = f"{path}: Instances[{i}]"
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
    return UpstreamFile(path, sha, d[0] if d else "", out)


def read_labels(path: str | Path) -> list[str] | None:
    """``labels.json`` as a list of strings, or None when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return None
    doc, _ = _load(path, "labels file")
    if not (isinstance(doc, list) and doc and all(isinstance(x, str) for x in doc)):
        raise SaptError(f"{path}: expected a non-empty list of label strings, got {_short(doc)}")
    return doc


def _short(x) -> str:
    s = repr(x) if not isinstance(x, (dict, list)) or len(repr(x)) <= 60 else f"a {type(x).__name__}"
    return s if len(s) <= 60 else s[:57] + "..."
