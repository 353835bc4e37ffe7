"""``sapt install-profile``: copy the repository's Snakemake profile (default: ``slurm``) to where Snakemake looks
profiles up by name, ``$XDG_CONFIG_HOME/snakemake/<name>`` (``~/.config/snakemake/<name>``), so that
``snakemake --profile slurm all_tables`` works from the repository root. The copy is written to a temporary directory
and renamed into place; an existing profile is replaced only with ``--force``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from sapt_core.errors import SaptError

REPO_PROFILES = Path(__file__).resolve().parents[2] / "workflow" / "profiles"


def user_profile_dir() -> Path:
    """Snakemake's per-user profile directory (platformdirs' user config dir on Linux)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "snakemake"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default="slurm", help="profile under workflow/profiles/ (default: %(default)s)")
    p.add_argument("--source", default=None, help="profile directory to install (default: workflow/profiles/<name>)")
    p.add_argument("--dest", default=None,
                   help="profiles directory (default: $XDG_CONFIG_HOME/snakemake, else ~/.config/snakemake)")
    p.add_argument("--force", action="store_true", help="replace an installed profile of that name")


def install_profile(name: str = "slurm", source: str | Path | None = None, dest: str | Path | None = None,
                    force: bool = False) -> Path:
    src = Path(source) if source else REPO_PROFILES / name
    if not (src / "config.yaml").is_file():
        raise SaptError(f"{src / 'config.yaml'}: no Snakemake profile there")
    root = Path(dest) if dest else user_profile_dir()
    target = root / name
    if target.exists() and not force:
        raise SaptError(f"{target}: a profile is already installed there (use --force to replace it)")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def run(args: argparse.Namespace) -> int:
    target = install_profile(args.name, args.source, args.dest, args.force)
    print(f"installed profile {args.name!r} at {target}; edit its SITE lines, then from the repository root: "
          f"snakemake --profile {args.name} all_tables")
    return 0
