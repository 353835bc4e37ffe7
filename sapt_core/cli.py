"""``sapt <command>``: the one CLI every Snakemake rule calls.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``. Modules keep
heavy imports (torch, transformers) inside functions, so ``sapt <cmd> --help`` and argument errors are instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "fetch-data": ("sapt_core.data.fetch", "fetch the upstream data at its pinned commits, every file verified by git blob id"),
    "verify-data": ("sapt_core.data.verify", "check a data root file by file against the pinned upstream (upstream|differs|missing)"),
    "prepare-data": ("sapt_core.data.prepare_cli", "sample deterministic train/val/test splits as JSONL + manifest"),
    "fetch-backbone": ("sapt_core.models.hub", "fetch a hub backbone once into the shared hub cache (submitting host; token from HF_TOKEN)"),
    "build-backbone": ("sapt_core.models.tiny", "build a tiny T5/LLaMA backbone + tokenizer from a config (no hub)"),
    "check-lora-sites": ("sapt_core.models.site_check", "check a backbone's LoRA sites against its modules (from its config, no weights)"),
    "train-step": ("sapt_core.recipes.step", "one step of any method's run (--method): train task k, save the state"),
    "evaluate": ("sapt_core.recipes.evaluate", "greedy-decode test sets and score them (accuracy / Rouge-L)"),
    "train-generator": ("sapt_core.recipes.train_generator", "train the ARM generator B_ref (LoRA) of one task"),
    "generate-pseudo": ("sapt_core.recipes.generate_pseudo", "sample and select the ARM pseudo inputs of one task"),
    "report-figure": ("sapt_core.report.figures", "paper figures (3, 9-12 attention heat maps; 4, 5, 7 metrics per backbone; 8 AP per step)"),
    "report-index": ("sapt_core.report.index", "results/README.md: which runs fed which table and figure"),
    "metrics": ("sapt_core.evaluation.metrics", "AP, F.Ra, FWT, BWT from a score-matrix CSV and single-task scores"),
    "run-metrics": ("sapt_core.report.run_metrics", "score matrix + AP, F.Ra, FWT, BWT of one run (its step scores)"),
    "report-table": ("sapt_core.report.tables", "paper Tables 1-9 as .md/.csv/.tex (--vs-paper: beside the paper's numbers)"),
    "report-runs": ("sapt_core.report.runs_frame", "results/runs.csv: every run's metrics, one tidy row per run and variant"),
    "config-docs": ("sapt_core.settings.config_docs", "regenerate (--write) or check (--check) the key tables of config/README.md"),
    "warm": ("sapt_core.warm.server", "serve sapt commands from one pre-imported process (./run demo: each job starts as a fork)"),
    "resources": ("sapt_core.commands.resources", "jobs and GPU-hours a Snakemake target requests (from its dry run), by rule and backbone"),
    "install-profile": ("sapt_core.commands.install_profile", "install a Snakemake profile (slurm) where `snakemake --profile <name>` finds it"),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command. A command whose flags depend on its arguments (``train-step``: the keys of
    ``--method``) adds them from ``argv`` through its ``add_dynamic_arguments``."""
    argv = argv or []
    parser = argparse.ArgumentParser(prog="sapt", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"sapt-core {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        if argv[:1] == [name] and hasattr(mod, "add_dynamic_arguments"):
            mod.add_dynamic_arguments(p, argv[1:])
        p.set_defaults(_module=module)
    return parser


def _version() -> str:
    from sapt_core import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    from sapt_core.errors import SaptError

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["warm"]:
        from sapt_core.warm.client import delegate

        rc = delegate(argv)
        if rc is not None:
            return rc
    try:
        parser = build_parser(argv)
    except SaptError as e:  # e.g. an unknown --method: one line listing the known names
        print(f"error: {e}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except SaptError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # read-only file system, no space left, permission denied, ...: the path and the reason
        from sapt_core.os_errors import os_error_line

        print(f"error: {os_error_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
