"""The data root: which directory the upstream task files are read from, and the check that it is one.

Precedence: ``--config data_root=DIR`` on the Snakemake command line, else ``$SAPT_DATA_ROOT``, else ``data_root`` of
the config file (default the project-local ``results/upstream``, :data:`sapt_core.layout.UPSTREAM_DATA_ROOT`). The
project-local root is filled by rule ``fetch_data`` (``sapt fetch-data``) as the first job of the DAG; any other
root is an existing copy, checked when the workflow plans (:func:`check_data_root`), before any job runs.

The commands that read a data root (``prepare-data``, ``build-backbone``, ``generate-pseudo``) share one
``--data-root`` (:func:`add_data_root_argument`) defaulting the same way (:func:`default_data_root`); the workflow
always passes it. ``./run`` exports ``$SAPT_DATA_ROOT`` as ``../shared/data`` when that copy lies beside the clone
and the variable is unset (development machines), so there it wins over the project-local root.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from sapt_core import layout
from sapt_core.errors import SaptError


def default_data_root() -> str:
    """The CLI's default: ``$SAPT_DATA_ROOT``, else the project-local root."""
    return os.environ.get("SAPT_DATA_ROOT") or layout.UPSTREAM_DATA_ROOT


def add_data_root_argument(p, what: str = "upstream data root") -> None:
    """``--data-root DIR`` of a CLI command: ``None`` unless given (the caller falls back to
    :func:`default_data_root`, read when the command runs)."""
    p.add_argument("--data-root", default=None, metavar="DIR",
                   help=f"{what} (default: $SAPT_DATA_ROOT, else {layout.UPSTREAM_DATA_ROOT} from `sapt fetch-data`)")


def resolve_data_root(config: Mapping, cli_config: Mapping | None = None, environ: Mapping | None = None) -> str:
    """The workflow's data root (see the module docstring for the precedence)."""
    environ = os.environ if environ is None else environ
    if cli_config and cli_config.get("data_root"):
        return str(cli_config["data_root"])
    return str(environ.get("SAPT_DATA_ROOT") or config["data_root"])


def is_project_local(root: str | os.PathLike) -> bool:
    """Whether ``root`` is the project-local data root that rule ``fetch_data`` fills."""
    return Path(root).resolve() == Path(layout.UPSTREAM_DATA_ROOT).resolve()


def expected_paths(benchmarks) -> list[str]:
    """What ``prepare-data`` reads under a data root: each task's train file (the test file for test-only
    benchmarks) without its suffix (upstream ``.json`` or ``.jsonl``), and each benchmark's shipped pseudo-sample
    folders (ending in ``/``)."""
    out = []
    for b in benchmarks.values():
        for t in b.tasks:
            out.append(f"{b.dir}/{t}/{'test' if b.test_only else 'train'}")
        out += [f"{d}/{Path(b.dir).name}/" for d in b.pseudo_dir.values()]
    return out


def check_data_root(root: str | os.PathLike, benchmarks_file: str | os.PathLike) -> None:
    """One-line :class:`SaptError` naming the data root and what it lacks, unless it holds every task of
    ``benchmarks_file`` in the upstream layout."""
    from sapt_core.settings.benchmarks import load_benchmarks

    root = Path(root)
    if not root.is_dir():
        raise SaptError(f"data_root {root}: no such directory (expected the upstream data layout, CL_Benchmark/, "
                        f"generated_data/, unseen/; `sapt fetch-data` makes one, or leave data_root at "
                        f"{layout.UPSTREAM_DATA_ROOT} to fetch it)")
    from sapt_core.data.upstream import task_file

    for rel in expected_paths(load_benchmarks(benchmarks_file)):
        if rel.endswith("/") and not (root / rel).is_dir():
            raise SaptError(f"data_root {root}: {rel} not found (expected the shipped pseudo samples of "
                            f"{benchmarks_file}; `sapt verify-data {root}` compares the data root file by file)")
        if not rel.endswith("/") and task_file((root / rel).parent, Path(rel).name) is None:
            raise SaptError(f"data_root {root}: {rel}.json not found (expected every task of {benchmarks_file} in "
                            f"the upstream layout, or {rel}.jsonl; `sapt verify-data {root}` compares it file by "
                            "file)")


def workflow_data_root(config: Mapping, cli_config: Mapping | None = None,
                       environ: Mapping | None = None) -> tuple[str, list[str]]:
    """``(data_root, inputs)`` for the workflow: ``inputs`` is what every job reading the data root needs, the
    marker of rule ``fetch_data`` for the project-local root; any other root is checked here, when planning."""
    root = resolve_data_root(config, cli_config, environ)
    if is_project_local(root):
        return root, [layout.UPSTREAM_VERIFIED]
    check_data_root(root, config["benchmarks_file"])
    return root, []
