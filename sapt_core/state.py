"""Step state of a SAPT run: after step t one directory holds every PET block, every key, the query projection and
the stored attention vectors a_1..a_t (ARM targets); step t+1 loads it (issue 3, design section 4).

Layout: ``<dir>/state.safetensors`` + ``<dir>/state.json`` (sidecar), written into a temp directory beside ``<dir>``
and renamed into place, so a state directory on disk is always complete.

Tensor names: ``lora.<site>.A`` [t, r, in], ``lora.<site>.B`` [t, out, r] (oldest block first), ``prompt.P`` [t, L, d],
``attention.keys`` [t, d], ``attention.proj.<param>``, ``arm.targets`` [t, t] (row i = a_{i+1}, zero-padded);
EPI adds ``epi.*`` (class statistics), the Table 2 pipeline ablations ``selector.*`` (:mod:`sapt_core.selector`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from sapt_core.errors import SaptError

STRUCTURAL = ("pet", "lora_r", "lora_alpha", "lora_mixing", "prompt_len", "d_p", "temperature", "projection_order",
              "pool_mask_pads", "routing")


def state_tensors(model, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    out = {}
    for name, site in model.sites.items():
        A, B = site.stacked()
        out[f"lora.{name}.A"], out[f"lora.{name}.B"] = A, B
    if model.cfg.pet == "prompt":
        out["prompt.P"] = model.prompts.stacked
    out["attention.keys"] = model.attention.keys
    for k, v in model.attention.proj.state_dict().items():
        out[f"attention.proj.{k}"] = v
    out["arm.targets"] = targets
    for extra in ("epi", "selector"):  # EPI's class statistics; the ablations' separate selector
        if hasattr(model, extra):
            out.update(getattr(model, extra).tensors())
    return {k: v.detach().contiguous().cpu() for k, v in out.items()}


def load_into(model, tensors: dict[str, torch.Tensor]) -> int:
    """Load a state's blocks/keys/projection into ``model``: all earlier blocks frozen, and when the model has exactly
    as many blocks as the state, the last one goes into the trainable slot. Returns the state's block count."""
    n = tensors["attention.keys"].shape[0]
    t = model.cfg.n_blocks
    if t not in (n, n + 1):
        raise SaptError(f"state holds {n} blocks, the model has {t} (expected {n} or {n + 1})")
    n_prev = t - 1

    def split(x: torch.Tensor, prev: torch.Tensor, cur: torch.nn.Parameter | None):
        prev.copy_(x[:n_prev].to(prev))
        if cur is not None and n == t:
            cur.data.copy_(x[t - 1].to(cur))

    with torch.no_grad():
        for name, site in model.sites.items():
            if f"lora.{name}.A" not in tensors:
                raise SaptError(f"state has no LoRA block for site {name!r} (different backbone?)")
            split(tensors[f"lora.{name}.A"], site.prev_A, site.lora_A)
            split(tensors[f"lora.{name}.B"], site.prev_B, site.lora_B)
        if model.cfg.pet == "prompt":
            split(tensors["prompt.P"], model.prompts.prev_prompts, model.prompts.prompt)
        split(tensors["attention.keys"], model.attention.prev_keys, model.attention.key)
        proj = {k[len("attention.proj."):]: v for k, v in tensors.items() if k.startswith("attention.proj.")}
        model.attention.proj.load_state_dict(proj)
        if hasattr(model, "epi") and "epi.means" in tensors:
            model.epi.load_tensors(tensors)
        if hasattr(model, "selector") and "selector.keys" in tensors:
            model.selector.load_tensors(tensors)
    return n


def save_state(path: str | os.PathLike, tensors: dict[str, torch.Tensor], sidecar: dict) -> Path:
    from safetensors.torch import save_file

    from sapt_core.io import versions

    from sapt_core.io import atomic_dir

    with atomic_dir(path) as tmp:
        save_file(tensors, str(tmp / "state.safetensors"))
        meta = {**sidecar, "versions": sidecar.get("versions") or versions(),
                "tensors": {k: list(v.shape) for k, v in tensors.items()}}
        (tmp / "state.json").write_text(json.dumps(meta, indent=2) + "\n")
    path = Path(path)
    return path


def read_state(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors.torch import load_file

    from sapt_core.io import read_json

    path = Path(path)
    if not (path / "state.safetensors").is_file():
        raise SaptError(f"{path}: not a SAPT step state (no state.safetensors)")
    side = read_json(path / "state.json", "state sidecar")
    try:
        return load_file(str(path / "state.safetensors")), side
    except Exception as e:
        raise SaptError(f"{path / 'state.safetensors'}: unreadable ({e})") from None


def check_compatible(side: dict, cfg: dict, where: str) -> None:
    """Structural settings of a continued run must equal those of its earlier steps."""
    for key in STRUCTURAL:
        if key in side.get("sapt", {}) and side["sapt"][key] != cfg[key]:
            raise SaptError(f"{where}: {key} = {side['sapt'][key]!r} in the state, {cfg[key]!r} requested")
