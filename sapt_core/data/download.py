"""Download one URL to a file with a progress bar, resuming a partial download with an HTTP ``Range`` request.

Bytes go to ``<dest>.part``; a JSON sidecar ``<dest>.part.json`` keeps the URL, the server's ``ETag`` and the total
size, so the next attempt asks only for the missing tail (``Range: bytes=<have>-`` with ``If-Range``). A server that
answers the range with 200 (no range support, or the file changed) restarts from byte 0. The part is renamed to
``dest`` only once the announced size has arrived; an existing ``dest`` is taken as done. A connection that breaks
mid-transfer is retried from where it stopped (``retries`` times); after that, one :class:`SaptError` line says how
far it got and that running again resumes. ``file://`` URLs go through the same code (urllib), which the offline
tests use.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from sapt_core.errors import SaptError

CHUNK = 1 << 16
USER_AGENT = "sapt-core fetch-data (urllib)"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _Interrupted(Exception):
    pass


def _progress(total: int | None, initial: int, desc: str, enabled: bool | None):
    from tqdm.auto import tqdm

    # enabled None: a bar on a terminal only (tqdm's own check), so Snakemake logs stay free of bar redraws
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                disable=None if enabled is None else not enabled, file=sys.stderr, leave=False)


def _read_meta(meta: Path) -> dict:
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _open(url: str, have: int, meta: dict, timeout: float, auth: dict | None = None):
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    for k, v in (auth or {}).items():  # not sent on to a redirect's host (the hub's CDN links are signed)
        req.add_unredirected_header(k, v)
    if have:
        req.add_header("Range", f"bytes={have}-")
        if meta.get("etag"):
            req.add_header("If-Range", meta["etag"])
    return urllib.request.urlopen(req, timeout=timeout)


def download(url: str, dest: str | os.PathLike, *, retries: int = 3, backoff: float = 2.0, timeout: float = 60.0,
             progress: bool | None = None, desc: str | None = None, auth: dict | None = None,
             again: str = "run fetch-data again") -> Path:
    """Fetch ``url`` into ``dest`` (resuming ``dest.part``); returns ``dest``. One-line :class:`SaptError` on failure.

    ``auth``: request headers that carry a credential (never written to the ``.part.json`` sidecar or a message);
    ``again``: what the interrupted-download message tells the user to do.

    ``retries`` further attempts follow a broken transfer, each after ``backoff ** attempt`` seconds (at most 30).
    """
    dest = Path(dest)
    if dest.is_file():  # an earlier call finished this download
        return dest
    part, meta_path = dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")
    dest.parent.mkdir(parents=True, exist_ok=True)
    meta = _read_meta(meta_path)
    if meta.get("url") != url:  # a part of another URL is no use
        part.unlink(missing_ok=True)
        meta = {"url": url}
    attempt = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        try:
            total = _transfer(url, part, have, meta, meta_path, timeout, progress, desc or dest.name, auth)
        except _Interrupted as e:
            attempt += 1
            if attempt > retries:
                raise SaptError(f"{url}: download interrupted ({e}); {part} kept, {again} to resume")
            time.sleep(min(backoff ** attempt, 30.0))
            continue
        break
    size = part.stat().st_size
    if total is not None and size != total:
        raise SaptError(f"{url}: got {size} bytes, the server announced {total}; {part} kept, run again to resume")
    os.replace(part, dest)
    meta_path.unlink(missing_ok=True)
    return dest


def _transfer(url, part: Path, have: int, meta: dict, meta_path: Path, timeout, progress, desc,
              auth=None) -> int | None:
    """One request: append to (or restart) ``part``. Returns the total size when the server announced one."""
    try:
        resp = _open(url, have, meta, timeout, auth)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # range past the end: the part is stale or already whole; start over
            part.unlink(missing_ok=True)
            raise _Interrupted("HTTP 416, restarting from byte 0") from None
        raise SaptError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        reason = e.reason if not isinstance(e.reason, OSError) else (e.reason.strerror or e.reason)
        raise SaptError(f"{url}: cannot connect ({reason})") from None
    except (socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException) as e:
        raise _Interrupted(f"{e.__class__.__name__}: {e}") from None
    with resp:
        status = getattr(resp, "status", None)
        headers = resp.headers
        start, total = 0, None
        if have and status == 206:
            m = _CONTENT_RANGE.fullmatch((headers.get("Content-Range") or "").strip())
            if not m or int(m.group(1)) != have:
                part.unlink(missing_ok=True)
                raise _Interrupted(f"unexpected Content-Range {headers.get('Content-Range')!r}, restarting")
            start = have
            total = int(m.group(3)) if m.group(3) != "*" else None
        elif headers.get("Content-Length"):
            total = int(headers["Content-Length"])
        meta.update(url=url, etag=headers.get("ETag") or (meta.get("etag") if start else None), total=total)
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
        done = start
        with open(part, "ab" if start else "wb") as fh, _progress(total, start, desc, progress) as bar:
            try:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    fh.write(chunk)
                    done += len(chunk)
                    bar.update(len(chunk))
            except (socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException, OSError) as e:
                raise _Interrupted(f"after {done} of {total if total is not None else '?'} bytes: "
                                   f"{e.__class__.__name__}") from None
        if total is not None and done < total:  # the server closed the connection early
            raise _Interrupted(f"after {done} of {total} bytes: connection closed")
        return total
