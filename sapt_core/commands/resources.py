"""``sapt resources``: what a Snakemake target would request from a cluster, before anything is submitted.

Runs Snakemake's own dry run of the target (``snakemake -n``, the same DAG, per-job resource functions, profile
``default-resources`` / ``set-resources`` and ``--config`` a real run would use) and sums the jobs' requests by rule,
backbone and GPUs per job: jobs, GPUs per job, minutes per job (first attempt) and GPU-hours (GPUs x runtime). Only
jobs that would run are counted (outputs already built are not), unless ``--all`` (Snakemake's ``--forceall``).
The paper grid (config/paper.yaml, all_tables) takes about as long as its dry run (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field

from sapt_core.errors import SaptError

# a job record of Snakemake's dry run: "rule NAME:" / "localrule NAME:", then indented "key: value" lines
_RECORD = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
_FIELD = re.compile(r"^\s+(wildcards|resources): (.*)$")
_TOTAL = re.compile(r"^total\s+(\d+)\s*$")  # the last line of Snakemake's "Job stats" table


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="+", help="Snakemake targets (rules or files), e.g. table1, all_tables")
    p.add_argument("--configfile", nargs="+", default=[], help="as snakemake --configfile (e.g. config/paper.yaml)")
    p.add_argument("--config", nargs="+", default=[], help="as snakemake --config KEY=VALUE")
    p.add_argument("--profile", default=None, help="as snakemake --profile (its set-resources / default-resources)")
    p.add_argument("--all", action="store_true", help="count every job of the targets, built or not (--forceall)")
    p.add_argument("--snakefile", default=None, help="default: the Snakefile of the current directory")


@dataclass
class Summary:
    """Requests summed per (rule, backbone, GPUs per job): jobs and minutes (runtime) of the first attempt."""
    rows: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    stated_total: int | None = None  # the dry run's own job count ("Job stats"), to check the records against

    def add(self, rule: str, wildcards: dict, resources: dict) -> None:
        gpus = _int(resources.get("gpu", 0))
        minutes = _int(resources.get("runtime", 0))
        row = self.rows[(rule, wildcards.get("backbone", "-"), gpus)]
        row[0] += 1
        row[1] += minutes

    @property
    def jobs(self) -> int:
        return sum(n for n, _ in self.rows.values())

    @property
    def gpu_hours(self) -> float:
        return sum(gpus * minutes for (_, _, gpus), (_, minutes) in self.rows.items()) / 60

    def gpu_jobs(self) -> int:
        return sum(n for (_, _, gpus), (n, _) in self.rows.items() if gpus > 0)

    def table(self) -> str:
        """Markdown: one row per (rule, backbone, GPUs per job), GPU rows first by GPU-hours, then the total."""
        lines = ["| rule | backbone | GPUs/job | jobs | min/job | GPU-hours |", "|---|---|---|---|---|---|"]
        order = sorted(self.rows.items(), key=lambda kv: (-kv[0][2] * kv[1][1], kv[0][0], kv[0][1]))
        for (rule, backbone, gpus), (n, minutes) in order:
            per_job = f"{minutes / n:g}" if minutes else "-"
            lines.append(f"| {rule} | {backbone} | {gpus} | {n} | {per_job} | {gpus * minutes / 60:,.1f} |")
        lines.append(f"| **total** | | | **{self.jobs}** ({self.gpu_jobs()} with GPUs) | | **{self.gpu_hours:,.1f}** |")
        return "\n".join(lines)


def _int(value: str | int) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _pairs(text: str) -> dict:
    """``a=1, b=x`` -> {a: 1, b: x}; values may hold ``,`` or ``=`` without a following blank (method variants)."""
    out = {}
    for part in text.split(", "):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_dry_run(lines) -> Summary:
    """Sum the job records of a ``snakemake -n`` output (its lines, any iterable) into a :class:`Summary`."""
    summary, rule, fields = Summary(), None, {}

    def flush():
        if rule is not None:
            summary.add(rule, _pairs(fields.get("wildcards", "")), _pairs(fields.get("resources", "")))

    for line in lines:
        line = line.rstrip("\n")
        m = _RECORD.match(line)
        if m:
            flush()
            rule, fields = m.group(1), {}
            continue
        f = _FIELD.match(line) if rule is not None else None
        if f:
            fields[f.group(1)] = f.group(2)
        t = _TOTAL.match(line)
        if t:
            summary.stated_total = int(t.group(1))
    flush()
    return summary


def snakemake_command(args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", "--dry-run"]
    if args.snakefile:
        cmd += ["--snakefile", args.snakefile]
    if args.profile:
        cmd += ["--profile", args.profile]
    if args.configfile:
        cmd += ["--configfile", *args.configfile]
    if args.config:
        cmd += ["--config", *args.config]
    if args.all:
        cmd.append("--forceall")
    return [*cmd, "--", *args.targets]


def summarize(args: argparse.Namespace) -> Summary:
    cmd = snakemake_command(args)
    tail: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}) as proc:
        def lines():
            for line in proc.stdout:
                tail.append(line)
                del tail[:-20]
                yield line
        summary = parse_dry_run(lines())
    if proc.returncode != 0:  # Snakemake's own message: its tail from the first line naming an error
        lines = [t.strip() for t in tail if t.strip()]
        first = next((i for i, t in enumerate(lines) if re.search(r"Exception|Error|error", t)), 0)
        last = " | ".join(lines[first:])[-1500:]
        raise SaptError(f"snakemake dry run of {' '.join(args.targets)} failed (exit {proc.returncode}): {last}")
    if summary.stated_total is not None and summary.stated_total != summary.jobs:
        raise SaptError(f"snakemake dry run of {' '.join(args.targets)}: {summary.jobs} job records for "
                        f"{summary.stated_total} jobs (does the profile set quiet? the records are what is summed)")
    return summary


def run(args: argparse.Namespace) -> int:
    summary = summarize(args)
    where = " ".join(args.configfile) or "the Snakefile's config"
    print(f"{' '.join(args.targets)} ({where}{', every job' if args.all else ', jobs that would run'}): "
          f"{summary.jobs} jobs, {summary.gpu_hours:,.1f} GPU-hours requested (GPUs x runtime, first attempt)\n")
    print(summary.table())
    return 0
