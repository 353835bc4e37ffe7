# Shared helpers: config access, paths and the per-job functions of the model rules. Logic lives in sapt_core.plan
# (plain Python, unit-tested); every results/ path comes from sapt_core.layout.
import inspect
import os

from snakemake.exceptions import WorkflowError

from sapt_core import layout, plan
from sapt_core.data.root import workflow_data_root
from sapt_core.errors import SaptError
from sapt_core.settings.names import SAFE_NAME_RE

# --config data_root > $SAPT_DATA_ROOT > the config file's. DATA_READY: what a job reading the data root needs (the
# marker of rule fetch_data for the project-local root); any other root is checked now, before any job runs.
try:
    DATA_ROOT, DATA_READY = workflow_data_root(config, workflow.config_settings.config)
except SaptError as e:
    raise WorkflowError(str(e)) from None
PLAN = plan.ContinualPlan(config, data_root=DATA_ROOT)


wildcard_constraints:
    seed=r"\d+",
    pet="lora|prompt",
    reference=r"(lora|prompt)-[0-9a-f]{10}",
    protocol="official|paper",
    k=r"\d+",
    order=SAFE_NAME_RE.pattern.strip("^$"),  # sapt_core/settings/names.py
    source="generated|shipped|real",
    volume=r"[0-9.]+",


def demo_targets():
    return PLAN.demo_targets()


def per_job(func):
    """Mark an input / params / resources function that Snakemake evaluates once per job. Snakemake inspects such a
    function's signature on every evaluation (inspect.signature, 1-2 times per call, ~300k calls on the paper grid);
    the signature stored once (PEP 362 ``__signature__``) makes that a lookup."""
    func.__signature__ = inspect.signature(func)
    return func


# the per-backbone functions of the model rules; what each rule's jobs request (GPUs, CPUs, memory, runtime) is
# sapt_core.plan.resources: `threads: job_threads("<rule>")`, `resources: **job_resources("<rule>")`
backbone_path = per_job(lambda wc: PLAN.backbone_path(wc.backbone))
backbone_input = per_job(lambda wc: PLAN.backbone_input(wc.backbone))
backbone_env = per_job(lambda wc: PLAN.hub_env(wc.backbone))  # hub backbones: offline, from hub_cache


def job_threads(rule):
    return per_job(lambda wc: PLAN.job_threads(rule, wc))


def job_resources(rule):
    return {key: per_job(lambda wc, attempt, key=key: PLAN.job_resource(rule, wc, key, attempt))
            for key in plan.resources.RESOURCE_KEYS}


task_data_dir = per_job(lambda wc: PLAN.data_dir(wc.benchmark, wc.task, wc.seed))
# a task's data manifest: a function, since the data protocol is chosen per benchmark (data.benchmark_protocol)
task_manifest = per_job(lambda wc: PLAN.data_manifest(wc.benchmark, wc.task, wc.seed))
# wildcard patterns: a run, its step k, a single-task run
RUN = ("{benchmark}", "{order}", "{backbone}", "{method}", "{seed}")
STEP = (*RUN, "{k}")
RUN_PARTS = "{benchmark}/{order}/{backbone}/{method}/seed{seed}"
SINGLE = ("{benchmark}", "{backbone}", "{reference}", "{seed}", "{task}")
SINGLE_PARTS = "{benchmark}/{backbone}/{reference}/seed{seed}/{task}"
