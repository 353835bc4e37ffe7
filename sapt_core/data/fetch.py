"""``sapt fetch-data``: the upstream data at its pinned commits, every file verified, into a project-local data root.

What is fetched is ``config/upstream_manifest.json`` (:mod:`sapt_core.data.upstream_manifest`): for each repository
its commit, for each kept file its path there, its path under the data root and its git blob id. By default each
repository comes as GitHub's archive of its commit (``https://codeload.github.com/<owner>/<repo>/tar.gz/<commit>``,
top folder ``<repo>-<commit>/``), downloaded with a progress bar and resumed after a broken connection
(:mod:`sapt_core.data.download`). ``--source`` replaces the network, for a cluster without internet:

* a URL (``https://``, ``http://``, ``file://``) or a local ``.tar.gz`` / ``.tar``: a GitHub archive; its top
  folder says which repository and commit it is;
* a directory holding such archives under GitHub's names (``SAPT-<commit>.tar.gz``) or their unpacked folders
  (``SAPT-<commit>/``), an unpacked folder itself, or a data root in this project's layout (a copy of
  ``results/upstream``): files are read from there.

Only the manifest's files are kept (the archives also hold code, dev.json duplicates, ...). Each is streamed into a
temporary directory beside the target while its git blob id is computed; once every file of every repository has
verified, the marker ``verified.json`` is written and the directory renamed into place, so the data root is either
whole and verified or untouched. A file that differs, a file absent from the source, a truncated or corrupt archive
and a broken download each give one line naming the file, URL or archive, and leave no data behind (a download
that breaks is kept as ``<name>.part`` beside the target for the next run to resume; a downloaded archive that
fails verification is deleted). A target that already verifies is kept as it is (only the marker is rewritten); a
target holding anything that is not an upstream file (a rebuilt copy, files of your own) is never replaced.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import tarfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from sapt_core import layout
from sapt_core.data.download import download
from sapt_core.data.upstream_manifest import (BlobHasher, ListedFile, Repo, UpstreamManifest, git_blob_file,
                                              load_upstream_manifest)
from sapt_core.data.verify import file_status
from sapt_core.errors import SaptError

CHUNK = 1 << 20
_URL = re.compile(r"(https?|file)://", re.IGNORECASE)
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError)


def downloads_dir(dest: str | os.PathLike) -> Path:
    """Where downloads of ``dest``'s archives wait (beside it, so a partial download is resumed from there)."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".download")


def _install(fh, size: int, f: ListedFile, staging: Path, origin: str) -> None:
    """Copy ``size`` bytes of ``fh`` to ``staging/f.path`` while hashing; one-line error unless the blob id matches."""
    out = staging / f.path
    out.parent.mkdir(parents=True, exist_ok=True)
    h = BlobHasher(size)
    with open(out, "wb") as dst:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
            dst.write(chunk)
    if h.seen != size or h.hexdigest() != f.git_blob:
        raise SaptError(f"{f.path}: differs from the pinned upstream file (git blob {h.hexdigest()}, expected "
                        f"{f.git_blob}; in {origin})")


def _missing(origin: str, repo: Repo, missing: list[str]) -> SaptError:
    more = f" and {len(missing) - 1} more of {repo.short}'s files" if len(missing) > 1 else ""
    return SaptError(f"{missing[0]}: not found in {origin}{more}")


@dataclass
class _Archive:
    """A GitHub archive on disk (given, or downloaded by us: ``downloaded``)."""

    path: Path
    label: str
    downloaded: bool = False

    def top(self) -> str:
        try:
            with tarfile.open(self.path, "r:*") as tar:
                first = tar.next()
        except _ARCHIVE_ERRORS as e:
            raise SaptError(f"{self.label}: truncated or corrupt archive ({e.__class__.__name__}: {e})") from None
        if first is None:
            raise SaptError(f"{self.label}: empty archive")
        return first.name.split("/")[0]

    def install(self, repo: Repo, files: list[ListedFile], staging: Path) -> None:
        top, want = repo.archive_top, {f.upstream_path: f for f in files}
        try:
            with tarfile.open(self.path, "r:*") as tar:
                for m in tar:  # every member, to the end: a cut-off archive fails here, not silently
                    rel = m.name[len(top) + 1:] if m.name.startswith(top + "/") else None
                    f = want.pop(rel, None) if rel else None
                    if f is None:
                        continue
                    if not m.isfile():
                        raise SaptError(f"{self.label}: {rel}: expected a regular file in the archive")
                    _install(tar.extractfile(m), m.size, f, staging, self.label)
                while tar.fileobj.read(CHUNK):  # to the end of the compressed stream: its length and CRC
                    pass
        except _ARCHIVE_ERRORS as e:
            raise SaptError(f"{self.label}: truncated or corrupt archive ({e.__class__.__name__}: {e})") from None
        if want:
            raise _missing(self.label, repo, [f.path for f in want.values()])


@dataclass
class _Tree:
    """Files in a directory: an unpacked archive (``key`` upstream_path) or a data root (``key`` path)."""

    root: Path
    key: str
    label: str

    def holds_any(self, files: list[ListedFile]) -> bool:
        return any((self.root / getattr(f, self.key)).is_file() for f in files)

    def install(self, repo: Repo, files: list[ListedFile], staging: Path) -> None:
        missing = [f.path for f in files if not (self.root / getattr(f, self.key)).is_file()]
        if missing:
            raise _missing(self.label, repo, missing)
        for f in files:
            src = self.root / getattr(f, self.key)
            with open(src, "rb") as fh:
                _install(fh, src.stat().st_size, f, staging, self.label)


def _download_name(url: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", _URL.sub("", url)).strip("_")[-150:] + ".archive"


def _resolve(specs: list[str], need: list[Repo], manifest: UpstreamManifest, downloads: Path, retries: int,
             progress, echo) -> dict[str, object]:
    """repo name -> source, taking each repository from the first ``--source`` that has it."""
    by_top = {r.archive_top: r for r in need}
    chosen: dict[str, object] = {}

    def claim(top: str, src, label: str) -> None:
        if top not in by_top:
            known = ", ".join(f"{t}/" for t in by_top)
            raise SaptError(f"{label}: archive top folder {top}/ is not one of {known} (the commits pinned in "
                            f"{manifest.path.name})")
        chosen.setdefault(by_top[top].name, src)

    for spec in specs:
        if len(chosen) == len(need):
            break
        if _URL.match(spec):
            t0 = time.monotonic()
            path = download(spec, downloads / _download_name(spec), retries=retries, progress=progress)
            echo(f"{spec}: {path.stat().st_size / 2**20:.1f} MiB in {time.monotonic() - t0:.0f} s")
            archive = _Archive(path, spec, downloaded=True)
            try:
                claim(archive.top(), archive, spec)
            except SaptError:
                path.unlink(missing_ok=True)
                raise
            continue
        p = Path(spec)
        if p.is_file():
            archive = _Archive(p, spec)
            claim(archive.top(), archive, spec)
        elif p.is_dir():
            found = False
            for r in need:
                for name in (f"{r.archive_top}.tar.gz", f"{r.archive_top}.tgz", f"{r.archive_top}.tar"):
                    if (p / name).is_file():
                        chosen.setdefault(r.name, _Archive(p / name, str(p / name)))
                        found = True
                        break
                else:
                    if (p / r.archive_top).is_dir():
                        chosen.setdefault(r.name, _Tree(p / r.archive_top, "upstream_path", str(p / r.archive_top)))
                        found = True
            if p.name in by_top:
                chosen.setdefault(by_top[p.name].name, _Tree(p, "upstream_path", spec))
            elif not found:  # a data root in this project's layout: take the repositories it has files of
                tree = _Tree(p, "path", spec)
                for r in need:
                    if tree.holds_any(manifest.files_of(r.name)):
                        chosen.setdefault(r.name, tree)
        else:
            raise SaptError(f"{spec}: --source not found (expected an https:// or file:// URL, a .tar.gz archive "
                            "or a directory)")
    for r in need:
        if r.name not in chosen:
            raise SaptError(f"no source for {r.short} in --source {' '.join(specs)} (expected its archive "
                            f"{r.archive_top}.tar.gz, its folder {r.archive_top}/ or a data root with its files)")
    return chosen


def _check_target(dest: Path, manifest: UpstreamManifest) -> dict[str, bool]:
    """repo name -> whether ``dest`` already holds all its files verified. Refuses a target with foreign files."""
    if not dest.exists():
        return {r: False for r in manifest.repos}
    if not dest.is_dir():
        raise SaptError(f"{dest}: exists and is not a directory (expected the data root fetch-data fills)")
    listed = manifest.by_path()
    foreign = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")
                     if p.is_file() and p.relative_to(dest).as_posix() not in listed
                     and p.relative_to(dest).as_posix() != layout.UPSTREAM_MARKER)
    status = {f.path: file_status(dest, f.git_blob, f.path) for f in manifest.files}
    differ = [p for p, s in status.items() if s == "differs"]
    if foreign or differ:
        what = (f"{len(differ)} files that differ from upstream, e.g. {differ[0]}" if differ
                else f"{len(foreign)} files not in {manifest.path.name}, e.g. {foreign[0]}")
        raise SaptError(f"{dest}: holds {what}; fetch-data replaces only its own verified copies (remove it, or "
                        "point data_root / SAPT_DATA_ROOT at it to use it as it is)")
    return {r: all(status[f.path] == "upstream" for f in manifest.files_of(r)) for r in manifest.repos}


def _drop_if_empty(d: Path) -> None:
    if d.is_dir() and not any(d.iterdir()):
        d.rmdir()


def _marker(manifest: UpstreamManifest, sources: dict[str, str]) -> dict:
    return {"manifest": manifest.path.name, "manifest_git_blob": git_blob_file(manifest.path),
            "files": len(manifest.files),
            "repos": {r.name: {"commit": r.commit, "files": len(manifest.files_of(r.name)), "source": sources[r.name]}
                      for r in manifest.repos.values()}}


def fetch(dest: str | os.PathLike = layout.UPSTREAM_DATA_ROOT, sources: list[str] | None = None,
          manifest: UpstreamManifest | str | os.PathLike | None = None, retries: int = 3, progress: bool | None = None,
          echo=print) -> dict:
    """Fill ``dest`` with the manifest's files from ``sources`` (default: GitHub); returns the marker written."""
    from sapt_core.io import atomic_dir, atomic_write_json

    m = manifest if isinstance(manifest, UpstreamManifest) else load_upstream_manifest(manifest)
    dest = Path(dest)
    have = _check_target(dest, m)
    need = [r for r in m.repos.values() if not have[r.name]]
    labels = {r: f"{dest} (already verified)" for r, ok in have.items() if ok}
    if not need:
        marker = _marker(m, labels)
        atomic_write_json(dest / layout.UPSTREAM_MARKER, marker)
        echo(f"{dest}: all {len(m.files)} files already verified against {m.path.name}")
        return marker
    downloads = downloads_dir(dest)
    try:
        specs = list(sources or [r.archive_url for r in need])
        chosen = _resolve(specs, need, m, downloads, retries, progress, echo)
    except SaptError:
        _drop_if_empty(downloads)  # keep a partial download only
        raise
    srcs = {**{r: _Tree(dest, "path", labels[r]) for r in labels}, **chosen}
    current = None
    try:
        with atomic_dir(dest) as staging:
            for r in m.repos.values():
                current = srcs[r.name]
                current.install(r, m.files_of(r.name), staging)
                echo(f"{r.short}: {len(m.files_of(r.name))} files verified (git blob ids) from {current.label}")
            marker = _marker(m, {r: s.label for r, s in srcs.items()})
            atomic_write_json(staging / layout.UPSTREAM_MARKER, marker)  # last: the directory is complete
    except SaptError:
        if isinstance(current, _Archive) and current.downloaded:  # a bad download is no use to the next run
            current.path.unlink(missing_ok=True)
            _drop_if_empty(downloads)
        raise
    shutil.rmtree(downloads, ignore_errors=True)  # nothing there is needed once the data root is whole
    echo(f"{dest}: {len(m.files)} files verified against {m.path.name} (marker {layout.UPSTREAM_MARKER})")
    return marker


# ---------------------------------------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = (
        "Fetch the benchmark data at the commits pinned in config/upstream_manifest.json and verify every file\n"
        "by its git blob id.\n\n"
        "Default source: GitHub's archive of each repository's commit over https (progress bar; a broken download\n"
        "resumes where it stopped, also on the next run). --source (repeatable) works offline: a URL, a local\n"
        "GitHub archive (SAPT-<commit>.tar.gz), a directory of such archives or of their unpacked folders, or a\n"
        "copy of a fetched data root. Files are unpacked into a temporary directory beside --dest, verified, and\n"
        "renamed into place with verified.json written last; any failure is one 'error: ...' line naming the file,\n"
        "exit 2, and nothing is left in --dest.")
    p.add_argument("--dest", default=layout.UPSTREAM_DATA_ROOT, metavar="DIR",
                   help="data root to fill (default: %(default)s, the workflow's default data_root)")
    p.add_argument("--source", action="append", metavar="SRC",
                   help="where to take the archives from instead of GitHub (repeatable; see above)")
    p.add_argument("--manifest", default=None, metavar="JSON",
                   help="upstream manifest (default: the repository's config/upstream_manifest.json)")
    p.add_argument("--retries", default="3", metavar="N", help="resumptions of a broken download (default: 3)")


def run(args: argparse.Namespace) -> int:
    try:
        retries = int(args.retries)
    except ValueError:
        retries = -1
    if retries < 0:
        raise SaptError(f"--retries: expected a non-negative integer, got {args.retries!r}")
    fetch(args.dest, args.source, args.manifest, retries=retries)
    return 0
