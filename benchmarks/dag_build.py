"""Benchmark: how long Snakemake takes to build the paper grid's DAG, split into phases, in one process.

    .venv/bin/python benchmarks/dag_build.py [--configfile config/paper.yaml] [--target all_tables] [--rounds 1]

Runs ``snakemake -n --quiet rules <target> --configfile <file>`` in-process and times, in wall and CPU seconds:
  1. start-up + parsing (importing Snakemake and its plugins, reading the Snakefile, config validation, ``plan``);
  2. the DAG build proper (``Workflow._build_dag``: matching every input to a rule output, instantiating jobs,
     evaluating input / params functions, deciding what needs to run);
  3. the dry-run record of every job (resources, shell command and file lists formatted per job, even when
     ``--quiet rules`` prints only the per-rule counts), then the summary.
Each round runs in a fresh subprocess (Snakemake keeps global state), so rounds are independent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

_CHILD = r"""
import json, os, sys, time
t0, c0 = time.perf_counter(), time.process_time()
marks = {}
import snakemake.api
from snakemake import workflow as wf
orig = wf.Workflow._build_dag
def timed(self, *a, **k):
    marks["build_start"] = (time.perf_counter(), time.process_time())
    try:
        return orig(self, *a, **k)
    finally:
        marks["build_end"] = (time.perf_counter(), time.process_time())
wf.Workflow._build_dag = timed
from snakemake.cli import main
sys.argv = ["snakemake"] + json.loads(os.environ["DAG_BENCH_ARGS"])
try:
    main()
except SystemExit as e:
    code = e.code
else:
    code = 0
t1, c1 = time.perf_counter(), time.process_time()
(bs, bcs), (be, bce) = marks["build_start"], marks["build_end"]
print("DAG_BENCH " + json.dumps(dict(code=code, startup_wall=bs - t0, startup_cpu=bcs - c0, build_wall=be - bs,
      build_cpu=bce - bcs, records_wall=t1 - be, records_cpu=c1 - bce, total_wall=t1 - t0, total_cpu=c1 - c0)))
"""


def one_round(args: argparse.Namespace) -> dict:
    sm_args = ["-n", "--quiet", "rules", "--configfile", args.configfile, "--", args.target]
    env = dict(os.environ, DAG_BENCH_ARGS=json.dumps(sm_args))
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("DAG_BENCH ")]
    if out.returncode != 0 or not lines:
        sys.exit(f"dag_build: snakemake failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    res = json.loads(lines[-1][len("DAG_BENCH "):])
    if res["code"] not in (0, None):
        sys.exit(f"dag_build: snakemake exited {res['code']}:\n{out.stderr[-3000:]}")
    jobs = [line for line in out.stderr.splitlines() + out.stdout.splitlines() if line.startswith("total")]
    res["jobs"] = int(jobs[-1].split()[-1]) if jobs else None
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configfile", default="config/paper.yaml")
    p.add_argument("--target", default="all_tables")
    p.add_argument("--rounds", type=int, default=1)
    args = p.parse_args()
    rows = []
    for i in range(args.rounds):
        t = time.perf_counter()
        rows.append(one_round(args))
        print(f"round {i + 1}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    print(f"config={args.configfile} target={args.target} jobs={rows[0]['jobs']} rounds={args.rounds} "
          f"cores={os.cpu_count()}")
    print("\n| phase | wall s | CPU s |\n|---|---|---|")
    for phase, label in (("startup", "start-up + parsing"), ("build", "DAG build (Workflow._build_dag)"),
                         ("records", "dry-run job records + summary"), ("total", "total")):
        wall = sorted(r[f"{phase}_wall"] for r in rows)[len(rows) // 2]
        cpu = sorted(r[f"{phase}_cpu"] for r in rows)[len(rows) // 2]
        print(f"| {label} | {wall:.1f} | {cpu:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
