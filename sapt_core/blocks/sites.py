"""Where LoRA attaches: the LoRA sites of a backbone (config ``backbones.<name>.lora_sites``, flag ``--lora-sites``).

A site list is a non-empty list of entries, each one of

- a **name** (letters, digits, ``_``): every module whose own name, the last component of its path, is that name, as
  peft's list form of ``target_modules`` and as the family defaults below (T5 ``q``/``v``, LLaMA ``q_proj``/``v_proj``:
  q and v of every attention module, docs/official_code.md §2);
- a **pattern** (anything else): a regular expression that must match a module's whole path
  (``re.fullmatch``, peft's string form of ``target_modules``), e.g. ``.*\\.attention\\.query_key_value``.

Every entry must match at least one module and every module matched must be an ``nn.Linear`` (the multi-block LoRA
layer, :mod:`sapt_core.blocks.lora`, wraps a Linear; GPT-2's ``Conv1D`` is refused): a problem is one line naming the
backbone, the entry, and the Linear names the backbone has. The form is checked at plan time (:func:`check_form`,
no torch); the match as soon as the model's config exists (``sapt check-lora-sites``, the workflow's rule
check_lora_sites: after the tiny backbone is built or the hub backbone fetched, on the meta device, no weights) and
again whenever a job loads the backbone (:func:`resolve`), before any training.

:func:`sapt_core.models.load_backbone` records a backbone's list on its model (:func:`set_sites`), so every block
builder of the job (:func:`sapt_core.blocks.lora.inject_lora_blocks`, peft's generator block in
:mod:`sapt_core.blocks.pet`) attaches to the same modules (:func:`sites_of`).
"""

from __future__ import annotations

import re

from sapt_core.errors import SaptError

DEFAULT_SITES = {"t5": ("q", "v"), "llama": ("q_proj", "v_proj")}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ATTR = "sapt_lora_sites"  # the attribute load_backbone sets on the loaded model
SHOWN = 12                # Linear names an error lists


def is_name(entry: str) -> bool:
    """A module name (matched against the last component of a module's path), not a pattern."""
    return NAME.fullmatch(entry) is not None


def check_form(value, where: str) -> list[str]:
    """The list itself: non-empty, of non-empty strings, each pattern a valid regular expression (one line naming
    ``where`` otherwise). No torch: the config check runs it at plan time."""
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(e, str) and e for e in value):
        raise SaptError(f"{where}: expected a non-empty list of module names or patterns, got {value!r}")
    for e in value:
        if not is_name(e):
            try:
                re.compile(e)
            except re.error as err:
                raise SaptError(f"{where}: {e!r} is neither a module name nor a valid regular expression ({err})") \
                    from None
    return list(value)


def default_sites(family: str) -> list[str]:
    """The family's q/v projections (an unknown family has none)."""
    return list(DEFAULT_SITES.get(family, ()))


def matches(entry: str, path: str) -> bool:
    return path.rsplit(".", 1)[-1] == entry if is_name(entry) else re.fullmatch(entry, path) is not None


def linear_names(model) -> list[str]:
    """The distinct names (last path component) of the model's ``nn.Linear`` modules, in model order."""
    from torch import nn

    out: dict[str, None] = {}
    for path, m in model.named_modules():
        if path and isinstance(m, nn.Linear):
            out.setdefault(path.rsplit(".", 1)[-1])
    return list(out)


def resolve(model, sites, backbone: str, where: str | None = None) -> list[tuple[str, object]]:
    """(path, module) of every module a site entry matches, in the model's module order; one line starting with
    ``where`` (default ``backbone <backbone>: lora_sites``) when an entry matches nothing or a match is not an
    ``nn.Linear``."""
    from torch import nn

    where = where or f"backbone {backbone}: lora_sites"
    key = "" if where.startswith("config ") else "; config backbones.<name>.lora_sites"
    sites = check_form(sites, where)
    found = [(p, m) for p, m in model.named_modules() if p and any(matches(e, p) for e in sites)]
    for e in sites:
        if not any(matches(e, p) for p, _ in found):
            names = linear_names(model)
            shown = ", ".join(names[:SHOWN]) + (f", ... ({len(names)} in all)" if len(names) > SHOWN else "")
            raise SaptError(f"{where}: no nn.Linear module matches {e!r} (its nn.Linear modules: "
                            f"{shown or 'none'}{key})")
    for p, m in found:
        if not isinstance(m, nn.Linear):
            raise SaptError(f"{where}: module {p} is a {type(m).__module__}.{type(m).__name__}, not an nn.Linear "
                            f"(LoRA here wraps Linear layers only{key})")
    return found


def peft_targets(sites: list[str]):
    """peft's ``target_modules`` for a site list: the names themselves (peft's list form: a module whose path ends
    with one), or, with any pattern, one expression peft fully matches against every module path."""
    if all(is_name(e) for e in sites):
        return list(sites)
    return "|".join(f"(?:.*\\.)?{e}" if is_name(e) else f"(?:{e})" for e in sites)


def set_sites(model, sites: list[str]) -> None:
    setattr(model, ATTR, list(sites))


def sites_of(model, family: str) -> list[str]:
    """The model's site list as its backbone was loaded with, else the family's default."""
    return list(getattr(model, ATTR, None) or default_sites(family))
