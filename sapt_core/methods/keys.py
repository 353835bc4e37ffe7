"""The keys of a method's config dataclass: type, range, default and a one-line doc, declared once per field.

A method's config is a dataclass whose fields are declared with :func:`key`; that declaration is the single source
for validating ``config/methods.yaml`` (:func:`check_value`), for the method's CLI flags (:func:`add_flags`) and for
the key tables of ``config/README.md`` (:func:`key_rows`). The type comes from the annotation: ``int``, ``float``,
``bool``, ``str``, ``Literal[...]`` (a choice), ``float | None`` (nullable) or ``Temperature`` (Eq. 2's T: ``sqrt_d``,
``d_e`` or a positive number).

Only the standard library is imported: the workflow planner validates methods.yaml at Snakemake parse time.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from sapt_core.errors import SaptError, unknown_key

TEMPERATURE_NAMES = ("sqrt_d", "d_e")
Temperature = typing.NewType("Temperature", str)  # "sqrt_d" | "d_e" | a positive number


@dataclass(frozen=True)
class Range:
    lo: float | None = None
    lo_open: bool = False
    hi: float | None = None

    def holds(self, v: float) -> bool:
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        return self.hi is None or v <= self.hi

    def text(self) -> str:
        out = []
        if self.lo is not None:
            out.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            out.append(f"<= {self.hi:g}")
        return " and ".join(out)


POSITIVE = Range(0, True)
NON_NEGATIVE = Range(0)
FRACTION = Range(0, False, 1)
OPEN_FRACTION = Range(0, True, 1)


def key(default: Any, doc: str, range: Range | None = None) -> Any:  # noqa: A002 (the field's value range)
    """A config field: its default, a one-line doc and (numbers) its range."""
    return dataclasses.field(default=default, metadata={"doc": doc, "range": range})


@dataclass(frozen=True)
class KeySpec:
    """What a value of one key must be: ``kind`` in int | float | bool | str | choice | temperature."""

    name: str
    kind: str
    default: Any
    doc: str = ""
    choices: tuple = ()
    nullable: bool = False
    range: Range | None = None

    def describe(self) -> str:
        what = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a non-empty string",
                "temperature": f"one of {', '.join(TEMPERATURE_NAMES)} or a positive number",
                "choice": "one of " + ", ".join(map(str, self.choices))}[self.kind]
        if self.range is not None and self.range.text():
            what += " " + self.range.text()
        return what + (" (or null)" if self.nullable else "")


def specs(cls) -> dict[str, KeySpec]:
    """Every key of a config dataclass, in field order."""
    hints = typing.get_type_hints(cls)
    return {f.name: _spec(f, hints[f.name]) for f in dataclasses.fields(cls)}


def _spec(f: dataclasses.Field, hint) -> KeySpec:
    nullable = False
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        nullable = True
        hint = next(a for a in args if a is not type(None))
    kind, choices = {int: "int", float: "float", bool: "bool", str: "str", Temperature: "temperature"}.get(hint), ()
    if typing.get_origin(hint) is Literal:
        kind, choices = "choice", typing.get_args(hint)
    if kind is None:  # pragma: no cover - a programming error in a method module
        raise TypeError(f"config field {f.name}: unsupported annotation {hint!r}")
    return KeySpec(f.name, kind, f.default, f.metadata.get("doc", ""), choices, nullable, f.metadata.get("range"))


def check_value(spec: KeySpec, value: Any, where: str) -> Any:
    """Validate one value against its spec; returns it normalised (an int given for a float key becomes a float)."""
    if value is None:
        if spec.nullable:
            return None
        raise SaptError(f"{where}: expected {spec.describe()}, got None")
    ok = False
    if spec.kind == "choice":
        ok = isinstance(value, str) and value in spec.choices
    elif spec.kind == "bool":
        ok = isinstance(value, bool)
    elif spec.kind == "str":
        ok = isinstance(value, str) and bool(value.strip())
    elif spec.kind == "temperature":
        if isinstance(value, str) and value in TEMPERATURE_NAMES:
            return value
        ok = _is_number(value) and value > 0
        value = float(value) if ok else value
    elif spec.kind == "int":
        ok = _is_int(value) and (spec.range is None or spec.range.holds(value))
    elif spec.kind == "float":
        ok = _is_number(value) and (spec.range is None or spec.range.holds(value))
        value = float(value) if ok else value
    if not ok:
        raise SaptError(f"{where}: expected {spec.describe()}, got {value!r}{_float_hint(value)}")
    return value


def check_mapping(cls, values: dict, where: str, label: str = "key") -> dict:
    """Validate a mapping of keys of ``cls``; unknown keys are one line naming them and listing the known ones."""
    known = specs(cls)
    out = {}
    for k, v in values.items():
        k = str(k)
        if k not in known:
            raise unknown_key(where, k, known, label)
        out[k] = check_value(known[k], v, f"{where}.{k}")
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _float_hint(value: Any) -> str:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (YAML reads this as a string: write floats with a dot and a signed exponent, e.g. 3.0e-4)"
    return ""


# ---- CLI flags -------------------------------------------------------------------------------------------------------
def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_flags(parser: argparse.ArgumentParser, cls, defaults: dict, title: str, required: typing.Iterable[str] = ()):
    """One flag per key of ``cls`` (``lora_r`` -> ``--lora-r``), defaulting to ``defaults``; booleans both ways; the
    keys in ``required`` have no default. Returns the argument group."""
    g = parser.add_argument_group(title)
    for name, s in specs(cls).items():
        default = defaults.get(name, s.default)
        need = {"required": True} if name in required else {"default": default}
        help_ = (s.doc if need.get("required") else f"{s.doc} (default: {default})").replace("%", "%%")
        if s.kind == "bool":
            g.add_argument(flag(name), dest=name, action=argparse.BooleanOptionalAction, help=help_, **need)
        else:
            g.add_argument(flag(name), dest=name, type=_parser(s), help=help_, metavar=s.kind.upper()
                           if s.kind != "choice" else "{" + ",".join(s.choices) + "}", **need)
    return g


def _parser(spec: KeySpec):
    def parse(text: str):
        if spec.nullable and text.lower() in ("none", "null"):
            return None
        value: Any = text
        if spec.kind == "int":
            try:
                value = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected {spec.describe()}, got {text!r}") from None
        elif spec.kind in ("float", "temperature") and text not in TEMPERATURE_NAMES:
            try:
                value = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected {spec.describe()}, got {text!r}") from None
        try:
            return check_value(spec, value, flag(spec.name))
        except SaptError as e:
            raise argparse.ArgumentTypeError(str(e).split(": ", 1)[-1]) from None

    parse.__name__ = spec.kind
    return parse


def cli_args(values: dict, order: typing.Iterable[str] | None = None) -> list[str]:
    """Keys as an argv list: floats in shortest round-trip form, booleans explicit both ways, None as ``none``
    (every value explicit, so no CLI default can silently win over the config)."""
    argv: list[str] = []
    for k in order if order is not None else values:
        v = values[k]
        if v is None:
            argv += [flag(k), "none"]
        elif isinstance(v, bool):
            argv.append(flag(k) if v else "--no-" + k.replace("_", "-"))
        else:
            argv += [flag(k), repr(v) if isinstance(v, float) else str(v)]
    return argv


# ---- documentation ---------------------------------------------------------------------------------------------------
def key_rows(cls) -> list[tuple[str, str, str, str]]:
    """(key, type, default, doc) of every key of ``cls``: the rows of config/README.md's key tables."""
    out = []
    for name, s in specs(cls).items():
        typ = {"choice": " | ".join(map(str, s.choices))}.get(s.kind, s.describe())
        out.append((name, typ, "null" if s.default is None else str(s.default).lower() if isinstance(s.default, bool)
                    else f"{s.default:g}" if isinstance(s.default, float) else str(s.default), s.doc))
    return out
