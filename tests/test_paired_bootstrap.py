"""The paired bootstrap of AP differences (sapt_core/report/paired_bootstrap.py) and a result table's companion
(sapt_core/report/ap_diff_table.py, ``sapt report-table --ap-diff``) on synthetic per-instance scores."""

import json

import numpy as np
import pytest

from sapt_core.errors import SaptError
from sapt_core.report.ap_diff_table import ap_diff_table
from sapt_core.report.paired_bootstrap import ap_difference, last_step_scores, pair_tasks


def rng_scores(n, seed, lo=0.0, hi=100.0):
    return np.random.default_rng(seed).uniform(lo, hi, n)


def test_identical_methods_differ_by_zero_with_a_zero_width_interval():
    s = rng_scores(50, 1)
    d = ap_difference([[(s, s.copy()), (s[:7], s[:7].copy())]])
    assert d.estimate == 0 and d.low == 0 and d.high == 0
    assert d.low <= 0 <= d.high and not d.clear


def test_better_on_every_instance_by_ten_is_plus_ten_and_clear():
    runs = [[(s + 10, s) for s in (rng_scores(30, k), rng_scores(80, k + 10))] for k in range(3)]
    d = ap_difference(runs)
    assert d.estimate == pytest.approx(10)
    assert d.low == pytest.approx(10) and d.high == pytest.approx(10)
    assert d.clear and d.runs == 3 and d.instances == 3 * 110


def test_pairing_narrows_the_interval_of_correlated_scores():
    base = rng_scores(200, 3)  # instance difficulty dominates both methods' scores
    noise = np.random.default_rng(4).normal(0, 2, 200)
    runs = [[(base + 1 + noise, base)]]
    paired = ap_difference(runs)
    unpaired = ap_difference(runs, paired=False)
    assert paired.estimate == pytest.approx(unpaired.estimate)
    assert (paired.high - paired.low) * 5 < unpaired.high - unpaired.low
    assert paired.clear and not unpaired.clear  # +1 is clear only when the pairing is used


def test_each_task_weighs_one_over_T_whatever_its_size():
    # task A (2 instances): +30 for the method; task B (200 instances): equal. AP weighs both tasks 1/2: ΔAP = +15,
    # where pooling the instances would give 30 * 2 / 202 = 0.3
    a_r, b = np.array([10.0, 20.0]), rng_scores(200, 5)
    d = ap_difference([[(a_r + 30, a_r), (b, b)]])
    assert d.estimate == pytest.approx(15)
    assert d.low == pytest.approx(15) and d.high == pytest.approx(15)  # every redraw keeps both tasks, each 1/2


def test_seeds_and_orders_are_pooled_by_averaging():
    s = rng_scores(20, 6)
    d = ap_difference([[(s + 4, s)], [(s + 8, s)]])
    assert d.estimate == pytest.approx(6) and d.low == pytest.approx(6)


def test_same_seed_same_numbers_other_seed_other_interval():
    runs = [[(rng_scores(40, 7), rng_scores(40, 8))]]
    a, b, c = ap_difference(runs, seed=0), ap_difference(runs, seed=0), ap_difference(runs, seed=1)
    assert (a.estimate, a.low, a.high) == (b.estimate, b.low, b.high)
    assert c.estimate == a.estimate and (c.low, c.high) != (a.low, a.high)


def test_interval_is_the_percentile_interval_of_the_replicates():
    """Against a direct (loop) implementation of the stratified paired bootstrap with the same draws."""
    tasks = [(rng_scores(5, 9), rng_scores(5, 10)), (rng_scores(3, 11), rng_scores(3, 12))]
    d = ap_difference([tasks], replicates=200, seed=3)
    rng = np.random.default_rng(3)
    reps = []
    draws = [rng.integers(0, len(m), size=(200, len(m))) for m, _ in tasks]
    for b in range(200):
        reps.append(np.mean([np.mean(m[i[b]]) - np.mean(r[i[b]]) for (m, r), i in zip(tasks, draws)]))
    assert (d.low, d.high) == pytest.approx(tuple(np.percentile(reps, [2.5, 97.5])))


def test_pairing_aligns_instances_by_id_and_refuses_different_instances():
    m = {"t": (["b", "a"], np.array([1.0, 2.0]))}
    r = {"t": (["a", "b"], np.array([5.0, 7.0]))}
    (s_m, s_r), = pair_tasks(m, r, ["t"])
    assert list(s_m - s_r) == [2.0 - 5.0, 1.0 - 7.0]
    assert "different test instances" in pair_tasks(m, {"t": (["a", "c"], np.zeros(2))}, ["t"])
    assert "no predictions of task u" in pair_tasks(m, r, ["t", "u"])


def write_predictions(root, method, order, seed, scores: dict, step=2):
    d = root / f"results/runs/Long_Sequence/{order}/tiny-t5/{method}/seed{seed}/step{step}"
    d.mkdir(parents=True)
    rows = [{"task": t, "id": f"{t}-{i}", "prediction": "x", "target": "x", "score": float(s)}
            for t, ss in scores.items() for i, s in enumerate(ss)]
    (d / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(d / "predictions.jsonl")


def test_companion_table_names_the_clear_differences(tmp_path):
    from sapt_core.settings.benchmarks import load_benchmarks

    benchmarks = load_benchmarks("config/benchmarks.yaml")
    ref = {"mnli": [0, 100, 0, 100] * 5, "cb": [50.0] * 20}
    files = [write_predictions(tmp_path, "sapt-lora", "order3", 0, ref),
             write_predictions(tmp_path, "seq-lora", "order3", 0, {t: [x + 20 for x in s] for t, s in ref.items()}),
             write_predictions(tmp_path, "mtl", "order3", 0, ref)]
    t = ap_diff_table("table1", files, benchmarks, "sapt-lora", methods=["seq-lora", "sapt-lora", "mtl", "replay"],
                      orders=["order3"], labels={"sapt-lora": "SAPT-LoRA", "seq-lora": "SeqLoRA"})
    rows = {r[0]: r[1:] for r in t.rows}
    assert set(rows) == {"SeqLoRA", "mtl", "replay"}  # the reference has no row
    assert rows["SeqLoRA"] == ["+20.00", "[20.00, 20.00]", "yes"]
    assert rows["mtl"] == ["0.00", "[0.00, 0.00]", "no"]
    assert rows["replay"][0] == "n/a (missing)"
    assert "against SAPT-LoRA" in t.caption
    assert any("Clear differences" in n and "SeqLoRA above SAPT-LoRA on Long_Sequence" in n for n in t.notes)
    assert any("paired bootstrap" in n and "1000" in n for n in t.notes)
    rec = {r["method"]: r for r in t.csv_rows}
    assert rec["seq-lora"]["Long_Sequence dAP"] == pytest.approx(20) and rec["seq-lora"]["Long_Sequence clear"]
    with pytest.raises(SaptError, match="reference method 'o-lora'"):
        ap_diff_table("table1", files, benchmarks, "o-lora", methods=["seq-lora", "sapt-lora"], orders=["order3"])


def test_predictions_without_per_instance_scores_are_one_line(tmp_path):
    p = tmp_path / "p.jsonl"
    p.write_text(json.dumps({"task": "cb", "id": "1", "prediction": "x"}) + "\n")
    with pytest.raises(SaptError, match=r"p.jsonl:1: score: expected"):
        last_step_scores(p)


def test_plan_reference_defaults_to_the_first_sapt_method_and_declares_the_last_steps(repo_root):
    import yaml

    from sapt_core.plan import ContinualPlan

    cfg = yaml.safe_load((repo_root / "config/config.yaml").read_text())
    plan = ContinualPlan(cfg, data_root="unused")
    # seq-lora, replay, o-lora (no shared attention), then sapt-lora-tiny, sapt-prompt, ...: the first SAPT one
    assert plan.reference_method("table1") == "sapt-lora-tiny"
    cfg["experiments"]["table1"]["methods"] = ["seq-lora", "sapt-prompt", "sapt-lora-tiny"]
    assert plan.reference_method("table1") == "sapt-prompt"
    assert plan.reference_method("table2") == "sapt-lora-tiny"
    cfg["experiments"]["table1"]["reference_method"] = "mtl"
    assert plan.reference_method("table1") == "mtl"
    cfg["experiments"]["table8"]["methods"] = ["seq-lora", "replay"]
    assert plan.reference_method("table8") == "seq-lora"  # no SAPT method: the first listed
    files = plan.last_step_predictions("table9")
    assert len(files) == len(cfg["experiments"]["table9"]["methods"])  # one order, one seed
    assert "results/runs/Long_Sequence/longseq_demo/tiny-t5/mtl/seed0/step3/predictions.jsonl" in files  # MTL: step T
    assert "--ap-diff seq-lora --bootstrap-replicates 1000 --bootstrap-seed 0 " in plan.ap_diff_args("table8")
    assert {f"results/tables/table{t}_ap_diff.md" for t in (1, 2, 8, 9)} <= set(plan.report_outputs())


def test_companion_marks_unpaired_and_partial_cells_and_says_why(tmp_path):
    from sapt_core.settings.benchmarks import load_benchmarks

    benchmarks = load_benchmarks("config/benchmarks.yaml")
    ref = {"mnli": [0.0, 100.0] * 4, "cb": [100.0] * 8}
    files = [write_predictions(tmp_path, "sapt-lora", o, 0, ref) for o in ("order3", "order4")]
    files.append(write_predictions(tmp_path, "replay", "order3", 0, {"mnli": ref["mnli"]}))  # cb's predictions lost
    files.append(write_predictions(tmp_path, "seq-lora", "order3", 0, ref))  # order4's run missing
    t = ap_diff_table("table1", files, benchmarks, "sapt-lora", methods=["sapt-lora", "replay", "seq-lora"],
                      orders=["order3", "order4"])
    rows = {r[0]: r[1:] for r in t.rows}
    assert rows["replay"][0] == "n/a (unpaired)"
    assert rows["seq-lora"] == ["0.00†", "[0.00, 0.00]", "no"]
    notes = " ".join(t.notes)
    assert "replay, Long_Sequence (order3 seed 0: no predictions of task cb (method))" in notes
    assert "without predictions: seq-lora (Long_Sequence order4 seed 0)." in notes


def test_companion_of_a_table_with_the_reference_alone_renders_empty(tmp_path):
    from sapt_core.settings.benchmarks import load_benchmarks
    from sapt_core.report.render import write_table

    files = [write_predictions(tmp_path, "sapt-lora", "order3", 0, {"cb": [1.0, 2.0]})]
    t = ap_diff_table("table1", files, load_benchmarks("config/benchmarks.yaml"), "sapt-lora", orders=["order3"])
    assert t.rows == [] and any("No difference could be computed" in n for n in t.notes)
    assert all(p.is_file() for p in write_table(t, tmp_path / "table1_ap_diff"))
