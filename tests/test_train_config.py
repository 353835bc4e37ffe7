"""One definition per training setting and per weights format: ``TrainConfig`` is the methods file's ``TrainKeys``
plus the run's settings (a new training key reaches the trainer with no second declaration), and a step state is
written and read by io's weights format (the same safetensors bytes and sidecar fields as ``save_weights``)."""

import dataclasses
import json
from argparse import Namespace

import pytest

from sapt_core.errors import SaptError
from sapt_core.methods.base import TrainKeys
from sapt_core.methods.keys import specs
from sapt_core.training.loop import RunKeys, TrainConfig, run_flags, train_config

RUN = Namespace(seed=3, max_steps=7, bf16=False, deepspeed=None, gradient_checkpointing=True, save_steps=5,
                logging_steps=2, report_to="tensorboard", run_name="r/step1", logging_dir="tb/r/step1", workdir=None,
                keep_workdir=False, no_progress=True)


def _non_default_keys() -> TrainKeys:
    """A TrainKeys whose values differ from the defaults (so a field not copied shows)."""
    return TrainKeys(optimizer="adafactor", lr=0.25, lr_scheduler="linear", warmup_ratio=0.1, weight_decay=0.01,
                     max_grad_norm=None, epochs=3, batch_size=2, global_batch=12, grad_accum=2, eval_batch_size=7,
                     selection="val", select_every_epochs=2, max_source_len=64, max_target_len=9, max_new_tokens=11)


def test_train_config_declares_every_training_key_once():
    keys, cfg = specs(TrainKeys), specs(TrainConfig)
    assert list(cfg)[:len(keys)] == list(keys) and all(cfg[k] == keys[k] for k in keys)  # inherited, not copied
    assert {k: getattr(TrainConfig(), k) for k in keys} == {k: s.default for k, s in keys.items()}
    assert all(s.doc for s in cfg.values())  # the run's settings are documented where declared too


def test_run_flags_are_made_from_the_run_keys():
    import argparse

    from sapt_core.recipes.common import add_run_args

    p = argparse.ArgumentParser()
    add_run_args(p)
    args = p.parse_args(["--seed", "4"])
    assert run_flags(args) == {**dataclasses.asdict(RunKeys()), "seed": 4}
    args = p.parse_args(["--seed", "4", "--max-steps", "9", "--bf16", "--deepspeed", "x.json", "--save-steps", "3"])
    assert {k: v for k, v in run_flags(args).items() if v != getattr(RunKeys(), k)} == {
        "seed": 4, "max_steps": 9, "bf16": True, "deepspeed": "x.json", "save_steps": 3}
    with pytest.raises(SystemExit):
        p.parse_args([])  # --seed has no default


def test_train_config_carries_every_key_of_the_method_and_the_run_flags(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    keys = _non_default_keys()
    cfg = train_config(keys, RUN)
    assert all(getattr(cfg, f.name) == getattr(keys, f.name) for f in dataclasses.fields(TrainKeys)) and cfg.ranks == 3
    null = train_config(dataclasses.replace(keys, grad_accum=None), RUN)
    assert null.grad_accum == 2  # null: global_batch 12 / (batch_size 2 x 3 ranks)
    assert run_flags(RUN) == {"max_steps": 7, "bf16": False, "seed": 3, "save_steps": 5, "logging_steps": 2,
                              "deepspeed": None, "gradient_checkpointing": True, "report_to": "tensorboard",
                              "run_name": "r/step1", "logging_dir": "tb/r/step1"}
    assert {k: getattr(cfg, k) for k in run_flags(RUN)} == run_flags(RUN)
    json.dumps(cfg.to_dict())  # the sidecar records it


@pytest.mark.parametrize("field,value,expected", [
    ("lr", 0.0, "train lr: expected a number > 0, got 0.0"),
    ("epochs", 1.5, "train epochs: expected an integer > 0, got 1.5"),
    ("optimizer", "sgd", "train optimizer: expected one of adamw, adafactor, got 'sgd'"),
    ("save_steps", 0, "train save_steps: expected an integer > 0, got 0"),
    ("grad_accum", 1, "train global_batch: expected batch_size x grad_accum x ranks = 32, got 16 x 1 x 1"),
    ("batch_size", 5, "--global-batch (WORLD_SIZE ranks): global_batch 32 is not a multiple of batch_size 5"),
    ("deepspeed", "no/such.json", "train deepspeed: expected a DeepSpeed JSON config file, got 'no/such.json'"),
])
def test_train_config_refuses_a_bad_value_naming_the_field(field, value, expected):
    with pytest.raises(SaptError) as e:
        TrainConfig(**{field: value}).validate()
    assert str(e.value).startswith(expected)


def test_a_step_state_is_the_weights_format(tmp_path):
    torch = pytest.importorskip("torch")
    from sapt_core.io import load_weights, save_weights
    from sapt_core.state import read_state, save_state

    g = torch.Generator().manual_seed(0)
    tensors = {"lora.q.B": torch.randn(2, 4, 3, generator=g), "lora.q.A": torch.randn(2, 3, 4, generator=g),
               "prompt.P": torch.randn(1, 2, 4, generator=g).bfloat16()}
    side = {"method": "m", "component": "c", "config": {"é": 1}, "step": 2, "tasks": ["cb", "rte"]}
    save_state(tmp_path / "state", tensors, side)
    save_weights(tmp_path / "w" / "state.safetensors", tensors, side)
    state, plain = tmp_path / "state", tmp_path / "w"
    assert sorted(p.name for p in state.iterdir()) == ["state.json", "state.safetensors"]
    assert (state / "state.safetensors").read_bytes() == (plain / "state.safetensors").read_bytes()
    assert (state / "state.json").read_text() == (plain / "state.json").read_text()
    got, meta = read_state(state)
    assert got.keys() == tensors.keys() and all(torch.equal(got[k], tensors[k]) for k in tensors)
    assert meta["tensors"]["prompt.P"] == [1, 2, 4] and meta["sha256"]["state.safetensors"] and meta["versions"]
    assert load_weights(state / "state.safetensors")[1] == meta
    del meta["tasks"]
    (state / "state.json").write_text(json.dumps(meta))
    with pytest.raises(SaptError, match="state.json: tasks: missing"):
        read_state(state)
