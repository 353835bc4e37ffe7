"""DAG shape on the paper grid: per-rule job counts equal the formula from the config."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from sapt_core.methods.keys import specs
from sapt_core.methods.single_block import SingleBlockConfig
from sapt_core.settings.methods_file import load_methods, resolve
from sapt_core.plan import ContinualPlan


def _job_counts(repo_root: Path, *args) -> dict:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "runs", *args, "--quiet", "rules"], cwd=repo_root,
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    table = (res.stdout + res.stderr).split("Job stats:")[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def test_paper_grid_job_counts(repo_root, data_root):
    cfg = yaml.safe_load((repo_root / "config/config.yaml").read_text())
    paper = yaml.safe_load((repo_root / "config/paper.yaml").read_text())
    cfg.update(paper)  # Snakemake merges --configfile over the default; every key used below is set in paper.yaml
    benches = yaml.safe_load((repo_root / "config/benchmarks.yaml").read_text())["benchmarks"]
    methods = load_methods(str(repo_root / "config/methods.yaml"))
    plan = ContinualPlan(cfg, data_root="unused")
    # Figure 6's volume x type variants: the runs of a replay type at a volume other than the method's default
    variants = {name: plan.experiment_methods(name) for name in cfg["experiments"]}
    assert len(variants["figure6"]) == 4 * 6  # Replay real; LFPT5 generated; SAPT pseudo; SAPT real: 6 volumes each
    assert {"replay", "lfpt5", "sapt-lora"} <= set(variants["figure6"])  # the 0.02 defaults are Table 1's own runs
    runs = {(b, o, bb, m, s) for name, e in cfg["experiments"].items() for b in e["benchmarks"]
            for o in cfg["orders"][b] for bb in e["backbones"] for m in variants[name] if m != "zero-shot"
            and b in (methods["methods"][m.split("~")[0]]["benchmarks"] or [b]) for s in cfg["seeds"]}
    pets = {"sapt": None, "sapt-pipeline": None, "single-block": None, "o-lora": "lora", "progprompt": "prompt",
            "l2p": "prompt", "lfpt5": "prompt", "epi": "prompt"}
    single, generators, pseudo, data, mtl = set(), set(), set(), set(), set()
    for b, o, bb, m, s in runs:
        h = plan.hparams(m, bb, b, o)
        if "~" not in m:  # paper.yaml has no method_overrides: config/methods.yaml's values + the protocol's
            protocol = plan.protocol_values(h)
            assert protocol == {"selection": "none", "select_every_epochs": 5, **(
                {"attn_split": "train"} if "attn_split" in h else {})}  # paper.yaml: the paper's protocol
            assert h == resolve(methods, m, bb, b, o, family=cfg["backbones"][bb]["family"], overrides=protocol)
        pet = pets[h["component"]] or h["pet"]
        if h["component"] == "single-block" and h["init"] == "fresh" and h["real_replay_volume"] >= 1:
            mtl.add(m)
        # a_{0,t}: one job per distinct single-block recipe (the method's optimisation / evaluation keys, its PET
        # type and that type's size keys); MTL (a fresh block per step) has no FWT
        unused = ("prompt_len",) if pet == "lora" else ("lora_r", "lora_alpha", "lora_dropout")
        recipe = tuple((k, h.get(k)) for k in specs(SingleBlockConfig) if k not in unused + ("pet", "init",
                                                                                             "real_replay_volume"))
        tasks = benches[b]["orders"][o]
        for k, t in enumerate(tasks):
            data.add((b, t, s))
            if not (h["component"] == "single-block" and h["init"] == "fresh"):
                single.add((b, bb, pet, recipe, t, s))
            # ARM (lambda > 0) and +Replay: pseudo inputs of every task but the last feed later steps; the -Alignment
            # / -DA selector is fitted on every seen task's, the last one's included
            reads = len(tasks) if h["component"] == "sapt-pipeline" else len(tasks) - 1 if h["component"] == "sapt" \
                and (h["kl_lambda"] > 0 or h["reflection"] == "mix") else 0
            if k < reads:
                pseudo.add((b, bb, pet, s, h["pseudo_source"], h["replay_volume"], t))
                if h["pseudo_source"] == "generated":
                    generators.add((b, bb, pet, s, t))
    expected = {
        "prepare_data": len(data), "single_task": len(single),
        "train_generator": len(generators), "generate_pseudo": len(pseudo),
        # MTL (a fresh block on tasks 1..T, AP only) trains its last step alone
        "train_step": sum(1 if r[3] in mtl else len(benches[r[0]]["orders"][r[1]]) for r in runs),
        "run_metrics": len(runs),
        # each hub backbone of the grid fetched once, on the submitting host (local rule, sapt_core/models/hub.py)
        "fetch_backbone": len({r[2] for r in runs}),
    }
    counts = _job_counts(repo_root, "--configfile", "config/paper.yaml", f"--config=data_root={data_root}")
    for rule, n in expected.items():
        assert counts.get(rule) == n, (rule, counts.get(rule), n)
    # the grid: 9 methods x 2 benchmarks (+ EPI on Long Sequence only) x 2 orders x 3 seeds on T5-large (Table 1),
    # + 4 SAPT-LoRA ablations (Table 2), + 3 methods on the other sizes / LLaMA (Figures 4, 5, 7)
    n_mtl = sum(r[3] in mtl for r in runs)
    assert mtl == {"mtl"} and n_mtl == 12  # Table 1: 2 benchmarks x 2 orders x 3 seeds
    assert expected["train_step"] == (len(runs) - n_mtl) * 15 + n_mtl
    seeds_orders = 2 * 2 * 3  # 2 benchmarks x 2 orders x 3 seeds
    assert len(runs) == ((9 + 4) * seeds_orders + 2 * 3 + 3 * 2 * seeds_orders + 3 * 2 * seeds_orders
                         + 21 * 2 * 3)  # T5-XL/XXL; LLaMA x2; Figure 6: 21 new variants x 2 SuperNI orders x 3 seeds


def test_resources_come_from_the_backbone_table(repo_root):
    from sapt_core.plan import ContinualPlan

    cfg = yaml.safe_load((repo_root / "config/paper.yaml").read_text())
    plan = ContinualPlan(cfg, data_root="unused")
    assert plan.resources("t5-large", "gpu") == 1 and plan.resources("llama-2-13b", "gpu") == 4  # App. C
    assert plan.resources("t5-xl", "runtime", attempt=2) == 2 * plan.resources("t5-xl", "runtime")
    tiny = ContinualPlan(yaml.safe_load((repo_root / "config/config.yaml").read_text()), data_root="unused")
    assert tiny.resources("tiny-t5", "gpu") == 0
