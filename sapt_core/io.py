"""Atomic artifact I/O: temp file in the same directory, fsync, rename. Weights are safetensors + a JSON sidecar.

Nothing here pickles. ``torch.load`` is never called by this project except through ``weights_only=True`` paths.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from sapt_core.errors import SaptError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success rename it into place, on failure remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp directory beside ``path``; on success it replaces ``path`` whole, on failure it is removed."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def atomic_write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> Path:
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    path = Path(path)
    if not path.is_file():
        raise SaptError(f"{path}: {what} not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SaptError(f"{path}: malformed {what} ({e.__class__.__name__}: {e})") from None


def read_jsonl(path: str | os.PathLike, what: str = "JSONL file", check=None) -> list[dict]:
    """Rows of a JSONL file; every line must be UTF-8 and a JSON object. ``check(row, where)`` validates each row
    (``where`` is ``<path>:<line>``). Any problem is one line naming the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise SaptError(f"{path}: {what} not found")
    rows = []
    with open(path, "rb") as fh:
        for i, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise SaptError(f"{path}:{i}: {_undecodable_field(raw)}expected UTF-8 text, got byte "
                                f"{raw[e.start]:#04x} at column {e.start + 1} ({what})") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SaptError(f"{path}:{i}: malformed {what} line ({e})") from None
            if not isinstance(row, dict):
                raise SaptError(f"{path}:{i}: {what} line: expected a JSON object, got {type(row).__name__}")
            if check is not None:
                check(row, f"{path}:{i}")
            rows.append(row)
    return rows


def _undecodable_field(raw: bytes) -> str:
    """``"<field>: "`` of the first top-level field of a JSONL line whose text holds a byte that is not UTF-8."""
    try:
        row = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError:
        return ""
    bad = [k for k, v in row.items() if "\ufffd" in json.dumps(v, ensure_ascii=False)] if isinstance(row, dict) else []
    return f"{bad[0]}: " if bad else ""


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str | None, source: str) -> None:
    """One line naming ``path`` unless its sha256 is ``expected`` (recorded in ``source`` when it was written);
    nothing to compare when ``expected`` is None (written before checksums were recorded)."""
    if expected is None:
        return
    got = sha256_file(path)
    if got != expected:
        raise SaptError(f"{path}: sha256 {got[:12]}... differs from {source} ({str(expected)[:12]}...): the file "
                        "changed or was damaged after it was written; rebuild it")


def versions() -> dict[str, str]:
    """Versions of the stack that produced an artifact (recorded in every sidecar)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("sapt-core", "torch", "transformers", "peft", "accelerate", "safetensors"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def save_weights(path: str | os.PathLike, tensors: dict, sidecar: dict) -> Path:
    """Write ``tensors`` as safetensors at ``path`` and ``sidecar`` (+ versions) as ``path`` with ``.json``.

    The sidecar is written first and the weights last, so a weights file on disk always has its sidecar.
    """
    from safetensors.torch import save_file

    path = Path(path)
    meta = dict(sidecar)
    meta.setdefault("versions", versions())
    meta["tensors"] = {k: list(v.shape) for k, v in tensors.items()}
    atomic_write_json(sidecar_path(path), meta)
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    return path


def sidecar_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_suffix(".json")


def load_weights(path: str | os.PathLike) -> tuple[dict, dict]:
    """Read a safetensors file and its JSON sidecar."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise SaptError(f"{path}: weights file not found")
    try:
        tensors = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise SaptError(f"{path}: not a readable safetensors file ({e})") from None
    return tensors, read_json(sidecar_path(path), "weights sidecar")
