"""Names that become path components (tasks, benchmarks, orders, methods, backbones): one safe pattern for all.

A name is joined into paths under the data root (``<benchmark dir>/<task>/train.json``) and under ``results/``
(:mod:`sapt_core.layout`: ``runs/<benchmark>/<order>/<backbone>/<method>/...``), so a name such as ``../../x``
would read or write outside them. Every such name must start with a letter or digit, hold only letters, digits and
``_ . + - ~ = ,`` (a method variant is ``<method>~<key>=<value>,...``) and contain no ``..``.
Relative directories in the benchmarks file (``dir``, ``pseudo_dir``) must stay below the data root.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from sapt_core.errors import SaptError

SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+~=,-]*$")
SAFE_NAME_TEXT = "letters, digits and _ . + - ~ = , only, starting with a letter or digit, no '..'"
VARIANT_CHARS = "~=,"
"""Only in a method variant's name (``<method>~<key>=<value>,...``): a methods-file entry or a size has none."""
PLAIN_NAME_TEXT = "letters, digits and _ . + - only, starting with a letter or digit, no '..'"


def is_safe_name(name: Any, variant: bool = True) -> bool:
    """Whether ``name`` is safe as a path component; ``variant=False``: also without the variant characters."""
    return (isinstance(name, str) and bool(SAFE_NAME_RE.match(name)) and ".." not in name
            and (variant or not any(c in name for c in VARIANT_CHARS)))


def check_name(name: Any, where: str, what: str = "a name", variant: bool = True) -> str:
    """``name`` if it is safe as a path component, else one line: ``<where>: expected <what> of <pattern>, got ...``.
    ``variant=False`` refuses the variant characters too (a method of the methods file, a size)."""
    if not is_safe_name(name, variant):
        text = SAFE_NAME_TEXT if variant else PLAIN_NAME_TEXT
        raise SaptError(f"{where}: expected {what} of {text} (it becomes a path component), got {name!r}")
    return name


def check_relative_dir(value: Any, where: str) -> str:
    """A relative directory below its root: no absolute path, no ``..`` component, not empty."""
    ok = isinstance(value, str) and value.strip() and not value.startswith(("/", "\\")) and ":" not in value
    parts = PurePosixPath(value.replace("\\", "/")).parts if ok else ()
    if not ok or not parts or any(p in ("..", ".") for p in parts):
        raise SaptError(f"{where}: expected a relative directory below the data root (no '..', not absolute), "
                        f"got {value!r}")
    return value
