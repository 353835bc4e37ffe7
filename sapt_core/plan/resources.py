"""What each model job requests from the scheduler: GPUs, CPUs, memory and runtime per rule, from the backbone table.

Three kinds of job (docs/cluster.md):
  * ``train``: training that runs one rank per GPU under torchrun (train_step, single_task, train_generator): the
    backbone's ``resources`` as they are, so a 4-GPU backbone gets its 4 GPUs;
  * ``infer``: one process that loads the backbone (evaluate_unseen, zero_shot_unseen, generate_pseudo sampling from
    the generator): at most one GPU, with the backbone's CPUs and memory per GPU;
  * ``cpu``: a job that loads no model (generate_pseudo with the shipped or real pseudo inputs): no GPU, the same
    small request as the profile's ``default-resources`` give the data, metrics and table rules.
The rules state nothing but ``resources: **job_resources("<rule>")`` (workflow/rules/common.smk).
"""

from __future__ import annotations

import math

TRAIN, INFER, CPU = "train", "infer", "cpu"
RULE_KINDS = {"train_step": TRAIN, "single_task": TRAIN, "train_generator": TRAIN,
              "evaluate_unseen": INFER, "zero_shot_unseen": INFER}
RESOURCE_KEYS = ("gpu", "mem_mb", "runtime", "cpus_per_task")
# a job without a model (the values of workflow/profiles/slurm's default-resources)
CPU_JOB = {"gpu": 0, "mem_mb": 4000, "runtime": 30, "cpus_per_task": 1}


class ResourcePlan:
    """Per-job requests; mixed into :class:`sapt_core.plan.ContinualPlan` beside the backbone table."""

    def job_kind(self, rule: str, wc) -> str:
        if rule == "generate_pseudo":  # only sampling from the generator loads the backbone
            return INFER if wc.source == "generated" else CPU
        return RULE_KINDS[rule]

    def kind_resources(self, kind: str, backbone: str) -> dict:
        """``gpu``, ``mem_mb``, ``runtime`` (first attempt), ``cpus_per_task`` of a ``kind`` job on ``backbone``."""
        cache = self.__dict__.setdefault("_resources_cache", {})  # ~40k lookups on the paper grid
        if (kind, backbone) not in cache:
            cache[kind, backbone] = self._kind_resources(kind, backbone)
        return cache[kind, backbone]

    def _kind_resources(self, kind: str, backbone: str) -> dict:
        if kind == CPU:
            return dict(CPU_JOB)
        r = {key: self.resources(backbone, key) for key in RESOURCE_KEYS}
        n = int(r["gpu"])
        if kind == INFER and n > 1:  # one process on one GPU: the backbone's per-GPU share of CPUs and memory
            r = {"gpu": 1, "mem_mb": math.ceil(r["mem_mb"] / n), "runtime": r["runtime"],
                 "cpus_per_task": max(1, r["cpus_per_task"] // n)}
        return r

    def job_resource(self, rule: str, wc, key: str, attempt: int = 1):
        """One resource of one job; the runtime grows with the attempt (the profile's retries)."""
        value = self.kind_resources(self.job_kind(rule, wc), wc.backbone)[key]
        return value * attempt if key == "runtime" else value

    def job_threads(self, rule: str, wc) -> int:
        """Threads of a job (Snakemake exports them as OMP_NUM_THREADS): 1 for tiny CPU backbones, whose jobs are
        dominated by single-threaded start-up, so two run side by side on 2 cores; else its ``cpus_per_task``."""
        if "tiny" in self.backbone(wc.backbone):
            return 1
        return int(self.job_resource(rule, wc, "cpus_per_task"))
