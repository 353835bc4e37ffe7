"""Recipe ``sapt evaluate``: greedy-decode the test sets of any tasks and score them per the task's metric
(accuracy = exact match for classification, Rouge-L otherwise; paper section 5.1.2).

Evaluates a backbone alone (zero-shot) or the model of a step state of any method (``--state``; the method is
rebuilt from the state's sidecar). Writes one scores JSON (and optionally the predictions as JSONL and the per-input
shared-attention weights), atomically: all outputs or none.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sapt_core.errors import SaptError
from sapt_core.recipes.common import add_backbone_args, backbone_provenance


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dirs", nargs="+", required=True, help="prepared task directories to evaluate on")
    p.add_argument("--state", default=None, help="step state directory (from train-step); omit for zero-shot")
    p.add_argument("--attention-out", default=None,
                   help="with --state: per-input block weights per task (JSON, for the heat maps)")
    p.add_argument("--split", default="test", choices=["test", "val"])
    p.add_argument("--out", required=True, help="scores JSON")
    p.add_argument("--predictions", default=None, help="also write per-instance predictions (JSONL)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-new-tokens", type=int, default=50)
    p.add_argument("--max-source-len", type=int, default=512)
    p.add_argument("--multi-reference", default="single", choices=["single", "max"],
                   help="single = the drawn reference (official), max = best over all references")
    p.add_argument("--progress", action="store_true")
    add_backbone_args(p)


def prediction_stats(preds: list[str], manifest: dict) -> dict:
    """What the predictions of one task look like: the most frequent prediction and its share, the share of empty
    predictions and, for classification tasks, the share that is one of the task's labels (after normalisation)."""
    from collections import Counter

    from sapt_core.scoring import normalize_answer

    norm = [normalize_answer(p) for p in preds]
    top, count = Counter(norm).most_common(1)[0]
    labels = manifest.get("labels") if manifest.get("metric") == "accuracy" else None
    valid = None
    if labels:
        allowed = {normalize_answer(x) for x in labels}
        valid = sum(p in allowed for p in norm) / len(norm)
    return {"n": len(preds), "top": top, "top_share": count / len(norm),
            "empty_share": sum(not p for p in norm) / len(norm), "valid_share": valid}


def run(args: argparse.Namespace) -> int:
    from sapt_core.data import load_manifest, load_split
    from sapt_core.io import atomic_write_all, check_writable, json_text, jsonl_text, sha256_file, versions
    from sapt_core.scoring import reference_lists, score_task

    if args.batch_size <= 0 or args.max_new_tokens <= 0:
        raise SaptError("--batch-size and --max-new-tokens: expected positive integers")
    tasks = []
    for d in map(Path, args.data_dirs):
        manifest = load_manifest(d)
        rows = load_split(d, args.split)
        if not rows:
            raise SaptError(f"{d / (args.split + '.jsonl')}: task {manifest.get('task')!r} has no {args.split} instances")
        tasks.append((d, manifest, rows))
    if args.attention_out and not args.state:
        raise SaptError("--attention-out: needs --state (a model with blocks to weight)")
    check_writable(*[p for p in (args.predictions, args.attention_out, args.out) if p])
    state = None
    backbone = backbone_provenance(args.backbone)
    if args.state:
        from sapt_core.state import check_backbone, method_of, read_state

        state = read_state(args.state)
        check_backbone(state[1], backbone, f"--state {args.state}")
        method = method_of(state[1], str(Path(args.state) / "state.json"))

    from sapt_core.generation import greedy_generate
    from sapt_core.models import load_backbone

    bb = load_backbone(args.backbone, args.dtype, args.device)
    model = bb.model
    attention = {}
    if state is not None:
        model = method.load(bb.model, bb.family, *state)
    scores, pred_rows = {}, []
    for d, manifest, rows in tasks:
        weights: list = []
        preds = greedy_generate(model, bb.tokenizer, bb.family, rows, args.batch_size, args.max_new_tokens,
                                args.max_source_len, progress=args.progress, weights_out=weights)
        refs = reference_lists(rows)
        res = score_task(preds, refs, manifest["metric"], multi_reference=args.multi_reference)
        task = manifest["task"]
        scores[task] = {k: res[k] for k in ("metric", "score", "exact_match", "rougeL", "n") if k in res}
        scores[task]["derived"] = bool(manifest.get("derived", {}).get(args.split, False))
        scores[task]["predictions"] = prediction_stats(preds, manifest)
        scores[task]["upstream"] = manifest.get("upstream")
        if state is not None:
            attention[task] = {"mean": [sum(c) / len(weights) for c in zip(*weights)], "ids": [r["id"] for r in rows],
                               "per_input": [[round(x, 6) for x in w] for w in weights]}
        pred_rows += [{"task": task, "id": r["id"], "prediction": p, "target": r["target"],
                       "score": s} for r, p, s in zip(rows, preds, res["per_instance"])]
    out = {
        "split": args.split, "backbone": backbone,
        "state": ({"path": args.state, "sha256": sha256_file(Path(args.state) / "state.safetensors"),
                   "step": state[1]["step"], "tasks": state[1]["tasks"], "method": state[1]["method"]}
                  if state else None),
        "protocol": state[1].get("protocol") if state else None,
        "decoding": {"greedy": True, "max_new_tokens": args.max_new_tokens, "multi_reference": args.multi_reference},
        "inputs": {str(d / f"{args.split}.jsonl"): sha256_file(d / f"{args.split}.jsonl") for d, _, _ in tasks},
        "tasks": scores, "versions": versions(),
    }
    texts = {}  # every output written to a temp file first, all renamed once all are written (none on a failure)
    if args.predictions:
        texts[args.predictions] = jsonl_text(pred_rows)
    if args.attention_out:
        texts[args.attention_out] = json_text({"blocks": method.block_names(state[1]), "tasks": attention})
    texts[args.out] = json_text(out)
    atomic_write_all(texts)
    for task, s in scores.items():
        print(f"{task}: {s['metric']} = {s['score']:.2f} (n={s['n']})")
    return 0

