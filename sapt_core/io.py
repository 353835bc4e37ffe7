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


def make_dirs(path: str | os.PathLike) -> list[Path]:
    """``mkdir -p path``; returns the directories it created, outermost first (for :func:`remove_made_dirs`). When it
    fails half-way, the ones it made are removed again."""
    missing = []
    p = Path(path)
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    made: list[Path] = []
    try:
        for d in reversed(missing):
            try:
                d.mkdir()
            except FileExistsError:
                continue
            made.append(d)
    except BaseException:
        remove_made_dirs(made)
        raise
    return made


def check_writable(*paths: str | os.PathLike) -> None:
    """Fail early, before hours of work, where an output could not be written: a temp file is created (and removed)
    in the nearest existing directory above each path; an OS failure names that path. Nothing is left behind."""
    for path in paths:
        p = Path(path).parent
        while not p.exists() and p != p.parent:
            p = p.parent
        try:
            fd, tmp = tempfile.mkstemp(prefix=".sapt-write-check.", dir=p)
        except OSError as e:
            raise OSError(e.errno, e.strerror, str(path)) from None
        os.close(fd)
        os.unlink(tmp)


def remove_made_dirs(made: list[Path]) -> None:
    """Remove the directories :func:`make_dirs` created, innermost first, as far as they are empty."""
    for d in reversed(made):
        try:
            d.rmdir()
        except OSError:
            break


def _failed(exc: BaseException, renames: dict[Path, Path], default: Path) -> BaseException:
    """The error to raise for a failed atomic write: an OS failure as an OSError naming the output it was writing (a
    temp path it names is replaced by its output's path; ``default`` where it names none), else ``exc`` itself."""
    from sapt_core.os_errors import as_os_error

    name = getattr(exc, "filename", None)
    if isinstance(exc, OSError) and name is not None:
        p = Path(name)
        for tmp, target in renames.items():
            if p == tmp or tmp in p.parents:
                return OSError(exc.errno, exc.strerror, str(target / p.relative_to(tmp) if p != tmp else target))
    return as_os_error(exc, default) or exc


def write_bytes(tmp: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` to ``tmp`` (text as UTF-8); an OS failure names ``tmp`` (Python's write errors name no file)."""
    try:
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(tmp)) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success rename it into place. On failure the temp file and any directory
    made for it are removed (``path`` itself is untouched) and an OS failure is raised as an OSError naming it."""
    with atomic_files(path) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_files(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """Temp paths beside each of ``paths``; when the block succeeds all are renamed into place, in the given order
    (so a sidecar listed first lands before its data). When it fails nothing is renamed: every temp file and every
    directory made for them are removed, so the existing outputs stay as they were and no partial one appears."""
    targets = [Path(p) for p in paths]
    made: list[Path] = []
    tmps: list[Path] = []
    try:
        for target in targets:
            made += make_dirs(target.parent)
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            except OSError as e:  # name the output, not the temp name it was trying
                raise OSError(e.errno, e.strerror, str(target)) from None
            os.close(fd)
            tmps.append(Path(tmp))
        yield list(tmps)
        for tmp in tmps:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        for tmp, target in zip(tmps, targets):
            os.replace(tmp, target)
    except BaseException as e:
        err = _failed(e, dict(zip(tmps, targets)), targets[0] if len(targets) == 1 else targets[0].parent)
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        remove_made_dirs(made)
        if err is e:
            raise
        raise err from None


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp directory beside ``path``; on success it replaces ``path`` whole (the old one is moved aside
    first and removed once the new one is in place). On failure the temp directory and any directory made for it
    are removed, ``path`` stays as it was, and an OS failure is raised as an OSError naming it."""
    import shutil

    path = Path(path)
    made: list[Path] = []
    tmp = None
    try:
        made = make_dirs(path.parent)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        except OSError as e:
            raise OSError(e.errno, e.strerror, str(path)) from None
        yield tmp
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as e:
        err = _failed(e, {tmp: path} if tmp is not None else {}, path)
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        remove_made_dirs(made)
        if err is e:
            raise
        raise err from None


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        write_bytes(tmp, text)
    return Path(path)


def atomic_write_all(texts: dict) -> list[Path]:
    """Write ``{path: text or bytes}`` all or none: every temp file first, then all renamed in the given order."""
    with atomic_files(*texts) as tmps:
        for tmp, data in zip(tmps, texts.values()):
            write_bytes(tmp, data)
    return [Path(p) for p in texts]


def json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def jsonl_text(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json_text(obj))


def atomic_write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> Path:
    return atomic_write_text(path, jsonl_text(rows))


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
    """Write ``tensors`` as safetensors at ``path`` and its sidecar as ``path`` with ``.json`` (:func:`write_weights`).
    Both are written to temp files first and renamed sidecar first, so a weights file on disk always has its
    sidecar, and a failed write leaves neither."""
    path = Path(path)
    with atomic_files(sidecar_path(path), path) as (tmp_side, tmp_weights):
        write_weights(tmp_weights, tmp_side, tensors, sidecar, name=path.name)
    return path


def write_weights(weights: Path, side: Path, tensors: dict, sidecar: dict, name: str | None = None) -> None:
    """The one weights format: ``tensors`` as safetensors at ``weights`` (names, dtypes and order as given, no
    metadata) and at ``side`` the JSON ``sidecar`` plus ``versions`` (unless it has them), the tensors' shapes and
    the sha256 of the weights file under ``name`` (its final name; default ``weights``' own). Written in place: the
    callers write into temp paths renamed into place (:func:`save_weights`; a step state's directory,
    :func:`sapt_core.state.save_state`)."""
    from safetensors.torch import save_file

    meta = dict(sidecar)
    meta["versions"] = sidecar.get("versions") or versions()
    meta["tensors"] = {k: list(v.shape) for k, v in tensors.items()}
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(weights))
    meta["sha256"] = {name or Path(weights).name: sha256_file(weights)}
    write_bytes(side, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def sidecar_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_suffix(".json")


def load_weights(path: str | os.PathLike, what: str = "weights sidecar", check=None) -> tuple[dict, dict]:
    """Read a safetensors file and its JSON sidecar (``what``: what the sidecar is, for messages); ``check(side,
    sidecar_path)`` may refuse the sidecar first; then the weights must have the sha256 the sidecar recorded (a file
    written before sidecars recorded one has nothing to compare)."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise SaptError(f"{path}: weights file not found")
    side_path = sidecar_path(path)
    side = read_json(side_path, what)
    if not isinstance(side, dict):
        raise SaptError(f"{side_path}: expected a JSON object (a {what})")
    if check is not None:
        check(side, side_path)
    verify_sha256(path, (side.get("sha256") or {}).get(path.name), f"the sha256 recorded in {side_path}")
    try:
        tensors = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise SaptError(f"{path}: not a readable safetensors file ({e})") from None
    return tensors, side
