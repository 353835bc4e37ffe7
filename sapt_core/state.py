"""Step state of a continual run: after step k one directory holds everything the method needs to continue the run
and to be evaluated (its PET blocks and, per method, keys, projection, stored attention vectors, statistics), so
step k+1 and ``sapt evaluate`` load it.

Layout: ``<dir>/state.safetensors`` + ``<dir>/state.json`` (sidecar: method, component and its config, step, tasks,
backbone, inputs, training history), written into a temp directory beside ``<dir>`` and renamed into place, so a
state directory on disk is always complete. Tensor names are the method's (``lora.<site>.A`` [t, r, in],
``lora.<site>.B`` [t, out, r], ``prompt.P`` [t, L, d], ``attention.keys`` [t, d], ``arm.targets`` [t, t], ...).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sapt_core.errors import SaptError


def save_state(path: str | os.PathLike, tensors: dict, sidecar: dict) -> Path:
    from safetensors.torch import save_file

    from sapt_core.io import atomic_dir, versions

    with atomic_dir(path) as tmp:
        save_file(tensors, str(tmp / "state.safetensors"))
        meta = {**sidecar, "versions": sidecar.get("versions") or versions(),
                "tensors": {k: list(v.shape) for k, v in tensors.items()}}
        (tmp / "state.json").write_text(json.dumps(meta, indent=2) + "\n")
    return Path(path)


def read_state(path: str | os.PathLike) -> tuple[dict, dict]:
    from safetensors.torch import load_file

    from sapt_core.io import read_json

    path = Path(path)
    if not (path / "state.safetensors").is_file():
        raise SaptError(f"{path}: not a step state (no state.safetensors)")
    side = read_json(path / "state.json", "state sidecar")
    for key in ("method", "component", "config", "step", "tasks"):
        if key not in side:
            raise SaptError(f"{path / 'state.json'}: {key}: missing (not a step-state sidecar)")
    try:
        return load_file(str(path / "state.safetensors")), side
    except Exception as e:
        raise SaptError(f"{path / 'state.safetensors'}: unreadable ({e})") from None


def method_of(side: dict, where: str):
    """The :class:`~sapt_core.methods.base.Method` a state was trained by, from its sidecar (no methods file)."""
    from sapt_core.methods import component

    comp = component(side["component"], f"{where}: component")
    return comp(side["method"], comp.make_config(side["config"], f"{where}: config"))
