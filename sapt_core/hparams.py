"""Method hyperparameters from ``config/methods.yaml``: load + validate, resolve one job's values, format CLI flags.

The YAML holds paper Appendix C and the official scripts' values (facts section 7) per method, in layers merged in
this order (later wins)::

    defaults < family < benchmark < family_benchmark < size < order

``resolve(methods, "sapt-lora", "t5-large", "SuperNI", "order1")`` returns a plain dict: the job's identity first
(``method``, ``pet``, ``backbone``, ``family``, ``size``, ``benchmark``, ``order``), then every hyperparameter the
method's ``defaults`` declare, in :data:`KEY_SPECS` order (independent of the YAML's order, so the dict, and any
params hash built from it, is deterministic). Only the chosen method's layers are read, so editing one method's value
changes only that method's jobs.

Every problem is a :class:`SaptError` naming the file and the dotted field, e.g.
``config/methods.yaml: methods.sapt-lora.defaults.kl_direction: expected one of target_first, paper, got 'x'``.

Switches (official-code default first, paper / alternative second; config/README.md documents each) are the keys of
:data:`SWITCHES`. Adding a method (the baselines) needs only YAML; adding a *new key* needs one line in
:data:`KEY_SPECS`. Only ``yaml`` and ``math`` are imported: this module is used at Snakemake parse time.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from sapt_core.errors import SaptError

FAMILIES = ("t5", "llama")
PET_TYPES = ("lora", "prompt")  # extend (e.g. "none" for zero-shot) when a method needs it
LAYERS = ("family", "benchmark", "family_benchmark", "size", "order")  # merge order after `defaults`
META_KEYS = ("method", "pet", "recipe", "backbone", "family", "size", "benchmark", "order")
RECIPES = ("train-step", "train-seq")  # the `sapt` command that trains one step of a method's run
TEMPERATURE_NAMES = ("sqrt_d", "d_e")


@dataclass(frozen=True)
class KeySpec:
    """Type of one hyperparameter: ``kind`` in float | int | bool | str | choice | temperature."""

    kind: str
    choices: tuple = ()
    nullable: bool = False
    lo: float | None = None  # inclusive lower bound (numbers)
    lo_open: bool = False  # True: lower bound exclusive
    hi: float | None = None  # inclusive upper bound
    doc: str = ""


def _pos(kind: str, **kw) -> KeySpec:
    return KeySpec(kind, lo=0, lo_open=True, **kw)


def _nonneg(kind: str, **kw) -> KeySpec:
    return KeySpec(kind, lo=0, **kw)


# Every key a method layer may set, in the order resolve() emits them. New methods add their keys here.
KEY_SPECS: dict[str, KeySpec] = {
    # optimisation
    "optimizer": KeySpec("choice", ("adamw", "adafactor")),
    "lr": _pos("float"),
    "proj_lr": _pos("float", nullable=True, doc="query projection LR; null = lr"),
    "lr_scheduler": KeySpec("choice", ("constant", "linear")),
    "warmup_ratio": KeySpec("float", lo=0, hi=1),
    "weight_decay": _nonneg("float"),
    "max_grad_norm": _pos("float", nullable=True),
    "epochs": _pos("int"),
    "batch_size": _pos("int", doc="per device"),
    "grad_accum": _pos("int"),
    "gpus": _pos("int"),
    "eval_batch_size": _pos("int"),
    "eval_every_epochs": _nonneg("int"),  # 0 = no best-epoch selection (keep the last epoch)
    "max_source_len": _pos("int"),
    "max_target_len": _pos("int"),
    "max_new_tokens": _pos("int"),
    # PET blocks
    "lora_r": _pos("int"),
    "lora_alpha": _pos("int"),
    "lora_dropout": KeySpec("float", lo=0, hi=1),
    "prompt_len": _pos("int"),
    "prompt_init": KeySpec("choice", ("vocab", "random")),
    # shared attention + attentive reflection
    "lambda": _nonneg("float", doc="kl_ratio"),
    "d_p": _pos("int"),
    "temperature": KeySpec("temperature"),
    "replay_volume": KeySpec("float", lo=0, lo_open=True, hi=1),
    "replay_freq": _pos("int"),
    "pseudo_source": KeySpec("choice", ("generated", "shipped", "real")),
    # switches (official code first)
    "projection_order": KeySpec("choice", ("official", "paper")),
    "pool_mask_pads": KeySpec("bool"),
    "kl_direction": KeySpec("choice", ("target_first", "paper")),
    "kl_scale_by_gas": KeySpec("bool"),
    "kl_start_step": _nonneg("int"),
    "attn_split": KeySpec("choice", ("test", "val")),
    "lora_mixing": KeySpec("choice", ("output", "parameter")),
    # baselines (facts section 10)
    "routing": KeySpec("choice", ("attention", "sum", "concat", "epi", "pipeline", "top1"),
                       doc="sum = O-LoRA: all blocks with weight 1; concat = ProgPrompt: all prompts prepended; "
                           "epi = EPI: Mahalanobis task selection; pipeline / top1 = Table 2 -Alignment / -DA: a "
                           "separate selector at test time"),
    "reflection": KeySpec("choice", ("kl", "mix"), doc="kl = ARM (Eq. 5-6); mix = Table 2 +Replay: pseudo inputs "
                                                       "labelled by step t-1's model mixed into the training data"),
    "selector_steps": _pos("int", doc="-Alignment / -DA: full-batch Adam steps fitting the selector per step"),
    "selector_lr": _pos("float", doc="-Alignment / -DA: the selector's learning rate"),
    "lm_lambda": _nonneg("float", doc="LFPT5: weight of the example-generation LM loss"),
    "gen_replay_volume": KeySpec("float", lo=0, hi=1, doc="LFPT5: examples of each earlier task the prompt "
                                                          "generates, as a fraction of its training set"),
    "orth_lambda": _nonneg("float", doc="O-LoRA lambda_1"),
    "init": KeySpec("choice", ("continue", "fresh"), doc="train-seq: continue the previous block or start fresh"),
    "real_replay_volume": KeySpec("float", lo=0, hi=1, doc="train-seq: fraction of each earlier task's real data"),
    "pool_size": _pos("int", doc="L2P: prompts in the pool (its presence makes train-seq an L2P run)"),
    "top_n": _pos("int", doc="L2P: prompts selected per input"),
    "pull_weight": _nonneg("float", doc="L2P: weight c of the pull-key term"),
}

# switch -> (official-code value, paper / alternative value)
SWITCHES: dict[str, tuple[Any, Any]] = {
    "projection_order": ("official", "paper"),
    "pool_mask_pads": (False, True),
    "kl_direction": ("target_first", "paper"),
    "kl_scale_by_gas": (False, True),
    "kl_start_step": (1, 0),
    "attn_split": ("test", "val"),
    "lora_mixing": ("output", "parameter"),
}

_GEN_SAMPLING: dict[str, KeySpec] = {
    "do_sample": KeySpec("bool"),
    "top_k": _pos("int"),
    "repetition_penalty": _pos("float"),
    "num_beams": _pos("int"),
    "max_new_tokens": _pos("int"),
}
_GEN_COMMON = {"optimizer": KEY_SPECS["optimizer"], "lr": _pos("float"), "batch_size": _pos("int"),
               "max_source_len": _pos("int"), "max_target_len": _pos("int")}
GENERATOR_SPECS: dict[str, dict[str, KeySpec]] = {
    "lora": {"r": _pos("int"), "alpha": _pos("int"), "dropout": KeySpec("float", lo=0, hi=1),
             "max_steps": _pos("int"), **_GEN_COMMON},
    "prompt": {"length": _pos("int"), "epochs": _pos("int"), **_GEN_COMMON},
}

_TOP_KEYS = ("backbone_sizes", "methods", "generator")
_METHOD_KEYS = ("pet", "recipe", "extends", "benchmarks", "label", "description", "defaults") + LAYERS
_BACKBONE_KEYS = ("family", "size", "hub_id", "d_model")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


# ---- loading -------------------------------------------------------------------------------------------------------


def load_methods(path: str | Path = "config/methods.yaml") -> dict:
    """Read and validate the methods file.

    Returns ``{"path": str, "backbone_sizes": {...}, "methods": {...}, "generator": {...}}`` with numbers normalised
    (ints given for float keys become floats) and empty layers filled in as ``{}``.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise SaptError(f"{path}: methods file not found")
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_unique_key_loader())  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        raise SaptError(f"{path}: malformed YAML ({' '.join(str(e).split())})") from None
    if not isinstance(doc, dict):
        raise SaptError(f"{path}: expected a mapping with keys {', '.join(_TOP_KEYS)}, got {type(doc).__name__}")
    _no_unknown(path, "", doc, _TOP_KEYS)

    sizes_doc = doc.get("backbone_sizes") or {}
    _need(isinstance(sizes_doc, dict), path, "backbone_sizes", "a mapping of backbone name -> {family, size, ...}",
          sizes_doc)
    backbones = {str(n): _backbone(path, str(n), spec) for n, spec in sizes_doc.items()}
    known_sizes = {b["size"] for b in backbones.values()}

    methods_doc = doc.get("methods")
    _need(isinstance(methods_doc, dict) and methods_doc, path, "methods", "a non-empty mapping", methods_doc)
    methods = {}
    for name, spec in methods_doc.items():
        name = str(name)
        if not _NAME_RE.match(name):
            raise SaptError(f"{path}: methods.{name}: method names use letters, digits and _ . + - only")
        methods[name] = _method(path, name, _extended(path, name, spec, methods_doc), known_sizes)

    gen_doc = doc.get("generator") or {}
    _need(isinstance(gen_doc, dict), path, "generator", "a mapping with lora and/or prompt", gen_doc)
    _no_unknown(path, "generator", gen_doc, tuple(GENERATOR_SPECS))
    generator = {str(p): _generator(path, str(p), spec) for p, spec in gen_doc.items()}

    return {"path": str(path), "backbone_sizes": backbones, "methods": methods, "generator": generator}


def _backbone(path: Path, name: str, spec: Any) -> dict:
    w = f"backbone_sizes.{name}"
    _need(isinstance(spec, dict), path, w, "a mapping {family, size, hub_id, d_model}", spec)
    _no_unknown(path, w, spec, _BACKBONE_KEYS)
    _need(spec.get("family") in FAMILIES, path, f"{w}.family", f"one of {', '.join(FAMILIES)}", spec.get("family"))
    size = spec.get("size")
    _need(isinstance(size, str) and _NAME_RE.match(size), path, f"{w}.size", "a size name such as large or 7b", size)
    hub = spec.get("hub_id")
    _need(hub is None or (isinstance(hub, str) and hub.strip()), path, f"{w}.hub_id", "a hub id or local path", hub)
    d = spec.get("d_model")
    _need(d is None or (_is_int(d) and d > 0), path, f"{w}.d_model", "a positive integer", d)
    return {"family": spec["family"], "size": size, "hub_id": hub, "d_model": d}


def _extended(path: Path, name: str, spec: Any, methods_doc: dict) -> Any:
    """``extends: <base>``: the base method's entry with this entry's pet/recipe/description, defaults and layer
    selectors merged on top (for ablations such as -ARM = sapt-lora with lambda 0). One level only."""
    if not isinstance(spec, dict) or "extends" not in spec:
        return spec
    base_name = spec["extends"]
    base = methods_doc.get(base_name)
    _need(isinstance(base, dict) and "extends" not in base, path, f"methods.{name}.extends",
          "the name of a method defined in this file that does not itself extend another", base_name)
    out = {k: v for k, v in base.items() if k not in LAYERS + ("defaults", "label")}
    out.update({k: v for k, v in spec.items() if k not in LAYERS + ("defaults", "extends")})
    out["defaults"] = {**(base.get("defaults") or {}), **(spec.get("defaults") or {})}
    pinned = set(spec.get("defaults") or {})  # the extending entry's defaults win over the base's layers
    for layer in LAYERS:
        merged = {sel: {k: x for k, x in (v or {}).items() if k not in pinned}
                  for sel, v in (base.get(layer) or {}).items()}
        for sel, v in (spec.get(layer) or {}).items():
            merged[sel] = {**merged.get(sel, {}), **(v or {})}
        out[layer] = merged
    return out


def _method(path: Path, name: str, spec: Any, known_sizes: set[str]) -> dict:
    w = f"methods.{name}"
    _need(isinstance(spec, dict), path, w, "a mapping with pet and defaults", spec)
    _no_unknown(path, w, spec, _METHOD_KEYS)
    _need(spec.get("pet") in PET_TYPES, path, f"{w}.pet", f"one of {', '.join(PET_TYPES)}", spec.get("pet"))
    desc = spec.get("description", "")
    _need(isinstance(desc, str), path, f"{w}.description", "a string", desc)
    label = spec.get("label", name)                     # the row / legend name of the paper's tables and figures
    _need(isinstance(label, str) and label.strip() and "=" not in label, path, f"{w}.label",
          "a non-empty display name without '='", label)
    defaults = spec.get("defaults")
    _need(isinstance(defaults, dict) and defaults, path, f"{w}.defaults", "a non-empty mapping of hyperparameters",
          defaults)
    recipe = spec.get("recipe", "train-step")
    _need(recipe in RECIPES, path, f"{w}.recipe", f"one of {', '.join(RECIPES)}", recipe)
    applies = spec.get("benchmarks")
    _need(applies is None or (isinstance(applies, list) and applies and all(isinstance(b, str) for b in applies)),
          path, f"{w}.benchmarks", "a non-empty list of the benchmarks the method applies to", applies)
    out = {"pet": spec["pet"], "recipe": recipe, "benchmarks": applies, "label": label, "description": desc,
           "defaults": _values(path, f"{w}.defaults", defaults, allowed=None)}
    allowed = set(out["defaults"])
    for layer in LAYERS:
        lw = f"{w}.{layer}"
        entries = spec.get(layer) or {}
        _need(isinstance(entries, dict), path, lw, "a mapping", entries)
        parsed = {}
        for sel, values in entries.items():
            sel = str(sel)
            _selector(path, lw, layer, sel, known_sizes)
            values = {} if values is None else values
            _need(isinstance(values, dict), path, f"{lw}.{sel}", "a mapping of hyperparameters", values)
            parsed[sel] = _values(path, f"{lw}.{sel}", values, allowed)
        out[layer] = parsed
    return out


def _selector(path: Path, lw: str, layer: str, sel: str, known_sizes: set[str]) -> None:
    if layer == "family" and sel not in FAMILIES:
        raise SaptError(f"{path}: {lw}.{sel}: unknown family (known: {', '.join(FAMILIES)})")
    if layer == "family_benchmark":
        fam, _, bench = sel.partition("/")
        if fam not in FAMILIES or not bench:
            raise SaptError(f"{path}: {lw}.{sel}: expected <family>/<benchmark> with family one of "
                            f"{', '.join(FAMILIES)}")
    if layer == "size" and sel not in known_sizes:
        raise SaptError(f"{path}: {lw}.{sel}: unknown size (sizes in backbone_sizes: "
                        f"{', '.join(sorted(known_sizes)) or 'none'})")


def _values(path: Path | str, w: str, values: dict, allowed: set[str] | None) -> dict:
    out = {}
    for key, value in values.items():
        key = str(key)
        if key not in KEY_SPECS:
            raise SaptError(f"{path}: {w}.{key}: unknown hyperparameter (declare it in sapt_core/hparams.py "
                            f"KEY_SPECS; known: {', '.join(KEY_SPECS)})")
        if allowed is not None and key not in allowed:
            raise SaptError(f"{path}: {w}.{key}: not in this method's defaults (every key needs a default there)")
        out[key] = check_value(KEY_SPECS[key], value, f"{path}: {w}.{key}")
    return out


def _generator(path: Path, pet: str, spec: Any) -> dict:
    w = f"generator.{pet}"
    _need(isinstance(spec, dict), path, w, "a mapping", spec)
    specs = GENERATOR_SPECS[pet]
    _no_unknown(path, w, spec, tuple(specs) + ("sampling",))
    out = {}
    for key, ks in specs.items():
        _need(key in spec, path, f"{w}.{key}", "a value", "nothing (missing)")
        out[key] = check_value(ks, spec[key], f"{path}: {w}.{key}")
    sampling = spec.get("sampling") or {}
    _need(isinstance(sampling, dict), path, f"{w}.sampling", "a mapping", sampling)
    _no_unknown(path, f"{w}.sampling", sampling, tuple(_GEN_SAMPLING))
    out["sampling"] = {}
    for key, ks in _GEN_SAMPLING.items():
        _need(key in sampling, path, f"{w}.sampling.{key}", "a value", "nothing (missing)")
        out["sampling"][key] = check_value(ks, sampling[key], f"{path}: {w}.sampling.{key}")
    return out


def check_value(spec: KeySpec, value: Any, where: str) -> Any:
    """Validate one value against its spec; returns it normalised (int -> float for float keys)."""
    if value is None:
        if spec.nullable:
            return None
        raise SaptError(f"{where}: expected {_describe(spec)}, got None")
    if spec.kind == "choice":
        if value in spec.choices and isinstance(value, str):
            return value
        raise SaptError(f"{where}: expected one of {', '.join(spec.choices)}, got {value!r}")
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        raise SaptError(f"{where}: expected true or false, got {value!r}")
    if spec.kind == "str":
        if isinstance(value, str) and value.strip():
            return value
        raise SaptError(f"{where}: expected a non-empty string, got {value!r}")
    if spec.kind == "temperature":
        if isinstance(value, str) and value in TEMPERATURE_NAMES:
            return value
        if _is_number(value) and value > 0:
            return float(value)
        raise SaptError(f"{where}: expected one of {', '.join(TEMPERATURE_NAMES)} or a positive number, "
                        f"got {value!r}{_float_hint(value)}")
    if spec.kind == "int":
        ok = _is_int(value)
    elif spec.kind == "float":
        ok = _is_number(value)
    else:  # pragma: no cover - KEY_SPECS is static
        raise AssertionError(spec.kind)
    if not ok or not _in_range(spec, value):
        raise SaptError(f"{where}: expected {_describe(spec)}, got {value!r}{_float_hint(value)}")
    return float(value) if spec.kind == "float" else int(value)


def _describe(spec: KeySpec) -> str:
    what = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
            "temperature": "a temperature", "choice": "one of " + ", ".join(spec.choices)}[spec.kind]
    bounds = []
    if spec.lo is not None:
        bounds.append(f"{'>' if spec.lo_open else '>='} {spec.lo}")
    if spec.hi is not None:
        bounds.append(f"<= {spec.hi}")
    if bounds:
        what += " " + " and ".join(bounds)
    return what + (" (or null)" if spec.nullable else "")


def _in_range(spec: KeySpec, v: float) -> bool:
    if spec.lo is not None and (v <= spec.lo if spec.lo_open else v < spec.lo):
        return False
    return spec.hi is None or v <= spec.hi


def _float_hint(value: Any) -> str:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (YAML reads this as a string: write floats with a dot and a signed exponent, e.g. 3.0e-4)"
    return ""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _need(ok: Any, path: Path, where: str, expected: str, got: Any) -> None:
    if not ok:
        raise SaptError(f"{path}: {where}: expected {expected}, got {got!r}")


def _no_unknown(path: Path, where: str, mapping: dict, known: tuple) -> None:
    unknown = sorted(set(map(str, mapping)) - set(known))
    if unknown:
        prefix = f"{where}." if where else ""
        raise SaptError(f"{path}: {prefix}{unknown[0]}: unknown key (known: {', '.join(known)})")


_LOADER = None


def _unique_key_loader():
    """A yaml SafeLoader that rejects duplicate mapping keys (PyYAML silently keeps the last one)."""
    global _LOADER
    if _LOADER is None:
        import yaml

        class UniqueKeyLoader(yaml.SafeLoader):
            pass

        def construct_mapping(loader, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = loader.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                            key_node.start_mark)
                seen.add(key)
            return yaml.SafeLoader.construct_mapping(loader, node, deep)

        UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
        _LOADER = UniqueKeyLoader
    return _LOADER


# ---- resolution ----------------------------------------------------------------------------------------------------


def method_names(methods: Mapping) -> list[str]:
    return list(methods["methods"])


def resolve(methods: Mapping, method: str, backbone: str, benchmark: str, order: str | None,
            family: str | None = None, size: str | None = None,
            overrides: Mapping[str, Any] | None = None, overrides_label: str = "overrides") -> dict:
    """The hyperparameters of one job (method, backbone, benchmark, order) as a plain dict.

    ``backbone`` is looked up in ``backbone_sizes`` for its family and size; a backbone outside the table (tiny or
    custom) must pass ``family`` (``size`` stays None, so no size layer applies). Explicit ``family``/``size`` that
    contradict the table are an error. ``order`` may be None (jobs outside an order, e.g. single-task runs).
    ``overrides`` (e.g. tiny-run caps from the workflow config) are applied last and validated like YAML values;
    errors name ``<overrides_label>.<key>``.

    Keys: :data:`META_KEYS` first, then the method's hyperparameters in :data:`KEY_SPECS` order.
    """
    path = methods.get("path", "config/methods.yaml")
    table = methods["methods"]
    if method not in table:
        raise SaptError(f"{path}: methods.{method}: unknown method (known: {', '.join(table)})")
    m = table[method]
    info = methods.get("backbone_sizes", {}).get(backbone)
    if info is not None:
        if family is not None and family != info["family"]:
            raise SaptError(f"{path}: backbone_sizes.{backbone}.family: is {info['family']!r}, "
                            f"but the job passes family {family!r}")
        if size is not None and size != info["size"]:
            raise SaptError(f"{path}: backbone_sizes.{backbone}.size: is {info['size']!r}, "
                            f"but the job passes size {size!r}")
        family, size = info["family"], info["size"]
    elif family is None:
        raise SaptError(f"{path}: backbone_sizes.{backbone}: backbone not listed; pass its family "
                        f"({', '.join(FAMILIES)}) explicitly")
    if family not in FAMILIES:
        raise SaptError(f"{path}: family {family!r} of backbone {backbone!r}: expected one of {', '.join(FAMILIES)}")

    merged = dict(m["defaults"])
    for layer, sel in (("family", family), ("benchmark", benchmark), ("family_benchmark", f"{family}/{benchmark}"),
                       ("size", size), ("order", order)):
        if sel is not None:
            merged.update(m[layer].get(sel, {}))
    if overrides:
        merged.update(_overrides(overrides_label, overrides, set(m["defaults"]), method))

    out: dict[str, Any] = {"method": method, "pet": m["pet"], "recipe": m["recipe"], "backbone": backbone, "family": family, "size": size,
                           "benchmark": benchmark, "order": order}
    for key in KEY_SPECS:
        if key in merged:
            out[key] = merged[key]
    return out


def _overrides(label: str, overrides: Mapping[str, Any], allowed: set[str], method: str) -> dict:
    out = {}
    for key, value in overrides.items():
        key = str(key)
        if key not in allowed:
            raise SaptError(f"{label}.{key}: not a hyperparameter of method {method!r} "
                            f"(its keys: {', '.join(k for k in KEY_SPECS if k in allowed)})")
        out[key] = check_value(KEY_SPECS[key], value, f"{label}.{key}")
    return out


def hparam_keys(resolved: Mapping) -> list[str]:
    """The hyperparameter keys of a resolved dict (everything but :data:`META_KEYS`), in order."""
    return [k for k in resolved if k not in META_KEYS]


def resolve_generator(methods: Mapping, pet: str) -> dict:
    """The ARM generator settings for a PET type (``lora`` or ``prompt``); a deep copy."""
    gen = methods.get("generator", {})
    if pet not in gen:
        raise SaptError(f"{methods.get('path', 'config/methods.yaml')}: generator.{pet}: missing "
                        f"(known: {', '.join(gen) or 'none'})")
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in gen[pet].items()}


def temperature_value(spec: Any, d_model: int) -> float:
    """The attention temperature T of Eq. 2: ``sqrt_d`` -> sqrt(d), ``d_e`` -> d * e, or a positive number.

    Numeric strings (a temperature passed through the CLI) are accepted too.
    """
    if not (_is_int(d_model) and d_model > 0):
        raise SaptError(f"temperature: d_model must be a positive integer, got {d_model!r}")
    if spec == "sqrt_d":
        return math.sqrt(d_model)
    if spec == "d_e":
        return d_model * math.e
    value = spec
    if isinstance(spec, str):
        try:
            value = float(spec)
        except ValueError:
            value = None
    if _is_number(value) and value > 0:
        return float(value)
    raise SaptError(f"temperature: expected one of {', '.join(TEMPERATURE_NAMES)} or a positive number, got {spec!r}")


# ---- CLI flags -----------------------------------------------------------------------------------------------------


def cli_args(resolved: Mapping, keys: Iterable[str] | None = None) -> list[str]:
    """Selected keys as an argv list: ``key_name`` -> ``--key-name value``.

    - ``keys=None`` means every hyperparameter key (:func:`hparam_keys`), in the resolved order.
    - booleans are explicit both ways: ``True`` -> ``--flag``, ``False`` -> ``--no-flag`` (argparse
      ``BooleanOptionalAction``), so a CLI default can never silently win over the config;
    - ``None`` (e.g. ``proj_lr: null``) emits nothing: the CLI default must mean "unset";
    - floats use ``repr`` (shortest round-trip: ``0.0003``, ``1e-05``), ints ``str``, strings as is.
    - ``lambda`` becomes ``--lambda``; give it ``dest="kl_lambda"`` in argparse (``lambda`` is a Python keyword).
    """
    keys = hparam_keys(resolved) if keys is None else list(keys)
    argv: list[str] = []
    for key in keys:
        if key not in resolved:
            raise SaptError(f"hyperparameter {key!r} is not defined for method {resolved.get('method')!r} "
                            f"(its keys: {', '.join(hparam_keys(resolved))})")
        value = resolved[key]
        flag = key.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool):
            argv.append(f"--{flag}" if value else f"--no-{flag}")
        elif isinstance(value, float):
            argv += [f"--{flag}", repr(value)]
        else:
            argv += [f"--{flag}", str(value)]
    return argv


def to_cli_args(resolved: Mapping, keys: Iterable[str] | None = None) -> str:
    """:func:`cli_args` joined into one shell-quoted string for a rule's shell line."""
    return " ".join(shlex.quote(a) for a in cli_args(resolved, keys))
