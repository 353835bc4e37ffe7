"""The package's import graph has no cycle: every ``sapt_core`` module imports, and walking the imports of every
module (top-level and inside functions, read with ``ast``) never comes back to where it started. The report layer's
constants live in a leaf module (``sapt_core.report.registry``) that the planner and the report modules share."""

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sapt_core"


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(name: str, path: Path, modules) -> set[str]:
    """The project modules ``name`` imports anywhere in its source (``from pkg import sub`` counts as ``pkg.sub``)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    return {m for m in found if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_walker_finds_a_cycle(tmp_path):
    """The walker itself: a loop of two modules is a cycle, a module importing into it is not part of it; relative
    imports, ``from pkg import submodule`` and imports inside functions all count."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    path = tmp_path / "x.py"
    path.write_text("from .registry import TABLES\n\ndef f():\n    from sapt_core.report import tables\n")
    modules = {"sapt_core.report.x": path, "sapt_core.report.registry": None, "sapt_core.report.tables": None}
    assert _imports("sapt_core.report.x", path, modules) == {"sapt_core.report.registry", "sapt_core.report.tables"}


def test_no_import_cycle_in_the_package():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["sapt_core.report.registry"] <= set(), "the registry is a leaf: it imports nothing from the project"
    assert _cycles(graph) == []


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others (importing ``a.b`` also runs package ``a``)."""
    seen, todo = set(), [start]
    while todo:
        for dep in graph[todo.pop()]:
            for parent in [dep] + [dep.rsplit(".", i)[0] for i in range(1, dep.count(".") + 1)]:
                if parent not in seen and parent in graph:
                    seen.add(parent)
                    todo.append(parent)
    return seen


def test_reachable_follows_imports_and_parent_packages():
    graph = {"a": set(), "a.b": {"c"}, "c": {"a.b.d"}, "a.b.d": set(), "e": set()}
    assert _reachable(graph, "c") == {"a", "a.b", "a.b.d", "c"}
    assert _reachable(graph, "e") == set()


def test_the_figure_job_does_not_import_the_planner():
    """Figure 6's job (``sapt report-figure``) reads metrics files only: no module it reaches, directly or through
    others, is the workflow planner (``sapt_core.plan``: the config, method values and job lists)."""
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    planner = {m for m in modules if m == "sapt_core.plan" or m.startswith("sapt_core.plan.")}
    assert {"sapt_core.plan", "sapt_core.plan.hparams", "sapt_core.report.replay_figure"} <= set(modules)
    reached = _reachable(graph, "sapt_core.report.replay_figure")
    assert "sapt_core.report.series" in reached  # the walk sees the figure's own imports
    assert not reached & planner, sorted(reached & planner)


@pytest.mark.parametrize("name", sorted(m for m in _modules() if not m.endswith("__main__")))  # __main__ runs the CLI
def test_every_module_imports(name):
    importlib.import_module(name)
