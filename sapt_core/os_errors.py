"""Operating-system failures (read-only file system, no space left, permission denied, ...) as one line naming the
path, whichever library hit them.

Python raises :class:`OSError` with an errno, but the weight writers do not: safetensors raises its own error with
``(os error N)`` in the text, and ``torch.save`` a ``RuntimeError`` from its zip writer that names neither the errno
nor the file. :func:`as_os_error` turns each into an :class:`OSError` carrying the errno and the path it was writing,
so the CLI (:func:`sapt_core.cli.main`) reports ``error: <path>: <strerror> (<ERRNO>)`` and exits 2.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

_SAFETENSORS_ERRNO = re.compile(r"\(os error (\d+)\)")
_TORCH_WRITE = ("unexpected pos", "file write failed", "open file failed", "PytorchStreamWriter failed")


def as_os_error(exc: BaseException, path: str | os.PathLike) -> OSError | None:
    """``exc`` as an OSError naming ``path`` (where it names no file), or None when it is no I/O failure."""
    if isinstance(exc, OSError):
        if exc.filename is None and exc.errno is not None:
            return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path))
        return exc
    text = str(exc)
    m = _SAFETENSORS_ERRNO.search(text) if type(exc).__name__ == "SafetensorError" else None
    if m:
        code = int(m.group(1))
        return OSError(code, os.strerror(code), str(path))
    if isinstance(exc, RuntimeError) and any(s in text for s in _TORCH_WRITE):
        code = _filesystem_errno(path)
        return OSError(code, os.strerror(code), str(path))
    return None


def _filesystem_errno(path: str | os.PathLike) -> int:
    """Why a write under ``path`` failed when the writer did not say: read-only, full, or (else) an I/O error."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        st = os.statvfs(p)
    except OSError:
        return errno.EIO
    if st.f_flag & os.ST_RDONLY:
        return errno.EROFS
    if st.f_bavail == 0 or st.f_favail == 0:
        return errno.ENOSPC
    return errno.EIO


def os_error_line(exc: OSError) -> str:
    """``<path>: <strerror> (<ERRNO>)``, the one line the CLI prints."""
    name = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
    what = " ".join(str(exc.strerror or exc).split()) + (f" ({name})" if name else "")
    paths = [p for p in (exc.filename, getattr(exc, "filename2", None)) if p is not None]
    return f"{' -> '.join(map(str, paths))}: {what}" if paths else f"{what} (the failing path was not reported)"
