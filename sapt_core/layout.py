"""Where everything the workflow writes lives under ``results/``: the one definition of the layout.

Every function formats its arguments into a path, so passing Snakemake wildcard names (``"{benchmark}"``) gives the
rule's output pattern and passing values gives one job's file; rules, the planner, tables, figures and the results
index all use these, and :func:`parse_run_dir` reads a run's identity back from its directory.

A run is (benchmark, order, backbone, method, seed); its T tasks are the steps ``step1 .. stepT`` of the chain.
"""

from __future__ import annotations

import re

RESULTS = "results"
RUN_KEYS = ("benchmark", "order", "backbone", "method", "seed")


# ---- data ------------------------------------------------------------------------------------------------------------
UPSTREAM_DATA_ROOT = f"{RESULTS}/upstream"
"""The project-local data root: the upstream files as ``sapt fetch-data`` verified them (the default ``data_root``)."""
UPSTREAM_MARKER = "verified.json"
UPSTREAM_VERIFIED = f"{UPSTREAM_DATA_ROOT}/{UPSTREAM_MARKER}"
"""Written last by ``fetch-data``: the project-local data root is complete and verified (rule ``fetch_data``)."""


def data_dir(protocol, seed, benchmark, task) -> str:
    """A prepared task: train/val/test.jsonl + manifest.json (``sapt prepare-data``)."""
    return f"{RESULTS}/data/{protocol}/seed{seed}/{benchmark}/{task}"


def data_root_dir(protocol, seed, benchmark) -> str:
    """The directory ``prepare-data --out`` fills with one sub-directory per task."""
    return f"{RESULTS}/data/{protocol}/seed{seed}/{benchmark}"


def backbone_dir(backbone) -> str:
    """A backbone built by the workflow (tiny backbones): ``save_pretrained`` output."""
    return f"{RESULTS}/backbones/{backbone}"


HUB_CACHE = f"{RESULTS}/hub"
"""The default ``hub_cache``: where rule ``fetch_backbone`` puts hub backbones (the hub's cache layout)."""


def hub_manifest(backbone) -> str:
    """What rule ``fetch_backbone`` fetched of a hub backbone into ``hub_cache`` (:mod:`sapt_core.models.hub`)."""
    return f"{backbone_dir(backbone)}/hub.json"


def lora_sites_file(backbone) -> str:
    """The modules a backbone's configured LoRA sites match (rule ``check_lora_sites``, :mod:`sapt_core.models.site_check`)."""
    return f"{backbone_dir(backbone)}/lora_sites.json"


# ---- continual runs --------------------------------------------------------------------------------------------------
def run_dir(benchmark, order, backbone, method, seed) -> str:
    return f"{RESULTS}/runs/{benchmark}/{order}/{backbone}/{method}/seed{seed}"


def step_dir(benchmark, order, backbone, method, seed, k) -> str:
    return f"{run_dir(benchmark, order, backbone, method, seed)}/step{k}"


def state_dir(benchmark, order, backbone, method, seed, k) -> str:
    """Step k's state: state.safetensors + state.json (:mod:`sapt_core.state`)."""
    return f"{step_dir(benchmark, order, backbone, method, seed, k)}/state"


def metrics_file(benchmark, order, backbone, method, seed) -> str:
    return f"{run_dir(benchmark, order, backbone, method, seed)}/metrics.json"


def unseen_scores_file(benchmark, order, backbone, method, seed) -> str:
    """Table 3: the run's final model on the unseen tasks."""
    return f"{run_dir(benchmark, order, backbone, method, seed)}/unseen_scores.json"


_RUN_RE = re.compile(rf"(?:^|/){RESULTS}/runs/(?P<benchmark>[^/]+)/(?P<order>[^/]+)/(?P<backbone>[^/]+)/"
                     r"(?P<method>[^/]+)/seed(?P<seed>\d+)(?:/|$)")


def parse_run_dir(path) -> dict | None:
    """{benchmark, order, backbone, method, seed} of a path inside a run directory (seed as int), else None."""
    m = _RUN_RE.search(str(path).replace("\\", "/"))
    if not m:
        return None
    out = m.groupdict()
    out["seed"] = int(out["seed"])
    return out


# ---- shared jobs -----------------------------------------------------------------------------------------------------
def single_task_dir(benchmark, backbone, reference, seed, task) -> str:
    """a_{0,t}: one task trained alone with a method family's recipe (``reference`` names that recipe)."""
    return f"{RESULTS}/single_task/{benchmark}/{backbone}/{reference}/seed{seed}/{task}"


def generator_file(benchmark, backbone, pet, seed, task) -> str:
    """ARM's generator B_ref of one task (paper section 4.3)."""
    return f"{RESULTS}/generators/{benchmark}/{backbone}/{pet}/seed{seed}/{task}/gen.safetensors"


def pseudo_file(benchmark, backbone, pet, seed, source, volume, task) -> str:
    """The pseudo inputs G_t of one task at one replay volume."""
    return f"{RESULTS}/pseudo/{benchmark}/{backbone}/{pet}/seed{seed}/{source}-v{volume}/{task}.jsonl"


def zero_shot_scores(benchmark, backbone, seed) -> str:
    """Table 3's zero-shot row: the backbone alone on a benchmark's tasks."""
    return f"{RESULTS}/zero_shot/{benchmark}/{backbone}/seed{seed}/scores.json"


# ---- report ----------------------------------------------------------------------------------------------------------
def table_file(table, ext="md") -> str:
    return f"{RESULTS}/tables/{table}.{ext}"


def figure_file(figure, ext="png") -> str:
    return f"{RESULTS}/figures/{figure}.{ext}"


RESULTS_INDEX = f"{RESULTS}/README.md"
RUNS_CSV = f"{RESULTS}/runs.csv"


def log_file(rule, *parts) -> str:
    return "/".join([f"{RESULTS}/logs/{rule}", *map(str, parts)]) + ".log"


def benchmark_file(rule, *parts) -> str:
    return "/".join([f"{RESULTS}/benchmarks/{rule}", *map(str, parts)]) + ".tsv"
