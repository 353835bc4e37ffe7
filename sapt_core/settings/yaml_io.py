"""Reading the project's YAML files: one line naming the file and the line of a syntax error, and duplicate keys
refused (PyYAML silently keeps the last one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sapt_core.errors import SaptError

_LOADER = None


def _loader():
    global _LOADER
    if _LOADER is None:
        import yaml

        class UniqueKeyLoader(yaml.SafeLoader):
            pass

        def construct_mapping(loader, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                k = loader.construct_object(key_node, deep=deep)
                if k in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {k!r}", key_node.start_mark)
                seen.add(k)
            return yaml.SafeLoader.construct_mapping(loader, node, deep)

        UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
        _LOADER = UniqueKeyLoader
    return _LOADER


def yaml_error_line(path, e) -> str:
    """``<path>:<line>:<column>: <problem>`` of a PyYAML error (1-based positions)."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(e, "problem", None) or str(e)
    return f"{where}: malformed YAML ({' '.join(str(problem).split())})"


def load_yaml(path: str | Path, what: str = "YAML file") -> Any:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise SaptError(f"{path}: {what} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise SaptError(f"{path}: {what} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        raise SaptError(yaml_error_line(path, e)) from None
