"""The README's worked example of adding a method, done in a temporary copy of the repository: the three files of
its "Adding a method" section (the module, the methods-file entry, an experiments overlay), nothing else, give a
method that runs through the DAG and appears as a Table 1 row, and it does what its module says (A frozen after
task 1)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file

RUN = "results/runs/Long_Sequence/order3/tiny-t5/{}/seed0"


def _readme_files(readme: str) -> dict[str, str]:
    """``path -> text`` of the fenced blocks of the README's "Adding a method" section (```<lang> <path>)."""
    section = readme.split("## Adding a method", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"```\w+ (\S+)\n(.*?)```", section, re.S)}


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_the_readme_example_is_three_files_and_a_table_row(repo_root, data_root, tmp_path):
    files = _readme_files((repo_root / "README.md").read_text())
    assert set(files) == {"sapt_core/methods/frozen_a.py", "config/methods.yaml", "my.yaml"}
    wd = tmp_path / "repo"
    wd.mkdir()
    for name in ("Snakefile", "workflow", "config", "sapt_core", ".test"):
        src = repo_root / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, wd / name,
                                                              **({"ignore": shutil.ignore_patterns("__pycache__")}
                                                                 if src.is_dir() else {}))
    _git(wd, "init", "-q")
    _git(wd, "add", "-A")
    _git(wd, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    (wd / "sapt_core/methods/frozen_a.py").write_text(files["sapt_core/methods/frozen_a.py"])
    methods = (wd / "config/methods.yaml").read_text()
    (wd / "config/methods.yaml").write_text(methods.replace("\ngenerator:", "\n" + files["config/methods.yaml"]
                                                            + "\ngenerator:", 1))
    (wd / "my.yaml").write_text(files["my.yaml"])
    _git(wd, "add", "-A")
    stat = _git(wd, "diff", "--cached", "--stat")
    changed = [line.split("|")[0].strip() for line in stat.splitlines() if "|" in line]
    assert sorted(changed) == ["config/methods.yaml", "my.yaml", "sapt_core/methods/frozen_a.py"], stat

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHONPATH": str(wd)}
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "table1", "--configfile",
                          ".test/config.yaml", "my.yaml", "--config", f"data_root={data_root}"], cwd=wd, env=env,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-4000:]
    md = (wd / "results/tables/table1.md").read_text()
    rows = [line.split(" | ")[0].lstrip("| ") for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == ["SeqLoRA", "SeqLoRA (A frozen)"]
    # it is the method its module says: A as task 1 left it, B trained on task 2; SeqLoRA trains both
    frozen = [load_file(str(wd / RUN.format("seq-lora-frozen-a") / f"step{k}/state/state.safetensors"))
              for k in (1, 2)]
    seq = [load_file(str(wd / RUN.format("seq-lora") / f"step{k}/state/state.safetensors")) for k in (1, 2)]
    a_keys = [k for k in frozen[0] if k.endswith(".A")]
    assert a_keys and all((frozen[0][k] == frozen[1][k]).all() for k in a_keys)
    assert any(not (frozen[0][k] == frozen[1][k]).all() for k in frozen[0] if k.endswith(".B"))
    assert any(not (seq[0][k] == seq[1][k]).all() for k in a_keys)
    side = json.loads((wd / RUN.format("seq-lora-frozen-a") / "step2/state/state.json").read_text())
    assert side["component"] == "frozen-a" and side["method"] == "seq-lora-frozen-a"
