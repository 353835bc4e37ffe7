"""``sapt report-index``: ``results/README.md``, what each table and figure is and which runs fed it (design
section 8). Each ``--entry FILE SOURCE...`` names one output and the files it was built from."""

from __future__ import annotations

import argparse
from pathlib import Path

from sapt_core.errors import SaptError

WHAT = {
    "table1": "overall results per benchmark (orders averaged): AP, F.Ra, FWT, BWT (paper Table 1)",
    "table2": "ablations of SAPT-LoRA (paper Table 2)",
    "table3": "unseen SuperNI tasks by category (paper Table 3)",
    "table4": "SuperNI tasks, categories, metrics, split sizes (paper Table 4)",
    "table5": "Long Sequence tasks, categories, metrics, split sizes (paper Table 5)",
    "table6": "unseen SuperNI tasks (paper Table 6)",
    "table7": "task orders (paper Table 7)",
    "table8": "results per SuperNI order (paper Table 8)",
    "table9": "results per Long Sequence order (paper Table 9)",
    "figure3": "shared-attention heat maps, learning time vs test time (paper Figure 3: SAPT-Prompt, Long Sequence)",
    "figure4": "AP, F.Ra, FWT vs backbone size, per method (paper Figure 4)",
    "figure5": "AP, F.Ra, FWT of T5 vs LLaMA backbones on SuperNI, per method (paper Figure 5)",
    "figure7": "AP, F.Ra, FWT of T5 vs LLaMA backbones on Long Sequence, per method (paper Figure 7)",
    "figure8": "average performance after each time step (paper Figure 8)",
    "figure9": "shared-attention heat maps, SAPT-Prompt on SuperNI (paper Figure 9)",
    "figure10": "shared-attention heat maps, SAPT-Prompt on Long Sequence (paper Figure 10)",
    "figure11": "shared-attention heat maps, SAPT-LoRA on SuperNI (paper Figure 11)",
    "figure12": "shared-attention heat maps, SAPT-LoRA on Long Sequence (paper Figure 12)",
}


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
