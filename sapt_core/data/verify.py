"""``sapt verify-data DIR``: compare a data root file by file with the committed upstream manifest.

Every file the manifest lists is ``upstream`` (its git blob id is the pinned commit's), ``differs`` (present, other
content: a rebuilt or edited file) or ``missing``. Files the manifest does not list are not reported. Exit status:
0 when every listed file is upstream, 1 when one differs or is missing, 2 on bad input (a directory that is not a
data root, a malformed manifest).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from sapt_core.data.upstream_manifest import UpstreamManifest, git_blob_file, load_upstream_manifest
from sapt_core.errors import SaptError

STATUSES = ("upstream", "differs", "missing")


def file_status(root: Path, blob: str, path: str) -> str:
    """``upstream`` | ``differs`` | ``missing`` of ``root/path`` against ``blob``."""
    f = root / path
    if not f.is_file():
        return "missing"
    return "upstream" if git_blob_file(f) == blob else "differs"


def check_is_data_root(root: Path, manifest: UpstreamManifest) -> None:
    """A directory holding at least one of the manifest's top-level folders, else one-line :class:`SaptError`."""
    tops = manifest.top_folders
    if not root.is_dir():
        raise SaptError(f"{root}: not a directory (expected a data root holding {', '.join(t + '/' for t in tops)})")
    if not any((root / t).is_dir() for t in tops):
        raise SaptError(f"{root}: not a data root (expected {', '.join(t + '/' for t in tops)} in it)")


def verify_dir(root, manifest: UpstreamManifest | None = None) -> list[tuple[str, str]]:
    """``[(status, path)]`` for every file of the manifest, in manifest order."""
    manifest = manifest or load_upstream_manifest()
    root = Path(root)
    check_is_data_root(root, manifest)
    return [(file_status(root, f.git_blob, f.path), f.path) for f in manifest.files]


def summary(statuses: list[tuple[str, str]], manifest: UpstreamManifest) -> str:
    n = Counter(s for s, _ in statuses)
    return (f"{len(statuses)} files: {n['upstream']} upstream, {n['differs']} differ, {n['missing']} missing "
            f"(git blob ids of {manifest.path.name})")


# ---------------------------------------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = (
        "Check a data root against the git blob ids of config/upstream_manifest.json.\n\n"
        "Prints one line per listed file, 'upstream|differs|missing  <path>', then a summary line with the counts.\n"
        "Exit status: 0 when every listed file is upstream, 1 when a file differs or is missing, 2 on bad input\n"
        "(DIR is not a data root, the manifest is malformed).")
    p.add_argument("dir", metavar="DIR", help="the data root to check (e.g. results/upstream, $SAPT_DATA_ROOT)")
    p.add_argument("--manifest", default=None, metavar="JSON",
                   help="upstream manifest (default: the repository's config/upstream_manifest.json)")


def run(args: argparse.Namespace) -> int:
    manifest = load_upstream_manifest(args.manifest)
    statuses = verify_dir(args.dir, manifest)
    width = max(map(len, STATUSES))
    for status, path in statuses:
        print(f"{status:<{width}}  {path}")
    print(summary(statuses, manifest))
    return 0 if all(s == "upstream" for s, _ in statuses) else 1
