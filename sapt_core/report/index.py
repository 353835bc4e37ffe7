"""``sapt report-index``: ``results/README.md``, what each table and figure is and which runs fed it. Each ``--entry
FILE SOURCE...`` names one output and the files it was built from; what an output is comes from
:data:`sapt_core.report.registry.WHAT`."""

from __future__ import annotations

import argparse
from pathlib import Path

from sapt_core.errors import SaptError
from sapt_core.report.registry import WHAT


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--entry", nargs="+", action="append", required=True, metavar="FILE [SOURCE ...]",
                   help="an output file followed by the files it was built from (repeatable)")
    p.add_argument("--out", required=True, help="the index to write (results/README.md)")


def render(entries: list[list[str]]) -> str:
    lines = ["# Results", "",
             "Written by the workflow (rule `results_readme`); every number in a table traces to the files listed "
             "here: a table's `metrics.json` inputs list the `step*/scores.json` files (with sha256) they come from.",
             "", "| file | what it is | built from |", "|---|---|---|"]
    for file, *sources in entries:
        stem = Path(file).stem
        srcs = "<br>".join(f"`{s}`" for s in sources) or "-"
        lines.append(f"| `{file}` | {WHAT.get(stem, '')} | {srcs} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from sapt_core.io import atomic_write_text

    for file, *_ in args.entry:
        if not Path(file).is_file():
            raise SaptError(f"--entry {file}: file not found (build it before the index)")
    atomic_write_text(args.out, render(args.entry))
    print(f"wrote {args.out} ({len(args.entry)} entries)")
    return 0
