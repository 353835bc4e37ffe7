"""The whole workflow config, checked before Snakemake builds any DAG.

Snakemake merges config/config.yaml, every ``--configfile`` and ``--config`` into one dict; the schema
(workflow/schemas/config.schema.yaml) checks its shape, and :func:`validate_config` resolves every name in it: the
methods and benchmarks files load (config/methods.yaml is validated whole), every benchmark and order of ``orders``
exists, every ``method_overrides`` entry names a method (or ``"*"``) and only keys of its component with valid values,
every experiment's methods (variants included), backbones, benchmarks and orders resolve, each of its runs resolves to
one job's values, the demo runs name known backbones, benchmarks, tasks and methods, and every backbone's
lora_sites are module names or regular expressions (their match waits for the model). Names that become path
components are safe (:mod:`sapt_core.settings.names`).

Everything is checked on every invocation, so an invalid edit is an error even when every output already exists
(Snakemake would otherwise report "Nothing to be done"). A failure is one line, ``<file>: <key path>: <what was
expected>``, where ``<file>`` is the last merged source that sets the key (:class:`ConfigSources`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from sapt_core.errors import SaptError, did_you_mean, known_text, unknown_text
from sapt_core.settings.methods_file import METHODS_FILE

DEFAULT_CONFIGFILE = "config/config.yaml"
CLI_CONFIG = "--config"


def dotted(path: Iterable) -> str:
    """``("experiments", "table1", "methods", 0)`` -> ``experiments.table1.methods[0]``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


class ConfigSources:
    """Which merged source set a key: ``[(name, mapping), ...]`` in merge order (later wins)."""

    def __init__(self, layers: list[tuple[str, Mapping]]):
        self.layers = [(name, layer) for name, layer in layers if isinstance(layer, Mapping)]

    @classmethod
    def from_snakemake(cls, config_settings, default_configfile: str = DEFAULT_CONFIGFILE) -> "ConfigSources":
        """The sources of a Snakemake run: the Snakefile's config file (unless ``--replace-workflow-config``), each
        ``--configfile`` in order, then ``--config``; files read with :func:`sapt_core.settings.yaml_io.load_yaml`."""
        from sapt_core.settings.yaml_io import load_yaml

        layers = []
        if not getattr(config_settings, "replace_workflow_config", False) and os.path.exists(default_configfile):
            layers.append((default_configfile, load_yaml(default_configfile, "config file")))
        for f in getattr(config_settings, "configfiles", None) or []:
            layers.append((_shown(f), load_yaml(f, "config file")))
        layers.append((CLI_CONFIG, dict(getattr(config_settings, "config", None) or {})))
        return cls(layers)

    def file_of(self, path: Iterable) -> str:
        """The last source holding the longest prefix of ``path`` (the whole key where a source sets it)."""
        path = list(path)
        for n in range(len(path), -1, -1):
            for name, layer in reversed(self.layers):
                if _has(layer, path[:n]):
                    return name
        return self.layers[0][0] if self.layers else "config"

    def where(self, path: Iterable) -> str:
        """``<file>: <key path>``."""
        path = list(path)
        return f"{self.file_of(path)}: {dotted(path)}"

    def line(self, path: Iterable, message: str) -> str:
        return f"{self.where(path)}: {message}"

    def planner_line(self, path: Iterable, e: SaptError) -> str:
        """A planner's own message (``config <key path>: ...`` or none) as a line naming the file and ``path``."""
        msg = str(e)
        if msg.startswith("config "):
            return f"{self.file_of(path)}: {msg[len('config '):]}"
        return self.line(path, msg)


def _shown(f) -> str:
    """A config file as the user named it: relative to the working directory where it lies below it."""
    p = Path(f)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(f)


def _has(layer: Any, path: list) -> bool:
    node = layer
    for p in path:
        if isinstance(node, Mapping) and p in node:
            node = node[p]
        elif isinstance(node, list) and isinstance(p, int) and 0 <= p < len(node):
            node = node[p]
        else:
            return False
    return True


def check_yaml_files(paths: Iterable[str]) -> None:
    """Parse each existing YAML config file with the project's loader: a syntax error is one line naming the file
    and the line (Snakemake's own message names neither)."""
    from sapt_core.settings.yaml_io import load_yaml

    for p in paths:
        if os.path.exists(p):
            load_yaml(p, "config file")


def check_schema(config: Mapping, schema_file: str | os.PathLike, sources: ConfigSources | None = None) -> None:
    """The config against the JSON schema: the most relevant violation as one line naming the file, the key path
    (an unknown key or an unsafe name included) and what was expected."""
    import jsonschema

    from sapt_core.settings.yaml_io import load_yaml

    schema = load_yaml(schema_file, "config schema")
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(dict(config)))
    if err is None:
        return
    src = sources or ConfigSources([("config", config)])
    raise SaptError(src.line(*schema_error(err)))


def schema_error(err) -> tuple[list, str]:
    """(key path, message) of a jsonschema error; an unknown key and a bad property name get the key itself."""
    path = list(err.absolute_path)
    message = " ".join(err.message.split())
    if err.validator == "additionalProperties" and isinstance(err.instance, Mapping):
        known = list(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in known]
        if extra:
            return path + [extra[0]], unknown_text("key", extra[0], known, named=False)
    if "propertyNames" in err.schema_path and isinstance(err.instance, str):
        from sapt_core.settings.names import SAFE_NAME_TEXT

        return path + [err.instance], (f"expected a name of {SAFE_NAME_TEXT} (it becomes a path component), got "
                                       f"{err.instance!r}")
    return path, message


def configfile_args(argv: Iterable[str]) -> list[str]:
    """The files a Snakemake command line passes with ``--configfile`` / ``--configfiles`` (each takes the values up
    to the next option, as Snakemake reads them)."""
    out, taking = [], False
    for a in argv:
        if a in ("--configfile", "--configfiles"):
            taking = True
        elif a.startswith(("--configfile=", "--configfiles=")):
            out.append(a.split("=", 1)[1])
            taking = False
        elif a.startswith("-"):
            taking = False
        elif taking:
            out.append(a)
    return out


def validate_config(config: Mapping, sources: ConfigSources | None = None) -> None:
    """Resolve every name and value of the merged workflow config (see the module docstring); one-line
    :class:`SaptError` on the first problem."""
    _Checker(config, sources or ConfigSources([("config", config)])).run()


class _Checker:
    def __init__(self, config: Mapping, sources: ConfigSources):
        from sapt_core.plan import ContinualPlan

        self.config, self.src = config, sources
        self.plan = ContinualPlan(dict(config), data_root="")

    def fail(self, path: Iterable, message: str):
        raise SaptError(self.src.line(path, message))

    def name(self, value: Any, path: list, what: str) -> str:
        from sapt_core.settings.names import is_safe_name, SAFE_NAME_TEXT

        if not is_safe_name(value):
            self.fail(path, f"expected {what} of {SAFE_NAME_TEXT} (it becomes a path component), got {value!r}")
        return value

    def run(self) -> None:
        self.files()
        for name, spec in (self.config.get("backbones") or {}).items():
            self.name(name, ["backbones", name], "a backbone name")
            if isinstance(spec, Mapping) and "lora_sites" in spec:
                self.lora_sites(spec["lora_sites"], ["backbones", name, "lora_sites"])
        self.orders()
        for b in (self.config.get("data") or {}).get("benchmark_protocol") or {}:
            self.benchmark(b, ["data", "benchmark_protocol", b], trainable=False)
        self.overrides()
        for exp, spec in (self.config.get("experiments") or {}).items():
            self.experiment(exp, spec)
        self.demo()
        self.resolve()

    def lora_sites(self, value: Any, path: list) -> None:
        """The form of a backbone's LoRA sites (names or full-path regular expressions, :mod:`sapt_core.blocks.sites`);
        their match against the model's modules waits for the model (every job that loads it)."""
        from sapt_core.blocks.sites import check_form

        try:
            check_form(value, "lora_sites")
        except SaptError as e:
            self.fail(path, str(e)[len("lora_sites: "):])

    def files(self) -> None:
        for key, default in (("benchmarks_file", None), ("methods_file", METHODS_FILE)):
            path = self.config.get(key, default)
            if path is not None and not Path(path).is_file():
                self.fail([key], f"expected an existing file, got {path!r} (no such file)")
        self.benchmarks = self.plan.benchmarks  # each loader's own line names its file and key on a problem
        try:
            self.methods = self.plan.methods["methods"]
        except SaptError as e:  # a method_overrides.<m>.extends naming no method: the config file's line
            if str(e).startswith("config method_overrides"):
                raise SaptError(self.src.planner_line(["method_overrides"], e)) from None
            raise

    def benchmark(self, b: Any, path: list, trainable: bool = True):
        if b not in self.benchmarks:
            self.fail(path, f"expected a benchmark of {self.config['benchmarks_file']} "
                            f"({', '.join(self.benchmarks)}), got {b!r}")
        if trainable and self.benchmarks[b].test_only:
            self.fail(path, f"benchmark {b!r} is test-only (evaluated, never trained on)")
        return self.benchmarks[b]

    def orders(self) -> None:
        for b, orders in (self.config.get("orders") or {}).items():
            bench = self.benchmark(b, ["orders", b])
            for i, o in enumerate(orders or []):
                if o not in bench.orders:
                    self.fail(["orders", b, i], f"expected an order of {b} ({', '.join(bench.orders) or 'none'}), "
                                                f"got {o!r}")

    def method_name(self, m: Any, path: list, variants: bool = True) -> str:
        from sapt_core.plan.hparams import split_variant

        if not isinstance(m, str):
            self.fail(path, f"expected a method name, got {m!r}")
        self.name(m, path, "a method name")
        base, _ = split_variant(m) if variants else (m, {})
        if base not in self.methods:
            self.fail(path, unknown_text("method", base, self.methods))
        return base

    def overrides(self) -> None:
        from sapt_core.methods import component, components
        from sapt_core.methods.keys import check_mapping, check_value, specs
        from sapt_core.plan.hparams import EXTENDS

        mo = self.config.get("method_overrides") or {}
        for m, values in mo.items():
            path = ["method_overrides", m]
            if values is None:
                continue
            if not isinstance(values, Mapping):
                self.fail(path, f"expected a mapping of method keys, got {values!r}")
            where = self.src.where(path)
            if m == "*":
                by_key: dict[str, list] = {}
                for comp in components().values():
                    for k, spec in specs(comp.Config).items():
                        by_key.setdefault(k, []).append(spec)
                for k, v in values.items():
                    if k not in by_key:
                        self.fail(path + [k], f"not a key of any method{did_you_mean(k, by_key)}"
                                              f"{known_text(sorted(by_key))}")
                    for spec in by_key[k]:
                        check_value(spec, v, f"{where}.{k}")
                continue
            if "~" in str(m):
                self.fail(path, "expected a method of the methods file, not a variant")
            self.method_name(m, path, variants=False)
            comp = component(self.methods[m]["component"])
            values = {k: v for k, v in values.items() if k != EXTENDS}  # the base: checked when the methods load
            check_mapping(comp.Config, values, where, f"key of method {m!r} (component {comp.component})")

    def experiment(self, exp: str, spec: Mapping) -> None:
        from sapt_core.methods import component
        from sapt_core.methods.keys import check_mapping
        from sapt_core.plan.experiments import ZERO_SHOT
        from sapt_core.plan.hparams import split_variant

        path = ["experiments", exp]
        for i, m in enumerate(spec.get("methods") or []):
            if m == ZERO_SHOT:
                continue
            base = self.method_name(m, path + ["methods", i])
            _, variant = split_variant(m)
            if variant:
                comp = component(self.methods[base]["component"])
                check_mapping(comp.Config, variant, self.src.where(path + ["methods", i]),
                              f"key of {base!r} (component {comp.component})")
        ref = spec.get("reference_method")
        if ref is not None:
            from sapt_core.report.registry import RESULT_TABLES

            methods = list(spec.get("methods") or [])
            if exp not in RESULT_TABLES:
                self.fail(path + ["reference_method"], f"only result tables ({', '.join(RESULT_TABLES)}) compare "
                                                       "methods with a reference method")
            if ref not in methods:
                self.fail(path + ["reference_method"], f"expected one of the experiment's methods "
                                                       f"({', '.join(methods)}), got {ref!r}")
        for i, bb in enumerate(spec.get("backbones") or []):
            if bb not in (self.config.get("backbones") or {}):
                known = ", ".join(self.config.get("backbones") or {})
                hint = did_you_mean(bb, self.config["backbones"])
                self.fail(path + ["backbones", i], f"unknown backbone {bb!r}{hint} (backbones: {known})")
        for i, b in enumerate(spec.get("benchmarks") or []):
            self.benchmark(b, path + ["benchmarks", i])
            if not (self.config.get("orders") or {}).get(b):
                self.fail(["orders", b], f"expected the task orders of {b} (experiment {exp} runs on it)")

    def demo(self) -> None:
        for i, r in enumerate((self.config.get("demo") or {}).get("runs") or []):
            path = ["demo", "runs", i]
            if r["backbone"] not in (self.config.get("backbones") or {}):
                self.fail(path + ["backbone"], f"unknown backbone {r['backbone']!r} (backbones: "
                                               f"{', '.join(self.config.get('backbones') or {})})")
            bench = self.benchmark(r["benchmark"], path + ["benchmark"])
            if r["task"] not in bench.tasks:
                hint = did_you_mean(r["task"], bench.tasks)
                self.fail(path + ["task"], f"expected a task of {bench.name}{hint}, got {r['task']!r}")
            self.method_name(r["method"], path + ["method"], variants=False)

    def resolve(self) -> None:
        """Every run of every experiment to its job's values, single-task recipe and report inputs (the planner
        functions the rules call), so a problem only a combination shows is caught now too."""
        plan = self.plan
        for exp in self.config.get("experiments") or {}:
            try:
                for b, o, bb, m, s in plan.runs(exp):
                    plan.step_args(m, bb, b, o)  # the values, the global batch on the ranks, the engine
                    spec = plan.method(m, bb, b, o).pseudo()
                    if spec is not None and spec.source == "generated":
                        plan.generator_args(spec.pet, bb)  # the generator's optimizer on the backbone's engine
                    if spec is not None and spec.source == "shipped":
                        family = plan.backbone(bb)["family"]
                        if family not in plan.benchmarks[b].pseudo_dir:
                            raise SaptError(f"method {m} reads the authors' shipped pseudo samples (pseudo_source: "
                                            f"shipped), and benchmark {b} has none for family {family} (its "
                                            "pseudo_dir in the benchmarks file); expected pseudo_source: generated "
                                            "there")
                    plan.single_task_scores(m, bb, b, o, s)
            except SaptError as e:
                raise SaptError(self.src.planner_line(["experiments", exp], e)) from None
        try:
            plan.demo_targets()
            plan.report_labels()
            plan.report_outputs()
            if "table3" in (self.config.get("experiments") or {}):
                plan.unseen_score_files()
        except SaptError as e:
            raise SaptError(self.src.planner_line(["experiments"], e)) from None


if __name__ == "__main__":  # ./run snakemake ...: the overlays' YAML syntax, before Snakemake reads them (it names
    import sys  # neither the file nor the line of a syntax error in a --configfile)

    try:
        check_yaml_files(configfile_args(sys.argv[1:]))
    except SaptError as e:
        sys.exit(f"error: {e}")
