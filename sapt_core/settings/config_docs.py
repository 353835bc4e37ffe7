"""``sapt config-docs``: the key tables of ``config/README.md``, generated from where the keys are defined, so the
documentation cannot drift from the code: the workflow config's keys from its JSON schema (with the embedded
default's values from config/config.yaml), every method component's keys from its config dataclass (with the
methods of config/methods.yaml that use it), and the ARM generator's keys from :mod:`sapt_core.arm.settings`.

The generated parts sit between ``<!-- BEGIN GENERATED: <name> -->`` and ``<!-- END GENERATED: <name> -->``;
``--write`` replaces them in place, ``--check`` exits 1 naming the first stale block.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sapt_core.errors import SaptError
from sapt_core.settings.methods_file import METHODS_FILE

README = "config/README.md"
SCHEMA = "workflow/schemas/config.schema.yaml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", action="store_true", help=f"regenerate the key tables of {README} in place")
    g.add_argument("--check", action="store_true", help=f"exit 1 if a key table of {README} is stale")
    p.add_argument("--readme", default=README)
    p.add_argument("--schema", default=SCHEMA)
    p.add_argument("--config", default="config/config.yaml", help="whose values fill the default column")
    p.add_argument("--methods-file", default=METHODS_FILE)


def _cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _value(x) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in x.items()) + "}"
    return f"{x:g}" if isinstance(x, float) else str(x)


def _type(spec: dict) -> str:
    if "enum" in spec:
        return " | ".join(map(str, spec["enum"]))
    t = spec.get("type", "")
    return "/".join(t) if isinstance(t, list) else str(t)


def _rows(spec: dict, path: str, config) -> list[tuple[str, str, str, str]]:
    """(key path, type, default, meaning) of a schema node and everything below it."""
    out = []
    props = spec.get("properties") or {}
    extra = spec.get("additionalProperties")
    if path and (not props or spec.get("description")):
        default = "" if isinstance(config, dict) and props else _value(config) if config is not _MISSING else ""
        if len(default) > 60:  # a whole mapping (backbones, experiments, overrides): it is the config file itself
            default = "see config/config.yaml"
        out.append((path, _type(spec), default, spec.get("description", "")))
    for name, sub in props.items():
        value = config.get(name, _MISSING) if isinstance(config, dict) else _MISSING
        out += _rows(sub, f"{path}.{name}" if path else name, value)
    if isinstance(extra, dict) and (extra.get("properties") or extra.get("description")):
        placeholder = {"backbones": "<name>", "experiments": "<table or figure>"}.get(path.split(".")[-1], "<key>")
        out += _rows(extra, f"{path}.{placeholder}", _MISSING)
    return out


_MISSING = object()


def workflow_table(schema: dict, config: dict) -> str:
    lines = ["| key | type | default (config/config.yaml) | meaning |", "|---|---|---|---|"]
    lines += [f"| `{k}` | {_cell(t)} | {_cell(d)} | {_cell(m)} |" for k, t, d, m in _rows(schema, "", config)]
    return "\n".join(lines)


def method_tables(methods: dict) -> str:
    from sapt_core.methods import components
    from sapt_core.methods.keys import key_rows

    users: dict[str, list[str]] = {}
    for name, m in methods["methods"].items():
        users.setdefault(m["component"], []).append(name)
    out = []
    for comp, cls in sorted(components().items()):
        import importlib

        doc = " ".join((importlib.import_module(cls.__module__).__doc__ or "").strip().split("\n\n")[0].split())
        out += [f"### Component `{comp}` ({', '.join(f'`{u}`' for u in users.get(comp, [])) or 'no method'})", "",
                doc, "", "| key | type | default | meaning |", "|---|---|---|---|"]
        out += [f"| `{k}` | {_cell(t)} | {_cell(d)} | {_cell(m)} |" for k, t, d, m in key_rows(cls.Config)]
        out.append("")
    return "\n".join(out).rstrip()


def generator_tables() -> str:
    from sapt_core.arm.settings import GENERATORS, Sampling
    from sapt_core.methods.keys import key_rows

    out = []
    for name, cls in (*((f"generator.{p}", c) for p, c in GENERATORS.items()), ("generator.<pet>.sampling", Sampling)):
        out += [f"`{name}`:", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        out += [f"| `{k}` | {_cell(t)} | {_cell(d)} | {_cell(m)} |" for k, t, d, m in key_rows(cls)]
        out.append("")
    return "\n".join(out).rstrip()


def blocks(schema_path, config_path, methods_path) -> dict[str, str]:
    from sapt_core.settings.methods_file import load_methods
    from sapt_core.settings.yaml_io import load_yaml

    return {"workflow-keys": workflow_table(load_yaml(schema_path, "config schema"),
                                            load_yaml(config_path, "workflow config")),
            "method-keys": method_tables(load_methods(methods_path)),
            "generator-keys": generator_tables()}


def _block_re(name: str):
    return re.compile(rf"(<!-- BEGIN GENERATED: {re.escape(name)} -->\n)(.*?)(<!-- END GENERATED: {re.escape(name)} -->)",
                      re.S)


def render(text: str, generated: dict[str, str], where: str) -> str:
    for name, body in generated.items():
        rx = _block_re(name)
        if not rx.search(text):
            raise SaptError(f"{where}: no '<!-- BEGIN GENERATED: {name} -->' ... '<!-- END GENERATED: {name} -->' block")
        text = rx.sub(lambda m: m.group(1) + body + "\n" + m.group(3), text)
    return text


def run(args: argparse.Namespace) -> int:
    from sapt_core.io import atomic_write_text

    path = Path(args.readme)
    if not path.is_file():
        raise SaptError(f"{path}: not found")
    text = path.read_text(encoding="utf-8")
    generated = blocks(args.schema, args.config, args.methods_file)
    new = render(text, generated, str(path))
    if args.check:
        for name, body in generated.items():
            if _block_re(name).search(text).group(2) != body + "\n":
                print(f"{path}: block {name!r} is stale (run `sapt config-docs --write`)")
                return 1
        print(f"{path}: key tables up to date")
        return 0
    if new != text:
        atomic_write_text(path, new)
    print(f"wrote {path} ({', '.join(generated)})")
    return 0
