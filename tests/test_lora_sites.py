"""LoRA sites are a backbone key (config ``backbones.<name>.lora_sites``, flag ``--lora-sites``,
sapt_core/blocks/sites.py): a decoder-only backbone whose attention projections are not q/v (a tiny GPT-NeoX built
from its transformers config: ``attention.query_key_value``, ``attention.dense``) trains a SeqLoRA chain with blocks on
exactly the sites named, the state records them and ``sapt evaluate`` rebuilds the same model; a site list matching
nothing, a site that is not an nn.Linear (GPT-2's Conv1D ``c_attn``), a continued step or an evaluation with another
list, and a malformed config key are each one line (exit 2 for the commands)."""

from __future__ import annotations

import json
import re

import pytest

from conftest import prepare_chain

TASKS = ["agnews", "boolq"]
SITES = ["query_key_value", r".*\.attention\.dense"]  # a module name and a full-path pattern
COMMON = ["--seed", "0", "--batch-size", "4", "--global-batch", "4", "--max-steps", "2", "--lr", "1e-2",
          "--max-source-len", "48", "--no-progress"]


def _save_tiny(cfg, tiny_llama, out):
    """A tiny HF model of ``cfg`` (random weights) saved with the tiny LLaMA's tokenizer: a local backbone."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(cfg).save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_llama).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_neox(tiny_llama, tmp_path_factory):
    from transformers import GPTNeoXConfig

    cfg = GPTNeoXConfig(vocab_size=2048, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=256, bos_token_id=3, eos_token_id=1,
                        pad_token_id=0)
    return _save_tiny(cfg, tiny_llama, tmp_path_factory.mktemp("bb") / "tiny-neox")


@pytest.fixture(scope="module")
def tiny_gpt2(tiny_llama, tmp_path_factory):
    from transformers import GPT2Config

    cfg = GPT2Config(vocab_size=2048, n_embd=32, n_layer=1, n_head=4, n_positions=256, bos_token_id=3,
                     eos_token_id=1, pad_token_id=0)
    return _save_tiny(cfg, tiny_llama, tmp_path_factory.mktemp("bb") / "tiny-gpt2")


@pytest.fixture(scope="module")
def dirs(data_root, benchmarks_path, tmp_path_factory):
    return prepare_chain(tmp_path_factory, data_root, benchmarks_path, "sites_data", TASKS, 8, 2, 4)


def _error(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_named_sites_get_the_blocks_and_evaluation_rebuilds_them(tiny_neox, dirs, tmp_path, capsys):
    from safetensors.torch import load_file

    from sapt_core.cli import main

    states = []
    for k, d in enumerate(dirs, 1):
        out = tmp_path / f"step{k}"
        assert main(["train-step", "--method", "seq-lora", "--backbone", str(tiny_neox), "--data-dir", str(d),
                     "--state-out", str(out), "--lora-sites", *SITES, *COMMON,
                     *(["--state-in", str(states[-1])] if states else [])]) == 0
        states.append(out)
    tensors = load_file(str(states[-1] / "state.safetensors"))
    sites = sorted({name[len("lora."):-2] for name in tensors})
    # both layers' fused qkv and attention output projections, nothing else (not the MLP's dense_h_to_4h/dense_4h_to_h)
    assert sites == [f"gpt_neox.layers.{i}.attention.{m}" for i in (0, 1) for m in ("dense", "query_key_value")]
    qkv = tensors["lora.gpt_neox.layers.0.attention.query_key_value.B"]
    assert tuple(qkv.shape) == (1, 3 * 32, 8)          # [t, out = 3 x hidden, r]
    assert qkv.abs().sum() > 0                          # trained (B starts at zero)
    side = json.loads((states[-1] / "state.json").read_text())
    assert side["backbone"]["lora_sites"] == SITES and side["backbone"]["family"] == "llama"

    # sapt evaluate rebuilds the model from the sidecar's sites (no flag) and scores what the step scored
    scores = tmp_path / "scores.json"
    args = ["evaluate", "--backbone", str(tiny_neox), "--state", str(states[-1]), "--data-dirs", str(dirs[0]),
            "--max-source-len", "48", "--max-new-tokens", "4", "--predictions", str(tmp_path / "p.jsonl")]
    assert main([*args, "--out", str(scores)]) == 0
    assert json.loads(scores.read_text())["tasks"][TASKS[0]]["n"] == 4
    from sapt_core.models import load_backbone
    from sapt_core.state import method_of, read_state

    t, s = read_state(states[-1])
    bb = load_backbone(str(tiny_neox), lora_sites=s["backbone"]["lora_sites"])
    model = method_of(s, "state").load(bb.model, bb.family, t, s)
    assert sorted(model.sites) == sites and all(
        (model.sites[n].stacked()[1][-1] == tensors[f"lora.{n}.B"][-1]).all() for n in sites)

    capsys.readouterr()
    # another site list: evaluation and a continued step refuse it in one line
    assert main([*args, "--out", str(tmp_path / "x.json"), "--lora-sites", "query_key_value"]) == 2
    assert "trained with LoRA sites" in _error(capsys)
    assert main(["train-step", "--method", "seq-lora", "--backbone", str(tiny_neox), "--data-dir", str(dirs[1]),
                 "--state-out", str(tmp_path / "again"), "--state-in", str(states[0]), *COMMON]) == 2
    line = _error(capsys)
    assert "--state-in" in line and "['q_proj', 'v_proj']" in line and "query_key_value" in line


def test_default_sites_on_a_backbone_without_them_name_the_linear_modules(tiny_neox, dirs, tmp_path, capsys):
    from sapt_core.cli import main

    base = ["train-step", "--method", "seq-lora", "--backbone", str(tiny_neox), "--data-dir", str(dirs[0]),
            "--state-out", str(tmp_path / "s"), *COMMON]
    assert main([*base, "--lora-sites", "nothing_here"]) == 2
    line = _error(capsys)
    assert re.search(r"backbone .*tiny-neox: lora_sites: no nn.Linear module matches 'nothing_here' \(its nn.Linear "
                     r"modules: query_key_value, dense, dense_h_to_4h, dense_4h_to_h, lm_head;", line), line
    assert main(base) == 2  # the family default (q_proj, v_proj) does not exist here either
    assert "no nn.Linear module matches 'q_proj'" in _error(capsys)
    assert not (tmp_path / "s").exists()


def test_a_site_that_is_not_linear_is_refused(tiny_gpt2, dirs, tmp_path, capsys):
    from sapt_core.cli import main

    assert main(["train-step", "--method", "seq-lora", "--backbone", str(tiny_gpt2), "--data-dir", str(dirs[0]),
                 "--state-out", str(tmp_path / "s"), "--lora-sites", "c_attn", *COMMON]) == 2
    line = _error(capsys)
    assert "module transformer.h.0.attn.c_attn is a transformers.pytorch_utils.Conv1D, not an nn.Linear" in line, line
    # the same check guards the LoRA generator (peft would wrap a Conv1D)
    assert main(["train-generator", "--backbone", str(tiny_gpt2), "--data-dir", str(dirs[0]), "--seed", "0",
                 "--out", str(tmp_path / "g.safetensors"), "--lora-sites", "c_attn", "--max-steps", "1",
                 "--no-progress"]) == 2
    assert "c_attn is a transformers.pytorch_utils.Conv1D" in _error(capsys)


def test_the_lora_generator_attaches_to_the_named_sites(tiny_neox, dirs, tmp_path):
    from safetensors.torch import load_file

    from sapt_core.cli import main

    out = tmp_path / "gen.safetensors"
    assert main(["train-generator", "--backbone", str(tiny_neox), "--data-dir", str(dirs[0]), "--seed", "0",
                 "--out", str(out), "--lora-sites", *SITES, "--max-steps", "1", "--batch-size", "4",
                 "--no-progress"]) == 0
    names = sorted(load_file(str(out)))
    assert names and all(re.search(r"attention\.(query_key_value|dense)\.lora_[AB]\.weight$", n) for n in names)
    assert len(names) == 2 * 2 * 2  # 2 layers x 2 sites x (A, B)
    assert json.loads(out.with_suffix(".json").read_text())["pet"]["targets"] == SITES


BASE_CONFIG = "config/config.yaml"


@pytest.mark.parametrize("value,expected", [
    ("q", "backbones.tiny-t5.lora_sites: 'q' is not of type 'array'"),
    ([], "backbones.tiny-t5.lora_sites: [] should be non-empty"),
    (["(unclosed"], "backbones.tiny-t5.lora_sites: '(unclosed' is neither a module name nor a valid regular "
                    "expression (missing ), unterminated subpattern at position 0)"),
], ids=["string", "empty", "bad_regex"])
def test_the_config_check_refuses_a_malformed_key(repo_root, monkeypatch, value, expected):
    import yaml

    from sapt_core.errors import SaptError
    from sapt_core.plan import drop_disabled_experiments
    from sapt_core.plan.validate import check_schema, validate_config

    monkeypatch.chdir(repo_root)
    cfg = yaml.safe_load((repo_root / BASE_CONFIG).read_text())
    name = next(iter(cfg["backbones"]))
    assert name == "tiny-t5"
    cfg["backbones"][name]["lora_sites"] = value
    with pytest.raises(SaptError) as e:
        check_schema(cfg, "workflow/schemas/config.schema.yaml")
        drop_disabled_experiments(cfg)
        validate_config(cfg)
    assert str(e.value) == f"config: {expected}"


def test_the_planner_passes_sites_only_when_they_differ_from_the_family_default(repo_root, monkeypatch):
    import yaml

    from sapt_core.plan import ContinualPlan

    monkeypatch.chdir(repo_root)
    cfg = yaml.safe_load((repo_root / BASE_CONFIG).read_text())
    plan = ContinualPlan(cfg, data_root="")
    assert "--lora-sites" not in plan.device_args("tiny-t5")
    cfg["backbones"]["tiny-t5"]["lora_sites"] = ["q", "v"]
    assert plan.device_args("tiny-t5") == "--dtype float32"
    cfg["backbones"]["tiny-t5"]["lora_sites"] = ["q", "k", r".*\.EncDecAttention\.o"]
    assert plan.device_args("tiny-t5") == r"--dtype float32 --lora-sites q k '.*\.EncDecAttention\.o'"
    assert plan.train_device_args("tiny-t5").startswith(plan.device_args("tiny-t5"))
    assert plan.backbone_input("tiny-t5") == ["results/backbones/tiny-t5/config.json",
                                              "results/backbones/tiny-t5/lora_sites.json"]
    cfg["backbones"]["tiny-t5"]["lora_sites"] = ["q", "v"]
    assert plan.backbone_input("tiny-t5") == ["results/backbones/tiny-t5/config.json"]


def test_check_lora_sites_matches_the_module_tree_before_any_job_loads_weights(tiny_neox, tiny_gpt2, tmp_path,
                                                                                capsys):
    """``sapt check-lora-sites`` (rule check_lora_sites) builds the module tree from config.json on the meta device:
    it needs no weights, so it runs as soon as the backbone is built or fetched."""
    from sapt_core.cli import main

    (tmp_path / "neox").mkdir()
    (tmp_path / "neox" / "config.json").write_text((tiny_neox / "config.json").read_text())  # no weights at all
    out = tmp_path / "sites.json"
    assert main(["check-lora-sites", "--name", "neox", "--backbone", str(tmp_path / "neox"), "--lora-sites", *SITES,
                 "--out", str(out)]) == 0
    assert json.loads(out.read_text())["modules"] == [f"gpt_neox.layers.{i}.attention.{m}" for i in (0, 1)
                                                      for m in ("query_key_value", "dense")]
    capsys.readouterr()
    assert main(["check-lora-sites", "--name", "neox", "--backbone", str(tmp_path / "neox"), "--lora-sites",
                 ".*attn.*", "--out", str(tmp_path / "x.json")]) == 2
    assert _error(capsys) == (f"error: config backbones.neox.lora_sites (backbone {tmp_path / 'neox'}): no nn.Linear "
                              "module matches '.*attn.*' (its nn.Linear modules: query_key_value, dense, "
                              "dense_h_to_4h, dense_4h_to_h, lm_head)")
    assert main(["check-lora-sites", "--name", "gpt2", "--backbone", str(tiny_gpt2), "--lora-sites", "c_attn",
                 "--out", str(tmp_path / "x.json")]) == 2
    assert "module transformer.h.0.attn.c_attn is a transformers.pytorch_utils.Conv1D, not an nn.Linear" in \
        _error(capsys)
    assert not (tmp_path / "x.json").exists()


def test_the_workflow_checks_the_sites_before_the_backbones_jobs(repo_root, tmp_path):
    """A backbone with its own sites gets rule check_lora_sites after its build, every model job waits for it and
    carries --lora-sites."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    overlay = tmp_path / "sites.yaml"
    overlay.write_text("backbones:\n  tiny-t5:\n    lora_sites: [q, k, v]\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-p", "demo", "--configfile", str(overlay)],
                         cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    text = res.stdout + res.stderr
    assert ("sapt check-lora-sites --name tiny-t5 --backbone results/backbones/tiny-t5 --lora-sites q k v --out "
            "results/backbones/tiny-t5/lora_sites.json") in text
    single = text[text.index("rule single_task:"):]
    assert "results/backbones/tiny-t5/lora_sites.json" in single.split("\n")[1]  # an input of the model job
    assert " --lora-sites q k v " in single


def test_an_in_job_checkpoint_of_other_sites_is_not_resumed(tiny_neox, dirs, tmp_path, capsys):
    """A job restarted with another site list finds its work directory's checkpoint of the old blocks: one line, not
    a silent resume that leaves the new sites untrained."""
    from sapt_core.cli import main

    work = tmp_path / "work"
    base = ["train-step", "--method", "seq-lora", "--backbone", str(tiny_neox), "--data-dir", str(dirs[0]),
            "--workdir", str(work), "--keep-workdir", "--save-steps", "1", *COMMON]
    assert main([*base, "--state-out", str(tmp_path / "a"), "--lora-sites", *SITES]) == 0
    assert sorted(p.name for p in work.iterdir() if p.name.startswith("checkpoint-"))
    capsys.readouterr()
    assert main([*base, "--state-out", str(tmp_path / "b"), "--lora-sites", "query_key_value"]) == 2
    line = _error(capsys)
    assert "its in-job checkpoint holds other tensors than this job's model" in line and "attention.dense" in line
    assert not (tmp_path / "b").exists()


def test_prompt_blocks_on_the_same_backbone_ignore_the_sites(tiny_neox, dirs, tmp_path):
    """The workflow passes --lora-sites to every job of the backbone: a prompt-block state records no sites and
    evaluates with or without the flag (and the family's default q_proj/v_proj, absent here, is never asked for)."""
    from sapt_core.cli import main

    out = tmp_path / "prompt1"
    assert main(["train-step", "--method", "seq-lora", "--pet", "prompt", "--backbone", str(tiny_neox), "--data-dir",
                 str(dirs[0]), "--state-out", str(out), "--lora-sites", *SITES, "--eval-data-dirs", str(dirs[0]),
                 "--scores-out", str(tmp_path / "s1.json"), *COMMON]) == 0
    assert "lora_sites" not in json.loads((out / "state.json").read_text())["backbone"]
    for extra in ([], ["--lora-sites", *SITES]):
        assert main(["evaluate", "--backbone", str(tiny_neox), "--state", str(out), "--data-dirs", str(dirs[0]),
                     "--max-source-len", "48", "--max-new-tokens", "4", "--out", str(tmp_path / "e.json"),
                     *extra]) == 0
