"""Phase timers for the job profiles (``profile_step.py``, ``profile_scoring.py``): wall time of a ``sapt`` command
run in this process, split by wrapping the functions each phase calls (the step recipe's stages, the HF Trainer's
per-step calls, the in-job checkpoints, greedy decoding). Timers nest: a phase's *own* time excludes the phases
called inside it, so the own times of all phases add up to the command's wall time.

The wrapping changes nothing a command computes (every wrapper calls the original with the same arguments); it adds
~2 us per wrapped call (a few thousand calls per job)."""

from __future__ import annotations

import functools
import statistics
import time
from collections import defaultdict
from contextlib import contextmanager


class Phases:
    """Nested wall-clock timers keyed by their path (``job/train/forward``)."""

    def __init__(self):
        self.stack: list[str] = []
        self.inclusive = defaultdict(float)
        self.own = defaultdict(float)
        self.calls = defaultdict(int)
        self._child = [0.0]  # per stack level: time spent in children

    @contextmanager
    def phase(self, name: str):
        self.stack.append(name)
        key = "/".join(self.stack)
        self._child.append(0.0)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            children = self._child.pop()
            self._child[-1] += dt
            self.stack.pop()
            self.inclusive[key] += dt
            self.own[key] += dt - children
            self.calls[key] += 1

    def wrap(self, owner, attr: str, name: str) -> None:
        """Time every call of ``owner.attr`` (a class or module attribute) as phase ``name``."""
        original = getattr(owner, attr)
        if getattr(original, "_phase_wrapped", False):
            return
        phases = self

        @functools.wraps(original)
        def timed(*args, **kwargs):
            with phases.phase(name):
                return original(*args, **kwargs)

        timed._phase_wrapped = True
        setattr(owner, attr, timed)

    def reset(self) -> None:
        self.__init__()

    def snapshot(self) -> dict:
        return {"own": dict(self.own), "inclusive": dict(self.inclusive), "calls": dict(self.calls)}


def median_table(runs: list[dict], total_key: str = "job") -> list[tuple[str, float, float, int]]:
    """(path, median own s, median inclusive s, calls of the last run) per phase over ``runs`` (snapshots), in the
    order phases first appeared."""
    paths: list[str] = []
    for r in runs:
        for p in r["inclusive"]:
            if p not in paths:
                paths.append(p)
    out = []
    for p in paths:
        own = statistics.median(r["own"].get(p, 0.0) for r in runs)
        inc = statistics.median(r["inclusive"].get(p, 0.0) for r in runs)
        out.append((p, own, inc, runs[-1]["calls"].get(p, 0)))
    return out


def print_tree(rows, total: float, title: str) -> None:
    """Markdown table of the phases, indented by depth: own and inclusive median seconds, share of ``total``."""
    print(f"\n| {title} | calls | own s | incl. s | own share |")
    print("|---|---|---|---|---|")
    for path, own, inc, calls in rows:
        depth = path.count("/")
        label = "&nbsp;" * (2 * depth) + path.rsplit("/", 1)[-1]
        print(f"| {label} | {calls} | {own:.3f} | {inc:.3f} | {100 * own / total:.1f}% |")


def group_sum(rows, groups: dict[str, tuple[str, ...]]) -> dict[str, float]:
    """Own seconds summed per group: a phase belongs to the first group one of whose names is its last path part
    (or any part, for names ending in ``/``)."""
    out = {g: 0.0 for g in groups}
    for path, own, _, _ in rows:
        parts = path.split("/")
        for g, names in groups.items():
            if parts[-1] in names or any(n.endswith("/") and n[:-1] in parts for n in names):
                out[g] += own
                break
    return out
