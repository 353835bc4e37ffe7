"""Benchmark definitions from ``config/benchmarks.yaml``, loaded and validated into small dataclasses.

The YAML holds the paper's Tables 4-7 as data: task lists with category and metric (Tables 4-6), the task orders
(Table 7), the instruction template of each benchmark (the official code's, :mod:`sapt_core.data.templates`), where
the authors' pseudo samples live (``generated_data``), the paper's sampling protocol sizes (paper section 5.1.1) and,
for a task whose shipped ``labels.json`` is stale, its classes (``labels``; see config/README.md). A benchmark of
one's own is another entry (docs/adding_a_benchmark.md): its task files in the upstream JSON or in JSONL, a task's
``instruction`` in this file, any template of :data:`~sapt_core.data.templates.TEMPLATE_NAMES` or a format string.
Benchmark, task and order names become path components and must be safe (:mod:`sapt_core.settings.names`); ``dir`` and
``pseudo_dir`` must stay below the data root. Every problem is a :class:`SaptError` naming the file and the dotted
field, e.g.
``config/benchmarks.yaml: benchmarks.SuperNI.tasks.task363_sst2_polarity_classification.metric: expected one of
accuracy, rougeL, got 'acc'``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sapt_core.errors import SaptError, check_keys, known_text, need, unknown_text

BENCHMARKS_FILE = "config/benchmarks.yaml"  # the default benchmarks file (config key benchmarks_file)
METRICS = ("accuracy", "rougeL")
PAPER_PROTOCOL_KEYS = ("n_train", "n_test", "n_test_per_class")
_BENCH_KEYS = ("demo_orders", "dir", "orders", "paper_protocol", "pseudo_dir", "tasks", "template", "test_only")
_TASK_KEYS = ("category", "instruction", "labels", "metric")


@dataclass(frozen=True)
class TaskInfo:
    name: str
    category: str
    metric: str  # "accuracy" (classification) or "rougeL"
    labels: tuple[str, ...] | None = None  # the task's classes when its labels.json is stale (None: labels.json)
    instruction: str | None = None  # the task's instruction (None: the upstream file's Definition; JSONL: none)

    @property
    def is_classification(self) -> bool:
        return self.metric == "accuracy"


@dataclass(frozen=True)
class Benchmark:
    name: str
    dir: str  # relative to the data root, e.g. CL_Benchmark/SuperNI
    template: str  # a name of data.templates.TEMPLATE_NAMES or a format string
    tasks: dict[str, TaskInfo]
    orders: dict[str, list[str]] = field(default_factory=dict)  # paper_orders + the demo orders
    paper_orders: tuple[str, ...] = ()  # ``orders:`` (paper Table 7): the reports' default; ``demo_orders:`` are not
    pseudo_dir: dict[str, str] = field(default_factory=dict)  # family ("t5"/"llama") -> dir under the data root
    paper_protocol: dict[str, int] = field(default_factory=dict)
    test_only: bool = False


def load_benchmarks(path: str | Path = BENCHMARKS_FILE) -> dict[str, Benchmark]:
    """Read and validate the benchmarks file; returns ``{name: Benchmark}`` in file order."""
    from sapt_core.settings.yaml_io import load_yaml

    path = Path(path)
    doc = load_yaml(path, "benchmarks file")
    if not isinstance(doc, dict):
        raise SaptError(f"{path}: expected a mapping with key 'benchmarks', got {type(doc).__name__}")
    benches = doc.get("benchmarks")
    need(isinstance(benches, dict) and benches, path, "benchmarks", "a non-empty mapping", benches)
    out = {str(name): _benchmark(path, str(name), spec) for name, spec in benches.items()}
    # task and order names are unique across benchmarks: a task names its data, an order a per-order table's column
    owner: dict[tuple[str, str], str] = {}
    for b in out.values():
        for kind, names in (("task", b.tasks), ("order", b.orders)):
            for n in names:
                first = owner.setdefault((kind, n), b.name)
                if first != b.name:
                    raise SaptError(f"{path}: benchmarks.{b.name}.tasks.{n}: task also listed in benchmark '{first}'"
                                    if kind == "task" else
                                    f"{path}: benchmarks.{b.name}: order {n!r} is also an order of benchmark "
                                    f"'{first}'; expected order names unique across benchmarks")
    return out


def _name(path: Path, where: str, name: Any, what: str) -> str:
    from sapt_core.settings.names import check_name

    return check_name(name, f"{path}: {where}", what)


def _benchmark(path: Path, name: str, spec: Any) -> Benchmark:
    from sapt_core.data.templates import template_problem
    from sapt_core.settings.names import check_relative_dir

    w = f"benchmarks.{name}"
    _name(path, w, name, "a benchmark name")
    need(isinstance(spec, dict), path, w, "a mapping", spec)
    check_keys(spec, _BENCH_KEYS, w, file=path)
    for key in ("dir", "template", "tasks"):
        need(key in spec, path, f"{w}.{key}", "a value", "nothing (missing)")
    check_relative_dir(spec["dir"], f"{path}: {w}.dir")
    problem = template_problem(spec["template"])
    if problem:
        raise SaptError(f"{path}: {w}.template: {problem}")
    tasks_spec = spec["tasks"]
    need(isinstance(tasks_spec, dict) and tasks_spec, path, f"{w}.tasks", "a non-empty mapping", tasks_spec)
    tasks = {}
    for t, ts in tasks_spec.items():
        tw = f"{w}.tasks.{t}"
        _name(path, tw, t, "a task name")
        need(isinstance(ts, dict), path, tw, "a mapping with category and metric", ts)
        check_keys(ts, _TASK_KEYS, tw, file=path)
        need(isinstance(ts.get("category"), str) and ts["category"], path, f"{tw}.category", "a string",
             ts.get("category"))
        need(ts.get("metric") in METRICS, path, f"{tw}.metric", f"one of {', '.join(METRICS)}", ts.get("metric"))
        labels = ts.get("labels")
        if labels is not None:
            need(isinstance(labels, list) and labels and all(isinstance(x, str) and x for x in labels)
                 and len(set(labels)) == len(labels), path, f"{tw}.labels", "a non-empty list of distinct strings",
                 labels)
            need(ts["metric"] == "accuracy", path, f"{tw}.labels", "no labels on a rougeL task", labels)
        instruction = ts.get("instruction")
        need(instruction is None or isinstance(instruction, str), path, f"{tw}.instruction", "a string",
             instruction)
        tasks[str(t)] = TaskInfo(str(t), ts["category"], ts["metric"], tuple(labels) if labels else None,
                                 instruction)
    orders = {}
    for key in ("orders", "demo_orders"):
        orders_spec = spec.get(key) or {}
        need(isinstance(orders_spec, dict), path, f"{w}.{key}", "a mapping of order name -> task list", orders_spec)
        for o, lst in orders_spec.items():
            ow = f"{w}.{key}.{o}"
            _name(path, ow, o, "an order name")
            need(isinstance(lst, list) and lst, path, ow, "a non-empty list of tasks", lst)
            for i, t in enumerate(lst):
                need(t in tasks, path, f"{ow}[{i}]", f"a task of benchmark '{name}'", t)
            dup = [t for i, t in enumerate(lst) if t in lst[:i]]
            if dup:
                raise SaptError(f"{path}: {ow}: task {dup[0]!r} listed twice")
            if str(o) in orders:
                raise SaptError(f"{path}: {ow}: order {o!r} defined twice")
            orders[str(o)] = list(lst)
    paper_orders = tuple(str(o) for o in spec.get("orders") or {})
    pseudo = spec.get("pseudo_dir") or {}
    need(isinstance(pseudo, dict), path, f"{w}.pseudo_dir", "a mapping of family -> directory", pseudo)
    for fam, d in pseudo.items():
        check_relative_dir(d, f"{path}: {w}.pseudo_dir.{fam}")
    proto = spec.get("paper_protocol") or {}
    need(isinstance(proto, dict), path, f"{w}.paper_protocol", "a mapping", proto)
    check_keys(proto, PAPER_PROTOCOL_KEYS, f"{w}.paper_protocol", file=path)
    for k, v in proto.items():
        need(isinstance(v, int) and not isinstance(v, bool) and v > 0, path, f"{w}.paper_protocol.{k}",
             "a positive integer", v)
    test_only = spec.get("test_only", False)
    need(isinstance(test_only, bool), path, f"{w}.test_only", "true or false", test_only)
    return Benchmark(name, spec["dir"], spec["template"], tasks, orders, paper_orders, {str(k): v for k, v in pseudo.items()},
                     dict(proto), test_only)


def get_benchmark(benchmarks: dict[str, Benchmark], name: str) -> Benchmark:
    if name not in benchmarks:
        raise SaptError(unknown_text("benchmark", name, benchmarks))
    return benchmarks[name]


def get_task(benchmark: Benchmark, task: str) -> TaskInfo:
    if task not in benchmark.tasks:
        raise SaptError(f"task '{task}' is not in benchmark '{benchmark.name}'{known_text(sorted(benchmark.tasks))}")
    return benchmark.tasks[task]


def find_benchmark(benchmarks: dict[str, Benchmark], task: str) -> Benchmark:
    """The benchmark listing ``task`` (task names are unique across benchmarks; load_benchmarks checks it)."""
    for b in benchmarks.values():
        if task in b.tasks:
            return b
    raise SaptError(f"task '{task}' is in no benchmark (benchmarks: {', '.join(benchmarks)})")
