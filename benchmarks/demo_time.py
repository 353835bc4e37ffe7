"""Where the time of a workflow run goes: job seconds per rule from Snakemake's ``benchmark:`` files.

    python benchmarks/demo_time.py [RESULTS_DIR] [--log SNAKEMAKE_LOG] [--warm-log results/logs/warm.log]

Prints one row per rule (jobs, wall seconds summed, mean and max per job, share of all job time) and, with
``--log``, the run's elapsed time from the Snakemake log next to the job time divided by the cores used. With
``--warm-log`` (``./run demo`` writes it), the same per ``sapt`` command for every job the worker served, the
report jobs (which have no benchmark file) included. Wall
seconds of a job include its start-up (a fork of the ``sapt warm`` worker under ``./run demo``, a fresh interpreter
otherwise); the files' CPU and memory columns measure the job's own process only, so they are not summed here.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import defaultdict
from pathlib import Path


def job_seconds(results: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    timings = results / "timings" if (results / "timings").is_dir() else results / "benchmarks"  # before 2026-12-05
    for tsv in sorted(timings.rglob("*.tsv")):
        rule = tsv.relative_to(timings).parts[0]
        with tsv.open(newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows:
            out[rule].append(float(rows[-1]["s"]))
    return out


def warm_seconds(log: Path) -> dict[str, list[float]]:
    """``sapt <command>`` -> seconds of each command the warm worker ran (its ``start`` / ``end`` lines)."""
    started, out = {}, defaultdict(list)
    for line in log.read_text(errors="replace").splitlines():
        parts = line.split()
        if parts[:1] == ["start"] and len(parts) > 3:
            started[parts[1]] = parts[3]
        elif parts[:1] == ["end"] and parts[1] in started:
            out[started.pop(parts[1])].append(float(parts[4]))
    return out


def table(per: dict[str, list[float]], what: str) -> None:
    total = sum(sum(v) for v in per.values())
    print(f"| {what} | jobs | job s (sum) | mean s | max s | share |")
    print("|---|---|---|---|---|---|")
    for name, secs in sorted(per.items(), key=lambda kv: -sum(kv[1])):
        print(f"| {name} | {len(secs)} | {sum(secs):.0f} | {sum(secs) / len(secs):.1f} | {max(secs):.1f} | "
              f"{100 * sum(secs) / total:.0f}% |")
    n = sum(len(v) for v in per.values())
    print(f"| all | {n} | {total:.0f} | {total / max(n, 1):.1f} | | 100% |")


def elapsed(log: Path) -> float | None:
    m = re.search(r"Elapsed time: (\d+):(\d+):(\d+(?:\.\d+)?)", log.read_text(errors="replace"))
    return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="?", default="results", type=Path)
    p.add_argument("--log", type=Path, default=None, help="the Snakemake log of the run (its elapsed time)")
    p.add_argument("--warm-log", type=Path, default=None, help="the sapt warm worker's log (./run demo)")
    p.add_argument("--cores", type=int, default=2)
    args = p.parse_args(argv)
    per_rule = job_seconds(args.results)
    total = sum(sum(v) for v in per_rule.values())
    table(per_rule, "rule (jobs with a benchmark file)")
    if args.warm_log:
        print()
        table(warm_seconds(args.warm_log), "sapt command (every job the worker served)")
    if args.log:
        e = elapsed(args.log)
        if e:
            print(f"\nelapsed {e / 60:.1f} min; job time / {args.cores} cores = {total / args.cores / 60:.1f} min "
                  f"(the rest: Snakemake's scheduling, jobs without a benchmark file, cores idle)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
