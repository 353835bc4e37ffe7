"""The workflow config as Snakemake hands it over: overlays that switch experiments off (its validation:
:mod:`sapt_core.plan.validate`)."""

from __future__ import annotations


def drop_disabled_experiments(config: dict) -> None:
    """Remove ``experiments`` entries set to null. Snakemake merges a ``--configfile`` overlay into
    config/config.yaml key by key, so an overlay (``.test/config.yaml``) can only switch a base experiment off by
    setting it to null."""
    exps = config.get("experiments") or {}
    config["experiments"] = {name: exp for name, exp in exps.items() if exp is not None}
