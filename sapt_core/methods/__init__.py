"""The registry of method components: every module of this package registers its classes with
:func:`sapt_core.methods.base.register`, so adding a method is adding its module (and its ``config/methods.yaml``
entry). ``config/methods.yaml`` maps each method name to a component and its values (:mod:`sapt_core.settings.methods_file`).
"""

from __future__ import annotations

import importlib
import pkgutil

from sapt_core.errors import SaptError, unknown_text
from sapt_core.methods.base import REGISTRY, Method

_LOADED = False


def _discover() -> None:
    global _LOADED
    if not _LOADED:
        for info in pkgutil.iter_modules(__path__):
            if info.name not in ("base", "keys"):
                importlib.import_module(f"{__name__}.{info.name}")
        _LOADED = True


def components() -> dict[str, type[Method]]:
    """Component name -> Method class, for every registered method module."""
    _discover()
    return dict(REGISTRY)


def component(name: str, where: str = "component") -> type[Method]:
    comps = components()
    if name not in comps:
        raise SaptError(f"{where}: {unknown_text('method component', name, sorted(comps))}")
    return comps[name]
