"""Every key of ARM's generator (``generator:`` in config/methods.yaml, :mod:`sapt_core.arm.settings`) reaches the job
that uses it: the planner passes each one as a flag (``train_generator``: the PET type's keys, ``generate_pseudo``:
the ``sampling`` keys), the recipe reads it back, and the run uses it (the Trainer's optimizer class, the kwargs of
the HF ``generate`` call). Each key is set to a non-default value, so a dropped key fails here."""

import dataclasses
import json
import shlex
from types import SimpleNamespace

import pytest
import yaml

from sapt_core.arm.settings import GENERATORS, Sampling

# one non-default value per key (small, so the recipes run in seconds on the tiny backbone)
GENERATOR = {
    "lora": {"r": 4, "alpha": 16, "dropout": 0.2, "optimizer": "adafactor", "lr": 2.0e-3, "max_steps": 2,
             "batch_size": 4, "max_source_len": 6, "max_target_len": 24},
    "prompt": {"length": 4, "epochs": 1, "optimizer": "adamw", "lr": 0.25, "batch_size": 8, "max_source_len": 6,
               "max_target_len": 24},
}
SAMPLING = {
    "lora": {"do_sample": False, "top_k": 7, "repetition_penalty": 1.5, "num_beams": 2, "max_new_tokens": 5},
    "prompt": {"do_sample": False, "top_k": 3, "repetition_penalty": 3.0, "num_beams": 3, "max_new_tokens": 6},
}
OPTIMIZER_CLASS = {"adamw": "AdamW", "adafactor": "Adafactor"}


def test_every_key_has_a_non_default_value_here():
    """A key added to the dataclasses must be added above (and so be checked to reach its job)."""
    for pet, cls in GENERATORS.items():
        defaults = dataclasses.asdict(cls())
        assert set(GENERATOR[pet]) == set(defaults), pet
        assert all(GENERATOR[pet][k] != defaults[k] for k in defaults), pet
        sampling = dataclasses.asdict(Sampling())
        assert set(SAMPLING[pet]) == set(sampling)
        assert all(SAMPLING[pet][k] != sampling[k] for k in sampling), pet


def _plan(tmp_path, repo_root, overrides=None, backbone=None):
    from sapt_core.plan import ContinualPlan

    doc = yaml.safe_load((repo_root / "config/methods.yaml").read_text())
    doc["generator"] = {pet: {**GENERATOR[pet], "sampling": SAMPLING[pet]} for pet in GENERATORS}
    path = tmp_path / "methods.yaml"
    path.write_text(yaml.safe_dump(doc))
    cfg = {**yaml.safe_load((repo_root / "config/config.yaml").read_text()), "methods_file": str(path),
           "generator_overrides": overrides, "backbones": {"b": backbone or {"family": "t5", "path": "unused"}}}
    return ContinualPlan(cfg, data_root="unused")


def _parse(argv):
    from sapt_core.cli import build_parser

    return build_parser(argv).parse_args(argv)


@pytest.mark.parametrize("pet", list(GENERATORS))
def test_train_generator_job_gets_every_key(pet, tmp_path, repo_root):
    """The planned flags carry every key, and the recipe's own parser reads each one back (torch-free)."""
    from sapt_core.recipes.train_generator import settings

    flags = shlex.split(_plan(tmp_path, repo_root).generator_args(pet, "b"))
    for k, v in GENERATOR[pet].items():
        assert "--" + k.replace("_", "-") in flags, k
    args = _parse(["train-generator", "--backbone", "b", "--data-dir", "d", "--out", "o.safetensors", "--seed", "0",
                   *flags])
    s = settings(args)
    assert args.pet == pet and {k: s.get(k) for k in GENERATOR[pet] if k != "max_steps"} == \
        {k: v for k, v in GENERATOR[pet].items() if k != "max_steps"}
    if pet == "lora":  # the run's --max-steps carries the LoRA generator's steps
        assert args.max_steps == GENERATOR[pet]["max_steps"]


@pytest.mark.parametrize("pet", list(GENERATORS))
def test_generate_pseudo_job_gets_every_sampling_key(pet, tmp_path, repo_root):
    """The generated-source job's planned flags carry every sampling key; the recipe turns them into the generate
    kwargs (temperature and top_p pinned to 1) and its max_new_tokens (torch-free)."""
    from sapt_core.recipes.generate_pseudo import sampling

    plan = _plan(tmp_path, repo_root)
    wc = SimpleNamespace(benchmark="Long_Sequence", task="cb", seed=0, source="generated", backbone="b", pet=pet)
    flags = shlex.split(plan.pseudo_args(wc, SimpleNamespace(generator="g.safetensors")))
    args = _parse(["generate-pseudo", "--out", "p.jsonl", "--seed", "0", *flags])
    expect = SAMPLING[pet]
    assert sampling(args) == {**{k: v for k, v in expect.items() if k != "max_new_tokens"},
                              "temperature": 1.0, "top_p": 1.0}
    assert args.max_new_tokens == expect["max_new_tokens"]
    # the workflow config's generator_overrides.max_new_tokens (tiny runs) wins over the methods file's
    over = _plan(tmp_path, repo_root, overrides={"max_new_tokens": 11})
    assert _parse(["generate-pseudo", "--data-dir", "d", "--out", "p.jsonl", "--seed", "0",
                   *shlex.split(over.sampling_args(pet))]).max_new_tokens == 11


def test_defaults_are_the_official_sampling_and_appendix_c(repo_root):
    """The embedded default's flags: App. C's generator values and the official sampling (do_sample, top_k 20,
    repetition_penalty 2.5, num_beams 1), so its pseudo inputs are those of the hard-coded settings before."""
    from sapt_core.plan import ContinualPlan

    plan = ContinualPlan(yaml.safe_load((repo_root / "config/paper.yaml").read_text()), data_root="unused")
    assert plan.sampling_args("lora") == "--do-sample --top-k 20 --repetition-penalty 2.5 --num-beams 1 " \
                                         "--max-new-tokens 512"
    assert "--optimizer adamw" in plan.generator_args("lora", "t5-large")
    assert "--optimizer adafactor" in plan.generator_args("prompt", "t5-large")
    default = _parse(["generate-pseudo", "--data-dir", "d", "--out", "p.jsonl", "--seed", "0"])
    from sapt_core.recipes.generate_pseudo import sampling

    assert (sampling(default), default.max_new_tokens) == \
        ({"do_sample": True, "top_k": 20, "repetition_penalty": 2.5, "num_beams": 1, "temperature": 1.0,
          "top_p": 1.0}, 512)


def test_adafactor_generator_under_deepspeed_is_refused_when_planned(tmp_path, repo_root):
    from sapt_core.errors import SaptError

    plan = _plan(tmp_path, repo_root, backbone={"family": "t5", "path": "unused",
                                                "resources": {"gpu": 2, "deepspeed": "config/deepspeed/zero2.json"}})
    with pytest.raises(SaptError, match=r"generator\.lora\.optimizer: adafactor is not supported under DeepSpeed"):
        plan.generator_args("lora", "b")
    assert "--optimizer adamw" in plan.generator_args("prompt", "b")


@pytest.mark.parametrize("pet", list(GENERATORS))
def test_recipes_use_every_key(pet, tiny_t5, cb_dir, tmp_path, repo_root, monkeypatch):
    """The planned flags run: train-generator trains with the chosen optimizer class and the block's shape and
    lengths, generate-pseudo calls the HF generate with every sampling key."""
    import transformers
    from safetensors.torch import load_file

    from sapt_core.training import loop as training
    from sapt_core.cli import main

    plan = _plan(tmp_path, repo_root)
    trainers = []

    def keep_trainer(*a, **kw):
        trainer, resume = real_trainer(*a, **kw)
        trainers.append(trainer)
        return trainer, resume

    real_trainer = training._trainer
    monkeypatch.setattr(training, "_trainer", keep_trainer)
    gen = tmp_path / "gen.safetensors"
    assert main(["train-generator", "--backbone", str(tiny_t5), "--data-dir", str(cb_dir),
                 *shlex.split(plan.generator_args(pet, "b")), "--seed", "0", "--no-progress", "--out", str(gen)]) == 0
    g = GENERATOR[pet]
    optimizer = trainers[0].optimizer
    assert type(getattr(optimizer, "optimizer", optimizer)).__name__ == OPTIMIZER_CLASS[g["optimizer"]]
    side = json.loads(gen.with_suffix(".json").read_text())
    assert {k: side["settings"][k] for k in g if k != "max_steps"} == {k: v for k, v in g.items() if k != "max_steps"}
    train = side["train"]
    assert (train["lr"], train["global_batch"], train["max_source_len"], train["max_target_len"],
            train["optimizer"]) == (g["lr"], g["batch_size"], g["max_source_len"], g["max_target_len"], g["optimizer"])
    tensors = load_file(str(gen))
    if pet == "lora":
        assert train["max_steps"] == g["max_steps"] == trainers[0].state.global_step == side["settings"]["max_steps"]
        assert (side["pet"]["lora_r"], side["pet"]["lora_alpha"], side["pet"]["lora_dropout"]) == \
            (g["r"], g["alpha"], g["dropout"])
        assert {t.shape[0] for k, t in tensors.items() if "lora_A" in k} == {g["r"]}
    else:  # 32 training rows, batch 8: one epoch is 4 steps
        assert train["epochs"] == g["epochs"] and trainers[0].state.global_step == 32 // g["batch_size"] * g["epochs"]
        assert side["pet"]["prompt_len"] == g["length"] and {t.shape[0] for t in tensors.values()} == {g["length"]}

    calls = []
    real_generate = transformers.GenerationMixin.generate

    def record(self, *a, **kw):
        calls.append(kw)
        return real_generate(self, *a, **kw)

    monkeypatch.setattr(transformers.GenerationMixin, "generate", record)
    wc = SimpleNamespace(benchmark="Long_Sequence", task="cb", seed=0, source="generated", backbone="b", pet=pet)
    flags = shlex.split(plan.pseudo_args(wc, SimpleNamespace(generator=str(gen))))
    flags[flags.index("--data-dir") + 1], flags[flags.index("--backbone") + 1] = str(cb_dir), str(tiny_t5)
    out = tmp_path / "pseudo.jsonl"
    assert main(["generate-pseudo", *flags, "--n-candidates", "4", "--seed", "0", "--volume", "0.1",
                 "--out", str(out)]) == 0
    assert calls and all({k: kw.get(k) for k in SAMPLING[pet]} == SAMPLING[pet] for kw in calls), calls
    assert json.loads(out.with_suffix(".json").read_text())["sampling"] == \
        {**SAMPLING[pet], "temperature": 1.0, "top_p": 1.0, "batch_size": 16, "max_source_len": g["max_source_len"],
         "seeded_with": "torch.manual_seed(seed)"}
