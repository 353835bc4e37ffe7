"""Before / after of one job: the same ``sapt`` command under two or more variants (code trees, environment, extra
flags), interleaved round by round, each command served by a ``sapt warm`` worker of its variant as in ``./run demo``
(so the wall time is the job's, without the interpreter's imports); median wall seconds per variant (and the
command's CPU seconds, from the worker's log: steadier on a shared machine) and whether the outputs are byte-identical
across variants.

    python benchmarks/compare_job.py --rounds 5 \\
        --variant 'before|PYTHONPATH=/path/to/main' --variant 'after|PYTHONPATH=.' -- train-step ...
    python benchmarks/compare_job.py --variant 'every 50|' --variant 'none|SAPT_X=1|--save-steps 1000' -- train-step ...

A variant is ``NAME|ENV=VALUE ...|EXTRA FLAGS|WORKER FLAGS`` (all but the name optional; worker flags: those of
``sapt warm``, e.g. ``--no-prewarm``). The command's output flags
(``--state-out``, ``--scores-out``, ``--predictions-out``, ``--attention-out``, ``--logging-dir``) are redirected into
``--work``/<variant>/<round>.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_step import OUTPUT_FLAGS, redirect  # noqa: E402

COMPARED = ("state/state.safetensors", "predictions.jsonl", "attention.json", "scores.json:tasks",
            "state/state.json", "state/state.json:-train")


def parse_variant(text: str) -> tuple[str, dict, list[str], list[str]]:
    parts = text.split("|") + ["", "", ""]
    env = dict(kv.split("=", 1) for kv in shlex.split(parts[1]))
    return parts[0], env, shlex.split(parts[2]), shlex.split(parts[3])


def digest(out: Path, what: str) -> str | None:
    name, _, part = what.partition(":")
    f = out / name
    if not f.is_file():
        return None
    if not part:
        return hashlib.sha256(f.read_bytes()).hexdigest()
    doc = json.loads(f.read_text())
    doc = {k: v for k, v in doc.items() if k != part[1:]} if part.startswith("-") else doc[part]
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def start_worker(env: dict, sock: Path, log: Path, flags: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "sapt_core.cli", "warm", "--socket", str(sock), "--log", str(log),
                             *flags],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(1200):
        if sock.exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    if not sock.exists():
        raise SystemExit(f"warm worker did not start (rc {proc.poll()})")
    return proc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", action="append", required=True, help="NAME|ENV=VALUE ...|EXTRA FLAGS")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--work", default=None, help="output directory (default: a temporary one)")
    p.add_argument("--no-warm", action="store_true", help="a fresh interpreter per command (imports included)")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    variants = [parse_variant(v) for v in args.variant]
    work = Path(args.work or tempfile.mkdtemp(prefix="compare_job_"))
    # PYTHONSAFEPATH: `python -m` would put the working directory first on sys.path, so a clone's own sapt_core
    # would shadow a variant's PYTHONPATH (Python >= 3.11)
    base_env = dict(os.environ, PYTHONHASHSEED="0", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1",
                    PYTHONSAFEPATH="1")
    base_env.pop("SAPT_WARM", None)
    workers, envs = [], {}
    try:
        for i, (name, env, _, worker_flags) in enumerate(variants):
            envs[name] = {**base_env, **env}
            if not args.no_warm:
                sock = Path(tempfile.gettempdir()) / f"compare-job-{os.getpid()}-{i}.sock"
                workers.append(start_worker(envs[name], sock, work / f"warm-{i}.log", worker_flags))
                envs[name]["SAPT_WARM"] = str(sock)
        walls = {v[0]: [] for v in variants}
        for r in range(args.rounds):
            order = variants if r % 2 == 0 else variants[::-1]
            for name, _, extra, _ in order:
                out = work / name.replace(" ", "_") / f"round{r}"
                out.mkdir(parents=True, exist_ok=True)
                cmd = [sys.executable, "-m", "sapt_core.cli", *redirect(command, out, OUTPUT_FLAGS), *extra]
                t0 = time.perf_counter()
                res = subprocess.run(cmd, env=envs[name], capture_output=True, text=True)
                walls[name].append(time.perf_counter() - t0)
                (out / "log.txt").write_text(res.stdout + res.stderr)
                if res.returncode:
                    raise SystemExit(f"{name} round {r}: exit {res.returncode}\n{res.stderr[-3000:]}")
                print(f"round {r} {name}: {walls[name][-1]:.2f} s", flush=True)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
            w.wait(timeout=60)
    cpus = {}
    if not args.no_warm:  # the worker logs each command's CPU seconds (its `end` lines, in the order run)
        for i, (name, *_) in enumerate(variants):
            ends = [ln.split() for ln in (work / f"warm-{i}.log").read_text().splitlines() if ln.startswith("end ")]
            cpus[name] = [float(p[7]) for p in ends if len(p) > 7]
    first = variants[0][0]
    print(f"\n| variant | median wall s | min s | runs | median vs {first} | min vs {first} |")
    print("|---|---|---|---|---|---|")
    m0, n0 = statistics.median(walls[first]), min(walls[first])
    for name, *_ in variants:
        m, n = statistics.median(walls[name]), min(walls[name])
        print(f"| {name} | {m:.2f} | {n:.2f} | {', '.join(f'{x:.2f}' for x in walls[name])} | {m / m0:.3f}x | "
              f"{n / n0:.3f}x |")
    if cpus.get(first):
        c0 = statistics.median(cpus[first])
        print(f"\n| variant | median CPU s | runs | vs {first} |")
        print("|---|---|---|---|")
        for name, *_ in variants:
            c = statistics.median(cpus[name])
            print(f"| {name} | {c:.2f} | {', '.join(f'{x:.2f}' for x in cpus[name])} | {c / c0:.3f}x |")
    print("\n| output | identical across variants and rounds |")
    print("|---|---|")
    for what in COMPARED:
        ds = {digest(work / name.replace(" ", "_") / f"round{r}", what) for name, *_ in variants
              for r in range(args.rounds)}
        print(f"| {what} | {'yes' if len(ds) == 1 and None not in ds else 'absent' if ds == {None} else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
