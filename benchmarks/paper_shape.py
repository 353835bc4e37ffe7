"""Benchmark: the paper's shape end to end on the CPU: SAPT-LoRA step 3 on a T5-large-shaped backbone in bf16.

    python benchmarks/paper_shape.py [--work results/paper_shape] [--steps 4] [--batch 2] [--tasks mnli cb wic]

The backbone is built from t5-large's configuration values (d_model 1024, d_kv 64, d_ff 4096, 24 + 24 layers,
16 heads, vocabulary 32128, relu feed-forward, tied embeddings; random weights, no hub) by ``sapt build-backbone``
(its BPE tokenizer, trained on the benchmarks' training text, has the full 32128 tokens) and cached in the work dir.
Three real Long Sequence tasks (default: order 3's first three, mnli -> cb -> wic; ``sapt prepare-data``, 8 train /
4 val / 4 test rows each, with their instructions). SAPT-LoRA steps 1 and 2 train ``--prev-steps`` optimizer steps
each; step 3 trains ``--steps`` optimizer steps at batch ``--batch`` (no gradient accumulation) with ARM over the two
earlier tasks (``--pseudo``: real inputs of tasks 1 and 2, ``sapt generate-pseudo --source real --volume 0.5``;
``--kl-lambda 0.1``, App. C Long Sequence, from the first optimizer step: ``--kl-start-step 0``). Every step loads the
backbone in bf16 (``--dtype bfloat16``), caps sources / targets at the official T5's 512 / 50 tokens (batches pad to
their longest row; the printed header gives step 3's token counts) and does no model selection (``--selection
none``). Each step is one ``sapt train-step`` process, as in the workflow.

Records, for every step, the recipe's ``train:`` line (wall and CPU s per optimizer step, the first step included)
and the peak RSS and CPU time of its process (``ru_maxrss``, ``ru_utime + ru_stime`` of that child, from
``os.wait4``), and the largest RSS sampled while it trains (the peak includes loading the backbone: the fp32 checkpoint
is read, then cast to bf16); for step 3 also the loss values, the state's dtypes and the 1-minute load average sampled
during the step. On a shared machine the wall s/step grows with the load; the CPU s/step (all threads) less so. Asserts:
backbone bf16, trainable state float32 only, finite losses, ARM's KL active at step 3 (the sidecar's ``arm_kl`` note
and the in-job checkpoint's pseudo-replay position: one pseudo batch per earlier task per optimizer step), three
blocks in the state. Prints a markdown table and writes ``summary.json`` in the work dir; exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASKS = ("mnli", "cb", "wic")  # Long Sequence order 3 (paper Table 6), its first three tasks
# t5-large's configuration.json values that build-backbone takes (d_kv = d_model / heads = 64)
T5_LARGE = {"d_model": 1024, "layers": 24, "heads": 16, "d_ff": 4096, "vocab_size": 32128}


def sapt(*args: str) -> list[str]:
    return [sys.executable, "-m", "sapt_core", *args]


def _vm_rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), None)
    except OSError:
        return None


def run_measured(cmd: list[str], log: Path, load_samples: list | None = None) -> dict:
    """Run ``cmd`` (output to ``log``): its wall and CPU seconds, the peak RSS of that process (ru_maxrss, KiB on
    Linux) and, for a training step, the largest RSS sampled (every second) while it trains: from its first logged
    optimizer step to its ``train:`` line, so without the backbone's loading. With ``load_samples``, the 1-minute load
    average is appended every second while it runs."""
    log.parent.mkdir(parents=True, exist_ok=True)
    print("[paper_shape]", " ".join(cmd[2:]), file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    train_rss = []
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample():
            while not done.wait(1.0):
                if load_samples is not None:
                    load_samples.append(os.getloadavg()[0])
                text = log.read_text(errors="replace")
                rss = _vm_rss_kib(proc.pid)
                if rss and "{'loss'" in text and "\ntrain: " not in text:
                    train_rss.append(rss)

        threading.Thread(target=sample, daemon=True).start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"paper_shape: {cmd[3]} failed (exit {proc.returncode}), see {log}:\n"
                 + "\n".join(log.read_text().splitlines()[-20:]))
    out = {"wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
           "peak_rss_mib": round(usage.ru_maxrss / 1024)}
    m = re.search(r"^train: (\d+) optimizer steps in ([\d.]+) s \(([\d.]+) s/step, CPU ([\d.]+) s/step\)",
                  log.read_text(), re.M)
    if m:
        out.update(optimizer_steps=int(m[1]), train_s=float(m[2]), s_per_step=float(m[3]), cpu_s_per_step=float(m[4]),
                   training_rss_mib=round(max(train_rss) / 1024) if train_rss else None,
                   training_rss_samples=len(train_rss))
    return out


def build_backbone(work: Path, seed: int) -> tuple[Path, dict | None]:
    """The T5-large-shaped backbone, built once: reused when its spec matches (None: nothing measured)."""
    bb = work / "backbone"
    spec_file = bb / "sapt_backbone.json"
    if spec_file.is_file():
        spec = json.loads(spec_file.read_text())
        if all(spec.get(k) == v for k, v in T5_LARGE.items()) and spec.get("seed") == seed:
            return bb, None
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in T5_LARGE.items()]
    m = run_measured(sapt("build-backbone", "--family", "t5", *flags, "--seed", str(seed), "--corpus-per-task", "300",
                          "--pretrain-steps", "0", "--out", str(bb)), work / "logs/build-backbone.log")
    return bb, m


def token_lengths(bb: Path, task_dir: Path, pseudo: list[str], max_source: int, max_target: int) -> dict:
    """Min-max token counts of step 3's training sources and targets and of its pseudo inputs, as the recipe
    encodes them (after the caps, with </s>)."""
    from transformers import AutoTokenizer

    from sapt_core.data import load_split
    from sapt_core.io import read_jsonl
    from sapt_core.models.batching import encode_rows

    tok = AutoTokenizer.from_pretrained(str(bb))
    train = encode_rows(load_split(task_dir, "train"), tok, "t5", max_source, max_target)
    rows = [r for p in pseudo for r in read_jsonl(p, "pseudo-input file")]
    pseudo_enc = encode_rows(rows, tok, "t5", max_source, max_target, train=False)
    def span(xs):
        return min(xs), max(xs)

    return {"train source": span([len(e.input_ids) for e in train]),
            "train target": span([len(e.labels) for e in train]),
            "pseudo source": span([len(e.input_ids) for e in pseudo_enc])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="results/paper_shape", help="work dir (backbone cached here)")
    ap.add_argument("--steps", type=int, default=4, help="optimizer steps of step 3")
    ap.add_argument("--prev-steps", type=int, default=1, help="optimizer steps of steps 1 and 2")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--max-source-len", type=int, default=512, help="source token cap (official T5: 512)")
    ap.add_argument("--max-target-len", type=int, default=50, help="target token cap (official: 50)")
    ap.add_argument("--tasks", nargs=3, default=list(TASKS), metavar="TASK",
                    help="three Long Sequence tasks in order (default: order 3's first three, %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    work = Path(args.work).resolve()
    data = work / "data"
    t_start, load_before = time.perf_counter(), os.getloadavg()[0]

    tasks = args.tasks
    for t in tasks:
        if not (data / t / "train.jsonl").is_file():
            run_measured(sapt("prepare-data", "--benchmark", "Long_Sequence", "--task", t, "--protocol", "official",
                              "--seed", str(args.seed), "--n-train", "8", "--n-val", "4", "--n-test", "4",
                              "--out", str(data)), work / f"logs/prepare-{t}.log")
    bb, build = build_backbone(work, args.seed)
    spec = json.loads((bb / "sapt_backbone.json").read_text())
    model_cfg = json.loads((bb / "config.json").read_text())

    steps, pseudo, prev = {}, [], None
    for k, t in enumerate(tasks, 1):
        n = args.steps if k == 3 else args.prev_steps
        out = work / f"step{k}"
        cmd = sapt("train-step", "--method", "sapt-lora", "--backbone", str(bb), "--data-dir", str(data / t),
                   *(["--state-in", str(prev)] if prev else []), *(["--pseudo", *pseudo] if pseudo else []),
                   "--dtype", "bfloat16", "--device", "cpu", "--selection", "none", "--kl-lambda", "0.1",
                   "--kl-start-step", "0", "--batch-size", str(args.batch), "--global-batch", str(args.batch), "--max-steps", str(n),
                   "--max-source-len", str(args.max_source_len), "--max-target-len", str(args.max_target_len),
                   "--save-steps", str(n), "--keep-workdir", "--logging-steps", "1", "--seed", str(args.seed),
                   "--no-progress", "--state-out", str(out), "--workdir", str(work / f"step{k}.work"))
        for d in (out, work / f"step{k}.work"):
            subprocess.run(["rm", "-rf", str(d)], check=True)
        load = [os.getloadavg()[0]] if k == 3 else None
        steps[k] = run_measured(cmd, work / f"logs/step{k}.log", load)
        if k == 3:
            load.append(os.getloadavg()[0])
            steps[k]["load_1min"] = {"min": min(load), "max": max(load), "mean": round(sum(load) / len(load), 2)}
        if k < 3:
            p = work / f"pseudo/{t}.jsonl"
            run_measured(sapt("generate-pseudo", "--source", "real", "--data-dir", str(data / t), "--volume", "0.5",
                              "--seed", str(args.seed), "--out", str(p)), work / f"logs/pseudo-{t}.log")
            pseudo.append(str(p))
        prev = out

    from sapt_core import layout

    side = json.loads((work / "step3" / layout.STATE_SIDECAR).read_text())
    last = side["history"][-1]
    losses = [h["loss"] for h in last["train_log"]]
    from safetensors import safe_open

    with safe_open(str(work / "step3" / layout.STATE_TENSORS), "pt") as f:
        n_blocks = f.get_slice("attention.keys").get_shape()[0]
    ckpt = work / f"step3.work/checkpoint-{args.steps}/sapt_extra_state.json"
    consumed = json.loads(ckpt.read_text())["pseudo_replay"]["consumed"] if ckpt.is_file() else 0
    checks = {
        "backbone bf16": side["dtypes"]["backbone"] == "bfloat16",
        "trainable float32 only": side["dtypes"]["trainable"] == ["float32"],
        f"{args.steps} finite losses": len(losses) == args.steps and all(math.isfinite(x) for x in losses),
        "ARM KL active (arm_kl, one pseudo batch per step)": last.get("arm_kl") is True and consumed == args.steps,
        "3 blocks, 3 tasks": n_blocks == 3 and side["tasks"] == tasks,
    }
    s3 = steps[3]
    lengths = token_lengths(bb, data / tasks[2], pseudo, args.max_source_len, args.max_target_len)
    summary = {"shape": {**T5_LARGE, "d_kv": model_cfg["d_kv"], "model_vocab_size": model_cfg["vocab_size"],
                         "tokenizer_size": spec["vocab_size"], "n_params": spec["n_params"],
                         "tie_word_embeddings": model_cfg.get("tie_word_embeddings", True),
                         "feed_forward_proj": model_cfg["feed_forward_proj"]},
               "run": {"steps": args.steps, "prev_steps": args.prev_steps, "batch": args.batch, "grad_accum": 1,
                       "max_source_len": args.max_source_len, "max_target_len": args.max_target_len,
                       "seed": args.seed, "cpus": os.cpu_count(), "load_1min_before": load_before,
                       "step3_tokens": lengths},
               "build_backbone": build, "train_steps": steps, "step3_losses": losses, "dtypes": side["dtypes"],
               "checks": checks, "total_wall_s": round(time.perf_counter() - t_start, 1)}
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    import torch

    c = model_cfg
    print(f"torch={torch.__version__} cpus={os.cpu_count()} threads={torch.get_num_threads()} T5-large shape: "
          f"d_model {c['d_model']}, d_kv {c['d_kv']}, d_ff {c['d_ff']}, {c['num_layers']}+{c['num_decoder_layers']} "
          f"layers, {c['num_heads']} heads, vocab {c['vocab_size']} (tokenizer {spec['vocab_size']}), "
          f"{spec['n_params'] / 1e6:.0f}M parameters, bf16 backbone")
    print(f"batch {args.batch} x grad-accum 1, max source {args.max_source_len} / target {args.max_target_len} tokens, "
          f"seed {args.seed}; step 3 tokens (after the caps, with </s>; batches pad to their longest): "
          + ", ".join(f"{k} {lo}-{hi}" for k, (lo, hi) in lengths.items()) + "\n")
    print("| SAPT-LoRA step | optimizer steps | s/step | CPU s/step | process wall s | process CPU s | peak RSS MiB "
          "| RSS while training MiB |")
    print("|---|---|---|---|---|---|---|---|")
    if build:
        print(f"| build-backbone (fp32 init + save) | - | - | - | {build['wall_s']} | {build['cpu_s']} | "
              f"{build['peak_rss_mib']} | - |")
    for k, t in enumerate(tasks, 1):
        m = steps[k]
        arm = ", ARM over 2 tasks" if k == 3 else ""
        print(f"| {k} ({t}{arm}) | {m.get('optimizer_steps')} | {m.get('s_per_step')} | {m.get('cpu_s_per_step')} | "
              f"{m['wall_s']} | {m['cpu_s']} | {m['peak_rss_mib']} | {m.get('training_rss_mib') or '-'} |")
    print(f"\nstep 3 losses: {losses}; dtypes {side['dtypes']}")
    print(f"load average (1 min) during step 3: min {s3['load_1min']['min']:.2f}, mean {s3['load_1min']['mean']:.2f}, "
          f"max {s3['load_1min']['max']:.2f}")
    for name, ok in checks.items():
        print(f"{'ok' if ok else 'FAILED'}: {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
