"""Figure 8 from run metrics: curves are the mean over orders, then over seeds; files are written."""

import json

import numpy as np

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


def test_figure8_cli_writes_png_and_pdf(tmp_path):
    files = []
    for i, (bench, order) in enumerate([("SuperNI", "order1"), ("Long_Sequence", "order3")]):
        p = tmp_path / f"m{i}.json"
        p.write_text(json.dumps(_metrics(bench, order, "sapt-lora", 0, [50.0, 40.0, 45.0])))
        files.append(str(p))
    assert main(["report-figure", "--figure", "figure8", "--metrics", *files, "--out-prefix",
                 str(tmp_path / "figure8")]) == 0
    assert (tmp_path / "figure8.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "figure8.pdf").read_bytes()[:4] == b"%PDF"


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

    run = tmp_path / "runs/Long_Sequence/order3/tiny-t5/sapt-lora/seed0"
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
