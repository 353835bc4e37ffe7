"""Baselines and ablations (paper sections 5.2 and 6.3): SeqLoRA, Replay, MTL, L2P, LFPT5, O-LoRA, ProgPrompt, EPI and
the Table 2 ablations -ARM, +Replay, -Alignment, -DA, each a 3-task chain through the one step recipe (``sapt
train-step --method``) on a tiny T5, plus their method-specific properties."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import prepare_chain

from sapt_core.errors import SaptError
from sapt_core.methods.o_lora import orthogonality_loss
from sapt_core.methods.single_block import replay_sample
from sapt_core.settings.methods_file import load_methods, resolve

TASKS = ["agnews", "boolq", "sst2"]
COMMON = ["--seed", "0", "--batch-size", "8", "--global-batch", "8", "--max-steps", "3", "--lr", "1e-2", "--max-source-len", "48",
          "--no-progress"]


@pytest.fixture(scope="module")
def chain_dirs(data_root, benchmarks_path, tmp_path_factory):
    return prepare_chain(tmp_path_factory, data_root, benchmarks_path, "baseline_data", TASKS, 20, 4, 6)


def _chain(main, method, backbone, dirs, tmp_path, extra_for_step):
    states = []
    for k, d in enumerate(dirs, 1):
        out = tmp_path / f"{method}{k}"
        args = ["train-step", "--method", method, "--backbone", str(backbone), "--data-dir", str(d), "--state-out", str(out),
                *COMMON, *extra_for_step(k)]
        if k > 1:
            args += ["--state-in", str(states[-1])]
        assert main(args) == 0
        states.append(out)
    scores = tmp_path / f"{method}_scores.json"
    assert main(["evaluate", "--backbone", str(backbone), "--state", str(states[-1]), "--data-dirs", *map(str, dirs),
                 "--max-source-len", "48", "--max-new-tokens", "4", "--out", str(scores)]) == 0
    assert set(json.loads(scores.read_text())["tasks"]) == set(TASKS)
    return states


def _tensors(state):
    from safetensors.torch import load_file

    return load_file(str(state / "state.safetensors")), json.loads((state / "state.json").read_text())


def _model_at(backbone, state):
    """The model of a saved state, rebuilt from its sidecar (as ``sapt evaluate`` does), in eval mode."""
    from sapt_core.models import load_backbone
    from sapt_core.state import method_of

    tensors, side = _tensors(state)
    bb = load_backbone(str(backbone))
    return bb, method_of(side, str(state)).load(bb.model, bb.family, tensors, side).eval(), tensors, side


def test_seqlora_continues_one_block_and_mtl_starts_fresh_on_the_union(tiny_t5, chain_dirs, tmp_path):
    from sapt_core.cli import main

    seq = _chain(main, "seq-lora", tiny_t5, chain_dirs, tmp_path, lambda k: [])
    (a1, s1), (a2, s2) = _tensors(seq[0]), _tensors(seq[1])
    assert s2["tasks"] == TASKS[:2] and s2["component"] == "single-block"
    assert (s2["config"]["init"], s2["config"]["real_replay_volume"], s2["history"][-1]["n_replayed"]) == \
        ("continue", 0.0, 0)
    assert all(v.shape[0] == 1 for k, v in a2.items() if k.startswith("lora."))  # one block all along
    assert s2["inputs"]["state_in"]  # step 2 started from step 1's block ...
    assert any(not torch.equal(a1[k], a2[k]) for k in a1 if k.endswith(".B"))  # ... and went on training it

    mtl = _chain(main, "mtl", tiny_t5, chain_dirs, tmp_path,
                 lambda k: ["--replay-data", *map(str, chain_dirs[:k - 1])] if k > 1 else [])
    side = _tensors(mtl[2])[1]
    assert side["history"][-1]["n_replayed"] == 40 and side["history"][-1]["n_train"] == 20  # union of 3 x 20 rows

    # an MTL run trains its step T alone (--step, no state T-1): the weights of the chain's step 3, the same tasks
    alone = tmp_path / "mtl3-alone"
    assert main(["train-step", "--method", "mtl", "--backbone", str(tiny_t5), "--data-dir", str(chain_dirs[2]),
                 "--state-out", str(alone), *COMMON, "--step", "3", "--replay-data", *map(str, chain_dirs[:2])]) == 0
    (t_alone, s_alone), t_chain = _tensors(alone), _tensors(mtl[2])[0]
    assert (s_alone["step"], s_alone["tasks"], len(s_alone["history"])) == (3, TASKS, 1)
    assert "state_in" not in s_alone["inputs"] and s_alone["history"][-1]["n_replayed"] == 40
    assert t_alone.keys() == t_chain.keys() and all(torch.equal(t_alone[k], t_chain[k]) for k in t_chain)
    # a method that continues step k-1's state cannot skip it; a --step that does not follow --state-in is refused
    for method, extra in (("seq-lora", []), ("mtl", ["--state-in", str(mtl[0])])):
        out = tmp_path / f"{method}-skip"
        assert main(["train-step", "--method", method, "--backbone", str(tiny_t5), "--data-dir", str(chain_dirs[2]),
                     "--state-out", str(out), *COMMON, "--step", "3", *extra,
                     "--replay-data", *map(str, chain_dirs[:2])]) == 2
        assert not out.exists()


def test_replay_draws_exactly_the_configured_volume(tiny_t5, chain_dirs, tmp_path):
    from sapt_core.cli import main
    from sapt_core.data import load_split

    rows = load_split(chain_dirs[0], "train")
    assert len(replay_sample(rows, 0.02, 0, 0)) == 1               # at least one
    assert len(replay_sample(rows, 0.25, 0, 0)) == 5                # 25% of 20
    assert replay_sample(rows, 0.25, 0, 0) == replay_sample(rows, 0.25, 0, 0)   # seeded
    assert replay_sample(rows, 0.25, 0, 0) != replay_sample(rows, 0.25, 1, 0)
    with pytest.raises(ValueError):
        replay_sample(rows, 0.0, 0, 0)
    states = _chain(main, "replay", tiny_t5, chain_dirs, tmp_path,
                    lambda k: ["--real-replay-volume", "0.25", "--replay-data", *map(str, chain_dirs[:k - 1])]
                    if k > 1 else [])
    assert [h["n_replayed"] for h in _tensors(states[2])[1]["history"]] == [0, 5, 10]
    # a wrong number of earlier-task directories is one clear error, nothing written
    assert main(["train-step", "--method", "replay", "--backbone", str(tiny_t5), "--data-dir", str(chain_dirs[2]),
                 "--state-in", str(states[1]), "--state-out", str(tmp_path / "bad"), "--real-replay-volume", "0.25",
                 "--replay-data", str(chain_dirs[0]), *COMMON]) == 2
    assert not (tmp_path / "bad").exists()


def test_olora_orthogonality_loss_and_frozen_earlier_adapters(tiny_t5, chain_dirs, tmp_path):
    from sapt_core.cli import main
    from sapt_core.methods.o_lora import OLora, OLoraConfig
    from sapt_core.models import load_backbone

    bb = load_backbone(str(tiny_t5))
    model = OLora("o-lora", OLoraConfig(lora_r=2))._model(bb.model, bb.family, 2, 0)
    site = next(iter(model.sites.values()))
    d_in = site.prev_A.shape[-1]
    with torch.no_grad():
        for s in model.sites.values():  # earlier A on coordinates 0-1, new A on 2-3: orthogonal rows
            s.prev_A.zero_(); s.lora_A.zero_()
            s.prev_A[0, 0, 0] = s.prev_A[0, 1, 1] = 1.0
            s.lora_A[0, 2] = s.lora_A[1, 3] = 1.0
    assert orthogonality_loss(model).item() == 0.0
    with torch.no_grad():
        site.lora_A[0, 0] = 0.5
    assert orthogonality_loss(model).item() == pytest.approx(0.5)
    assert d_in > 3
    # summed routing: every block has weight exactly 1
    w = model.route(torch.ones(3, 5, dtype=torch.long))
    assert torch.equal(w, torch.ones(3, 2))

    # the lambda_1 schedule by task position (here the late value from task 3), recorded per step
    states = _chain(main, "o-lora", tiny_t5, chain_dirs, tmp_path, lambda k: [
        "--orth-lambda", "0.5", "--orth-lambda-late", "2.0", "--orth-lambda-late-from", "3"])
    (a2, _), (a3, s3) = _tensors(states[1]), _tensors(states[2])
    assert s3["component"] == "o-lora" and s3["config"]["orth_lambda"] == 0.5 and not any(
        k.startswith("attention.") for k in a3)
    assert [h["orth_lambda"] for h in s3["history"]] == [0.0, 0.5, 2.0]
    for k in a2:
        if k.startswith("lora."):
            assert torch.equal(a2[k], a3[k][:2]), k                     # blocks 1-2 bit-identical after step 3


def test_olora_lambda_follows_the_official_schedule_by_task_position():
    from sapt_core.settings.methods_file import instance

    methods = load_methods("config/methods.yaml")
    for bench, order in (("SuperNI", "order1"), ("Long_Sequence", "order3")):
        m = instance(resolve(methods, "o-lora", "t5-large", bench, order))
        # O-LoRA's long-sequence script: 0 for task 1, 0.5 for tasks 2-9, 5 for tasks 10-15
        assert [m.orth_lambda_at(k) for k in range(1, 16)] == [0.0] + [0.5] * 8 + [5.0] * 6
    flat = instance(resolve(methods, "o-lora", "t5-large", "SuperNI", "order1",
                            overrides={"orth_lambda_late_from": None}))
    assert [flat.orth_lambda_at(k) for k in range(1, 16)] == [0.0] + [0.5] * 14
    with pytest.raises(SaptError, match="orth_lambda_late_from"):
        resolve(methods, "o-lora", "t5-large", "SuperNI", "order1", overrides={"orth_lambda_late_from": 1})


def test_noarm_ablation_is_sapt_lora_with_lambda_zero(tiny_t5, chain_dirs, tmp_path):
    """-ARM (Table 2) resolves to SAPT-LoRA's hyperparameters with lambda 0 in every layer, and trains without
    pseudo inputs."""
    from sapt_core.cli import main

    methods = load_methods()
    for backbone, bench, order in [("t5-large", "SuperNI", "order1"), ("t5-large", "Long_Sequence", "order3"),
                                   ("llama-2-7b", "Long_Sequence", "order4")]:
        full = resolve(methods, "sapt-lora", backbone, bench, order)
        ablated = resolve(methods, "sapt-lora-noarm", backbone, bench, order)
        assert full["kl_lambda"] > 0 and ablated["kl_lambda"] == 0.0
        assert {k: v for k, v in ablated.items() if k not in ("method", "kl_lambda")} == \
            {k: v for k, v in full.items() if k not in ("method", "kl_lambda")}
    states = _chain(main, "sapt-lora-noarm", tiny_t5, chain_dirs, tmp_path, lambda k: [])
    side = _tensors(states[2])[1]
    assert side["config"]["kl_lambda"] == 0.0 and "arm_kl" not in side["history"][-1]
    assert side["inputs"]["pseudo"] == []


def test_every_method_names_a_registered_component():
    """Method identity comes from the registry: each methods-file entry names its component, nothing else."""
    from sapt_core.methods import components

    expect = {"sapt-lora": "sapt", "sapt-lora-tiny": "sapt", "sapt-prompt": "sapt", "sapt-lora-noarm": "sapt",
              "sapt-lora-replay": "sapt",
              "sapt-lora-noalign": "sapt-pipeline", "sapt-lora-noda": "sapt-pipeline", "seq-lora": "single-block",
              "replay": "single-block", "mtl": "single-block", "single-task": "single-block", "o-lora": "o-lora",
              "progprompt": "progprompt", "l2p": "l2p", "lfpt5": "lfpt5", "epi": "epi"}
    methods = load_methods()
    assert {n: m["component"] for n, m in methods["methods"].items()} == expect
    assert set(expect.values()) == set(components())


def test_progprompt_input_grows_by_one_prompt_per_task_and_earlier_prompts_stay(tiny_t5, chain_dirs, tmp_path):
    from sapt_core.cli import main

    states = _chain(main, "progprompt", tiny_t5, chain_dirs, tmp_path, lambda k: ["--lr", "0.3"])
    (p2, _), (p3, s3) = _tensors(states[1]), _tensors(states[2])
    assert p3["prompt.P"].shape[0] == 3 and torch.equal(p3["prompt.P"][:2], p2["prompt.P"])  # frozen earlier prompts
    assert not torch.equal(p3["prompt.P"][2], p3["prompt.P"][1])
    ids = torch.tensor([[5, 6, 7, 1]])
    lengths = []
    for k, st in enumerate(states, 1):
        _, model, tensors, side = _model_at(tiny_t5, st)
        kw = model._prepare(ids, torch.ones_like(ids), None, None)
        lengths.append(kw["inputs_embeds"].shape[1])
        if k == 3:  # newest first: [P_3; P_2; P_1; x]
            L = side["config"]["prompt_len"]
            assert torch.equal(kw["inputs_embeds"][0, :L], tensors["prompt.P"][2])
            assert torch.equal(kw["inputs_embeds"][0, 2 * L:3 * L], tensors["prompt.P"][0])
    assert lengths == [4 + 10, 4 + 20, 4 + 30]


def test_l2p_selects_top_n_keys_by_cosine_and_pool_keeps_training(tiny_t5, chain_dirs, tmp_path):
    from sapt_core.cli import main
    from sapt_core.methods.l2p.model import L2PModel
    from sapt_core.models import load_backbone

    bb = load_backbone(str(tiny_t5))
    model = L2PModel(bb.model, bb.family, pool_size=5, prompt_len=3, top_n=2, pull_weight=0.5)
    ids = torch.tensor([[5, 6, 7, 8, 1], [9, 10, 1, 0, 0]])
    mask = (ids != 0).long()
    q = model.query(ids, mask)
    d = q.shape[1]
    with torch.no_grad():  # keys: +q0 (cos 1 with row 0), -q0 (cos -1), and three random ones
        model.keys[0] = q[0] * 3
        model.keys[1] = -q[0]
    idx, sims = model.select(q)
    cos = torch.nn.functional.cosine_similarity(q[:, None], model.keys[None], dim=-1)
    assert torch.equal(idx, cos.topk(2, dim=-1).indices) and idx[0, 0] == 0 and 1 not in idx[0].tolist()
    assert torch.allclose(sims[0, 0], torch.tensor(1.0), atol=1e-5)
    kw = model._prepare(ids, mask, None, None)
    assert kw["inputs_embeds"].shape[1] == 2 * 3 + 5                      # N*L prompt tokens + input
    assert torch.equal(kw["inputs_embeds"][0, :3], model.prompts[0].detach())  # most similar first
    assert torch.equal(model.last_weights.sum(1), torch.full((2,), 2.0))
    labels = torch.tensor([[5, 1], [6, 1]])
    plain = bb.model(**{**model._prepare(ids, mask, None, None), "labels": labels}).loss
    assert torch.allclose(model(ids, mask, labels=labels).loss, plain - 0.5 * model._pull)  # pull-key term
    assert d == model.keys.shape[1]

    states = _chain(main, "l2p", tiny_t5, chain_dirs, tmp_path,
                    lambda k: ["--pool-size", "6", "--top-n", "2", "--lr", "0.3"])
    (a1, _), (a3, s3) = _tensors(states[0]), _tensors(states[2])
    assert {k: s3["config"][k] for k in ("pool_size", "prompt_len", "top_n", "pull_weight")} == \
        {"pool_size": 6, "prompt_len": 10, "top_n": 2, "pull_weight": 0.5}
    assert a3["l2p.prompts"].shape == (6, 10, d) and not torch.equal(a1["l2p.keys"], a3["l2p.keys"])


def test_epi_picks_the_closest_task_and_refuses_generation_tasks(tiny_t5, chain_dirs, data_root, request, tmp_path,
                                                                 capsys):
    from sapt_core.cli import main
    from sapt_core.data import prepare_task
    from sapt_core.methods.epi.router import EpiStats

    g = torch.Generator().manual_seed(0)
    stats = EpiStats(4)
    centers = torch.eye(4) * 10
    for t in range(2):  # task t: classes around centers 2t and 2t+1
        feats = torch.cat([centers[2 * t + c] + torch.randn(20, 4, generator=g) for c in range(2)])
        stats.add_task(feats, ["a"] * 20 + ["b"] * 20, t)
    assert stats.means.shape == (4, 4) and stats.class_task.tolist() == [0, 0, 1, 1] and int(stats.n_tasks) == 2
    probe = torch.stack([centers[0], centers[1], centers[2], centers[3]]) + 0.1
    assert stats.select(probe).tolist() == [0, 0, 1, 1]

    # a generation task (SuperNI summarisation, Rouge-L) is refused with one line, nothing written
    gen_dir = tmp_path / "samsum"
    prepare_task(str(data_root), str(request.config.rootpath / "config/benchmarks.yaml"), "SuperNI",
                 "task1572_samsum_summary", "official", 0, gen_dir, n_train=8, n_val=2, n_test=2)
    rc = main(["train-step", "--method", "epi", "--backbone", str(tiny_t5),
               "--data-dir", str(gen_dir), "--state-out", str(tmp_path / "bad"), *COMMON])
    err = capsys.readouterr().err
    assert rc == 2 and "needs classification" in err and "'rougeL'" in err and not (tmp_path / "bad").exists()

    states = _chain(main, "epi", tiny_t5, chain_dirs, tmp_path, lambda k: ["--lr", "0.03"])
    tensors, side = _tensors(states[2])
    assert tensors["epi.class_task"].unique().tolist() == [0, 1, 2] and int(tensors["epi.n_tasks"]) == 3


def test_not_applicable_cells_show_a_dash(benchmarks_path, tmp_path):
    from sapt_core.settings.benchmarks import load_benchmarks
    from sapt_core.report.result_tables import result_table

    t = result_table("table1", [], load_benchmarks(benchmarks_path), methods=["epi"], orders=["order1", "order3"],
                     seeds=[0], not_applicable=[("epi", "SuperNI")])
    row = dict(zip(t.columns, t.rows[0]))
    assert all(v == "-" for k, v in row.items() if k.startswith("SuperNI"))
    assert all(v == "n/a (missing)" for k, v in row.items() if k.startswith("Long_Sequence"))


def test_figure6_variants_and_series():
    """Figure 6's runs: volume x type variants of Replay and SAPT-LoRA; the series average orders, then seeds."""
    import shlex

    from sapt_core.plan import ContinualPlan, split_variant
    from sapt_core.report.replay_figure import parse_points, replay_series

    plan = ContinualPlan({"experiments": {"figure6": {"methods": ["replay", "sapt-lora"], "backbones": ["b"],
                                                        "benchmarks": ["SuperNI"], "replay_volumes": [0.02, 0.5]}}},
                         data_root="unused")
    names = plan.experiment_methods("figure6")
    assert names == ["replay", "replay~real_replay_volume=0.5", "sapt-lora~replay_volume=0.02,pseudo_source=real",
                     "sapt-lora~replay_volume=0.5,pseudo_source=real", "sapt-lora", "sapt-lora~replay_volume=0.5"]
    assert split_variant(names[3]) == ("sapt-lora", {"replay_volume": 0.5, "pseudo_source": "real"})
    assert [plan.replay_point(n) for n in names] == [
        ("replay", "real", 0.02), ("replay", "real", 0.5), ("sapt-lora", "real", 0.02), ("sapt-lora", "real", 0.5),
        ("sapt-lora", "pseudo", 0.02), ("sapt-lora", "pseudo", 0.5)]
    # the Figure 6 job gets each run's point on its command line (variant names hold '=': the point follows the last)
    points = parse_points(shlex.split(plan.replay_points_arg())[1:])
    assert points == dict(zip(names, map(plan.replay_point, names)))
    metrics = [{"run": {"benchmark": "SuperNI", "order": o, "method": "replay~real_replay_volume=0.5", "seed": s},
                "metrics": {"AP": ap, "F.Ra": 1.0, "FWT": 0.0}}
               for o, s, ap in [("order1", 0, 10.0), ("order2", 0, 20.0), ("order1", 1, 30.0), ("order2", 1, 50.0)]]
    series = replay_series(metrics, points, {"replay": "Replay"})
    assert series["SuperNI"]["AP"]["Replay (real)"] == {0.5: [15.0, 40.0]}   # the paper's name
    with pytest.raises(SaptError, match="unknown method"):
        plan.replay_variant("nope", "real", 0.1)


# ---- Table 2 ablations: +Replay, -Alignment, -DA ------------------------------------------------------------------
def _pseudo_files(dirs, tmp_path, n=6):
    """Stand-in pseudo inputs (real test inputs, answers dropped) of each task, in the generator's output schema."""
    from sapt_core.data import load_split

    out = []
    for d in dirs:
        rows = [{**r, "target": "", "references": []} for r in load_split(d, "test")[:n]]
        p = tmp_path / f"pseudo_{d.name}.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in rows))
        out.append(p)
    return out


def test_plus_replay_mixes_pseudo_inputs_answered_by_the_previous_model(tiny_t5, chain_dirs, tmp_path):
    """+Replay: no KL; the pseudo inputs of tasks 1..t-1 join task t's data with the step t-1 model's answers."""
    from sapt_core.cli import main
    from sapt_core.evaluation.generation import greedy_generate
    from sapt_core.io import read_jsonl

    pseudo = _pseudo_files(chain_dirs, tmp_path)
    states = _chain(main, "sapt-lora-replay", tiny_t5, chain_dirs, tmp_path,
                    lambda k: ["--max-new-tokens", "4", "--eval-batch-size", "8",
                               *(["--pseudo", *map(str, pseudo[:k - 1])] if k > 1 else [])])
    side = _tensors(states[2])[1]
    assert side["config"]["reflection"] == "mix" and "arm_kl" not in side["history"][-1]
    assert [h["n_replayed"] for h in side["history"]] == [0, 6, 12]
    # the answers are the step-1 model's own greedy outputs (deterministic), not blank targets
    from sapt_core.methods.base import StepContext
    from sapt_core.state import method_of

    bb, model, tensors, side1 = _model_at(tiny_t5, states[0])
    method = method_of(side, "step 3")
    ctx = StepContext(method="sapt-lora-replay", k=2, seed=0, data_dir=chain_dirs[1], manifest={}, rows=[],
                      prev_tensors=tensors, prev_side=side1, pseudo=[read_jsonl(pseudo[0], "pseudo")], replay_dirs=[],
                      train=None, backbone_source=(str(tiny_t5), "float32", "cpu"))
    labelled = method.extra_rows(ctx, None)
    expected = greedy_generate(model, bb.tokenizer, bb.family, read_jsonl(pseudo[0], "pseudo"), 8, 4, 48)
    assert [r["target"] for r in labelled] == expected and all(r["references"] == [r["target"]] for r in labelled)
    # wrong number of pseudo files, or mixing together with a KL: one-line errors
    bad = ["train-step", "--method", "sapt-lora-replay", "--backbone", str(tiny_t5), "--data-dir",
           str(chain_dirs[1]), "--state-in", str(states[0]), "--state-out", str(tmp_path / "bad"), *COMMON]
    assert main(bad) == 2
    assert main([*bad, "--kl-lambda", "0.5", "--pseudo", str(pseudo[0])]) == 2
    assert not (tmp_path / "bad").exists()


def test_alignment_ablation_learns_with_attention_and_selects_with_a_separate_selector(tiny_t5, chain_dirs,
                                                                                       tmp_path):
    """-Alignment: training routes through the shared attention, test inputs through the fitted selector, whose
    weights on each task's pseudo inputs approach the stored a_i."""
    from sapt_core.cli import main
    from sapt_core.models.batching import Collator, encode_rows
    from sapt_core.io import read_jsonl

    pseudo = _pseudo_files(chain_dirs, tmp_path)
    states = _chain(main, "sapt-lora-noalign", tiny_t5, chain_dirs, tmp_path,
                    lambda k: ["--pseudo", *map(str, pseudo[:k])])
    bb, model, tensors, side = _model_at(tiny_t5, states[2])
    assert tensors["selector.keys"].shape[0] == 3 and int(tensors["selector.n_fitted"]) == 3
    fit = side["history"][-1]["selector"]
    assert fit["final_loss"] < 0.2 * fit["first_loss"]
    targets = tensors["arm.targets"]
    for i, p in enumerate(pseudo):
        batch = Collator(bb.tokenizer.pad_token_id, "t5")(encode_rows(read_jsonl(p, "pseudo"), bb.tokenizer, "t5",
                                                                        48, train=False))
        test_w = model.route(batch["input_ids"], batch["attention_mask"])
        assert torch.allclose(test_w.mean(0), targets[i], atol=0.1)            # selector reproduces a_i ...
        model.train()
        learn_w = model.route(batch["input_ids"], batch["attention_mask"])
        model.eval()
        assert torch.allclose(learn_w, model.router.attention(model.embed(batch["input_ids"]),
                                                              batch["attention_mask"]))
        assert not torch.allclose(learn_w, test_w, atol=1e-3)                   # ... but is not the attention


def test_da_ablation_learns_each_block_alone_and_selects_the_top1_block(tiny_t5, chain_dirs, tmp_path):
    """-DA: a_t is one-hot (block t learned alone), earlier blocks stay frozen, and each test input uses exactly one
    block: the selector's most confident; with separable inputs the selector recognises the task."""
    from sapt_core.cli import main
    from sapt_core.methods.sapt.selector import Selector, fit_selector

    pseudo = _pseudo_files(chain_dirs, tmp_path)
    states = _chain(main, "sapt-lora-noda", tiny_t5, chain_dirs, tmp_path, lambda k: ["--pseudo", *map(str, pseudo[:k])])
    (a2, _), (a3, s3) = _tensors(states[1]), _tensors(states[2])
    assert torch.equal(a3["arm.targets"], torch.eye(3))
    for k in a2:
        if k.startswith("lora."):
            assert torch.equal(a2[k], a3[k][:2]), k
    _, model, _, _ = _model_at(tiny_t5, states[2])
    ids = torch.tensor([[5, 6, 7, 1], [9, 10, 11, 1]])
    w = model.route(ids, torch.ones_like(ids))
    assert torch.equal(w.sum(1), torch.ones(2)) and set(w.flatten().tolist()) <= {0.0, 1.0}

    g = torch.Generator().manual_seed(0)
    centers = torch.randn(3, 16, generator=g) * 3
    pooled = [centers[i] + 0.3 * torch.randn(20, 16, generator=g) for i in range(3)]
    torch.manual_seed(0)
    sel = Selector(16, 3, 8, temperature=4.0)
    fit_selector(sel, pooled, torch.eye(3), steps=200, lr=1e-2)
    picks = [sel.logits_from_pooled(p).argmax(-1) for p in pooled]
    assert all(bool((p == i).all()) for i, p in enumerate(picks)) and int(sel.n_fitted) == 3


# ---- LFPT5 ------------------------------------------------------------------------------------------------------
def test_lfpt5_generation_rows_and_example_split():
    from sapt_core.methods.lfpt5.examples import generation_rows, split_example

    row = {"id": "1", "task": "agnews", "source": "Classify: stocks fell", "target": "Business"}
    assert generation_rows([row]) == [{"id": "1", "task": "agnews", "source": "__gen__ agnews",
                                       "target": "Classify: stocks fell __ans__ Business"}]
    assert split_example("Classify: x __ans__ Sports __ans__ junk") == ("Classify: x", "Sports")
    assert split_example("no marker here") is None and split_example(" __ans__ Sports") is None


def test_lfpt5_continues_one_long_prompt_and_replays_the_configured_volume(tiny_t5, chain_dirs, tmp_path,
                                                                           monkeypatch):
    """LFPT5: one prompt (300 tokens in the paper; 12 here) carried across tasks; before task t it draws exactly
    max(1, int(v * N_i)) examples of each earlier task from itself and mixes the valid ones into the data; the
    generation loss enters the objective."""
    from sapt_core.methods.lfpt5 import examples as lfpt5
    from sapt_core.cli import main

    drawn = []
    real_generate = lfpt5.generate_examples

    def spy(model, tok, family, task, n, sampling, seed, batch_size=16):
        rows, n_texts = real_generate(model, tok, family, task, n, sampling, seed, batch_size)
        drawn.append((task, n, n_texts))
        return rows + [{"id": f"{task}-forced", "task": task, "source": "x", "target": "y", "references": ["y"]}], n_texts

    monkeypatch.setattr(lfpt5, "generate_examples", spy)
    common = ["--prompt-len", "12", "--lm-lambda", "0.25", "--gen-max-new-tokens", "8", "--gen-replay-volume", "0.25"]
    states = _chain(main, "lfpt5", tiny_t5, chain_dirs, tmp_path,
                    lambda k: [*common, *(["--replay-data", *map(str, chain_dirs[:k - 1])] if k > 1 else [])])
    (p1, _), (p3, s3) = _tensors(states[0]), _tensors(states[2])
    assert p3["prompt.P"].shape == (1, 12, p1["prompt.P"].shape[-1]) and not torch.equal(p1["prompt.P"], p3["prompt.P"])
    assert drawn == [("agnews", 5, 15), ("agnews", 5, 15), ("boolq", 5, 15)]   # 25% of 20, 3 candidates each
    last = s3["history"][-1]
    assert last["lfpt5"]["drawn"] == [5, 5] and last["n_replayed"] == sum(last["lfpt5"]["kept"]) >= 2
    # the generation loss is part of the objective: same data without it trains to a different prompt
    plain = tmp_path / "nolm"
    assert main(["train-step", "--method", "lfpt5", "--backbone", str(tiny_t5), "--data-dir", str(chain_dirs[0]),
                 "--state-out", str(plain), *COMMON, "--prompt-len", "12", "--lm-lambda", "0"]) == 0
    assert not torch.equal(_tensors(plain)[0]["prompt.P"], p1["prompt.P"])
    assert main(["train-step", "--method", "lfpt5", "--backbone", str(tiny_t5), "--data-dir", str(chain_dirs[1]),
                 "--state-in", str(states[0]), "--state-out", str(tmp_path / "bad"), *COMMON, *common]) == 2
    assert not (tmp_path / "bad").exists()                                      # no --replay-data: one-line error


@pytest.mark.parametrize("method", ["lfpt5", "sapt-lora-noalign", "sapt-lora-replay"])
def test_new_methods_run_on_a_decoder_only_backbone(method, tiny_llama, chain_dirs, tmp_path):
    """LFPT5 and the selector / replay ablations on the tiny LLaMA: a 2-task chain trains and scores."""
    from sapt_core.cli import main

    pseudo = _pseudo_files(chain_dirs[:2], tmp_path)
    extra = {"lfpt5": lambda k: ["--prompt-len", "8", "--lm-lambda", "0.25", "--gen-max-new-tokens", "8",
                                 "--gen-replay-volume", "0.1", *(["--replay-data", str(chain_dirs[0])] if k > 1 else [])],
             "sapt-lora-noalign": lambda k: ["--pseudo", *map(str, pseudo[:k])],
             "sapt-lora-replay": lambda k: ["--max-new-tokens", "4", *(["--pseudo", str(pseudo[0])] if k > 1 else [])]}
    states = []
    for k, d in enumerate(chain_dirs[:2], 1):
        out = tmp_path / f"{method}{k}"
        assert main(["train-step", "--method", method, "--backbone", str(tiny_llama), "--data-dir", str(d), "--state-out",
                     str(out), *COMMON, *extra[method](k), *(["--state-in", str(states[-1])] if states else [])]) == 0
        states.append(out)
    scores = tmp_path / "scores.json"
    assert main(["evaluate", "--backbone", str(tiny_llama), "--state", str(states[-1]), "--data-dirs",
                 *map(str, chain_dirs[:2]), "--max-source-len", "48", "--max-new-tokens", "4", "--out", str(scores)]) == 0
    assert set(json.loads(scores.read_text())["tasks"]) == set(TASKS[:2])
