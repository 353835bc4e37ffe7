"""The embedded default (config/config.yaml): its demo chains, its SAPT rows and what keeps them consistent."""

import yaml

from sapt_core.plan import ContinualPlan

ABLATIONS = ("sapt-lora-noarm", "sapt-lora-replay", "sapt-lora-noalign", "sapt-lora-noda")
# what each ablation sets itself (config/methods.yaml), so the tiny-scale values do not reach it
OWN_KEYS = {"kl_lambda", "reflection", "selector"}


def _plan(repo_root):
    cfg = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    return cfg, ContinualPlan(cfg, data_root="unused")


def test_table2_ablations_share_the_tiny_scale_sapt_settings(repo_root):
    cfg, plan = _plan(repo_root)
    assert cfg["experiments"]["table2"]["methods"][0] == "sapt-lora-tiny"
    tiny = plan.hparams("sapt-lora-tiny", "tiny-t5", "Long_Sequence", "longseq_demo")
    official = plan.hparams("sapt-lora", "tiny-t5", "Long_Sequence", "longseq_demo")
    changed = {k for k in tiny if k != "method" and tiny[k] != official[k]} - OWN_KEYS
    assert {"kl_start_step", "lora_mixing", "temperature", "pseudo_source", "replay_volume"} <= changed
    for ab in ABLATIONS:
        h = plan.hparams(ab, "tiny-t5", "Long_Sequence", "longseq_demo")
        assert {k: h[k] for k in changed} == {k: tiny[k] for k in changed}, ab
    assert tiny["kl_lambda"] == 1.0 and plan.hparams("sapt-lora-noarm", "tiny-t5", "Long_Sequence",
                                                     "longseq_demo")["kl_lambda"] == 0.0


def test_demo_chains_have_pairwise_different_outputs(repo_root):
    from sapt_core.benchmarks import load_benchmarks

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
