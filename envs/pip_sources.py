"""Where pip takes packages from, as ``uv pip install`` flags, one per line (``./run``'s set-up).

pip reads its settings from environment variables (``PIP_*``), then the site, user and global configuration files,
and the first of these that sets a key wins (pip's "Configuration" documentation: precedence). ``pip config list``
prints every source's value; this keeps the winning one of each key uv also understands and writes it as uv's flag.
"""

from __future__ import annotations

import ast
import subprocess
import sys

PRECEDENCE = (":env:", "site", "user", "global")
# pip's key -> (uv's flag, whether the value is a list)
FLAGS = {"index-url": ("--index-url", False), "extra-index-url": ("--extra-index-url", True),
         "find-links": ("--find-links", True), "constraint": ("--constraint", True),
         "trusted-host": ("--allow-insecure-host", True), "cert": ("--cert", False)}


def winning(listing: str) -> dict[str, str]:
    """pip key -> the value of its highest-precedence source, from ``pip config list``'s lines (``source.key='v'``)."""
    found: dict[str, tuple[int, str | None]] = {}
    for line in listing.splitlines():
        name, sep, value = line.partition("=")
        source, _, key = name.rpartition(".")
        if not sep or key not in FLAGS or source not in PRECEDENCE:
            continue
        rank = PRECEDENCE.index(source)
        if key not in found or rank < found[key][0]:
            try:
                found[key] = (rank, str(ast.literal_eval(value)))
            except (ValueError, SyntaxError):  # not a quoted value: pip's listing changed; leave the key to uv
                found[key] = (rank, None)
    return {k: v for k, (_, v) in found.items() if v is not None}


def flags(settings: dict[str, str]) -> list[str]:
    out = []
    for key, value in settings.items():
        flag, many = FLAGS[key]
        for v in value.split() if many else [value]:
            out += [flag, v]
    return out


if __name__ == "__main__":
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    print("\n".join(flags(winning(listing))))
