"""Instruction templates: how a task's instruction and an instance's input become the model's source prompt.

The two upstream templates are the official code's, exactly (docs/official_code.md §5):

* ``superni``: ``"Definition: " + def.strip() + "\\n\\n" + "Now complete the following example -\\n" + "Input: " + input
  + "\\n" + "Output: "``
* ``long``: ``def.strip() + "\\n" + input + "\\n" + "Output: "``; with an empty ``Definition`` list (copa, pseudo copa)
  there is no definition line at all: ``input + "\\n" + "Output: "``.

For a benchmark of one's own (docs/adding_a_benchmark.md):

* ``generic``: ``"Instruction: " + instruction.strip() + "\\n" + "Input: " + input + "\\n" + "Output: "``, without the
  instruction line when the task has no instruction.
* a format string with the fields ``{input}`` (required) and ``{instruction}`` (optional), e.g.
  ``"Review: {input}\\nSentiment:"``; ``{{`` and ``}}`` write literal braces.

Zero-shot only: no positive examples, no task or dataset name (no task-id leak). The upstream reader turns an empty
``Definition`` list into ``""``, so ``long`` drops the line when the definition is empty; ``superni`` always keeps it
(the official SuperNI loader has no such branch, and every SuperNI file has a definition).
"""

from __future__ import annotations

import string

from sapt_core.errors import SaptError

TEMPLATE_NAMES = ("superni", "long", "generic")
FORMAT_FIELDS = ("instruction", "input")


def template_problem(template) -> str | None:
    """None when ``template`` is a template name or a valid format string; else what was expected, for one line."""
    if template in TEMPLATE_NAMES:
        return None
    expected = (f"one of {', '.join(TEMPLATE_NAMES)} or a format string with {{input}} (and optionally "
                "{instruction})")
    if not isinstance(template, str) or "{" not in template:
        return f"expected {expected}, got {template!r}"
    try:
        fields = [f for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        return f"expected {expected}, got {template!r} ({e})"
    odd = [f for f in fields if f not in FORMAT_FIELDS]
    if odd:
        return f"expected only the fields {{instruction}} and {{input}}, got {{{odd[0]}}} in {template!r}"
    if "input" not in fields:
        return f"expected {expected}, got {template!r} (no {{input}})"
    return None


def format_source(template: str, definition: str, input: str) -> str:
    """The model's source prompt for one instance under ``template`` (a name of :data:`TEMPLATE_NAMES` or a format
    string)."""
    if template == "superni":
        return ("Definition: " + definition.strip() + "\n\n" + "Now complete the following example -\n"
                + "Input: " + input + "\n" + "Output: ")
    if template == "long":
        head = definition.strip() + "\n" if definition else ""
        return head + input + "\n" + "Output: "
    if template == "generic":
        head = "Instruction: " + definition.strip() + "\n" if definition.strip() else ""
        return head + "Input: " + input + "\n" + "Output: "
    problem = template_problem(template)
    if problem:
        raise SaptError(f"template: {problem}")
    return template.format(instruction=definition.strip(), input=input)
