"""From the workflow config to per-job paths and arguments (plain Python, no Snakemake import, no torch): the
planner the rules call at parse time. One job's parameters are resolved for that job only, so a config edit reruns
exactly the jobs whose parameters changed.

The plan is one object composed of the parts that do one job each: backbones (:mod:`.backbones`), what each job
requests from a scheduler (:mod:`.resources`), method values
(:mod:`.hparams`), experiments -> runs (:mod:`.experiments`), the model jobs' inputs and arguments (:mod:`.jobs`)
and the report's inputs (:mod:`.report_inputs`); every path comes from :mod:`sapt_core.layout`.
"""

from __future__ import annotations

from sapt_core.plan.backbones import BackbonePlan
from sapt_core.plan.experiments import ZERO_SHOT, ExperimentPlan
from sapt_core.plan.hparams import HparamsPlan, split_variant
from sapt_core.plan.jobs import JobPlan
from sapt_core.plan.report_inputs import ReportPlan
from sapt_core.plan.resources import ResourcePlan
from sapt_core.plan.workflow_config import drop_disabled_experiments

__all__ = ["ContinualPlan", "ZERO_SHOT", "drop_disabled_experiments", "split_variant"]


class ContinualPlan(BackbonePlan, ResourcePlan, HparamsPlan, ExperimentPlan, JobPlan, ReportPlan):
    """Paths, inputs and per-job parameters of the whole DAG for one workflow config."""

    def __init__(self, config: dict, data_root: str):
        self.config = config
        self.data_root = data_root
