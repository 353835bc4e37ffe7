"""The embedded default (config/config.yaml): its demo chains, its SAPT rows and what keeps them consistent."""

import yaml

from sapt_core.plan import ContinualPlan

ARGS = ("tiny-t5", "Long_Sequence", "longseq_demo")


def _plan(repo_root, cfg=None):
    cfg = cfg or yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    return cfg, ContinualPlan(cfg, data_root="unused")


def test_table2_ablations_are_the_tiny_scale_sapt_lora_but_for_their_own_keys(repo_root):
    """Table 2 ablates the tiny-scale SAPT-LoRA (its one copy: config/methods.yaml's sapt-lora-tiny): every ablation
    runs sapt-lora-tiny's values except the keys its own methods-file entry sets (-ARM's kl_lambda, +Replay's
    reflection, the selectors'), which keep the entry's values."""
    cfg, plan = _plan(repo_root)
    table2 = cfg["experiments"]["table2"]["methods"]
    assert table2[0] == "sapt-lora-tiny" and len(table2) == 5
    raw = yaml.safe_load((repo_root / "config" / "methods.yaml").read_text())["methods"]
    tiny, official = plan.hparams("sapt-lora-tiny", *ARGS), plan.hparams("sapt-lora", *ARGS)
    assert {"kl_start_step", "lora_mixing", "temperature", "pseudo_source", "replay_volume"} <= \
        {k for k in tiny if tiny[k] != official[k]}
    for ab in table2[1:]:
        own = raw[ab]["defaults"]
        h = plan.hparams(ab, *ARGS)
        shared = (set(h) & set(tiny)) - set(own) - {"method", "component"}
        assert {k: h[k] for k in shared} == {k: tiny[k] for k in shared}, ab
        assert {k: h[k] for k in own} == own, ab
    assert tiny["kl_lambda"] == 1.0 and plan.hparams("sapt-lora-noarm", *ARGS)["kl_lambda"] == 0.0


def test_the_ablations_take_the_tiny_settings_through_extends_only(repo_root):
    """Without ``method_overrides.<ablation>.extends`` an ablation is the paper's (it extends sapt-lora): the tiny-scale
    settings reach it through that one key, not through a second copy of the values."""
    cfg, _ = _plan(repo_root)
    ablations = cfg["experiments"]["table2"]["methods"][1:]
    assert all(cfg["method_overrides"][ab]["extends"] == "sapt-lora-tiny" for ab in ablations)
    bare = {**cfg, "method_overrides": {m: {k: v for k, v in (o or {}).items() if k != "extends"}
                                        for m, o in cfg["method_overrides"].items()}}
    _, plan = _plan(repo_root, bare)
    official = plan.hparams("sapt-lora", *ARGS)
    for ab in ablations:
        h = plan.hparams(ab, *ARGS)
        assert (h["kl_start_step"], h["lora_mixing"], h["temperature"]) == \
            (official["kl_start_step"], official["lora_mixing"], official["temperature"]), ab


def test_demo_chains_have_pairwise_different_outputs(repo_root):
    from sapt_core.settings.benchmarks import load_benchmarks

    cfg, _ = _plan(repo_root)
    benchmarks = load_benchmarks(str(repo_root / "config" / "benchmarks.yaml"))
    assert cfg["orders"] == {"SuperNI": ["superni_demo"], "Long_Sequence": ["longseq_demo"]}
    assert cfg["n_tasks"] is None
    ls = benchmarks["Long_Sequence"].orders["longseq_demo"]
    assert ls == ["cb", "wic", "copa"] and ls == benchmarks["Long_Sequence"].orders["order3"][1:4]
    sn = benchmarks["SuperNI"].orders["superni_demo"]
    assert sn == benchmarks["SuperNI"].orders["order1"][1:4]
    paper = (repo_root / "config" / "paper.yaml").read_text()
    assert "_demo" not in paper  # the demo orders are the embedded default's only


def test_figure6_points_follow_the_overrides(repo_root):
    """Replay's Table 1 run replays 10% (method_overrides): Figure 6 plots it at 0.1, and 0.02 is a variant."""
    _, plan = _plan(repo_root)
    points = {plan.replay_point(m): m for m in plan.experiment_methods("figure6")}
    assert points[("replay", "real", 0.1)] == "replay"
    assert points[("replay", "real", 0.02)] == "replay~real_replay_volume=0.02"
    assert points[("sapt-lora-tiny", "pseudo", 0.1)] == "sapt-lora-tiny"
