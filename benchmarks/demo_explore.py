"""The embedded default's exploration driver: continual-learning chains on tiny backbones, measured (not product code).

Runs the same `sapt` commands the workflow runs (workflow/rules/continual.smk, the dry-run command lines of the
embedded default), but in one Python process per chain (`sapt_core.cli.main`), timing every call; a real job adds
the Python start-up (torch + transformers + a T5 class, measured separately: `startup` below). For every step k it
evaluates all seen tasks and records the score matrix, the valid-label share of each prediction set (lowercase /
strip; mnli's GLUE no-gold '-' test items ignored), the constant-output share, and the shared-attention weights.

    python benchmarks/demo_explore.py chain --name X --method seq-lora --backbone DIR --bench Long_Sequence \
        --tasks mnli cb wic --n-train 200 --epochs 10 [--set key=value ...]
    python benchmarks/demo_explore.py backbone --name X --d-model 64 ... --pretrain-steps 1000 [--objective span]
    python benchmarks/demo_explore.py startup

Results are appended as one JSON line per run to $EXPLORE/results.jsonl (default /work/scratch-explore).

Written for the CLI of commit 4921028 (`sapt train-seq` / `sapt single-task`, since folded into `sapt train-step
--method`); the recorded results came from it. To rerun: `git worktree add /tmp/explore 4921028` and run it there.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

EXPLORE = Path(os.environ.get("EXPLORE", "/work/scratch-explore"))
DATA_ROOT = os.environ.get("SAPT_DATA_ROOT", "/work/shared/data")
REPO = Path(__file__).resolve().parents[1]
BENCH_YAML = str(REPO / "config/benchmarks.yaml")

# method -> (command, fixed args) as the embedded default's dry run prints them (tiny-t5, method_overrides applied)
COMMON_TRAIN = ["--optimizer", "adamw", "--weight-decay", "0.0", "--max-grad-norm", "1.0", "--grad-accum", "1",
                "--max-target-len", "50", "--dtype", "float32", "--seed", "0", "--no-progress",
                "--logging-steps", "100000"]
SAPT_FLAGS = ["--d-p", "100", "--temperature", "sqrt_d", "--projection-order", "official", "--no-pool-mask-pads",
              "--kl-direction", "target_first", "--no-kl-scale-by-gas", "--attn-split", "test",
              "--eval-every-epochs", "0", "--max-new-tokens", "20", "--eval-batch-size", "32"]
LORA_R = {"SuperNI": "4", "Long_Sequence": "8"}          # methods.yaml: sapt-lora r per benchmark
SAPT_LAMBDA = {"SuperNI": "0.5", "Long_Sequence": "0.1"}  # methods.yaml: sapt-lora lambda per benchmark


CPU: dict[str, list[float]] = collections.defaultdict(list)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def cli(argv: list[str]) -> float:
    """Run one `sapt` command in this process; return its wall seconds."""
    from sapt_core.cli import main

    t0, c0 = time.perf_counter(), time.process_time()
    rc = main([str(a) for a in argv])
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    if rc != 0:
        raise SystemExit(f"sapt {' '.join(map(str, argv))}: exit {rc}")
    CPU[argv[0]].append(round(dc, 2))  # CPU seconds: with 1 thread ~ idle wall time, whatever the machine's load
    return dt


def prepare(bench: str, task: str, n_train: int, n_val: int, n_test: int) -> Path:
    root = EXPLORE / "data" / f"{n_train}-{n_val}-{n_test}" / bench
    d = root / task
    if not (d / "manifest.json").exists():
        cli(["prepare-data", "--data-root", DATA_ROOT, "--benchmarks", BENCH_YAML, "--benchmark", bench, "--task",
             task, "--protocol", "official", "--seed", "0", "--n-train", n_train, "--n-val", n_val,
             "--n-test", n_test, "--out", root])
    return d


def labels_of(d: Path) -> list[str] | None:
    m = json.loads((d / "manifest.json").read_text())
    # labels_observed (the targets' own strings): qqp's manifest "labels" are False/True while its targets are no/yes
    return (m.get("labels_observed") or m.get("labels")) if m["metric"] == "accuracy" else None


def train_cmd(method: str, bench: str, backbone: str, d: Path, prev: list[Path], state_in: Path | None,
              state_out: Path, pseudo: list[Path], hp: dict) -> list[str]:
    ep, lr, bs, msl = hp["epochs"], hp["lr"], hp["batch_size"], hp["max_source_len"]
    base = ["--backbone", backbone, "--data-dir", d, "--state-out", state_out, "--lr", lr, "--epochs", ep,
            "--batch-size", bs, "--max-source-len", msl, *COMMON_TRAIN]
    if hp.get("max_steps"):
        base += ["--max-steps", hp["max_steps"]]
    sin = ["--state-in", state_in] if state_in else []
    lora = ["--lora-r", hp.get("lora_r", "8"), "--lora-alpha", hp.get("lora_alpha", "32")]
    if method in ("seq-lora", "replay", "mtl"):
        init = "fresh" if method == "mtl" else "continue"
        vol = {"seq-lora": 0.0, "replay": hp.get("replay_volume", 0.02), "mtl": 1.0}[method]
        rep = ["--replay-data", *prev] if prev and method != "seq-lora" else []
        return ["train-seq", "--method", method, *base, *sin, *rep, "--pet", "lora", *lora, "--lora-dropout", "0.0",
                "--init", init, "--real-replay-volume", vol]
    if method == "o-lora":
        return ["train-step", "--method", "o-lora", *base, *sin, "--pet", "lora", *lora, "--lora-dropout", "0.1",
                "--routing", "sum", "--orth-lambda", hp.get("orth_lambda", "0.5"), "--eval-every-epochs", "0",
                "--max-new-tokens", "20", "--eval-batch-size", "32"]
    if method == "sapt-lora":
        flags = list(SAPT_FLAGS)
        if hp.get("temperature"):
            flags[flags.index("--temperature") + 1] = hp["temperature"]
        if hp.get("pool_mask_pads"):
            flags[flags.index("--no-pool-mask-pads")] = "--pool-mask-pads"
        ps = ["--pseudo", *pseudo] if pseudo else []
        return ["train-step", "--method", "sapt-lora", *base, *sin, *ps, "--pet", "lora",
                "--lora-r", hp.get("lora_r", LORA_R[bench]), "--lora-alpha", hp.get("lora_alpha", "32"),
                "--lora-dropout", "0.0", "--lora-mixing", hp.get("lora_mixing", "output"),
                "--lambda", hp.get("lambda", SAPT_LAMBDA[bench]), "--kl-start-step", hp.get("kl_start_step", "1"),
                *flags]
    if method == "sapt-prompt":
        ps = ["--pseudo", *pseudo] if pseudo else []
        ls = bench == "Long_Sequence"
        b2 = base[:]
        b2[b2.index("adamw")] = "adafactor"
        return ["train-step", "--method", "sapt-prompt", *b2, *sin, *ps, "--pet", "prompt",
                *(["--proj-lr", "0.01"] if ls else []), "--prompt-len", hp.get("prompt_len", "10"),
                "--d-p", "200" if ls else "100", "--temperature", "d_e", "--lambda", hp.get("lambda", "1.5" if ls else "1.0"),
                "--projection-order", "official", "--no-pool-mask-pads", "--kl-direction", "target_first",
                "--no-kl-scale-by-gas", "--kl-start-step", hp.get("kl_start_step", "1"), "--attn-split", "test",
                "--eval-every-epochs", "0", "--max-new-tokens", "20", "--eval-batch-size", "32"]
    evalf = ["--eval-every-epochs", "0", "--max-new-tokens", "20", "--eval-batch-size", "32"]
    b2 = base[:]
    if method == "l2p":
        return ["train-seq", "--method", "l2p", *base, *sin, "--pet", "l2p", "--prompt-len", hp.get("prompt_len", "10"),
                "--init", "continue", "--real-replay-volume", "0.0", "--pool-size", "10", "--top-n", "4",
                "--pull-weight", "0.5"]
    if method == "lfpt5":
        b2[b2.index("adamw")] = "adafactor"
        b2[b2.index("--weight-decay") + 1] = "1e-05"
        rep = ["--replay-data", *prev] if prev else []
        return ["train-seq", "--method", "lfpt5", *b2, *sin, *rep, "--pet", "prompt", "--prompt-len",
                hp.get("prompt_len", "30"), "--init", "continue", "--real-replay-volume", "0.0", "--lm-lambda", "0.25",
                "--gen-replay-volume", hp.get("replay_volume", "0.02")]
    if method == "progprompt":
        b2[b2.index("--weight-decay") + 1] = "1e-05"
        return ["train-step", "--method", "progprompt", *b2, *sin, "--pet", "prompt", "--prompt-len",
                hp.get("prompt_len", "10"), "--routing", "concat", *evalf]
    if method == "epi":
        return ["train-step", "--method", "epi", *base, *sin, "--pet", "prompt", "--prompt-len",
                hp.get("prompt_len", "10"), "--routing", "epi", *evalf]
    raise SystemExit(f"method {method}: not wired in this driver")


def analyse(pred_path: Path, labels: dict[str, list[str] | None]) -> dict:
    rows = [json.loads(x) for x in pred_path.read_text().splitlines() if x.strip()]
    out = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        rs = [r for r in rows if r["task"] == task and str(r["target"]).strip() != "-"]
        preds = [str(r["prediction"]).strip().lower() for r in rs]
        c = collections.Counter(preds)
        lab = labels.get(task)
        valid = (sum(p in {x.strip().lower() for x in lab} for p in preds) / len(preds)) if lab else None
        gold = collections.Counter(str(r["target"]).strip().lower() for r in rs)
        out[task] = {"n": len(rs), "valid": valid, "distinct": len(c), "top": c.most_common(3),
                     "majority_rate": (gold.most_common(1)[0][1] / len(rs)) if lab else None,
                     "score_no_dash": sum(r["score"] for r in rs) / len(rs)}
    return out


def chain(a) -> dict:
    if a.lr is None:  # the embedded default's per-method LR (method_overrides / methods.yaml)
        a.lr = {"sapt-prompt": "0.3", "progprompt": "0.3", "lfpt5": "0.3", "l2p": "0.03", "epi": "0.03"}.get(a.method, "3e-3")
    hp = {"epochs": a.epochs, "lr": a.lr, "batch_size": a.batch_size, "max_source_len": a.max_source_len}
    for kv in a.set or []:
        k, v = kv.split("=", 1)
        hp[k] = v
    run = EXPLORE / "runs" / a.name
    run.mkdir(parents=True, exist_ok=True)
    dirs = [prepare(a.bench, t, a.n_train, a.n_val, a.n_test) for t in a.tasks]
    labels = {}
    for t, d in zip(a.tasks, dirs):
        labels[t] = labels_of(d)
    times = collections.defaultdict(list)
    pseudo: list[Path] = []
    matrix, steps = [], []
    state_in = None
    for k, (task, d) in enumerate(zip(a.tasks, dirs), 1):
        sout = run / f"step{k}" / "state"
        if not (sout / "state.json").exists():
            argv = train_cmd(a.method, a.bench, a.backbone, d, dirs[: k - 1], state_in, sout, pseudo, hp)
            if hp.get("seed"):  # training seed (data slices stay seed 0)
                argv = [hp["seed"] if i and argv[i - 1] == "--seed" else x for i, x in enumerate(argv)]
            times["train"].append(round(cli(argv), 2))
        state_in = sout
        # ARM pseudo inputs of task k, used by later SAPT steps (generator trained as the workflow does)
        if a.method.startswith("sapt") and k < len(a.tasks):
            src = hp.get("pseudo_source", "generated")
            pj = run / f"pseudo_{task}.jsonl"
            if not pj.exists():
                if src == "generated":
                    gen = run / f"gen_{task}.safetensors"
                    pet = "prompt" if a.method == "sapt-prompt" else "lora"
                    times["generator"].append(round(cli(
                        ["train-generator", "--backbone", a.backbone, "--data-dir", d, "--pet", pet, "--lr", "0.001",
                         "--batch-size", "8", "--max-source-len", "8", "--max-target-len", "96", "--max-steps",
                         hp.get("gen_steps", "20"), "--lora-r", "8", "--lora-alpha", "32", "--lora-dropout", "0.1",
                         "--dtype", "float32", "--seed", "0", "--no-progress", "--out", gen]), 2))
                    times["pseudo"].append(round(cli(
                        ["generate-pseudo", "--source", "generated", "--data-dir", d, "--backbone", a.backbone,
                         "--generator", gen, "--max-new-tokens", "48", "--dtype", "float32", "--seed", "0",
                         "--volume", hp.get("pseudo_volume", "0.02"), "--out", pj]), 2))
                else:
                    extra = ["--family", "t5", "--data-root", DATA_ROOT, "--benchmarks", BENCH_YAML] if src == "shipped" else []
                    times["pseudo"].append(round(cli(
                        ["generate-pseudo", "--source", src, *extra, "--data-dir", d, "--seed", "0",
                         "--volume", hp.get("pseudo_volume", "0.02"), "--out", pj]), 2))
            pseudo.append(pj)
        out = run / f"step{k}"
        ev = ["evaluate", "--backbone", a.backbone, "--state", sout, "--data-dirs", *dirs[:k], "--batch-size", "32",
              "--max-new-tokens", "20", "--max-source-len", a.max_source_len, "--dtype", "float32",
              "--out", out / "scores.json", "--predictions", out / "predictions.jsonl"]
        sapt_like = a.method in ("sapt-lora", "sapt-prompt")
        if sapt_like:
            ev += ["--attention-out", out / "attention.json"]
        if not (out / "scores.json").exists():
            times["evaluate"].append(round(cli(ev), 2))
        sc = json.loads((out / "scores.json").read_text())["tasks"]
        matrix.append([round(sc[t]["score"], 2) for t in a.tasks[:k]] + [None] * (len(a.tasks) - k))
        st = {"analysis": analyse(out / "predictions.jsonl", labels)}
        if sapt_like:
            at = json.loads((out / "attention.json").read_text())
            st["attention"] = {t: [round(x, 3) for x in at["tasks"][t]["mean"]] for t in a.tasks[:k]}
        steps.append(st)
        log(a.name, f"step {k}", matrix[-1], {t: (v["valid"], v["top"][:2]) for t, v in st["analysis"].items()},
            st.get("attention", ""))
    T = len(a.tasks)
    fra = (sum(matrix[t][t] - matrix[T - 1][t] for t in range(T - 1)) / (T - 1)) if T > 1 else None
    own_valid = {t: steps[k]["analysis"][t]["valid"] for k, t in enumerate(a.tasks)}
    res = {"name": a.name, "method": a.method, "backbone": a.backbone, "bench": a.bench, "tasks": a.tasks,
           "n_train": a.n_train, "n_test": a.n_test, "hp": hp, "matrix": matrix,
           "AP": round(sum(matrix[-1]) / T, 2), "FRa": None if fra is None else round(fra, 2),
           "own_valid": own_valid, "own_majority": {t: steps[k]["analysis"][t]["majority_rate"] for k, t in enumerate(a.tasks)},
           "final_attention": steps[-1].get("attention"), "steps": steps, "times": dict(times), "cpu": dict(CPU)}
    with open(EXPLORE / "results.jsonl", "a") as fh:
        fh.write(json.dumps(res) + "\n")
    log("RESULT", a.name, "matrix", matrix, "AP", res["AP"], "F.Ra", res["FRa"], "own_valid", own_valid,
        "times", dict(times))
    return res


def single(a) -> dict:
    """One LoRA block on one task (sapt single-task) + evaluation: own-task accuracy vs majority, seconds."""
    if a.targets:  # exploration only: other LoRA sites than the product's q, v
        import sapt_core.pet as pet

        pet.LORA_TARGETS["t5"] = list(a.targets)
    d = prepare(a.bench, a.tasks[0], a.n_train, a.n_val, a.n_test)
    run = EXPLORE / "single" / a.name
    run.mkdir(parents=True, exist_ok=True)
    pet = ["--pet", "prompt", "--prompt-len", a.prompt_len] if a.pet == "prompt" else ["--pet", "lora"]
    argv = ["single-task", "--backbone", a.backbone, "--data-dir", d, *pet, "--seed", "0", "--lr", a.lr,
            "--epochs", a.epochs, "--batch-size", a.batch_size, "--grad-accum", "1", "--max-source-len",
            a.max_source_len, "--max-target-len", "50", "--dtype", "float32", "--no-progress", "--logging-steps", "100000",
            "--out", run / "block.safetensors"]
    if a.pet == "lora":
        argv += ["--lora-r", "8", "--lora-alpha", "32", "--lora-dropout", "0.0"]
    if a.optimizer:
        argv += ["--optimizer", a.optimizer]
    t_train = cli(argv)
    t_eval = cli(["evaluate", "--backbone", a.backbone, "--block", run / "block.safetensors", "--data-dirs", d,
                  "--batch-size", "32", "--max-source-len", a.max_source_len, "--dtype", "float32",
                  "--out", run / "scores.json", "--predictions", run / "predictions.jsonl"])
    an = analyse(run / "predictions.jsonl", {a.tasks[0]: labels_of(d)})[a.tasks[0]]
    res = {"name": a.name, "kind": "single", "backbone": a.backbone, "task": a.tasks[0], "n_train": a.n_train,
           "epochs": a.epochs, "lr": a.lr, "targets": a.targets, "pet": a.pet, "prompt_len": a.prompt_len, "max_source_len": a.max_source_len, "acc": round(an["score_no_dash"], 2),
           "majority": an["majority_rate"], "valid": an["valid"], "top": an["top"],
           "t_train": round(t_train, 2), "t_eval": round(t_eval, 2), "cpu": dict(CPU)}
    with open(EXPLORE / "results.jsonl", "a") as fh:
        fh.write(json.dumps(res) + "\n")
    log("SINGLE", res)
    return res


def pretrain_custom(model, tokenizer, lines, steps, seed, objective, batch_size=32, seq_len=64, lr=1e-3,
                    mask_rate=0.15, warmup=0):
    """T5 warm-up objectives on benchmark input text (as sapt_core.models.tiny.pretrain, plus alternatives):
    prefix: encoder reads the first half of a window, decoder predicts the rest (the product's objective);
    denoise: encoder reads the window with mask_rate of its tokens replaced by <unk> (BART-style token masking),
             decoder reconstructs the whole window (every token's embedding gets bidirectional context);
    mix: alternate prefix and denoise batches."""
    import torch

    ids = []
    for chunk in tokenizer(lines, add_special_tokens=False).input_ids:
        ids.extend(chunk + [tokenizer.eos_token_id])
    data = torch.tensor(ids[: len(ids) // seq_len * seq_len]).view(-1, seq_len)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0)
    model.train()
    losses = []
    eos = torch.full((batch_size, 1), tokenizer.eos_token_id)
    for step in range(steps):
        batch = data[torch.randint(0, len(data), (batch_size,), generator=g)]
        obj = objective if objective != "mix" else ("prefix" if step % 2 == 0 else "denoise")
        if obj == "prefix":
            half = seq_len // 2
            loss = model(input_ids=torch.cat([batch[:, :half], eos], 1), labels=torch.cat([batch[:, half:], eos], 1)).loss
        else:
            m = torch.rand(batch.shape, generator=g) < mask_rate
            corrupted = batch.masked_fill(m, tokenizer.unk_token_id)
            loss = model(input_ids=torch.cat([corrupted, eos], 1), labels=torch.cat([batch, eos], 1)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            losses.append(round(loss.item(), 4))
    model.eval()
    return losses


def backbone(a) -> None:
    """A tiny T5 like `sapt build-backbone` (same tokenizer, init, save format), with a choice of warm-up."""
    import hashlib

    import torch
    from sapt_core.io import atomic_dir
    from sapt_core.models.tiny import build_model, corpus_items, train_tokenizer

    t0 = time.perf_counter()
    items = corpus_items(DATA_ROOT, BENCH_YAML, a.corpus_per_task)
    lines = [t for _, t in items]
    tokenizer = train_tokenizer(lines, a.vocab_size)
    model = build_model("t5", len(tokenizer), a.d_model, a.layers, a.heads, a.d_ff, 0)
    text = [t for f, t in items if f == "input"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        losses = pretrain_custom(model, tokenizer, text, a.pretrain_steps, 0, a.objective, a.pt_batch, a.seq_len,
                                 a.pt_lr, warmup=a.pt_warmup) if a.pretrain_steps else []
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = 1
    out = EXPLORE / "bb" / a.name
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        spec = dict(family="t5", vocab_size=len(tokenizer), d_model=a.d_model, layers=a.layers, heads=a.heads,
                    d_ff=a.d_ff, seed=0, corpus_per_task=a.corpus_per_task, corpus_lines=len(lines),
                    pretrain_steps=a.pretrain_steps, pretrain_loss=losses, objective=a.objective, seq_len=a.seq_len,
                    pt_lr=a.pt_lr, pt_batch=a.pt_batch,
                    corpus_sha256=hashlib.sha256("\n".join(lines).encode()).hexdigest(),
                    n_params=sum(p.numel() for p in model.parameters()))
        (tmp / "sapt_backbone.json").write_text(json.dumps(spec, indent=2) + "\n")
    dt = time.perf_counter() - t0
    with open(EXPLORE / "results.jsonl", "a") as fh:
        fh.write(json.dumps({"name": a.name, "kind": "backbone", "seconds": round(dt, 1),
                             **{k: v for k, v in spec.items() if k != "pretrain_loss"},
                             "loss_first_last": [losses[:1], losses[-1:]]}) + "\n")
    log("BACKBONE", a.name, f"{dt:.1f} s", "loss", losses[:1], "->", losses[-1:])


def gen(a) -> None:
    """ARM generator quality vs steps: share of pseudo inputs whose generated instruction is the task's own."""
    import difflib

    d = prepare(a.bench, a.tasks[0], a.n_train, a.n_val, a.n_test)
    run = EXPLORE / "gen" / a.name
    run.mkdir(parents=True, exist_ok=True)
    g = run / "gen.safetensors"
    t_train = cli(["train-generator", "--backbone", a.backbone, "--data-dir", d, "--pet", "lora", "--lr", a.lr,
                   "--batch-size", a.batch_size, "--max-source-len", "8", "--max-target-len", a.max_target_len,
                   "--max-steps", a.steps, "--lora-r", "8", "--lora-alpha", "32", "--lora-dropout", "0.1",
                   "--dtype", "float32", "--seed", "0", "--no-progress", "--logging-steps", "100000", "--out", g])
    pj = run / "pseudo.jsonl"
    t_gen = cli(["generate-pseudo", "--source", "generated", "--data-dir", d, "--backbone", a.backbone, "--generator", g,
                 "--max-new-tokens", a.max_new_tokens, "--dtype", "float32", "--seed", "0", "--volume", a.volume,
                 "--out", pj])
    true_def = json.loads((d / "train.jsonl").read_text().splitlines()[0])["definition"].strip()
    rows = [json.loads(x) for x in pj.read_text().splitlines() if x.strip()]
    sims = [difflib.SequenceMatcher(None, r["definition"].strip(), true_def).ratio() for r in rows]
    res = {"name": a.name, "kind": "gen", "task": a.tasks[0], "steps": a.steps, "n": len(rows),
           "def_exact": sum(s == 1.0 for s in sims) / len(rows), "def_sim": round(sum(sims) / len(rows), 3),
           "example": rows[0]["source"][:160], "t_train": round(t_train, 2), "t_gen": round(t_gen, 2)}
    with open(EXPLORE / "results.jsonl", "a") as fh:
        fh.write(json.dumps(res) + "\n")
    log("GEN", res)


def warmup_timing(a) -> None:
    """CPU seconds per warm-up step (prefix / denoise) of tiny T5s, measured in one process."""
    import torch
    from sapt_core.models.tiny import build_model, corpus_items, train_tokenizer

    c0 = time.process_time()
    items = corpus_items(DATA_ROOT, BENCH_YAML, 300)
    tok = train_tokenizer([t for _, t in items], 4096)
    log("tokenizer + corpus:", round(time.process_time() - c0, 2), "CPU s")
    text = [t for f, t in items if f == "input"][:3000]
    for d, l, ff in ((64, 2, 128), (128, 4, 256)):
        for obj in ("prefix", "denoise"):
            model = build_model("t5", len(tok), d, l, 4, ff, 0)
            torch.manual_seed(0)
            pretrain_custom(model, tok, text, 5, 0, obj)
            c0 = time.process_time()
            pretrain_custom(model, tok, text, 40, 0, obj)
            log(f"WARMUP d{d} l{l} {obj}: {(time.process_time() - c0) / 40:.3f} CPU s/step (batch 32 x 64 tokens)")


def startup(_a) -> None:
    code = ("import time;t=time.perf_counter();import torch,transformers;"
            "from transformers import T5ForConditionalGeneration;print(round(time.perf_counter()-t,2), round(time.process_time(),2))")
    ts = [subprocess.check_output([sys.executable, "-c", code]).decode().split() for _ in range(3)]
    log("startup (torch + transformers + T5 class), 3 runs [wall, cpu]:", ts, "load", os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("chain", "single"):
        c = sub.add_parser(name)
        c.add_argument("--name", required=True)
        c.add_argument("--method", default="seq-lora")
        c.add_argument("--backbone", required=True)
        c.add_argument("--bench", required=True)
        c.add_argument("--tasks", nargs="+", required=True)
        c.add_argument("--n-train", type=int, default=200)
        c.add_argument("--n-val", type=int, default=16)
        c.add_argument("--n-test", type=int, default=64)
        c.add_argument("--epochs", default="10")
        c.add_argument("--lr", default=None if name == "chain" else "3e-3")
        c.add_argument("--batch-size", default="8")
        c.add_argument("--max-source-len", default="256")
        c.add_argument("--set", nargs="*", help="key=value hyperparameters (lambda, kl_start_step, lora_mixing, ...)")
        c.add_argument("--targets", nargs="*", help="LoRA sites of single-task blocks (default q v)")
        c.add_argument("--pet", default="lora", choices=["lora", "prompt"])
        c.add_argument("--prompt-len", default="10")
        c.add_argument("--optimizer", default=None)
    b = sub.add_parser("backbone")
    b.add_argument("--name", required=True)
    for k, v in (("d_model", 64), ("layers", 2), ("heads", 4), ("d_ff", 128), ("vocab_size", 4096),
                 ("pretrain_steps", 200), ("corpus_per_task", 300), ("seq_len", 64), ("pt_batch", 32), ("pt_warmup", 0)):
        b.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    b.add_argument("--pt-lr", type=float, default=1e-3)
    b.add_argument("--objective", default="prefix", choices=["prefix", "denoise", "mix"])
    gp = sub.add_parser("gen")
    for k, v in (("name", None), ("backbone", None), ("bench", "Long_Sequence"), ("steps", "20"), ("lr", "1e-3"),
                 ("batch_size", "8"), ("max_target_len", "96"), ("max_new_tokens", "48"), ("volume", "0.1"),
                 ("n_train", 200), ("n_val", 16), ("n_test", 64)):
        gp.add_argument("--" + k.replace("_", "-"), default=v, type=type(v) if v is not None else str)
    gp.add_argument("--tasks", nargs="+", required=True)
    sp = sub.add_parser("startup")
    sp.add_argument("--name", default="startup")
    wt = sub.add_parser("warmup-timing")
    wt.add_argument("--name", default="warmup-timing")
    a = p.parse_args()
    {"chain": chain, "single": single, "startup": startup, "backbone": backbone, "gen": gen, "warmup-timing": warmup_timing}[a.cmd](a)


if __name__ == "__main__":
    main()
