"""Where everything the workflow writes lives under ``results/``: the one definition of the layout.

Every function formats its arguments into a path, so passing Snakemake wildcard names (``"{benchmark}"``) gives the
rule's output pattern and passing values gives one job's file; rules, the planner, tables, figures and the results
index all use these, and :func:`parse_run_dir` reads a run's identity back from its directory. The names of the files
a command writes into a directory it is given (``--state-out``, ``--out``, ``--run-dir``) are the constants below, so
the commands and the rules that declare those files agree: a rule passes the directory and lists the files, and
never derives one from the other.

A run is (benchmark, order, backbone, method, seed); its T tasks are the steps ``step1 .. stepT`` of the chain.
"""

from __future__ import annotations

import re

RESULTS = "results"
RUN_KEYS = ("benchmark", "order", "backbone", "method", "seed")

# ---- file names inside a directory a command is given ----------------------------------------------------------------
STATE_SUBDIR = "state"
"""A step's (or single-task run's) state directory, inside its step directory."""
STATE_TENSORS = "state.safetensors"
STATE_SIDECAR = "state.json"
"""A state directory: the tensors and their sidecar (:mod:`sapt_core.state`)."""
DATA_MANIFEST = "manifest.json"
"""A prepared task directory's manifest, written last (:mod:`sapt_core.data.prepare`)."""
SCORES = "scores.json"
PREDICTIONS = "predictions.jsonl"
ATTENTION = "attention.json"
"""What a step (or single-task run) writes beside its state: scores, per-instance predictions, block weights."""
METRICS = "metrics.json"
MATRIX = "matrix.csv"
"""A run's metrics and score matrix (``sapt run-metrics``)."""
BACKBONE_CONFIG = "config.json"
"""The file ``save_pretrained`` writes into a backbone directory (the model's config)."""
GENERATOR_TENSORS = "gen.safetensors"
GENERATOR_SIDECAR = "gen.json"
"""ARM's generator B_ref of one task and its sidecar (``sapt train-generator``)."""



def _inside(directory, name: str, doc: str = ""):
    """The path function of the file ``name`` inside ``directory(...)``, with ``directory``'s arguments (so a rule
    can pass wildcard names and the planner values, as to every function here)."""
    import inspect

    def path(*key) -> str:
        return f"{directory(*key)}/{name}"

    path.__signature__, path.__doc__ = inspect.signature(directory), doc or f"``{name}`` of :func:`{directory.__name__}`"
    return path

def split_file_name(split: str) -> str:
    """A prepared split's file inside a task directory: ``train.jsonl``, ``val.jsonl``, ``test.jsonl``,
    ``pseudo.jsonl``."""
    return f"{split}.jsonl"


TRAIN_FILE = split_file_name("train")


def step_name(k) -> str:
    """Step k's directory inside a run directory."""
    return f"step{k}"


# ---- data ------------------------------------------------------------------------------------------------------------
UPSTREAM_DATA_ROOT = f"{RESULTS}/upstream"
"""The project-local data root: the upstream files as ``sapt fetch-data`` verified them (the default ``data_root``)."""
UPSTREAM_MARKER = "verified.json"
UPSTREAM_VERIFIED = f"{UPSTREAM_DATA_ROOT}/{UPSTREAM_MARKER}"
"""Written last by ``fetch-data``: the project-local data root is complete and verified (rule ``fetch_data``)."""


def data_root_dir(protocol, seed, benchmark) -> str:
    """The directory ``prepare-data --out`` fills with one sub-directory per task."""
    return f"{RESULTS}/data/{protocol}/seed{seed}/{benchmark}"


def data_dir(protocol, seed, benchmark, task) -> str:
    """A prepared task: train/val/test.jsonl + manifest.json (``sapt prepare-data``)."""
    return f"{data_root_dir(protocol, seed, benchmark)}/{task}"


def data_split_file(protocol, seed, benchmark, task, split) -> str:
    return f"{data_dir(protocol, seed, benchmark, task)}/{split_file_name(split)}"


data_manifest = _inside(data_dir, DATA_MANIFEST)


def backbone_dir(backbone) -> str:
    """A backbone built by the workflow (tiny backbones): ``save_pretrained`` output."""
    return f"{RESULTS}/backbones/{backbone}"


backbone_config = _inside(backbone_dir, BACKBONE_CONFIG,
                          "The file of a built backbone that rules depend on (``save_pretrained``'s config).")


HUB_MANIFEST = "hub.json"
LORA_SITES_FILE = "lora_sites.json"
HUB_CACHE = f"{RESULTS}/hub"
"""The default ``hub_cache``: where rule ``fetch_backbone`` puts hub backbones (the hub's cache layout)."""


hub_manifest = _inside(backbone_dir, HUB_MANIFEST,
                       "What rule ``fetch_backbone`` fetched of a hub backbone into ``hub_cache`` "
                       "(:mod:`sapt_core.models.hub`).")


lora_sites_file = _inside(backbone_dir, LORA_SITES_FILE,
                          "The modules a backbone's own LoRA sites match (rule ``check_lora_sites``, "
                          ":mod:`sapt_core.models.site_check`).")


# ---- continual runs --------------------------------------------------------------------------------------------------
def run_dir(benchmark, order, backbone, method, seed) -> str:
    return f"{RESULTS}/runs/{benchmark}/{order}/{backbone}/{method}/seed{seed}"


def step_dir(benchmark, order, backbone, method, seed, k) -> str:
    return f"{run_dir(benchmark, order, backbone, method, seed)}/{step_name(k)}"


state_dir = _inside(step_dir, STATE_SUBDIR, "Step k's state: state.safetensors + state.json (:mod:`sapt_core.state`).")
state_file = _inside(state_dir, STATE_TENSORS,
                     "Step k's state tensors: the file that stands for the state directory in a rule's inputs and "
                     "outputs.")
state_sidecar = _inside(state_dir, STATE_SIDECAR)
step_scores = _inside(step_dir, SCORES,
                      "Row k of the run's score matrix: the model after step k on the test sets of tasks 1..k.")
step_attention = _inside(step_dir, ATTENTION)
step_predictions = _inside(step_dir, PREDICTIONS)
metrics_file = _inside(run_dir, METRICS)
matrix_file = _inside(run_dir, MATRIX, "The run's score matrix, written beside its metrics.")


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


single_task_state_dir = _inside(single_task_dir, STATE_SUBDIR)
single_task_state_file = _inside(single_task_state_dir, STATE_TENSORS)
single_task_state_sidecar = _inside(single_task_state_dir, STATE_SIDECAR)
single_task_scores = _inside(single_task_dir, SCORES, "a_{0,t}: the single-task model on its own test set.")
single_task_predictions = _inside(single_task_dir, PREDICTIONS)


def generator_dir(benchmark, backbone, pet, seed, task) -> str:
    return f"{RESULTS}/generators/{benchmark}/{backbone}/{pet}/seed{seed}/{task}"


generator_file = _inside(generator_dir, GENERATOR_TENSORS, "ARM's generator B_ref of one task (paper section 4.3).")
generator_sidecar = _inside(generator_dir, GENERATOR_SIDECAR,
                            "What ``sapt train-generator`` writes beside the generator (its ``--out`` with the suffix "
                            "``.json``).")


def pseudo_file(benchmark, backbone, pet, seed, source, volume, task) -> str:
    """The pseudo inputs G_t of one task at one replay volume."""
    return f"{RESULTS}/pseudo/{benchmark}/{backbone}/{pet}/seed{seed}/{source}-v{volume}/{task}.jsonl"


def zero_shot_scores(benchmark, backbone, seed) -> str:
    """Table 3's zero-shot row: the backbone alone on a benchmark's tasks."""
    return f"{RESULTS}/zero_shot/{benchmark}/{backbone}/seed{seed}/{SCORES}"


# ---- report ----------------------------------------------------------------------------------------------------------
def table_prefix(table) -> str:
    """``sapt report-table --out-prefix``: the table's files are this plus ``.md``, ``.csv``, ``.tex``."""
    return f"{RESULTS}/tables/{table}"


def table_file(table, ext="md") -> str:
    return f"{table_prefix(table)}.{ext}"


def figure_prefix(figure) -> str:
    """``sapt report-figure --out-prefix``: the figure's files are this plus ``.png``, ``.pdf``."""
    return f"{RESULTS}/figures/{figure}"


def figure_file(figure, ext="png") -> str:
    return f"{figure_prefix(figure)}.{ext}"


RESULTS_INDEX = f"{RESULTS}/README.md"
RUNS_CSV_NAME = "runs.csv"
RUNS_CSV = f"{RESULTS}/{RUNS_CSV_NAME}"
"""Every run's metrics as one tidy table (``sapt report-runs``)."""


def log_file(rule, *parts) -> str:
    return "/".join([f"{RESULTS}/logs/{rule}", *map(str, parts)]) + ".log"


def timing_file(rule, *parts) -> str:
    """A job's wall time and memory (Snakemake's ``benchmark:`` directive; benchmarks/demo_time.py reads them)."""
    return "/".join([f"{RESULTS}/timings/{rule}", *map(str, parts)]) + ".tsv"


def trainer_log_dir(rule, *parts) -> str:
    """A training job's logger output (config ``logging.report_to``: TensorBoard event files)."""
    return "/".join([f"{RESULTS}/logs/trainer/{rule}", *map(str, parts)])
