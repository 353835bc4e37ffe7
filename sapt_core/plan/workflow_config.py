"""The workflow config as Snakemake hands it over: one-line schema errors, and overlays that switch experiments off."""

from __future__ import annotations


def config_error_line(exc: BaseException) -> str:
    """One line naming the offending config field, from snakemake's wrapped jsonschema ValidationError."""
    err = exc
    while err is not None and not hasattr(err, "absolute_path"):
        err = err.__cause__ or err.__context__ or (err.args[0] if err.args and isinstance(err.args[0], BaseException)
                                                   else None)
    if err is None:
        return "config: " + " ".join(str(exc).split())
    field = ".".join(str(p) for p in err.absolute_path) or "<top level>"
    return f"config field {field}: {' '.join(err.message.split())}"


def drop_disabled_experiments(config: dict) -> None:
    """Remove ``experiments`` entries set to null. Snakemake merges a ``--configfile`` overlay into
    config/config.yaml key by key, so an overlay (``.test/config.yaml``) can only switch a base experiment off by
    setting it to null."""
    exps = config.get("experiments") or {}
    config["experiments"] = {name: exp for name, exp in exps.items() if exp is not None}
