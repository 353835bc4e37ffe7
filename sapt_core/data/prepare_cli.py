"""``sapt prepare-data``: the command line of :mod:`sapt_core.data.prepare` (its flags, their parsing and the
run over the chosen tasks: every task read and validated by :func:`~sapt_core.data.prepare.build_task` before any is
written by :func:`~sapt_core.data.prepare.write_task`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sapt_core.settings.benchmarks import BENCHMARKS_FILE, find_benchmark, get_benchmark, get_task, load_benchmarks
from sapt_core.data.prepare import PROTOCOLS, SPLITS, TEST_SEED, _fraction, build_task, write_task
from sapt_core.data.root import add_data_root_argument, default_data_root
from sapt_core.errors import SaptError
from sapt_core.models.backbone import FAMILIES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = (
        "Sample deterministic train/val/test splits of benchmark tasks as JSONL + manifest.json.\n\n"
        "Output: with --out ROOT every task goes to ROOT/<task>/; with --out-task-dir DIR the single --task is\n"
        "written directly into DIR. Each task dir holds train.jsonl, val.jsonl, test.jsonl (test only for test-only\n"
        "benchmarks), pseudo.jsonl with --pseudo, and manifest.json, written last. All tasks are read and validated\n"
        "before anything is written. Bad input: one 'error: ...' line on stderr naming the file/field, exit 2.")
    add_data_root_argument(p)
    p.add_argument("--benchmarks", default=BENCHMARKS_FILE, metavar="YAML",
                   help="benchmark definitions (default: %(default)s)")
    p.add_argument("--benchmark", metavar="NAME", help="benchmark name (inferred from --task when omitted)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--task", nargs="+", metavar="TASK", help="one or more tasks of the benchmark")
    which.add_argument("--all", action="store_true", help="every task of --benchmark")
    p.add_argument("--protocol", choices=PROTOCOLS, default="official",
                   help="official: shipped files; paper: paper section 5.1.1 sizes (default: %(default)s)")
    p.add_argument("--seed", required=True, metavar="INT", help="sampling seed (required)")
    p.add_argument("--n-train", metavar="N", help="cap on train (positive int; class-stratified for accuracy tasks)")
    p.add_argument("--n-val", metavar="N", help="val size, held out from train (default: --val-fraction of train)")
    p.add_argument("--n-test", metavar="N", help="cap on test (positive int; class-stratified for accuracy tasks)")
    p.add_argument("--val-fraction", default="0.05", metavar="F", help="val held out from train (default: 0.05)")
    p.add_argument("--test-fraction", default="0.1", metavar="F",
                   help="derived test held out from train when test.json is missing (default: 0.1)")
    p.add_argument("--redraw-test", action="store_true",
                   help=f"draw the test subsets with --seed (default: the fixed seed {TEST_SEED}, the same for every "
                        "seed)")
    p.add_argument("--pseudo", choices=FAMILIES, help="also write the authors' pseudo samples as pseudo.jsonl")
    p.add_argument("--upstream-manifest", default=None, metavar="JSON",
                   help="the pinned upstream file list the sources are compared with "
                        "(default: config/upstream_manifest.json)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", metavar="ROOT", help="output root: task T goes to ROOT/T/")
    out.add_argument("--out-task-dir", metavar="DIR", help="output dir of the single --task")


def _parse_int(flag: str, s: str | None, positive: bool):
    if s is None:
        return None
    try:
        v = int(s)
    except ValueError:
        raise SaptError(f"{flag}: expected {'a positive' if positive else 'an'} integer, got {s!r}") from None
    if positive and v <= 0:
        raise SaptError(f"{flag}: expected a positive integer, got {s!r}")
    return v


def _parse_fraction(flag: str, s: str) -> float:
    try:
        return _fraction(flag, float(s))
    except ValueError:
        raise SaptError(f"{flag}: expected a number strictly between 0 and 1, got {s!r}") from None


def run(args: argparse.Namespace) -> int:
    seed = _parse_int("--seed", args.seed, positive=False)
    caps = {k: _parse_int(f"--n-{k}", getattr(args, f"n_{k}"), positive=True) for k in SPLITS}
    fracs = _parse_fraction("--val-fraction", args.val_fraction), _parse_fraction("--test-fraction", args.test_fraction)
    benches = load_benchmarks(args.benchmarks)
    if args.all:
        if not args.benchmark:
            raise SaptError("--all: needs --benchmark")
        bench = get_benchmark(benches, args.benchmark)
        tasks = list(bench.tasks)
    else:
        tasks = list(dict.fromkeys(args.task))
        if args.benchmark:
            bench = get_benchmark(benches, args.benchmark)
        else:
            found = {find_benchmark(benches, t).name for t in tasks}
            if len(found) > 1:
                raise SaptError(f"--task: tasks from several benchmarks ({', '.join(sorted(found))}); pass --benchmark")
            bench = benches[found.pop()]
        for t in tasks:
            get_task(bench, t)
    if args.out_task_dir and len(tasks) != 1:
        raise SaptError(f"--out-task-dir: takes exactly one --task, got {len(tasks)}")
    root = args.data_root or default_data_root()
    built = [(t, build_task(root, benches, bench.name, t, args.protocol, seed, caps["train"], caps["val"],
                            caps["test"], *fracs, args.pseudo, args.redraw_test, args.upstream_manifest))
             for t in tasks]
    for t, prepared in built:
        dest = Path(args.out_task_dir) if args.out_task_dir else Path(args.out) / t
        m = write_task(prepared, dest)
        counts = " ".join(f"{s} {n}" for s, n in m["counts"].items())
        n_dropped = sum(m["dropped"][s] for s in SPLITS)
        notes = [f"dropped {n_dropped} not in labels"] if n_dropped else []
        notes += (["derived test"] if m["derived"] else []) + ([] if m["upstream"] == "match" else ["not upstream"])
        note = f" ({'; '.join(notes)})" if notes else ""
        print(f"{bench.name}/{t}: {counts}{note} -> {dest}")
        if m.get("val_note"):
            print(f"note: {bench.name}/{t}: {m['val_note']}", file=sys.stderr)
    return 0
