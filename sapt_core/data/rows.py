"""The row schema of prepared splits and pseudo-input files, checked where a JSONL file enters a command.

Every row ``sapt prepare-data`` and ``sapt generate-pseudo`` write has ``id``, ``task``, ``benchmark``, ``source``,
``target``, ``references``, ``definition`` and ``input`` (docs/data.md); the training, evaluation and replay code
reads them by key, so a row without one (or with a wrong type) is one line naming the file, the line and the field
instead of a ``KeyError`` deep inside a job.
"""

from __future__ import annotations

from typing import Any

from sapt_core.errors import SaptError

STRING_FIELDS = ("task", "benchmark", "source", "target", "definition", "input")


def check_row(row: dict, where: str) -> None:
    """One line ``<file>:<line>: <field>: expected ..., got ...`` unless ``row`` has the prepared-row schema."""
    def bad(field: str, expected: str, value: Any = None, missing: bool = False) -> None:
        got = "nothing (missing)" if missing else f"{type(value).__name__} {value!r}"[:80]
        raise SaptError(f"{where}: {field}: expected {expected}, got {got}")

    if "id" not in row:
        bad("id", "a string or integer", missing=True)
    if isinstance(row["id"], bool) or not isinstance(row["id"], (str, int)):
        bad("id", "a string or integer", row["id"])
    for field in STRING_FIELDS:
        if field not in row:
            bad(field, "a string", missing=True)
        if not isinstance(row[field], str):
            bad(field, "a string", row[field])
    refs = row.get("references", None)
    if "references" not in row:
        bad("references", "a list of strings", missing=True)
    if not isinstance(refs, list) or not all(isinstance(x, str) for x in refs):
        bad("references", "a list of strings", refs)
