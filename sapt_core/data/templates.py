"""Instruction templates of the official code (docs/official_code.md §5), exactly.

* ``superni``: ``"Definition: " + def.strip() + "\\n\\n" + "Now complete the following example -\\n" + "Input: " + input
  + "\\n" + "Output: "``
* ``long``: ``def.strip() + "\\n" + input + "\\n" + "Output: "``; with an empty ``Definition`` list (copa, pseudo copa)
  there is no definition line at all: ``input + "\\n" + "Output: "``.

Zero-shot only: no positive examples, no task or dataset name (no task-id leak). The upstream reader turns an empty
``Definition`` list into ``""``, so ``long`` drops the line when the definition is empty; ``superni`` always keeps it
(the official SuperNI loader has no such branch, and every SuperNI file has a definition).
"""

from __future__ import annotations

from sapt_core.errors import SaptError

TEMPLATE_NAMES = ("superni", "long")


def format_source(template: str, definition: str, input: str) -> str:
    """The model's source prompt for one instance under ``template`` ("superni" or "long")."""
    if template == "superni":
        return ("Definition: " + definition.strip() + "\n\n" + "Now complete the following example -\n"
                + "Input: " + input + "\n" + "Output: ")
    if template == "long":
        head = definition.strip() + "\n" if definition else ""
        return head + input + "\n" + "Output: "
    raise SaptError(f"template: expected one of {', '.join(TEMPLATE_NAMES)}, got {template!r}")
