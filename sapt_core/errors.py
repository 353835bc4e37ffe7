"""One exception type for bad input: its message is a single line naming the file/field and what was expected.

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
