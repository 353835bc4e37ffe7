"""sapt_core.layout is the one definition of the results tree: the rules declare, and the commands write, the paths it
names; a rule's wildcard pattern and the planner's value of the same path agree; no rule rebuilds a path itself."""

import inspect
import io
import re
import tokenize

import pytest

from sapt_core import layout

# a value for every argument name of the layout functions (a wildcard of the same name in the rules)
VALUES = {"benchmark": "Long_Sequence", "order": "order3", "backbone": "tiny-t5", "method": "sapt-lora", "seed": 2,
          "k": 3, "protocol": "official", "task": "cb", "reference": "lora-0123456789", "pet": "lora",
          "source": "generated", "volume": 0.02, "split": "val", "table": "table1", "figure": "figure3", "ext": "csv"}
PATH_FUNCTIONS = {name: f for name, f in vars(layout).items() if inspect.isfunction(f) and not name.startswith("_")
                  and f.__module__ == layout.__name__
                  and name not in ("parse_run_dir", "log_file", "timing_file", "trainer_log_dir")}


@pytest.mark.parametrize("func", PATH_FUNCTIONS.values(), ids=PATH_FUNCTIONS)
def test_wildcard_pattern_and_value_give_the_same_path(func):
    """A rule's output pattern (the function of ``"{name}"``) filled with a job's wildcards is the path the planner
    builds for that job (the function of the values)."""
    names = list(inspect.signature(func).parameters)
    pattern = func(*[f"{{{n}}}" for n in names])
    assert pattern.format(**{n: VALUES[n] for n in names}) == func(*[VALUES[n] for n in names])


def test_state_step_and_run_files_lie_where_the_commands_put_them():
    run = [VALUES[k] for k in layout.RUN_KEYS]
    step = layout.step_dir(*run, 3)
    assert layout.state_file(*run, 3) == f"{layout.state_dir(*run, 3)}/{layout.STATE_TENSORS}"
    assert layout.state_sidecar(*run, 3) == f"{layout.state_dir(*run, 3)}/{layout.STATE_SIDECAR}"
    for func in (layout.step_scores, layout.step_attention, layout.step_predictions, layout.state_dir):
        assert func(*run, 3).startswith(step + "/")
        assert layout.parse_run_dir(func(*run, 3)) == dict(zip(layout.RUN_KEYS, run))
    # sapt run-metrics writes the matrix beside its --out
    assert layout.matrix_file(*run) == layout.metrics_file(*run).rsplit("/", 1)[0] + "/" + layout.MATRIX
    # sapt run-metrics reads RUN/step<k>/scores.json
    assert layout.step_scores(*run, 3) == f"{layout.run_dir(*run)}/{layout.step_name(3)}/{layout.SCORES}"


def test_save_state_writes_the_files_the_rules_declare(tmp_path):
    import torch

    from sapt_core.state import read_state, save_state

    run = [VALUES[k] for k in layout.RUN_KEYS]
    save_state(tmp_path / layout.state_dir(*run, 1), {"prompt.P": torch.zeros(1, 2, 3)},
               {"method": "sapt-lora", "component": "sapt", "config": {}, "step": 1, "tasks": ["cb"]})
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted([layout.state_file(*run, 1), layout.state_sidecar(*run, 1)])
    assert read_state(tmp_path / layout.state_dir(*run, 1))[0]["prompt.P"].shape == (1, 2, 3)


def test_generator_sidecar_is_what_train_generator_writes_beside_it(tmp_path):
    import torch

    from sapt_core.io import save_weights

    gen = [VALUES[k] for k in ("benchmark", "backbone", "pet", "seed", "task")]
    save_weights(tmp_path / layout.generator_file(*gen), {"w": torch.ones(2)}, {"kind": "arm_generator"})
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted([layout.generator_file(*gen), layout.generator_sidecar(*gen)])


def test_prepare_data_writes_the_files_the_rules_declare(tmp_path):
    from sapt_core.data import load_manifest
    from sapt_core.data.prepare import PreparedTask, write_task

    row = {"id": "cb-0", "task": "cb", "benchmark": "Long_Sequence", "source": "s", "target": "t",
           "references": ["t"], "definition": "d", "metric": "accuracy"}
    args = [VALUES[k] for k in ("protocol", "seed", "benchmark", "task")]
    out = tmp_path / layout.data_dir(*args)
    assert layout.data_dir(*args).startswith(layout.data_root_dir(*args[:3]) + "/")  # prepare-data --out's child
    write_task(PreparedTask({s: [row] for s in ("train", "val", "test")},
                            {"task": "cb", "benchmark": "Long_Sequence", "counts": {"train": 1}}), out)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted([layout.data_manifest(*args)] + [layout.data_split_file(*args, s)
                                                              for s in ("train", "val", "test")])
    assert load_manifest(out)["task"] == "cb"


# ---- the rules: every results path from layout, none rebuilt ---------------------------------------------------------
RESULTS_FILE = re.compile(r"(^|[\"'/ ])results/|\.(json|jsonl|safetensors|csv|tsv|log|md|tex|png|pdf)\b")


def _code_tokens(path):
    """(kind, text, line) of the names and string literals of a rules file, docstrings (triple-quoted) left out."""
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type == tokenize.NAME:
            yield "name", tok.string, tok.start[0]
        elif tok.type == tokenize.STRING and not tok.string.lstrip("rbfRBF").startswith(('"""', "'''")):
            yield "string", tok.string, tok.start[0]


def test_rules_take_every_results_path_from_layout(repo_root):
    """No rule strips a file back to its directory (``dirname``, in Python or in a shell command) or spells a
    results path or file name itself: directories and files both come from sapt_core.layout (or the planner)."""
    files = sorted((repo_root / "workflow/rules").glob("*.smk")) + [repo_root / "Snakefile"]
    bad = []
    for path in files:
        for kind, text, line in _code_tokens(path):
            if "dirname" in text or (kind == "string" and RESULTS_FILE.search(text)):
                bad.append(f"{path.relative_to(repo_root)}:{line}: {text}")
    assert not bad, "\n".join(bad)
    # the check reads the rules' shell commands and sees the file names it forbids
    probe = repo_root / "workflow/rules/continual.smk"
    assert any(kind == "string" and "--state-out {params.state_out}" in text for kind, text, _ in _code_tokens(probe))
    assert all(RESULTS_FILE.search(s) for s in ('f"{STEP_DIR}/scores.json"', '"results/README.md"', '"/state.json"'))
