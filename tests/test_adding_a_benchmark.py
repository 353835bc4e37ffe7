"""docs/adding_a_benchmark.md's worked example, done in a temporary copy of the repository: a benchmark written as data
(a JSONL classification task with its instruction in the benchmarks file, an upstream-JSON generation task, a format
string template) plus its benchmarks-file entry and an experiments overlay, nothing else, runs through the DAG and
appears in Table 1 (three column groups), Table 8 (its order), Figure 8, Figure 12's heat maps and runs.csv."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DOC = "docs/adding_a_benchmark.md"
GOOD = ["warm", "funny", "moving", "clever", "bright", "lovely", "sharp", "gripping"]
BAD = ["dull", "slow", "clumsy", "tedious", "flat", "noisy", "stale", "messy"]
NOUNS = ["film", "story", "cast", "script", "score", "ending", "plot", "scene"]


def _doc_files(doc: str) -> dict[str, str]:
    """``path -> text`` of the page's fenced blocks that name a file (```<lang> <path>)."""
    return {m.group(1): m.group(2) for m in re.finditer(r"```\w+ (\S+)\n(.*?)```", doc, re.S)}


def _write_benchmark(root: Path, n_train: int = 40, n_test: int = 12) -> None:
    """MyBench's two tasks, deterministic: polarity (JSONL, no Definition) and headline (upstream JSON)."""
    rng = random.Random(0)
    bench = root / "my_benchmarks/MyBench"
    for split, n in (("train", n_train), ("test", n_test)):
        rows = []
        for i in range(n):
            label = ("negative", "positive")[i % 2]
            words = GOOD if label == "positive" else BAD
            rows.append({"input": f"a {rng.choice(words)} and {rng.choice(words)} {rng.choice(NOUNS)}",
                         "output": label})
        (bench / "polarity").mkdir(parents=True, exist_ok=True)
        (bench / "polarity" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        inst = []
        for i in range(n):
            noun, adj = rng.choice(NOUNS), rng.choice(GOOD + BAD)
            inst.append({"id": f"headline-{split}-{i}", "input": f"The {noun} of the new film was {adj}, critics "
                                                                 f"said on day {i}.", "output": f"{adj} {noun}"})
        (bench / "headline").mkdir(parents=True, exist_ok=True)
        (bench / "headline" / f"{split}.json").write_text(json.dumps(
            {"Definition": ["Write a short headline for the text."], "Instances": inst}))


def _data_root(shared: Path, dest: Path) -> Path:
    """A data root holding the paper's data (linked) and MyBench."""
    dest.mkdir()
    for name in ("CL_Benchmark", "generated_data", "unseen"):
        (dest / name).symlink_to(shared / name)
    _write_benchmark(dest)
    return dest


def _rows(md: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines() if line.startswith("|")]


def test_the_docs_benchmark_is_data_and_config(repo_root, data_root, tmp_path):
    files = _doc_files((repo_root / DOC).read_text())
    assert set(files) == {"config/benchmarks.yaml", "mybench.yaml"}
    wd = tmp_path / "repo"
    wd.mkdir()
    for name in ("Snakefile", "workflow", "config", "sapt_core", ".test"):
        src = repo_root / name
        (shutil.copytree if src.is_dir() else shutil.copy)(
            src, wd / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if src.is_dir() else {}))
    bench_file = wd / "config/benchmarks.yaml"
    bench_file.write_text(bench_file.read_text().rstrip("\n") + "\n\n" + files["config/benchmarks.yaml"])
    (wd / "mybench.yaml").write_text(files["mybench.yaml"])
    root = _data_root(data_root, tmp_path / "data")

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHONPATH": str(wd)}
    env.pop("SAPT_DATA_ROOT", None)
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "all_tables", "--configfile",
                          ".test/config.yaml", "mybench.yaml", "--config", f"data_root={root}"], cwd=wd, env=env,
                         capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, res.stderr[-4000:]
    tables = wd / "results/tables"

    # the prompts are the format string over the task's instruction (JSONL) or the file's Definition (JSON)
    data = next((wd / "results/data").glob("*/seed0/MyBench"))
    pol = [json.loads(x) for x in (data / "polarity/test.jsonl").read_text().splitlines()]
    assert pol[0]["source"] == f"Is the review positive or negative?\nText: {pol[0]['input']}\nAnswer: "
    assert {r["target"] for r in pol} == {"negative", "positive"} and len(pol) == 8  # .test's n_test cap
    head = json.loads((data / "headline/train.jsonl").read_text().splitlines()[0])
    assert head["source"].startswith("Write a short headline for the text.\nText: The ")

    # Table 1: a column group per benchmark, three of them; every cell a number
    t1 = _rows((tables / "table1.md").read_text())
    assert [c for c in t1[0] if c] and all(b in " ".join(t1[0]) for b in ("SuperNI", "Long_Sequence", "MyBench"))
    body = {r[0].rstrip(" §"): r[1:] for r in t1[2:]}
    assert set(body) == {"SeqLoRA", "SAPT-LoRA"}
    assert all(len(v) == 12 for v in body.values()), t1[0]
    assert all(re.match(r"^-?\d", c) for v in body.values() for c in v[8:12:2]), body  # MyBench's AP and FWT
    # Table 8 lists the new benchmark's order
    t8 = (tables / "table8.md").read_text()
    assert "mybench1" in t8 and "MyBench" in t8
    # the paper has no Table 8 on MyBench: no comparison with it; Table 1's compares the paper's two benchmarks
    assert not (tables / "table8_vs_paper.md").exists() and (tables / "table1_vs_paper.md").is_file()
    # its AP-difference companion compares on MyBench too
    assert "MyBench" in (tables / "table1_ap_diff.md").read_text()
    # runs.csv: the MyBench runs, both methods, with their AP
    import pandas as pd

    from sapt_core import layout

    runs = pd.read_csv(wd / layout.RUNS_CSV)
    mine = runs[runs["benchmark"] == "MyBench"]
    assert set(mine["method"]) == {"seq-lora", "sapt-lora"} and set(mine["order"]) == {"mybench1"}
    assert mine["AP"].notna().all()
    # Figure 8 plots Table 1's runs, a panel per benchmark; Figure 12's heat maps are the MyBench SAPT run's
    from sapt_core.report.figures import ap_curves

    figs, logs = wd / "results/figures", wd / "results/logs/report"
    assert (figs / "figure8.png").stat().st_size > 0 and (figs / "figure12.png").stat().st_size > 0
    metrics = [json.loads(p.read_text()) for p in (wd / "results/runs").glob("*/*/tiny-t5/*/seed0/metrics.json")]
    assert set(ap_curves(metrics)) == {"SuperNI", "Long_Sequence", "MyBench"}
    assert "from 6 runs" in (logs / "figure8.log").read_text()
    assert "from 1 runs" in (logs / "figure12.log").read_text()
    assert (wd / "results/runs/MyBench/mybench1/tiny-t5/sapt-lora/seed0/step2/attention.json").is_file()
    # results/README.md lists the new benchmark's tables like the paper's
    assert "table8" in (wd / "results/README.md").read_text()
