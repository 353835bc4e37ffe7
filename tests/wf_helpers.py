"""Helpers shared by the workflow tests: a copy of the workflow in a temp dir and a Snakemake call inside it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path


def _copy_workflow(repo_root: Path, dest: Path) -> Path:
    for name in ("Snakefile", "workflow", "config"):
        src = repo_root / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    return dest


def _snakemake(cwd: Path, *args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
