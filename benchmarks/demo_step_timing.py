"""CPU seconds per optimizer step of `sapt single-task` (LoRA r 8, q/v) on a tiny backbone vs max_source_len and
batch size: one process, a warm-up call, then 40- and 160-step calls; slope = per step, intercept = setup.
    python benchmarks/demo_step_timing.py BACKBONE DATA_DIR [DATA_DIR ...]

Written for the CLI of commit 4921028 (`sapt train-seq` / `sapt single-task`, since folded into `sapt train-step
--method`); the recorded results came from it. To rerun: `git worktree add /tmp/explore 4921028` and run it there.
"""
import sys
import time
from pathlib import Path

from sapt_core.cli import main

bb, dirs = sys.argv[1], sys.argv[2:]
out = Path("/work/scratch-explore/timing")
out.mkdir(parents=True, exist_ok=True)


def run(d, msl, bs, steps):
    c0 = time.process_time()
    main(["single-task", "--backbone", bb, "--data-dir", d, "--pet", "lora", "--seed", "0", "--lr", "3e-3",
          "--max-steps", str(steps), "--batch-size", str(bs), "--max-source-len", str(msl), "--max-target-len", "50",
          "--lora-r", "8", "--lora-alpha", "32", "--no-progress", "--logging-steps", "100000",
          "--out", str(out / "b.safetensors")])
    return time.process_time() - c0


run(dirs[0], 64, 8, 5)  # imports
for d in dirs:
    for msl in (64, 128, 256):
        for bs in (8, 16):
            a, b = run(d, msl, bs, 40), run(d, msl, bs, 160)
            print(f"TIMING {Path(d).name} msl {msl} bs {bs}: {(b - a) / 120:.4f} CPU s/step, setup {a - 40 * (b - a) / 120:.2f} s", flush=True)
