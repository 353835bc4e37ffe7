"""Benchmark: memory saved by activation checkpointing (``--gradient-checkpointing``, sapt_core/training/activation_checkpointing.py).

    python benchmarks/checkpointing_memory.py [--shape t5-base] [--batch 4] [--source 512] [--target 50] [--steps 2]

A backbone built from a configuration (random weights, no hub; ``--shape t5-base``: d_model 768, 12 + 12 layers,
12 heads, d_ff 3072, vocabulary 32128; ``t5-large``: benchmarks/paper_shape.py's values; ``llama``: a 1024 x 16-layer
LLaMA) with SAPT-LoRA blocks (two blocks, r 8 on q and v, the newest one trainable; sapt_core/blocks/model.py),
fp32 on the CPU, trains ``--steps`` AdamW steps on random token ids (forward, backward, step), once with checkpointing
off and once on, each in its own process. Records the process's RSS after the model is built (before training) and
its peak RSS (``ru_maxrss``) at the end, so ``peak - before`` is what training adds (activations kept for the
backward, gradients, optimizer state), and the wall seconds per step. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

SHAPES = {
    "t5-base": {"family": "t5", "d_model": 768, "layers": 12, "heads": 12, "d_ff": 3072, "vocab_size": 32128},
    "t5-large": {"family": "t5", "d_model": 1024, "layers": 24, "heads": 16, "d_ff": 4096, "vocab_size": 32128},
    "llama": {"family": "llama", "d_model": 1024, "layers": 16, "heads": 16, "d_ff": 2816, "vocab_size": 32000},
}


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


def child(args) -> dict:
    import torch

    from sapt_core.training import activation_checkpointing as checkpointing
    from sapt_core.blocks.model import BlockModel, BlockSpec
    from sapt_core.models.tiny import build_model

    s = SHAPES[args.shape]
    backbone = build_model(s["family"], s["vocab_size"], s["d_model"], s["layers"], s["heads"], s["d_ff"], 0)
    model = BlockModel(backbone, s["family"], BlockSpec(pet="lora", n_blocks=2, lora_r=8, lora_alpha=32), seed=0)
    if args.on:
        checkpointing.enable(model)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, s["vocab_size"], (args.batch, args.source), generator=g)
    mask = torch.ones_like(ids)
    if s["family"] == "t5":
        labels = torch.randint(5, s["vocab_size"], (args.batch, args.target), generator=g)
    else:  # decoder-only: prompt + answer in one sequence, the loss on the answer
        ids = torch.cat([ids, torch.randint(5, s["vocab_size"], (args.batch, args.target), generator=g)], 1)
        mask = torch.ones_like(ids)
        labels = ids.clone()
        labels[:, : args.source] = -100
    before = _rss_mib()
    losses, t0 = [], time.perf_counter()
    for _ in range(args.steps):
        loss = model(ids, mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    sec = (time.perf_counter() - t0) / args.steps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"on": args.on, "rss_before_mib": round(before), "peak_rss_mib": round(peak),
            "added_mib": round(peak - before), "s_per_step": round(sec, 1), "losses": losses,
            "params_m": round(sum(p.numel() for p in backbone.parameters()) / 1e6, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", choices=sorted(SHAPES), default="t5-base")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--source", type=int, default=512)
    p.add_argument("--target", type=int, default=50)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--on", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    rows = []
    for on in (False, True):
        cmd = [sys.executable, __file__, "--child", "--shape", args.shape, "--batch", str(args.batch), "--source",
               str(args.source), "--target", str(args.target), "--steps", str(args.steps)] + (["--on"] if on else [])
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        if res.returncode:
            print(res.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f"{args.shape} ({rows[0]['params_m']}M parameters), fp32, CPU, batch {args.batch}, source {args.source}, "
          f"target {args.target}, {args.steps} steps")
    print("| checkpointing | RSS before training (MiB) | peak RSS (MiB) | added by training (MiB) | s/step |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {'on' if r['on'] else 'off'} | {r['rss_before_mib']} | {r['peak_rss_mib']} | {r['added_mib']} | "
              f"{r['s_per_step']} |")
    d = max(abs(a - b) for a, b in zip(rows[0]["losses"], rows[1]["losses"]))
    print(f"losses off {rows[0]['losses']}, on {rows[1]['losses']}, max |diff| {d:.2e}")
    print(f"saved: {rows[0]['added_mib'] - rows[1]['added_mib']} MiB "
          f"({1 - rows[1]['added_mib'] / max(rows[0]['added_mib'], 1):.0%} of what training adds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
