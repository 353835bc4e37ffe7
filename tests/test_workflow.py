"""The Snakemake entry point: config validation and the embedded-default demo, end to end."""

import json
import pytest

from sapt_core.evaluation.scoring import score_task
from wf_helpers import _copy_workflow, _snakemake


@pytest.mark.parametrize("override,field", [('data={"protocol": "official", "n_train": "many"}', "data.n_train"),
                                            ('data={"protocol": "bogus"}', "data.protocol")])
def test_config_wrong_type_is_rejected(override, field, repo_root, tmp_path):
    wd = _copy_workflow(repo_root, tmp_path)
    res = _snakemake(wd, "-n", "demo", "--config", override)
    assert res.returncode != 0
    assert f"error: --config: {field}:" in res.stderr
    assert not (wd / "results").exists()


def test_test_config_switches_off_the_base_experiments(repo_root, data_root, tmp_path):
    """`.test/config.yaml` is merged over config/config.yaml key by key; its `experiments.<name>: null` entries drop
    the default's other tables and figures, so its `all_tables` trains Table 1's two runs only. A non-mapping
    experiment is still a one-line config error."""
    import re
    import shutil

    import yaml

    wd = _copy_workflow(repo_root, tmp_path)
    shutil.copytree(repo_root / ".test", wd / ".test")
    res = _snakemake(wd, "-n", "all_tables", "--configfile", ".test/config.yaml", "--config", f"data_root={data_root}")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    runs = set(re.findall(r"wildcards: benchmark=(\w+), order=(\w+), backbone=([\w-]+), method=([\w~=.,-]+), seed=0, k=",
                          out))
    assert runs == {("Long_Sequence", "order3", "tiny-t5", m) for m in ("sapt-lora", "sapt-prompt")}
    assert {"results/figures/figure3.png", "results/figures/figure12.png",
            "results/figures/figure8.png"} <= set(re.findall(r"results/figures/figure\d+\.png", out))
    assert not set(re.findall(r"results/figures/(figure(?:4|5|6|7|9|11))\.png", out))
    assert not re.search(r"results/tables/table(2|3|8|9)\.md", out)
    exps = yaml.safe_load((repo_root / ".test/config.yaml").read_text())["experiments"]
    assert {k for k, v in exps.items() if v is None} == {"table2", "table3", "table8", "table9", "figure4", "figure5",
                                                         "figure6", "figure7", "figure9", "figure11"}
    (wd / "bad.yaml").write_text("experiments:\n  table2: sapt-lora\n")
    res = _snakemake(wd, "-n", "all_tables", "--configfile", "bad.yaml", "--config", f"data_root={data_root}")
    assert res.returncode != 0 and "error: bad.yaml: experiments.table2:" in res.stderr


def test_demo_end_to_end(repo_root, data_root, tmp_path):
    wd = _copy_workflow(repo_root, tmp_path)
    res = _snakemake(wd, "--cores", "2", "demo", "--config", f"data_root={data_root}")
    assert res.returncode == 0, res.stderr[-3000:]
    (run,) = (wd / "results/single_task/Long_Sequence/tiny-t5").glob("lora-*/seed0/cb")  # seq-lora's recipe
    scores = json.loads((run / "scores.json").read_text())["tasks"]["cb"]
    preds = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    manifest = json.loads((wd / "results/data/official/seed0/Long_Sequence/cb/manifest.json").read_text())
    assert scores["n"] == len(preds) == manifest["counts"]["test"] == 56  # cb's whole test set (< n_test 64)
    recomputed = score_task([p["prediction"] for p in preds], [[p["target"]] for p in preds], "accuracy")
    assert scores["score"] == pytest.approx(recomputed["score"])
    # a second run schedules only the (output-less) summary rule, no training or data job
    res = _snakemake(wd, "--cores", "2", "-n", "demo", "--config", f"data_root={data_root}")
    out = res.stdout + res.stderr
    assert res.returncode == 0
    for rule in ("build_backbone", "prepare_data", "single_task"):
        assert f"rule {rule}:" not in out
