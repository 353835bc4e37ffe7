"""``config/methods.yaml``: every method of the paper as a component and its values, loaded, validated and resolved
for one job.

Each entry names its ``component`` (a registered class of :mod:`sapt_core.methods`; its config dataclass declares the
keys it accepts, their types, ranges and defaults), a ``label`` (the paper's name, for table rows and legends), a
``description``, optionally ``benchmarks`` (where it applies) and ``extends`` (another entry it copies), and values
in layers merged in this order, later wins::

    the component's defaults < defaults < family < benchmark < family_benchmark < size < order

``resolve(methods, "sapt-lora", "t5-large", "SuperNI", "order1")`` returns a plain dict: the job's identity
(``method``, ``component``, ``backbone``, ``family``, ``size``, ``benchmark``, ``order``) then every key of the
component's config in field order, so the dict (and any params hash built from it) is deterministic. Only the chosen
method's entry is read: editing one method changes only that method's jobs.

Every problem is a :class:`SaptError` naming the file and the dotted field, e.g.
``config/methods.yaml: methods.sapt-lora.defaults.kl_direction: expected one of target_first, paper, got 'x'``.
No torch is imported: the workflow planner uses this at Snakemake parse time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from sapt_core.errors import SaptError, check_keys, need, unknown_key, unknown_text
from sapt_core.models.backbone import FAMILIES
from sapt_core.settings.names import check_name

METHODS_FILE = "config/methods.yaml"
"""The default methods file (the workflow's ``methods_file``, the ``--methods-file`` of the CLI)."""
LAYERS = ("family", "benchmark", "family_benchmark", "size", "order")  # merge order after `defaults`
IDENTITY = ("method", "component", "backbone", "family", "size", "benchmark", "order")
_TOP_KEYS = ("backbone_sizes", "methods", "generator")
_METHOD_KEYS = ("component", "extends", "benchmarks", "label", "description", "defaults") + LAYERS
_BACKBONE_KEYS = ("family", "size", "hub_id", "d_model")


def load_methods(path: str | Path = METHODS_FILE, bases: Mapping[str, str] | None = None,
                 bases_where: str = "bases") -> dict:
    """Read and validate the methods file: ``{"path", "backbone_sizes", "methods", "generator"}``; each method is
    ``{"component", "label", "description", "benchmarks", "defaults", <layers>}`` with validated values.

    ``bases`` (method -> another method of the file; a workflow config's ``method_overrides.<method>.extends``,
    named ``bases_where`` in errors): the method extends that entry, as it stands after its own ``extends``, instead
    of the base the file gives it (the embedded default's Table 2 ablations of the tiny-scale SAPT-LoRA)."""
    from sapt_core.settings.yaml_io import load_yaml

    path = Path(path)
    doc = load_yaml(path, "methods file")
    if not isinstance(doc, dict):
        raise SaptError(f"{path}: expected a mapping with keys {', '.join(_TOP_KEYS)}, got {type(doc).__name__}")
    check_keys(doc, _TOP_KEYS, "", file=path)
    sizes_doc = doc.get("backbone_sizes") or {}
    need(isinstance(sizes_doc, dict), path, "backbone_sizes", "a mapping of backbone name -> {family, size, ...}",
         sizes_doc)
    backbones = {str(n): _backbone(path, str(n), spec) for n, spec in sizes_doc.items()}
    known_sizes = {b["size"] for b in backbones.values()}
    methods_doc = doc.get("methods")
    need(isinstance(methods_doc, dict) and methods_doc, path, "methods", "a non-empty mapping", methods_doc)
    methods = {}
    for name, spec in methods_doc.items():
        name = str(name)
        check_name(name, f"{path}: methods.{name}", "a method name", variant=False)
        if bases and name in bases:
            spec = _rebased(path, name, spec, bases[name], methods_doc, f"{bases_where}.{name}.extends")
        methods[name] = _method(path, name, _extended(path, name, spec, methods_doc), known_sizes)
    for name in bases or {}:
        need(name in methods, None, f"{bases_where}.{name}", f"a method of {path}", name)
    from sapt_core.arm.settings import generator_settings

    gen_doc = doc.get("generator") or {}
    need(isinstance(gen_doc, dict), path, "generator", "a mapping with lora and/or prompt", gen_doc)
    return {"path": str(path), "backbone_sizes": backbones, "methods": methods,
            "generator": generator_settings(gen_doc, f"{path}: generator")}


def _backbone(path: Path, name: str, spec: Any) -> dict:
    w = f"backbone_sizes.{name}"
    check_name(name, f"{path}: {w}", "a backbone name")
    need(isinstance(spec, dict), path, w, "a mapping {family, size, hub_id, d_model}", spec)
    check_keys(spec, _BACKBONE_KEYS, w, file=path)
    need(spec.get("family") in FAMILIES, path, f"{w}.family", f"one of {', '.join(FAMILIES)}", spec.get("family"))
    size = spec.get("size")
    check_name(size, f"{path}: {w}.size", "a size name (such as large or 7b)", variant=False)
    hub = spec.get("hub_id")
    need(hub is None or (isinstance(hub, str) and hub.strip()), path, f"{w}.hub_id", "a hub id or local path", hub)
    d = spec.get("d_model")
    need(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0), path, f"{w}.d_model",
         "a positive integer", d)
    return {"family": spec["family"], "size": size, "hub_id": hub, "d_model": d}


def _extended(path: Path, name: str, spec: Any, methods_doc: dict) -> Any:
    """``extends: <base>``: the base entry with this entry's keys on top; the values this entry sets in its
    ``defaults`` win over every layer of the base (so -ARM's ``kl_lambda: 0`` holds for SuperNI and LLaMA too).
    One level only; ``label`` is not inherited."""
    if not isinstance(spec, dict) or "extends" not in spec:
        return spec
    base_name = spec["extends"]
    base = methods_doc.get(base_name)
    need(isinstance(base, dict) and "extends" not in base, path, f"methods.{name}.extends",
         "the name of a method defined in this file that does not itself extend another", base_name)
    out = {k: v for k, v in base.items() if k not in LAYERS + ("defaults", "label")}
    out.update({k: v for k, v in spec.items() if k not in LAYERS + ("defaults", "extends")})
    out["defaults"] = {**(base.get("defaults") or {}), **(spec.get("defaults") or {})}
    pinned = set(spec.get("defaults") or {})
    for layer in LAYERS:
        merged = {entry: {k: x for k, x in (v or {}).items() if k not in pinned}
                  for entry, v in (base.get(layer) or {}).items()}
        for entry, v in (spec.get(layer) or {}).items():
            merged[entry] = {**merged.get(entry, {}), **(v or {})}
        out[layer] = merged
    return out


def _rebased(path: Path, name: str, spec: Any, base: Any, methods_doc: dict, where: str) -> Any:
    """The entry ``name`` extending ``base`` (flattened with its own ``extends`` first) instead of its own base."""
    need(isinstance(base, str) and base in methods_doc and base != name, None, where,
         f"another method of {path}", base)
    flat = _extended(path, base, methods_doc[base], methods_doc)
    own = {k: v for k, v in spec.items() if k != "extends"} if isinstance(spec, dict) else {}
    return _extended(path, name, {**own, "extends": base}, {base: flat})


def _method(path: Path, name: str, spec: Any, known_sizes: set[str]) -> dict:
    from sapt_core.methods import component
    from sapt_core.methods.keys import check_mapping

    w = f"methods.{name}"
    need(isinstance(spec, dict), path, w, "a mapping with component and defaults", spec)
    check_keys(spec, _METHOD_KEYS, w, file=path)
    comp = component(spec.get("component"), f"{path}: {w}.component")
    desc = spec.get("description", "")
    need(isinstance(desc, str), path, f"{w}.description", "a string", desc)
    label = spec.get("label", name)
    need(isinstance(label, str) and label.strip() and "=" not in label, path, f"{w}.label",
         "a non-empty display name without '='", label)
    applies = spec.get("benchmarks")
    need(applies is None or (isinstance(applies, list) and applies and all(isinstance(b, str) for b in applies)),
         path, f"{w}.benchmarks", "a non-empty list of the benchmarks the method applies to", applies)
    defaults = spec.get("defaults") or {}
    need(isinstance(defaults, dict), path, f"{w}.defaults", "a mapping of the component's keys", defaults)
    out = {"component": comp.component, "label": label, "description": desc, "benchmarks": applies,
           "defaults": check_mapping(comp.Config, defaults, f"{path}: {w}.defaults",
                                     f"key of component {comp.component!r}")}
    for layer in LAYERS:
        lw = f"{w}.{layer}"
        entries = spec.get(layer) or {}
        need(isinstance(entries, dict), path, lw, "a mapping", entries)
        parsed = {}
        for entry, values in entries.items():
            entry = str(entry)
            _check_layer_key(path, lw, layer, entry, known_sizes)
            values = {} if values is None else values
            need(isinstance(values, dict), path, f"{lw}.{entry}", "a mapping of the component's keys", values)
            parsed[entry] = check_mapping(comp.Config, values, f"{path}: {lw}.{entry}",
                                        f"key of component {comp.component!r}")
        out[layer] = parsed
    return out


def _check_layer_key(path: Path, lw: str, layer: str, entry: str, known_sizes: set[str]) -> None:
    """The key of a layer entry names a family, a <family>/<benchmark> pair or a known size."""
    if layer == "family" and entry not in FAMILIES:
        raise unknown_key(lw, entry, FAMILIES, "family", file=path)
    if layer == "family_benchmark":
        fam, _, bench = entry.partition("/")
        if fam not in FAMILIES or not bench:
            raise SaptError(f"{path}: {lw}.{entry}: expected <family>/<benchmark> with family one of "
                            f"{', '.join(FAMILIES)}")
    if layer == "size" and entry not in known_sizes:
        raise SaptError(f"{path}: {lw}.{entry}: unknown size (sizes in backbone_sizes: "
                        f"{', '.join(sorted(known_sizes)) or 'none'})")


# ---- resolution ----------------------------------------------------------------------------------------------------
def method_entry(methods: Mapping, method: str) -> dict:
    """The entry of a method; an unknown name is one line listing the known ones."""
    table = methods["methods"]
    if method not in table:
        raise SaptError(f"{methods.get('path', METHODS_FILE)}: {unknown_text('method', method, table)}")
    return table[method]


def resolve(methods: Mapping, method: str, backbone: str, benchmark: str | None, order: str | None,
            family: str | None = None, size: str | None = None,
            overrides: Mapping[str, Any] | None = None, overrides_label: str = "overrides") -> dict:
    """The values of one job (method, backbone, benchmark, order) as a plain dict (see the module docstring).

    ``backbone`` is looked up in ``backbone_sizes`` for its family and size; a backbone outside the table (tiny or
    custom) must pass ``family`` (no size layer applies). ``benchmark``/``order`` may be None (no such layer).
    ``overrides`` (the workflow's ``method_overrides``) are applied last and validated like the file's values.
    """
    from sapt_core.methods import component
    from sapt_core.methods.keys import check_mapping, specs

    path = methods.get("path", METHODS_FILE)
    m = method_entry(methods, method)
    comp = component(m["component"])
    info = methods.get("backbone_sizes", {}).get(backbone)
    if info is not None:
        if family is not None and family != info["family"]:
            raise SaptError(f"{path}: backbone_sizes.{backbone}.family: is {info['family']!r}, "
                            f"but the job passes family {family!r}")
        family, size = info["family"], info["size"]
    elif family is None:
        raise SaptError(f"{path}: backbone_sizes.{backbone}: backbone not listed; pass its family "
                        f"({', '.join(FAMILIES)}) explicitly")
    if family not in FAMILIES:
        raise SaptError(f"{path}: family {family!r} of backbone {backbone!r}: expected one of {', '.join(FAMILIES)}")
    keys = specs(comp.Config)
    merged = {k: s.default for k, s in keys.items()}
    merged.update(m["defaults"])
    for layer, entry in (("family", family), ("benchmark", benchmark), ("family_benchmark", f"{family}/{benchmark}"),
                         ("size", size), ("order", order)):
        if entry is not None:
            merged.update(m[layer].get(entry, {}))
    if overrides:
        merged.update(check_mapping(comp.Config, dict(overrides), overrides_label,
                                    f"key of method {method!r} (component {comp.component})"))
    out: dict[str, Any] = {"method": method, "component": comp.component, "backbone": backbone, "family": family,
                           "size": size, "benchmark": benchmark, "order": order}
    out.update({k: merged[k] for k in keys})
    return out


def values_of(resolved: Mapping) -> dict:
    """The config values of a resolved dict (everything but the identity keys), in order."""
    return {k: v for k, v in resolved.items() if k not in IDENTITY}


def instance(resolved: Mapping):
    """The :class:`~sapt_core.methods.base.Method` of a resolved dict."""
    from sapt_core.methods import component

    comp = component(resolved["component"])
    return comp(resolved["method"], comp.Config(**values_of(resolved)))


def split_variant(method: str) -> tuple[str, dict]:
    """``replay~real_replay_volume=0.05,init=fresh`` -> (``replay``, {key: value}); values parsed as YAML scalars."""
    if "~" not in method:
        return method, {}
    import yaml

    base, _, spec = method.partition("~")
    out = {}
    for item in spec.split(","):
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise SaptError(f"method variant {method!r}: expected <method>~<key>=<value>[,<key>=<value>]")
        out[k] = yaml.safe_load(v)
    return base, out


def variant_name(method: str, values: dict) -> str:
    """The inverse of :func:`split_variant`: ``replay`` + {real_replay_volume: 0.05} -> ``replay~real_replay_volume=0.05``."""
    return method + ("~" + ",".join(f"{k}={v}" for k, v in values.items()) if values else "")


def defaults_instance(methods: Mapping, method: str):
    """The method with its own defaults only (the component's, then the entry's ``defaults``; no layer)."""
    from sapt_core.methods import component

    base, variant = split_variant(method)
    entry = method_entry(methods, base)
    comp = component(entry["component"])
    values = {k: s.default for k, s in comp.keys().items()}
    values.update(entry["defaults"])
    if variant:  # a variant's values on top (<method>~<key>=<value>,...: Figure 6)
        return comp(method, comp.make_config({**values, **variant}, f"method variant {method}"))
    return comp(method, comp.Config(**values))
