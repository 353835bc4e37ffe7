"""The Snakemake entry point: config validation and the embedded-default demo, end to end."""

import json
import pytest

from sapt_core.scoring import score_task
from wf_helpers import _copy_workflow, _snakemake


@pytest.mark.parametrize("override,field", [('data={"protocol": "official", "n_train": "many"}', "data.n_train"),
                                            ('data={"protocol": "bogus"}', "data.protocol")])
def test_config_wrong_type_is_rejected(override, field, repo_root, tmp_path):
    wd = _copy_workflow(repo_root, tmp_path)
    res = _snakemake(wd, "-n", "demo", "--config", override)
    assert res.returncode != 0
    assert f"config field {field}:" in res.stderr + res.stdout
    assert not (wd / "results").exists()


def test_demo_end_to_end(repo_root, data_root, tmp_path):
    wd = _copy_workflow(repo_root, tmp_path)
    res = _snakemake(wd, "--cores", "2", "demo", "--config", f"data_root={data_root}")
    assert res.returncode == 0, res.stderr[-3000:]
    run = wd / "results/single_task/Long_Sequence/tiny-t5/lora/seed0/cb"
    scores = json.loads((run / "scores.json").read_text())["tasks"]["cb"]
    preds = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    manifest = json.loads((wd / "results/data/official/seed0/Long_Sequence/cb/manifest.json").read_text())
    assert scores["n"] == len(preds) == manifest["counts"]["test"] == 32
    recomputed = score_task([p["prediction"] for p in preds], [[p["target"]] for p in preds], "accuracy")
    assert scores["score"] == pytest.approx(recomputed["score"])
    # a second run schedules only the (output-less) summary rule, no training or data job
    res = _snakemake(wd, "--cores", "2", "-n", "demo", "--config", f"data_root={data_root}")
    out = res.stdout + res.stderr
    assert res.returncode == 0
    for rule in ("build_backbone", "prepare_data", "single_task", "evaluate_single_task"):
        assert f"rule {rule}:" not in out
