"""What a job forked from ``sapt warm`` pays that a repeated run in one process does not: the same ``sapt`` command
run in forked children of one pre-imported parent, as the worker forks them, with the parent (a) only importing
(``plain``), (b) importing and freezing its heap (``freeze``: :func:`gc.freeze`), (c) also running a model job's
first calls once (``prewarm``: :func:`sapt_core.warm.prewarm.prewarm`, what ``sapt warm`` does). Per child: its wall
seconds, the time its garbage collections took, and its largest phases (benchmarks/phases.py).

    python benchmarks/warm_fork.py --rounds 2 -- train-step --method seq-lora ... (a job's sapt arguments)

Modes run one after the other, ``--rounds`` children each, the whole cycle ``--cycles`` times (interleaved).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from phases import Phases  # noqa: E402
from profile_step import OUTPUT_FLAGS, instrument, redirect  # noqa: E402

MODES = ("plain", "freeze", "prewarm")


def child(argv: list[str], out: Path, wfd: int) -> None:
    """In the fork: the command with phase timers and a GC timer; reports one line through ``wfd``."""
    import torch

    from sapt_core.cli import main

    fd = os.open(out / "log.txt", os.O_WRONLY | os.O_CREAT)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    torch.set_num_threads(1)
    ph = Phases()
    instrument(ph)
    collected = {"s": 0.0, "t0": 0.0}

    def on_gc(phase, info):
        if phase == "start":
            collected["t0"] = time.perf_counter()
        else:
            collected["s"] += time.perf_counter() - collected["t0"]

    gc.callbacks.append(on_gc)
    with ph.phase("job"):
        rc = main(redirect(argv, out, OUTPUT_FLAGS))
    top = sorted(((v, k.rsplit("/", 1)[-1]) for k, v in ph.own.items()), reverse=True)[:6]
    os.write(wfd, f"{collected['s']:.3f}\t{', '.join(f'{k} {v:.2f}' for v, k in top)}".encode())
    os._exit(rc)


def run_mode(mode: str, argv: list[str], rounds: int, work: Path) -> list[tuple[float, float, str]]:
    """Fork a parent for ``mode`` (so each mode starts from the same imports), which forks ``rounds`` children."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(wfd)
        data = b""
        while chunk := os.read(rfd, 65536):
            data += chunk
        os.waitpid(pid, 0)
        return [tuple(line.split("\t")) for line in data.decode().splitlines()]
    os.close(rfd)
    if mode == "freeze":
        gc.collect()
        gc.freeze()
    elif mode == "prewarm":
        from sapt_core.warm.prewarm import prewarm

        prewarm()
    lines = []
    for r in range(rounds):
        out = work / f"{mode}{r}"
        out.mkdir(parents=True, exist_ok=True)
        crfd, cwfd = os.pipe()
        t0 = time.perf_counter()
        cpid = os.fork()
        if cpid == 0:
            os.close(crfd)
            child(argv, out, cwfd)
        os.close(cwfd)
        msg = os.read(crfd, 65536).decode()
        os.waitpid(cpid, 0)
        lines.append(f"{time.perf_counter() - t0:.3f}\t{msg}")
    os.write(wfd, ("\n".join(lines) + "\n").encode())
    os._exit(0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2, help="children per mode and cycle")
    p.add_argument("--cycles", type=int, default=2)
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    os.environ.pop("SAPT_WARM", None)
    from sapt_core.warm.server import PRELOAD

    for name in PRELOAD:  # the worker's imports
        importlib.import_module(name)
    import sapt_core.cli as cli

    cli.build_parser([])
    work = Path(tempfile.mkdtemp(prefix="warm_fork_"))
    results = {m: [] for m in args.modes}
    for c in range(args.cycles):
        for mode in args.modes:
            for wall, gc_s, top in run_mode(mode, command, args.rounds, work / f"c{c}"):
                results[mode].append((float(wall), float(gc_s)))
                print(f"{mode}: {float(wall):.2f} s, GC {float(gc_s):.3f} s; {top}", flush=True)
    base = statistics.median(w for w, _ in results[args.modes[0]])
    print(f"\n| parent | children | median wall s | vs {args.modes[0]} | median GC s per job |")
    print("|---|---|---|---|---|")
    for mode, rows in results.items():
        m = statistics.median(w for w, _ in rows)
        print(f"| {mode} | {len(rows)} | {m:.2f} | {m / base:.3f}x | {statistics.median(g for _, g in rows):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
