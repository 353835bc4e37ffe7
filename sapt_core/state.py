"""Step state of a continual run: after step k one directory holds everything the method needs to continue the run
and to be evaluated (its PET blocks and, per method, keys, projection, stored attention vectors, statistics), so
step k+1 and ``sapt evaluate`` load it.

Layout: ``<dir>/state.safetensors`` + ``<dir>/state.json``, the project's one weights format
(:func:`sapt_core.io.write_weights`; sidecar: method, component and its config, step, tasks, backbone with the
sha256 of its weights, inputs, training history, versions, tensor shapes, the sha256 of ``state.safetensors``),
written into a temp directory beside ``<dir>`` and renamed into place, so a state directory on disk is always
complete.
Reading a state checks its tensors against the recorded sha256; the recipes check that the backbone given is the one
it was trained on (:func:`check_backbone`). Tensor names are the method's (``lora.<site>.A`` [t, r, in],
``lora.<site>.B`` [t, out, r], ``prompt.P`` [t, L, d], ``attention.keys`` [t, d], ``arm.targets`` [t, t], ...).
"""

from __future__ import annotations

import os
from pathlib import Path

from sapt_core import layout
from sapt_core.errors import SaptError

WEIGHTS, SIDECAR = layout.STATE_TENSORS, layout.STATE_SIDECAR


def save_state(path: str | os.PathLike, tensors: dict, sidecar: dict) -> Path:
    """Write a step state: the weights format of :func:`sapt_core.io.write_weights` (the sidecar records versions,
    tensor shapes and the sha256 of the tensors file) into a temp directory renamed into place whole."""
    from sapt_core.io import atomic_dir, write_weights

    with atomic_dir(path) as tmp:
        write_weights(tmp / WEIGHTS, tmp / SIDECAR, tensors, sidecar)
    return Path(path)


def read_state(path: str | os.PathLike) -> tuple[dict, dict]:
    """The tensors and sidecar of a step state (:func:`sapt_core.io.load_weights`: its tensors file must have the
    sha256 its sidecar recorded)."""
    from sapt_core.io import load_weights

    path = Path(path)
    if not (path / WEIGHTS).is_file():
        raise SaptError(f"{path}: not a step state (no {WEIGHTS})")
    return load_weights(path / WEIGHTS, "state sidecar", _check_sidecar)


def _check_sidecar(side: dict, where: Path) -> None:
    for key in ("method", "component", "config", "step", "tasks"):
        if key not in side:
            raise SaptError(f"{where}: {key}: missing (not a step-state sidecar)")


def check_backbone(side: dict, provenance: dict, where: str, flag: str = "--backbone") -> None:
    """One line saying what differs unless the state (sidecar ``side``) was trained on the backbone whose
    provenance (:func:`sapt_core.recipes.common.backbone_provenance`) is given. Only weights files both record are
    compared; a hub id has no local checksum, so there is nothing to compare."""
    theirs = (side.get("backbone") or {}).get("sha256") or {}
    mine = provenance.get("sha256") or {}
    if not theirs or not mine:
        return
    shared = sorted(set(theirs) & set(mine))
    differ = [f for f in shared if theirs[f] != mine[f]]
    if differ or not shared:
        f = differ[0] if differ else sorted(mine)[0]
        trained = (side.get("backbone") or {}).get("name")
        raise SaptError(f"{where}: trained on backbone {trained} ({f} sha256 {str(theirs.get(f, 'not recorded'))[:12]}"
                        f"...), but {flag} {provenance.get('name')} has {f} sha256 {mine[f][:12]}...: a state "
                        "applies only to the backbone it was trained on")


def check_sites(side: dict, tensors: dict, requested: list[str] | None, where: str) -> list[str] | None:
    """The LoRA sites a model of this state is built with: the ones its sidecar records (the backbone's, config
    ``backbones.<name>.lora_sites``; a state that records none has its family's default), which ``requested``
    (``--lora-sites``; None: no wish) must equal, one line otherwise (a state's LoRA tensors ``lora.<module path>.A|B``
    belong to the sites it was trained on). A state without LoRA tensors (prompt blocks) takes ``requested``."""
    from sapt_core.blocks.sites import default_sites

    if not any(k.startswith("lora.") for k in tensors):
        return requested
    bb = side.get("backbone") or {}
    recorded = bb.get("lora_sites") or default_sites(bb.get("family", "")) or None
    if requested is None or recorded is None:
        return recorded or requested
    if list(recorded) != list(requested):
        raise SaptError(f"{where}: trained with LoRA sites {list(recorded)}, but --lora-sites gives {list(requested)} "
                        "(config backbones.<name>.lora_sites: a state's LoRA blocks belong to the sites it was trained "
                        "on)")
    return list(requested)


def method_of(side: dict, where: str):
    """The :class:`~sapt_core.methods.base.Method` a state was trained by, from its sidecar (no methods file)."""
    from sapt_core.methods import component

    comp = component(side["component"], f"{where}: component")
    return comp(side["method"], comp.make_config(side["config"], f"{where}: config"))
