"""What a workflow run's predictions are: constant outputs, valid labels and SAPT's routing, from its score files.

    python scripts/demo_audit.py [RESULTS_DIR]

Reads every ``scores.json`` under ``RESULTS_DIR/runs`` (one per run and step: the model after step s evaluated on
tasks 1..s) and ``RESULTS_DIR/single_task`` and prints
- the count of (run, step, task) evaluations whose predictions are one constant string (``top_share`` 1.0), and of
  those the empty string;
- per method and benchmark, the share of the newest task's test inputs that the step's own model answers with a valid
  label of that task (classification tasks; ``valid_share``), the lowest over the chain's steps;
- per run that routes (weights summing to 1: the SAPT family), each task's mean weight on its own block after the
  last step (``attention.json``) next to 1/t.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from sapt_core import layout


def evaluations(results: Path):
    """(kind, run dir, step, task, predictions summary) for every evaluated task."""
    for scores in sorted(results.glob(f"runs/**/{layout.step_name('*')}/{layout.SCORES}")):
        doc = json.loads(scores.read_text())
        step = int(scores.parent.name.removeprefix("step"))
        for task, cell in doc["tasks"].items():
            yield "run", scores.parent.parent, step, task, doc["state"]["tasks"], cell
    for scores in sorted(results.glob(f"single_task/**/{layout.SCORES}")):
        doc = json.loads(scores.read_text())
        for task, cell in doc["tasks"].items():
            yield "single", scores.parent, 1, task, [task], cell


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default="results", type=Path)
    args = ap.parse_args(argv)
    counts = defaultdict(lambda: [0, 0, 0])  # kind -> [evaluations, constant, constant empty]
    own_valid = defaultdict(list)  # (benchmark, method) -> own-step valid shares
    for kind, run, step, task, tasks, cell in evaluations(args.results):
        pred = cell["predictions"]
        c = counts[kind]
        c[0] += 1
        c[1] += pred["top_share"] == 1.0
        c[2] += pred["top_share"] == 1.0 and pred["top"] == ""
        if kind == "run" and task == tasks[-1] and pred.get("valid_share") is not None:
            bench, _, backbone, method = run.relative_to(args.results / "runs").parts[:4]
            own_valid[(bench, backbone, method)].append(pred["valid_share"])
    print("| evaluations | n | constant output | of which empty |\n|---|---|---|---|")
    for kind, (n, const, empty) in sorted(counts.items()):
        print(f"| {kind} | {n} | {const} | {empty} |")
    print("\n| benchmark | backbone | method | own-step valid labels (min over steps) | per step |\n|---|---|---|---|---|")
    for (bench, backbone, method), shares in sorted(own_valid.items()):
        print(f"| {bench} | {backbone} | {method} | {100 * min(shares):.0f}% | {' '.join(f'{100 * s:.0f}' for s in shares)} |")
    print("\n| run | task: own-block weight after the last step (1/t) |\n|---|---|")
    for att in sorted(args.results.glob("runs/**/seed*/")):
        steps = sorted(att.glob(f"{layout.step_name('*')}/{layout.ATTENTION}"),
                       key=lambda p: int(p.parent.name.removeprefix("step")))
        if not steps:
            continue
        doc = json.loads(steps[-1].read_text())
        blocks = doc.get("blocks") or []
        if not blocks:
            continue
        means = {t: doc["tasks"][t]["mean"] for t in blocks if len(doc["tasks"].get(t, {}).get("mean", [])) == len(blocks)}
        if not means or any(abs(sum(m) - 1) > 1e-3 for m in means.values()):
            continue  # no routing: every block at weight 1 (O-LoRA) or none recorded
        own = [f"{t} {means[t][i]:.2f}" for i, t in enumerate(blocks) if t in means]
        print(f"| {att.relative_to(args.results / 'runs')} | {', '.join(own)} (1/t = {1 / len(blocks):.2f}) |")


if __name__ == "__main__":
    main()
