"""How much SAPT's routing depends on the evaluation batch: the share of test inputs whose highest-weight block
changes between batch size 1 and the run's evaluation batch.

With the official pooling (``pool_mask_pads: false``, docs/official_code.md section 1) the pad embeddings of a shorter
input enter the max over its sequence, so its query, and so its block weights, depend on the longest input of its
batch. This script rescores the final state of each given run with ``sapt evaluate --batch-size 1`` (one input per
batch: no padding) and compares its per-input block weights with the ones the step job wrote
(``step<T>/attention.json``, the evaluation batch of the run's ``eval_batch_size``). Decoding length does not enter
the weights, so it decodes one token.

    .venv/bin/python benchmarks/routing_batch.py results/runs/*/*/tiny-t5/sapt-lora*/seed0 [--max-source-len 128]

Prints one line per run and one per method: inputs, inputs whose argmax block changed, the largest weight change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from sapt_core import layout


def final_step(run: Path) -> Path:
    steps = sorted((p for p in run.glob(layout.step_name("*")) if p.name[4:].isdigit()), key=lambda p: int(p.name[4:]))
    if not steps:
        sys.exit(f"error: {run}: no step directories (a run directory of the workflow expected)")
    return steps[-1]


def rescore(run: Path, data_root: Path, backbone: Path, max_source_len: int) -> dict:
    """Per-input block weights of the run's final state at batch size 1 (written beside it, reused when present)."""
    from sapt_core.cli import main

    step = final_step(run)
    out = run / "routing_b1.attention.json"
    if not out.exists():
        side = json.loads((step / layout.STATE_SUBDIR / layout.STATE_SIDECAR).read_text())
        dirs = [str(data_root / side["benchmark"] / t) for t in side["tasks"]]
        rc = main(["evaluate", "--state", str(step / layout.STATE_SUBDIR), "--backbone", str(backbone),
                   "--data-dirs", *dirs, "--batch-size", "1", "--max-new-tokens", "1", "--max-source-len",
                   str(max_source_len),
                   "--out", str(run / "routing_b1.scores.json"), "--attention-out", str(out)])
        if rc:
            sys.exit(rc)
    return json.loads(out.read_text())["tasks"]


def compare(batch: dict, single: dict) -> tuple[int, int, float]:
    n = changed = 0
    worst = 0.0
    for task, entry in batch.items():
        one = dict(zip(single[task]["ids"], single[task]["per_input"]))
        for i, w in zip(entry["ids"], entry["per_input"]):
            w, w1 = np.asarray(w), np.asarray(one[i])
            n += 1
            changed += int(w.argmax() != w1.argmax())
            worst = max(worst, float(np.abs(w - w1).max()))
    return n, changed, worst


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="run directories (results/runs/<benchmark>/<order>/...)")
    p.add_argument("--data", type=Path, default=Path("results/data/official/seed0"),
                   help="prepared data of the runs' benchmarks (default: %(default)s)")
    p.add_argument("--backbone", type=Path, default=Path("results/backbones/tiny-t5"))
    p.add_argument("--max-source-len", type=int, default=128, help="the runs' max_source_len (default: %(default)s)")
    args = p.parse_args(argv)
    totals: dict[str, list] = {}
    for run in args.runs:
        batch = json.loads((final_step(run) / layout.ATTENTION).read_text())["tasks"]
        n, changed, worst = compare(batch, rescore(run, args.data, args.backbone, args.max_source_len))
        method = run.parent.name
        print(f"{run}: {changed}/{n} inputs change their highest-weight block ({100 * changed / n:.2f}%), largest "
              f"weight change {worst:.2e}")
        t = totals.setdefault(method, [0, 0, 0.0])
        t[0], t[1], t[2] = t[0] + n, t[1] + changed, max(t[2], worst)
    for method, (n, changed, worst) in totals.items():
        print(f"{method}: {changed}/{n} = {100 * changed / n:.2f}% (largest weight change {worst:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
