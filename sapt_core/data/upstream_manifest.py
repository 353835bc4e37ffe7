"""The committed list of upstream data files (``config/upstream_manifest.json``) and their git blob ids.

The benchmark data is the authors' JSON as published in public git repositories, pinned to one commit each (see the
README's "Data" section). The manifest names every file the project keeps: its path under the data root, the
repository it comes from, its path there and its git blob id, the SHA-1 of ``b"blob <size>\\0" + content`` that git
itself stores, so a file can be checked against the pinned commit without git and without the network.

Format::

    {"about": "...",
     "repos": {"circle-hit/SAPT": {"commit": "<40 hex>"}, ...},
     "files": [{"path": "CL_Benchmark/...", "repo": "circle-hit/SAPT", "upstream_path": "CL_Benchmark/...",
                "git_blob": "<40 hex>"}, ...]}

Problems are one-line :class:`SaptError` messages naming the manifest and the field.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sapt_core.errors import SaptError

# the repository's config/, found from the package so that callers need not run from the repository root
DEFAULT_MANIFEST = Path(__file__).resolve().parents[2] / "config" / "upstream_manifest.json"
_HEX40 = re.compile(r"[0-9a-f]{40}")
_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")


def git_blob_id(data: bytes) -> str:
    """git's object id of a file with content ``data`` (``git hash-object``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class BlobHasher:
    """:func:`git_blob_id` computed while the content streams by (the size must be known up front)."""

    def __init__(self, size: int):
        self.size, self.seen = size, 0
        self._h = hashlib.sha1(b"blob %d\0" % size)

    def update(self, chunk: bytes) -> None:
        self.seen += len(chunk)
        self._h.update(chunk)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def git_blob_file(path: str | Path) -> str:
    """:func:`git_blob_id` of a file on disk, read in chunks."""
    path = Path(path)
    h = BlobHasher(path.stat().st_size)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ListedFile:
    path: str  # under the data root
    repo: str  # owner/name
    upstream_path: str  # in the repository at its pinned commit
    git_blob: str


@dataclass(frozen=True)
class Repo:
    name: str  # owner/name
    commit: str

    @property
    def short(self) -> str:
        return f"{self.name}@{self.commit[:7]}"

    @property
    def archive_top(self) -> str:
        """The single top folder of GitHub's archive of the commit: ``<name>-<commit>``."""
        return f"{self.name.split('/')[1]}-{self.commit}"

    @property
    def archive_url(self) -> str:
        return f"https://codeload.github.com/{self.name}/tar.gz/{self.commit}"


@dataclass(frozen=True)
class UpstreamManifest:
    path: Path
    repos: dict[str, Repo]
    files: tuple[ListedFile, ...]

    def by_path(self) -> dict[str, ListedFile]:
        return {f.path: f for f in self.files}

    def files_of(self, repo: str) -> list[ListedFile]:
        return [f for f in self.files if f.repo == repo]

    @property
    def top_folders(self) -> list[str]:
        """The data root's top-level folders (CL_Benchmark, generated_data, unseen)."""
        return sorted({f.path.split("/")[0] for f in self.files})


def _relative(manifest: Path, where: str, p) -> str:
    if not isinstance(p, str) or not p:
        raise SaptError(f"{manifest}: {where}: expected a relative path, got {p!r}")
    pp = PurePosixPath(p)
    if pp.is_absolute() or ".." in pp.parts or "\\" in p or pp.as_posix() != p:
        raise SaptError(f"{manifest}: {where}: expected a normalised relative path, got {p!r}")
    return p


def load_upstream_manifest(path: str | Path | None = None) -> UpstreamManifest:
    """Read and validate the manifest (default: the repository's ``config/upstream_manifest.json``)."""
    from sapt_core.io import read_json

    path = Path(path) if path is not None else DEFAULT_MANIFEST
    doc = read_json(path, "upstream data manifest")
    if not isinstance(doc, dict) or not isinstance(doc.get("repos"), dict) or not isinstance(doc.get("files"), list):
        raise SaptError(f"{path}: expected an object with 'repos' (a mapping) and 'files' (a list)")
    repos = {}
    for name, spec in doc["repos"].items():
        if not _REPO.fullmatch(str(name)):
            raise SaptError(f"{path}: repos.{name}: expected an owner/name repository")
        commit = spec.get("commit") if isinstance(spec, dict) else None
        if not isinstance(commit, str) or not _HEX40.fullmatch(commit):
            raise SaptError(f"{path}: repos.{name}.commit: expected a 40-digit hex commit id, got {commit!r}")
        repos[name] = Repo(name, commit)
    files, seen, seen_up = [], set(), set()
    for i, f in enumerate(doc["files"]):
        w = f"files[{i}]"
        if not isinstance(f, dict):
            raise SaptError(f"{path}: {w}: expected an object with path, repo, upstream_path, git_blob")
        p = _relative(path, f"{w}.path", f.get("path"))
        up = _relative(path, f"{w}.upstream_path", f.get("upstream_path"))
        if f.get("repo") not in repos:
            raise SaptError(f"{path}: {w}.repo: expected one of {', '.join(repos)}, got {f.get('repo')!r}")
        blob = f.get("git_blob")
        if not isinstance(blob, str) or not _HEX40.fullmatch(blob):
            raise SaptError(f"{path}: {w}.git_blob: expected a 40-digit hex blob id, got {blob!r}")
        if p in seen or (f["repo"], up) in seen_up:
            raise SaptError(f"{path}: {w}: {p} listed twice")
        seen.add(p)
        seen_up.add((f["repo"], up))
        files.append(ListedFile(p, f["repo"], up, blob))
    if not files:
        raise SaptError(f"{path}: files: expected at least one file")
    return UpstreamManifest(path, repos, tuple(files))
