"""The table every ``sapt report-table`` output is made of, and the cell conventions all tables share.

A :class:`Table` holds the shown text (caption, column headers, one list of cell texts per row, notes under the table,
the files it was built from) and the CSV record of each row; :mod:`sapt_core.report.render` turns it into Markdown,
CSV and LaTeX.

Cell rules: numbers with 2 decimals (``-0.00`` shown as ``0.00``); ``mean ± sd`` with several seeds, the mean alone
with one. ``-`` = not applicable, ``n/a (missing)`` = an expected cell without input, ``n/a (incomplete)`` = inputs
exist but no seed has all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sapt_core.errors import SaptError

MISSING = "n/a (missing)"
INCOMPLETE = "n/a (incomplete)"
NOT_APPLICABLE = "-"
DERIVED_NOTE = "* test split held out from train: upstream test file missing"
DATA_DIFFERS_NOTE = "Data that differs from upstream (prepared from files not identical to the upstream benchmark's"


@dataclass
class Table:
    caption: str
    columns: list[str]  # md/tex column headers (the first one labels the rows)
    rows: list[list[str]]  # cell texts, one list per row, len == len(columns)
    csv_fields: list[str]
    csv_rows: list[dict]
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    sources_label: str = "metrics files"
    groups: list[tuple[str, int]] | None = None  # tex: (label, span) over columns[1:]


def fmt(x: float) -> str:
    s = f"{x:.2f}"
    return "0.00" if s == "-0.00" else s


def mean_sd_text(mean: float, sd: float | None) -> str:
    """A cell: ``mean`` or ``mean ± sd`` (2 decimals)."""
    return fmt(mean) + ("" if sd is None else f" ± {fmt(sd)}")


def join(xs) -> str:
    return ", ".join(map(str, xs))


def parse_labels(items: list[str]) -> dict[str, str]:
    """``--labels METHOD=LABEL ...`` -> {method: label}: the paper's row / legend names (``- ARM`` for
    sapt-lora-noarm); a method without one is shown by its config name."""
    out = {}
    for item in items:
        method, sep, label = item.partition("=")
        if not sep or not method or not label.strip():
            raise SaptError(f"--labels {item!r}: expected METHOD=LABEL")
        out[method] = label
    return out
