"""One exception type for bad input: its message is a single line naming the file/field and what was expected.

The lines are built here, one way for every loader: :func:`need` (``<file>: <field>: expected X, got Y``),
:func:`check_keys` / :func:`unknown_key` (``<file>: <field>.<key>: unknown key (did you mean ...?) (known: ...)``)
and :func:`unknown_text` (``unknown <what> 'x' (did you mean ...?) (known: ...)``).

The CLI turns it into ``error: <message>`` on stderr and exit status 2; nothing half-written is left behind because
every artifact goes through :mod:`sapt_core.io`'s atomic writers.
"""


class SaptError(Exception):
    """Bad input or an unrecoverable run condition, reported as one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def did_you_mean(name, known) -> str:
    """`` (did you mean 'x'?)`` naming the closest of ``known`` to a misspelt ``name``, or "" when none is close."""
    import difflib

    match = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def known_text(known) -> str:
    """`` (known: a, b)``: the names a value may take, closing a one-line error."""
    return f" (known: {', '.join(map(str, known)) or 'none'})"


def unknown_text(what: str, name, known, named: bool = True) -> str:
    """``unknown <what> 'x' (did you mean 'y'?) (known: a, b)``; ``named=False`` leaves the name out (for a key that
    already ends the field the line names)."""
    return f"unknown {what}{f' {name!r}' if named else ''}{did_you_mean(name, known)}{known_text(known)}"


def unknown_key(where: str, key, known, what: str = "key", file=None) -> SaptError:
    """``<file>: <where>.<key>: unknown <what> (did you mean ...?) (known: ...)``: a mapping's key that is none of
    ``known`` (no ``file``: the line starts at the field; empty ``where``: a top-level key)."""
    field = f"{where}.{key}" if where else str(key)
    return SaptError(f"{f'{file}: ' if file else ''}{field}: {unknown_text(what, key, known, named=False)}")


def check_keys(mapping, known, where: str, what: str = "key", file=None) -> None:
    """Raise :func:`unknown_key` for the first (sorted) key of ``mapping`` that is not in ``known``."""
    extra = sorted(set(map(str, mapping)) - set(map(str, known)))
    if extra:
        raise unknown_key(where, extra[0], known, what, file)


def need(ok, file, where: str, expected: str, got) -> None:
    """Unless ``ok``: ``<file>: <where>: expected <expected>, got <got!r>`` (no ``file``: the line starts at the
    field)."""
    if not ok:
        raise SaptError(f"{f'{file}: ' if file else ''}{where}: expected {expected}, got {got!r}")
