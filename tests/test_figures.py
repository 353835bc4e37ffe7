"""Figure 8 from run metrics: curves are the mean over orders, then over seeds; files are written."""

import json

import numpy as np
import pytest

from sapt_core.cli import main
from sapt_core.report.figures import ap_curves


def _metrics(bench, order, method, seed, ap_steps):
    return {"run": {"benchmark": bench, "order": order, "backbone": "tiny-t5", "method": method, "seed": seed},
            "metrics": {"AP_per_step": ap_steps}}


def test_ap_curves_average_orders_then_seeds():
    ms = [_metrics("SuperNI", "order1", "sapt-lora", 0, [10, 20]), _metrics("SuperNI", "order2", "sapt-lora", 0, [30, 40]),
          _metrics("SuperNI", "order1", "sapt-lora", 1, [50, 60])]
    c = ap_curves(ms)["SuperNI"]["sapt-lora"]
    assert len(c) == 2  # two seeds
    assert np.allclose(c[0], [20, 30]) and np.allclose(c[1], [50, 60])
    # MTL trains only its last step: AP after step T alone, no value before it (a point at t = T)
    mtl = ap_curves([_metrics("SuperNI", o, "mtl", 0, [None, 70.0 + i]) for i, o in enumerate(("order1", "order2"))])
    (curve,) = mtl["SuperNI"]["mtl"]
    assert np.isnan(curve[0]) and curve[1] == 70.5


def test_figure8_cli_writes_png_and_pdf(tmp_path):
    files = []
    for i, (bench, order) in enumerate([("SuperNI", "order1"), ("Long_Sequence", "order3")]):
        p = tmp_path / f"m{i}.json"
        p.write_text(json.dumps(_metrics(bench, order, "sapt-lora", 0, [50.0, 40.0, 45.0])))
        files.append(str(p))
        p = tmp_path / f"mtl{i}.json"
        p.write_text(json.dumps(_metrics(bench, order, "mtl", 0, [None, None, 60.0])))
        files.append(str(p))
    assert main(["report-figure", "--figure", "figure8", "--metrics", *files, "--out-prefix",
                 str(tmp_path / "figure8")]) == 0
    assert (tmp_path / "figure8.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "figure8.pdf").read_bytes()[:4] == b"%PDF"
    # the same metrics give the same bytes (no creation date in the PDF)
    first = {ext: (tmp_path / f"figure8.{ext}").read_bytes() for ext in ("png", "pdf")}
    assert main(["report-figure", "--figure", "figure8", "--metrics", *files, "--out-prefix",
                 str(tmp_path / "figure8")]) == 0
    assert {ext: (tmp_path / f"figure8.{ext}").read_bytes() for ext in ("png", "pdf")} == first
    assert b"/CreationDate" not in first["pdf"]


def test_figure8_rejects_unequal_lengths(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_metrics("SuperNI", "order1", "m", 0, [1, 2])))
    b.write_text(json.dumps(_metrics("SuperNI", "order2", "m", 0, [1, 2, 3])))
    assert main(["report-figure", "--figure", "figure8", "--metrics", str(a), str(b), "--out-prefix",
                 str(tmp_path / "f")]) == 2
    assert "different lengths" in capsys.readouterr().err and not (tmp_path / "f.png").exists()


def test_figure3_heatmaps_from_a_run_dir(tmp_path):
    import torch
    from safetensors.torch import save_file

    from sapt_core.report.figures import attention_maps

    run = tmp_path / "results/runs/Long_Sequence/order3/tiny-t5/sapt-lora/seed0"
    (run / "step2/state").mkdir(parents=True)
    targets = torch.tensor([[1.0, 0.0], [0.3, 0.7]])
    save_file({"arm.targets": targets}, str(run / "step2/state/state.safetensors"))
    (run / "step2/state/state.json").write_text(json.dumps({"tasks": ["mnli", "cb"], "step": 2}))
    (run / "step2/attention.json").write_text(json.dumps(
        {"blocks": ["mnli", "cb"], "tasks": {"mnli": {"mean": [0.9, 0.1]}, "cb": {"mean": [0.2, 0.8]}}}))
    tasks, learn, test, _ = attention_maps(run)
    assert tasks == ["mnli", "cb"] and np.allclose(learn, targets.numpy()) and np.allclose(test, [[0.9, 0.1], [0.2, 0.8]])
    assert main(["report-figure", "--figure", "figure3", "--runs", str(run), "--out-prefix", str(tmp_path / "f3")]) == 0
    assert (tmp_path / "f3.png").read_bytes()[:4] == b"\x89PNG"


def test_results_index_lists_sources_and_rejects_missing_outputs(tmp_path, capsys):
    table = tmp_path / "table1.md"
    table.write_text("x")
    out = tmp_path / "README.md"
    assert main(["report-index", "--entry", str(table), "runs/a/metrics.json", "runs/b/metrics.json",
                 "--out", str(out)]) == 0
    text = out.read_text()
    assert "paper Table 1" in text and "`runs/a/metrics.json`<br>`runs/b/metrics.json`" in text
    assert main(["report-index", "--entry", str(tmp_path / "figure8.png"), "--out", str(tmp_path / "R2.md")]) == 2
    assert "file not found" in capsys.readouterr().err and not (tmp_path / "R2.md").exists()


# ---- Figures 3, 9-12: heat maps; 4, 5, 7: metrics per backbone; plan + DAG wiring ------------------------------------

def _fake_run(root, bench="SuperNI", order="order1", backbone="tiny-t5", method="sapt-lora", seed=0,
              tasks=("task1", "task2", "task3"), targets=None, test=None):
    import torch
    from safetensors.torch import save_file

    run = root / f"results/runs/{bench}/{order}/{backbone}/{method}/seed{seed}"  # the run layout (sapt_core.layout)
    t = len(tasks)
    last = run / f"step{t}"
    (last / "state").mkdir(parents=True)
    targets = torch.tensor(targets if targets is not None else np.tril(np.full((t, t), 1.0 / t)), dtype=torch.float32)
    save_file({"arm.targets": targets}, str(last / "state/state.safetensors"))
    (last / "state/state.json").write_text(json.dumps({"tasks": list(tasks), "step": t, "method": method,
                                                       "benchmark": bench, "seed": seed}))
    test = test if test is not None else np.eye(t).tolist()
    (last / "attention.json").write_text(json.dumps(
        {"blocks": list(tasks), "tasks": {name: {"mean": row} for name, row in zip(tasks, test)}}))
    return run


def test_heatmap_pixels_equal_the_state_targets_and_attention_json(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sapt_core.report.figures import heatmap_figure

    targets = [[1.0, 0.0, 0.0], [0.25, 0.75, 0.0], [0.1, 0.3, 0.6]]
    test = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.05, 0.15, 0.8]]
    run = _fake_run(tmp_path, "Long_Sequence", "order3", "tiny-t5", "sapt-prompt", 1, ("agnews", "boolq", "sst2"),
                    targets, test)
    fig = heatmap_figure("figure10", [str(run)], plt)
    learn_ax, test_ax = [ax for ax in fig.axes if ax.images]
    assert np.allclose(learn_ax.images[0].get_array(), targets)           # from state.safetensors arm.targets
    assert np.allclose(test_ax.images[0].get_array(), test)               # from attention.json, rows = tasks
    assert len(fig.axes) == 4                                              # two heat maps + two colour bars
    for ax in (learn_ax, test_ax):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["agnews", "boolq", "sst2"]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["agnews", "boolq", "sst2"]
        assert ax.get_xlabel() and ax.get_ylabel()
        title = ax.get_title()
        for word in ("sapt-prompt", "tiny-t5", "Long Sequence", "order3", "seed 1"):
            assert word in title, (word, title)
    assert fig._suptitle.get_text().startswith("Figure 10: shared attention of sapt-prompt on Long Sequence")
    plt.close(fig)


def test_heatmap_cli_one_row_per_run_and_rejects_missing_task(tmp_path, capsys):
    a = _fake_run(tmp_path, method="sapt-lora")
    b = _fake_run(tmp_path, seed=1, method="sapt-lora")
    assert main(["report-figure", "--figure", "figure11", "--runs", str(a), str(b), "--out-prefix",
                 str(tmp_path / "f11")]) == 0
    assert (tmp_path / "f11.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "f11.pdf").read_bytes()[:4] == b"%PDF"
    bad = _fake_run(tmp_path / "bad", test=[[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    att = json.loads((bad / "step3/attention.json").read_text())
    del att["tasks"]["task2"]
    (bad / "step3/attention.json").write_text(json.dumps(att))
    assert main(["report-figure", "--figure", "figure11", "--runs", str(bad), "--out-prefix",
                 str(tmp_path / "bad")]) == 2
    assert "no attention for task 'task2'" in capsys.readouterr().err and not (tmp_path / "bad.png").exists()


def _m(bench, order, backbone, method, seed, ap, fra, fwt):
    return {"run": {"benchmark": bench, "order": order, "backbone": backbone, "method": method, "seed": seed},
            "metrics": {"AP": ap, "F.Ra": fra, "FWT": fwt, "AP_per_step": [ap]}}


def test_backbone_metrics_mean_over_orders_per_seed():
    from sapt_core.report.figures import backbone_metrics

    d = backbone_metrics([_m("SuperNI", "order1", "s", "sapt-lora", 0, 40, 2, 1),
                          _m("SuperNI", "order2", "s", "sapt-lora", 0, 50, 4, 3),
                          _m("SuperNI", "order1", "s", "sapt-lora", 1, 60, 6, 5),
                          _m("SuperNI", "order1", "l", "sapt-lora", 0, 70, 1, 0)])
    assert d["SuperNI"]["AP"]["sapt-lora"] == {"s": [45.0, 60.0], "l": [70.0]}
    assert d["SuperNI"]["F.Ra"]["sapt-lora"]["s"] == [3.0, 6.0] and d["SuperNI"]["FWT"]["sapt-lora"]["l"] == [0.0]


def test_scale_and_architecture_figures_plot_every_method_found(tmp_path):
    """Series are the methods in the metrics (a baseline needs no code change); x follows --backbones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sapt_core.report.figures import metric_figure

    ms = [_m("SuperNI", "order1", bb, meth, 0, ap, 1.0, 0.5) for meth, off in (("sapt-lora", 0), ("seqlora", -20))
          for bb, ap in (("tiny-t5-s", 30 + off), ("tiny-t5", 40 + off), ("tiny-t5-l", 50 + off))]
    fig = metric_figure("figure4", ms, plt, methods=["sapt-lora"], backbones=["tiny-t5-s", "tiny-t5", "tiny-t5-l"])
    ap_ax = fig.axes[0]
    lines = {c.get_label().split(" ")[0]: c.lines[0].get_ydata() for c in ap_ax.containers}
    assert set(lines) == {"sapt-lora", "seqlora"}
    assert np.allclose(lines["sapt-lora"], [30, 40, 50]) and np.allclose(lines["seqlora"], [10, 20, 30])
    assert [t.get_text() for t in ap_ax.get_xticklabels()] == ["tiny-t5-s", "tiny-t5", "tiny-t5-l"]
    assert "Figure 4" in fig._suptitle.get_text() and len(fig.axes) == 3   # AP, F.Ra, FWT
    plt.close(fig)
    arch = [_m("Long_Sequence", "order3", bb, "sapt-lora", s, ap + s, 2.0, 1.0)
            for bb, ap in (("tiny-t5", 40), ("tiny-llama", 20)) for s in (0, 2)]
    fig = metric_figure("figure7", arch, plt, backbones=["tiny-t5", "tiny-llama"])
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert np.allclose(heights, [41, 21])                                  # mean over seeds, bar per backbone
    plt.close(fig)
    files = []
    for i, m in enumerate(ms):
        (tmp_path / f"m{i}.json").write_text(json.dumps(m))
        files.append(str(tmp_path / f"m{i}.json"))
    assert main(["report-figure", "--figure", "figure5", "--metrics", *files, "--backbones", "tiny-t5", "tiny-t5-s",
                 "--out-prefix", str(tmp_path / "f5")]) == 0
    assert (tmp_path / "f5.png").read_bytes()[:4] == b"\x89PNG"


def _plan(experiments, **extra):
    import yaml

    from sapt_core.plan import ContinualPlan
    from conftest import REPO_ROOT

    cfg = yaml.safe_load((REPO_ROOT / "config/config.yaml").read_text())
    cfg["experiments"] = experiments
    cfg["benchmarks_file"] = str(REPO_ROOT / "config/benchmarks.yaml")
    cfg.update(extra)
    return ContinualPlan(cfg, data_root="unused")


def test_plan_schedules_only_configured_figures():
    import pytest

    from sapt_core.errors import SaptError

    plan = _plan({"table1": {"methods": ["sapt-lora"], "backbones": ["tiny-t5"], "benchmarks": ["SuperNI"]},
                  "figure9": {"methods": ["sapt-prompt"], "backbones": ["tiny-t5"], "benchmarks": ["SuperNI"]},
                  "figure11": {"methods": ["seq-lora"], "backbones": ["tiny-t5"], "benchmarks": ["SuperNI"]},
                  "figure4": {"methods": ["sapt-lora", "seq-lora"], "backbones": ["tiny-t5"],
                              "benchmarks": ["SuperNI"]}},
                 orders={"SuperNI": ["order1"], "Long_Sequence": ["order3"]}, n_tasks=2)
    assert plan.figure_outputs() == ["results/figures/figure4.png", "results/figures/figure8.png",
                                     "results/figures/figure9.png"]      # figure11 has no SAPT method; 3 not declared
    assert plan.attention_figure_runs("figure9") == ["results/runs/SuperNI/order1/tiny-t5/sapt-prompt/seed0"]
    last = plan.config["n_tasks"]                                         # the final model's test-time attention
    assert plan.attention_figure_inputs("figure9")["attention"] == [
        f"results/runs/SuperNI/order1/tiny-t5/sapt-prompt/seed0/step{last}/attention.json"]
    assert plan.figure_metrics("figure4") == [f"results/runs/SuperNI/order1/tiny-t5/{m}/seed0/metrics.json"
                                              for m in ("sapt-lora", "seq-lora")]
    assert plan.figure_args("figure4") == ("--methods sapt-lora seq-lora --backbones tiny-t5 "
                                           "--labels sapt-lora=SAPT-LoRA seq-lora=SeqLoRA")
    with pytest.raises(SaptError, match="no experiment 'figure3'"):
        plan.attention_figure_runs("figure3")
    with pytest.raises(SaptError, match="lists no method with shared attention"):
        plan.attention_figure_runs("figure11")
    idx = plan.index_args()
    assert "--entry results/figures/figure9.png results/runs/SuperNI/order1/tiny-t5/sapt-prompt/seed0" in idx
    assert "--entry results/figures/figure8.png results/runs/SuperNI/order1/tiny-t5/sapt-lora/seed0/metrics.json" in idx


def test_default_config_declares_figures_3_and_9_to_12():
    import yaml

    from conftest import REPO_ROOT

    exps = yaml.safe_load((REPO_ROOT / "config/config.yaml").read_text())["experiments"]
    # SAPT-LoRA's heat maps show the tiny-scale settings beside the official ones (docs/embedded_default.md)
    lora = ["sapt-lora-tiny", "sapt-lora"]
    paper = {"figure3": (["sapt-prompt"], "Long_Sequence"), "figure9": (["sapt-prompt"], "SuperNI"),
             "figure10": (["sapt-prompt"], "Long_Sequence"), "figure11": (lora, "SuperNI"),
             "figure12": (lora, "Long_Sequence")}
    for fig, (methods, bench) in paper.items():
        assert exps[fig]["methods"] == methods and exps[fig]["benchmarks"] == [bench], fig


def _dry_jobs(wd, *args):
    import re

    from wf_helpers import _snakemake

    res = _snakemake(wd, "-n", *args)
    out = res.stdout + res.stderr
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        m = re.match(r"(?:local)?rule (\w+):", block.strip())
        if m:
            w = re.search(r"wildcards: (.*)", block)
            jobs.append((m.group(1), dict(kv.split("=", 1) for kv in w.group(1).split(", ")) if w else {}))
    return res, jobs


def test_figure_target_schedules_only_its_experiments_runs(repo_root, data_root, tmp_path):
    import yaml

    from wf_helpers import _copy_workflow

    wd = _copy_workflow(repo_root, tmp_path)
    res, jobs = _dry_jobs(wd, "figure9", "--config", f"data_root={data_root}")
    assert res.returncode == 0, res.stderr[-3000:]
    steps = [w for r, w in jobs if r == "train_step"]
    cfg = yaml.safe_load((wd / "config/config.yaml").read_text())
    assert cfg["n_tasks"] is None and cfg["orders"]["SuperNI"] == ["superni_demo"]   # the whole demo order: 3 tasks
    assert sorted(w["k"] for w in steps) == ["1", "2", "3"]                          # one chain
    assert {(w["benchmark"], w["order"], w["backbone"], w["method"], w["seed"]) for w in steps} == {
        ("SuperNI", "superni_demo", "tiny-t5", "sapt-prompt", "0")}
    assert ("attention_figure", {"figure": "figure9"}) in jobs
    assert not {r for r, _ in jobs} & {"run_metrics", "result_table", "single_task", "metric_figure", "ap_figure"}
    # an experiment edited to another benchmark moves the figure's runs with it
    (wd / "edit.yaml").write_text("experiments:\n  figure9: {methods: [sapt-lora], backbones: [tiny-t5], "
                                  "benchmarks: [Long_Sequence]}\n")
    res, jobs = _dry_jobs(wd, "figure9", "--configfile", "edit.yaml", "--config", f"data_root={data_root}",
                          "--forceall")
    assert res.returncode == 0, res.stderr[-3000:]
    assert {(w["benchmark"], w["method"]) for r, w in jobs if r == "train_step"} == {("Long_Sequence", "sapt-lora")}


def test_unconfigured_figure_is_not_scheduled_and_is_an_error_by_name(repo_root, data_root, tmp_path):
    import yaml

    from wf_helpers import _copy_workflow

    wd = _copy_workflow(repo_root, tmp_path)
    cfg = yaml.safe_load((wd / "config/config.yaml").read_text())
    del cfg["experiments"]["figure10"]
    (wd / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    res, jobs = _dry_jobs(wd, "all_tables", "--forceall", "--config", f"data_root={data_root}")
    assert res.returncode == 0, res.stderr[-3000:]
    figs = {w["figure"] for r, w in jobs if r == "attention_figure"}
    assert figs == {"figure3", "figure9", "figure11", "figure12"}
    res, _ = _dry_jobs(wd, "figure10", "--config", f"data_root={data_root}")
    assert res.returncode != 0 and "no experiment 'figure10'" in res.stdout + res.stderr


@pytest.mark.slow  # ~60 s: a chain trained end to end (the default suite's budget; CI runs it with the slow checks)
def test_figure12_end_to_end_and_html_report(repo_root, data_root, tmp_path):
    """The tiny .test chain up to Figure 12; its heat map equals the run's files; `--report` embeds it with caption."""
    import shutil

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sapt_core.report.figures import attention_maps, heatmap_figure
    from wf_helpers import _copy_workflow, _snakemake

    wd = _copy_workflow(repo_root, tmp_path)
    shutil.copytree(repo_root / ".test", wd / ".test")
    args = ("--configfile", ".test/config.yaml", "--config", f"data_root={data_root}")
    res = _snakemake(wd, "--cores", "2", "figure12", *args)
    assert res.returncode == 0, res.stderr[-4000:]
    run = wd / "results/runs/Long_Sequence/order3/tiny-t5/sapt-lora/seed0"
    assert (wd / "results/figures/figure12.png").read_bytes()[:4] == b"\x89PNG"
    assert (wd / "results/figures/figure12.pdf").read_bytes()[:4] == b"%PDF"
    tasks, learn, test, _ = attention_maps(run)
    att = json.loads((run / "step2/attention.json").read_text())
    assert tasks == ["mnli", "cb"] and np.allclose(test, [att["tasks"][t]["mean"] for t in tasks])
    fig = heatmap_figure("figure12", [str(run)], plt)
    assert np.allclose([ax.images[0].get_array() for ax in fig.axes if ax.images][1], test)
    plt.close(fig)
    res = _snakemake(wd, "--report", "report.html", "figure12", *args)
    assert res.returncode == 0, res.stderr[-3000:]
    html = (wd / "report.html").read_text()
    assert "Adding figure12.png" in res.stdout + res.stderr
    assert "shared attention of SAPT over its PET blocks" in html           # caption rendered
    assert "results/runs/Long_Sequence/order3/tiny-t5/sapt-lora/seed0" in html  # runs named in the caption
    # a partly built tree: the `built` target reports what exists (only Figure 12 here)
    res = _snakemake(wd, "--report", "built.html", "built", *args)
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert "Adding figure12.png" in out and "Adding figure3.png" not in out and (wd / "built.html").is_file()


def test_figure4_schedules_its_backbones_only(repo_root, data_root, tmp_path):
    """The default's Figure 4 (scale) builds its tiny T5 sizes' runs of its method, not tiny-llama's."""
    from wf_helpers import _copy_workflow

    wd = _copy_workflow(repo_root, tmp_path)
    res, jobs = _dry_jobs(wd, "figure4", "--config", f"data_root={data_root}")
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = {(w["benchmark"], w["backbone"], w["method"]) for r, w in jobs if r == "run_metrics"}
    assert metrics == {("Long_Sequence", bb, "sapt-lora-tiny") for bb in ("tiny-t5-s", "tiny-t5")}
    assert {w["backbone"] for r, w in jobs if r == "build_backbone"} == {"tiny-t5-s", "tiny-t5"}
    assert ("metric_figure", {"figure": "figure4"}) in jobs


def test_default_schedules_the_comparisons_runs_csv_and_figure6_with_its_points(repo_root, data_root, tmp_path):
    """all_tables of the default: each transcribed table's comparison with the paper, results/runs.csv from every
    run, and Figure 6 with each run's (series, replay type, volume) on its command line."""
    import re
    import shlex

    from sapt_core.report.replay_figure import parse_points
    from wf_helpers import _copy_workflow, _snakemake

    wd = _copy_workflow(repo_root, tmp_path)
    res, jobs = _dry_jobs(wd, "all_tables", "--config", f"data_root={data_root}")
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(w["table"] for r, w in jobs if r == "vs_paper_table") == ["table1", "table2", "table3", "table8",
                                                                           "table9"]
    assert [r for r, _ in jobs].count("runs_table") == 1 and ("replay_figure", {}) in jobs
    assert not any(r == "metric_figure" and w["figure"] == "figure6" for r, w in jobs)
    res = _snakemake(wd, "-n", "-p", "figure6", "--config", f"data_root={data_root}")
    cmd = next(line for line in res.stdout.splitlines() if "sapt report-figure --figure figure6" in line)
    argv = shlex.split(cmd.split(">")[0])
    points = parse_points(argv[argv.index("--points") + 1: argv.index("--out-prefix")])
    # volumes 0.02 and 0.1: the method's own volume (method_overrides: replay 0.1, sapt-lora-tiny 0.1) is its plain run
    assert points["sapt-lora-tiny~replay_volume=0.02,pseudo_source=real"] == ("sapt-lora-tiny", "real", 0.02)
    assert points["sapt-lora-tiny"] == ("sapt-lora-tiny", "pseudo", 0.1)
    assert points["replay"] == ("replay", "real", 0.1) and points["replay~real_replay_volume=0.02"][1:] == ("real", 0.02)
    assert re.search(r"--labels .*sapt-lora-tiny=", cmd)
    runs = re.findall(r"results/runs/\S+/metrics\.json", cmd)
    assert len(runs) == len(points) == 6                                  # every run of the experiment has a point
