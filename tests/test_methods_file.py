"""config/methods.yaml + sapt_core.settings.methods_file: Appendix C / official-script values, switches, isolation,
validation against the components' config dataclasses."""


import pytest
import yaml

from sapt_core.errors import SaptError
from sapt_core.methods.keys import cli_args, specs
from sapt_core.methods.sapt import SaptConfig
from sapt_core.settings.methods_file import IDENTITY, instance, load_methods, resolve, values_of

# switch -> (official-code value, paper / alternative value); docs/official_code.md lists them
SWITCHES = {"projection_order": ("official", "paper"), "pool_mask_pads": (False, True),
            "kl_direction": ("target_first", "paper"), "kl_scale_by_gas": (False, True), "kl_start_step": (1, 0),
            "attn_split": ("test", "val"), "lora_mixing": ("output", "parameter")}


@pytest.fixture(scope="module")
def methods_path(repo_root):
    return repo_root / "config" / "methods.yaml"


@pytest.fixture(scope="module")
def methods(methods_path):
    return load_methods(methods_path)


def _write(tmp_path, doc, name="methods.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return p


def _raw(methods_path):
    return yaml.safe_load(methods_path.read_text(encoding="utf-8"))


# ---- Appendix C / official script values ---------------------------------------------------------------------


def test_sapt_lora_t5_large_superni(methods):
    r = resolve(methods, "sapt-lora", "t5-large", "SuperNI", "order1")
    assert r["pet"] == "lora" and r["family"] == "t5" and r["size"] == "large" and r["component"] == "sapt"
    assert r["lr"] == 3e-4 and r["lora_r"] == 4 and r["kl_lambda"] == 0.5 and r["d_p"] == 100
    assert (r["epochs"], r["batch_size"], r["global_batch"]) == (100, 8, 32)  # code: 8 x 4 = 32 on 1 GPU
    assert (r["lora_alpha"], r["lora_dropout"], r["temperature"], r["optimizer"]) == (32, 0.0, "sqrt_d", "adamw")
    assert (r["max_source_len"], r["max_target_len"], r["max_new_tokens"], r["eval_batch_size"]) == (512, 50, 50, 128)
    assert r["replay_volume"] == 0.02


def test_sapt_lora_t5_large_long(methods):
    r = resolve(methods, "sapt-lora", "t5-large", "Long_Sequence", "order3")
    assert r["lora_r"] == 8 and r["kl_lambda"] == 0.1 and r["d_p"] == 100 and r["lr"] == 3e-4
    assert (r["epochs"], r["batch_size"], r["global_batch"]) == (10, 16, 32)


@pytest.mark.parametrize("backbone", ["t5-xl", "t5-xxl"])
def test_sapt_lora_larger_t5_lr(methods, backbone):
    r = resolve(methods, "sapt-lora", backbone, "SuperNI", "order1")
    assert r["lr"] == 1e-4 and r["lora_r"] == 4 and r["kl_lambda"] == 0.5  # size layer changes only lr


def test_sapt_lora_llama(methods):
    r = resolve(methods, "sapt-lora", "llama-2-7b", "SuperNI", "order2")
    assert r["family"] == "llama" and r["lr"] == 5e-5 and r["kl_lambda"] == 1.0  # code value (paper: 2)
    assert (r["lora_r"], r["epochs"], r["max_source_len"], r["eval_batch_size"]) == (4, 50, 1024, 32)
    assert (r["batch_size"], r["global_batch"]) == (2, 32)  # 2 x GAS 4 x 4 GPUs (App. C: 32 in total)
    long = resolve(methods, "sapt-lora", "llama-2-7b", "Long_Sequence", "order4")
    assert (long["kl_lambda"], long["epochs"], long["lora_r"]) == (2.0, 20, 4)
    assert resolve(methods, "sapt-lora", "llama-2-13b", "SuperNI", "order1")["lr"] == 1e-5


def test_sapt_prompt(methods):
    s = resolve(methods, "sapt-prompt", "t5-large", "SuperNI", "order1")
    assert s["pet"] == "prompt" and s["optimizer"] == "adafactor" and s["prompt_len"] == 10
    assert (s["lr"], s["proj_lr"], s["epochs"], s["kl_lambda"], s["d_p"]) == (3e-2, None, 100, 1.0, 100)
    assert s["global_batch"] == 32 and s["temperature"] == "d_e"
    o3 = resolve(methods, "sapt-prompt", "t5-large", "Long_Sequence", "order3")
    o4 = resolve(methods, "sapt-prompt", "t5-large", "Long_Sequence", "order4")
    assert (o3["kl_lambda"], o3["d_p"]) == (1.5, 200) and (o4["kl_lambda"], o4["d_p"]) == (1.3, 150)
    assert (o3["epochs"], o3["lr"], o3["proj_lr"]) == (10, 0.3, 1e-2)


def test_generator(methods):
    g = methods["generator"]["lora"]
    assert (g["r"], g["alpha"], g["dropout"], g["lr"], g["max_steps"], g["batch_size"]) == (8, 32, 0.1, 1e-3, 5000, 16)
    assert g["max_target_len"] == 512
    assert g["sampling"] == {"do_sample": True, "top_k": 20, "repetition_penalty": 2.5, "num_beams": 1,
                             "max_new_tokens": 512}
    p = methods["generator"]["prompt"]
    assert (p["length"], p["epochs"], p["optimizer"], p["lr"], p["batch_size"]) == (300, 80, "adafactor", 0.5, 16)


def test_temperature_value():
    from sapt_core.methods.sapt.shared_attention import temperature_for

    assert temperature_for("sqrt_d", 1024) == 32
    assert temperature_for("d_e", 1024) == pytest.approx(2783.5, abs=0.1)
    assert temperature_for(5, 1024) == 5.0 and temperature_for("7.5", 64) == 7.5
    for bad in ("sqrt", -1, 0):
        with pytest.raises(ValueError):
            temperature_for(bad, 1024)


# ---- switches, resolution mechanics --------------------------------------------------------------------------


def test_switches_default_to_official(methods):
    r = resolve(methods, "sapt-lora", "t5-large", "Long_Sequence", "order3")
    for key, (official, _paper) in SWITCHES.items():
        assert r[key] == official, key
    p = resolve(methods, "sapt-prompt", "t5-large", "SuperNI", "order1")
    for key, (official, _paper) in SWITCHES.items():
        if key != "lora_mixing":
            assert p[key] == official, key
    # official LLaMA path: DeepSpeed divides the KL by GAS as well
    assert resolve(methods, "sapt-lora", "llama-2-7b", "SuperNI", "order1")["kl_scale_by_gas"] is True


def test_key_order_and_tiny_backbones(methods):
    r = resolve(methods, "sapt-lora", "tiny-t5", "Long_Sequence", None, family="t5")
    assert list(r)[:len(IDENTITY)] == list(IDENTITY) and r["size"] is None and r["order"] is None
    assert list(values_of(r)) == list(specs(SaptConfig))  # the component's field order
    assert r["lora_r"] == 8 and r["lr"] == 3e-4  # family + family_benchmark layers apply, no size layer
    rl = resolve(methods, "sapt-lora", "tiny-llama", "SuperNI", "order1", family="llama")
    assert (rl["lr"], rl["kl_lambda"]) == (5e-5, 1.0)
    with pytest.raises(SaptError, match=r"methods\.yaml: backbone_sizes\.tiny-t5: .*family"):
        resolve(methods, "sapt-lora", "tiny-t5", "SuperNI", "order1")
    with pytest.raises(SaptError, match=r"backbone_sizes\.t5-large\.family"):
        resolve(methods, "sapt-lora", "t5-large", "SuperNI", "order1", family="llama")


def test_overrides(methods):
    r = resolve(methods, "sapt-lora", "tiny-t5", "SuperNI", "order1", family="t5",
                overrides={"epochs": 2, "lr": 1})
    assert r["epochs"] == 2 and r["lr"] == 1.0 and isinstance(r["lr"], float)
    with pytest.raises(SaptError, match=r"^config: hparams\.orth_lambda: unknown key of method 'sapt-lora'"):
        resolve(methods, "sapt-lora", "tiny-t5", "SuperNI", "order1", family="t5", overrides={"orth_lambda": 5},
                overrides_label="config: hparams")


def test_edit_changes_only_that_method(methods_path, methods, tmp_path):
    doc = _raw(methods_path)
    doc["methods"]["sapt-lora"]["family_benchmark"]["t5/SuperNI"]["kl_lambda"] = 0.75
    doc["methods"]["sapt-lora"].setdefault("defaults", {})["pool_mask_pads"] = True
    edited = load_methods(_write(tmp_path, doc))
    jobs = [(m, b, bench, o) for m in ("sapt-lora", "sapt-prompt") for b in ("t5-large", "llama-2-7b")
            for bench, o in (("SuperNI", "order1"), ("Long_Sequence", "order3"))]
    for job in jobs:
        before, after = resolve(methods, *job), resolve(edited, *job)
        if job[0] == "sapt-prompt":
            assert before == after, job
        else:
            assert after["pool_mask_pads"] is True and before["pool_mask_pads"] is False
            if job[1:3] == ("t5-large", "SuperNI"):
                assert (before["kl_lambda"], after["kl_lambda"]) == (0.5, 0.75)
            changed = {k for k in before if before[k] != after[k]}
            assert changed <= {"kl_lambda", "pool_mask_pads"}, (job, changed)


# ---- validation ------------------------------------------------------------------------------------------------


def _defaults(d, method="sapt-lora"):
    return d["methods"][method].setdefault("defaults", {})


@pytest.mark.parametrize("edit, field, expect", [
    (lambda d: _defaults(d).__setitem__("kl_direction", "x"),
     "methods.sapt-lora.defaults.kl_direction", "expected one of target_first, paper, got 'x'"),
    (lambda d: _defaults(d).__setitem__("lora_r", "four"),
     "methods.sapt-lora.defaults.lora_r", "expected an integer > 0, got 'four'"),
    (lambda d: d["methods"]["sapt-lora"]["size"]["xl"].__setitem__("lr", "1e-4"),
     "methods.sapt-lora.size.xl.lr", "write floats with a dot"),
    (lambda d: d["methods"]["sapt-prompt"]["order"]["order3"].__setitem__("kl_lambda", True),
     "methods.sapt-prompt.order.order3.kl_lambda", "expected a number"),
    (lambda d: _defaults(d).__setitem__("pool_mask_pads", "no"),
     "methods.sapt-lora.defaults.pool_mask_pads", "expected true or false"),
    (lambda d: _defaults(d).__setitem__("temperature", "sqrt"),
     "methods.sapt-lora.defaults.temperature", "expected one of sqrt_d, d_e or a positive number"),
    (lambda d: _defaults(d).__setitem__("learning_rate", 1.0),
     "methods.sapt-lora.defaults.learning_rate", "unknown key of component 'sapt'"),
    (lambda d: d["methods"]["seq-lora"]["family"]["llama"].__setitem__("kl_lambda", 4.0),
     "methods.seq-lora.family.llama.kl_lambda", "unknown key of component 'single-block'"),
    (lambda d: d["methods"]["sapt-lora"]["family"].__setitem__("gpt", {}),
     "methods.sapt-lora.family.gpt", "unknown family"),
    (lambda d: d["methods"]["sapt-lora"]["size"].__setitem__("huge", {}),
     "methods.sapt-lora.size.huge", "unknown size"),
    (lambda d: d["methods"]["sapt-lora"].__setitem__("component", "adapter"),
     "methods.sapt-lora.component", "unknown method component 'adapter' (known: epi, l2p, lfpt5"),
    (lambda d: d["methods"]["sapt-lora"].__setitem__("label", "a=b"),
     "methods.sapt-lora.label", "a non-empty display name without '='"),
    (lambda d: d["generator"].setdefault("lora", {}).__setitem__("sampling", {"top_k": 0}),
     "generator.lora.sampling.top_k", "expected an integer > 0"),
])
def test_validation_errors_name_file_and_field(methods_path, tmp_path, edit, field, expect):
    doc = _raw(methods_path)
    edit(doc)
    p = _write(tmp_path, doc)
    with pytest.raises(SaptError) as e:
        load_methods(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}: {field}:"), msg
    assert expect in msg and "\n" not in msg


def test_unknown_method_and_duplicate_key(methods, tmp_path):
    with pytest.raises(SaptError, match=r"methods\.yaml: unknown method 'sapt-adapter' \(did you mean '[^']+'\?\) \(known: sapt-lora"):
        resolve(methods, "sapt-adapter", "t5-large", "SuperNI", "order1")
    p = tmp_path / "dup.yaml"
    p.write_text("methods:\n  m:\n    component: sapt\n    defaults: {lr: 1.0e-3, lr: 2.0e-3}\n", encoding="utf-8")
    with pytest.raises(SaptError, match=r"dup\.yaml:4:\d+: malformed YAML .*duplicate key 'lr'"):
        load_methods(p)
    with pytest.raises(SaptError, match="methods file not found"):
        load_methods(tmp_path / "absent.yaml")



def test_bases_swap_the_entry_an_ablation_extends(methods_path, methods):
    """``bases`` (a workflow's ``method_overrides.<m>.extends``): -ARM on sapt-lora-tiny is sapt-lora-tiny with -ARM's
    own kl_lambda, on every layer (T5 SuperNI's kl_lambda 0.5 stays overridden), and keeps its label; a base that is no
    method of the file is one line naming the field."""
    rebased = load_methods(methods_path, {"sapt-lora-noarm": "sapt-lora-tiny"}, "cfg method_overrides")
    for bench, order in (("SuperNI", "order1"), ("Long_Sequence", "order3")):
        tiny = values_of(resolve(methods, "sapt-lora-tiny", "t5-large", bench, order))
        noarm = values_of(resolve(rebased, "sapt-lora-noarm", "t5-large", bench, order))
        assert noarm == {**tiny, "kl_lambda": 0.0}
        paper = values_of(resolve(methods, "sapt-lora-noarm", "t5-large", bench, order))
        assert paper["kl_start_step"] != noarm["kl_start_step"]
    assert rebased["methods"]["sapt-lora-noarm"]["label"] == methods["methods"]["sapt-lora-noarm"]["label"]
    with pytest.raises(SaptError, match=r"^cfg method_overrides\.sapt-lora-noarm\.extends: expected another method "
                                        r"of .*methods\.yaml, got 'nope'$"):
        load_methods(methods_path, {"sapt-lora-noarm": "nope"}, "cfg method_overrides")
    with pytest.raises(SaptError, match=r"^cfg method_overrides\.nope: expected a method of "):
        load_methods(methods_path, {"nope": "sapt-lora"}, "cfg method_overrides")

# ---- CLI flags -------------------------------------------------------------------------------------------------


def test_cli_args(methods):
    r = resolve(methods, "sapt-prompt", "t5-large", "SuperNI", "order1")
    assert cli_args(r, ["lr", "proj_lr", "epochs", "pool_mask_pads", "kl_lambda", "temperature"]) == [
        "--lr", "0.03", "--proj-lr", "none", "--epochs", "100", "--no-pool-mask-pads", "--kl-lambda", "1.0",
        "--temperature", "d_e"]
    r = dict(r, pool_mask_pads=True, lr=1e-5)
    argv = cli_args(r, ["lr", "pool_mask_pads", "max_source_len"])
    assert argv == ["--lr", "1e-05", "--pool-mask-pads", "--max-source-len", "512"]
    full = cli_args(values_of(r))
    assert "--method" not in full and full[:2] == ["--optimizer", "adafactor"]


def test_flags_round_trip_through_the_step_parser(methods):
    """Every resolved value passed as flags comes back as the same config (the workflow's shell line is exact)."""
    from sapt_core.cli import build_parser

    for name in ("sapt-prompt", "sapt-lora-noda", "l2p", "lfpt5", "o-lora", "seq-lora", "epi", "progprompt"):
        r = resolve(methods, name, "t5-large", "Long_Sequence", "order3")
        argv = ["train-step", "--method", name, "--backbone", "b", "--data-dir", "d", "--state-out", "s",
                "--seed", "0", *cli_args(values_of(r))]
        args = build_parser(argv).parse_args(argv)
        from sapt_core.recipes.step import method_from_args

        assert method_from_args(args).values() == instance(r).values(), name


def test_every_numeric_value_has_a_source_comment(methods_path):
    for i, line in enumerate(methods_path.read_text(encoding="utf-8").splitlines(), 1):
        body = line.split("#", 1)[0]
        key = body.split(":", 1)[0].strip()
        if key in ("label", "description", "component", "extends"):  # names and prose, not values
            continue
        if ":" in body and any(ch.isdigit() for ch in body.split(":", 1)[1]):
            assert "#" in line, f"line {i} has no source comment: {line.strip()}"


def test_labels_are_the_papers_row_names_and_not_inherited(methods, methods_path, tmp_path):
    """Tables and figures name methods as the paper does (Table 2: "- ARM"); an `extends` entry gives its own label,
    and a method without one is shown by its name."""
    from sapt_core.plan import ContinualPlan

    m = methods["methods"]
    assert [m[k]["label"] for k in ("sapt-lora", "sapt-lora-noarm", "sapt-lora-replay", "sapt-lora-noalign",
                                    "sapt-lora-noda", "seq-lora", "o-lora")] == \
        ["SAPT-LoRA", "- ARM", "+ Replay", "- Alignment", "- DA", "SeqLoRA", "O-LoRA"]
    doc = _raw(methods_path)
    doc["methods"]["my-ablation"] = {"extends": "sapt-lora", "defaults": {"kl_lambda": 0.0}}
    assert load_methods(_write(tmp_path, doc))["methods"]["my-ablation"]["label"] == "my-ablation"
    plan = ContinualPlan({"methods_file": str(methods_path)}, data_root="unused")
    assert plan.labels_arg(["sapt-lora-noarm", "zero-shot", "sapt-lora~replay_volume=1.0"]) == \
        "--labels 'sapt-lora-noarm=- ARM' zero-shot=Zero-shot"


def test_train_step_takes_a_method_variant():
    """Figure 6's jobs run `sapt train-step --method <method>~<key>=<value>`: the variant's values are the flags'
    defaults, the state records the variant's name, an unknown key is one line naming it."""
    from sapt_core.cli import build_parser
    from sapt_core.errors import SaptError
    from sapt_core.recipes.step import method_from_args

    argv = ["train-step", "--method", "sapt-lora~replay_volume=1.0,pseudo_source=real", "--data-dir", "d",
            "--state-out", "o", "--backbone", "b", "--seed", "0"]
    args = build_parser(argv).parse_args(argv)
    assert (args.replay_volume, args.pseudo_source) == (1.0, "real")
    method = method_from_args(args)
    assert method.name == "sapt-lora~replay_volume=1.0,pseudo_source=real" and method.cfg.replay_volume == 1.0
    with pytest.raises(SaptError, match=r"sapt-lora~nokey=1\.nokey: unknown key"):
        build_parser(["train-step", "--method", "sapt-lora~nokey=1"])
