"""Recipe ``sapt evaluate``: greedy-decode the test sets of any tasks and score them per the task's metric
(accuracy = exact match for classification, Rouge-L otherwise; paper section 5.1.2).

Evaluates a backbone alone (zero-shot) or the model of a step state of any method (``--state``; the method is
rebuilt from the state's sidecar). Writes one scores JSON (and optionally the predictions as JSONL and the per-input
block weights), atomically: all outputs or none. The step recipe scores its freshly trained model the same way
(:func:`evaluate`), so a run's score-matrix row k comes from the job that trained step k.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from sapt_core import layout
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


@dataclass
class Decoding:
    """How the test inputs are decoded and scored (greedy, as the official code: docs/official_code.md §5)."""

    batch_size: int = 32
    max_new_tokens: int = 50
    max_source_len: int = 512
    split: str = "test"
    multi_reference: str = "single"

    def check(self) -> "Decoding":
        if self.batch_size <= 0 or self.max_new_tokens <= 0 or self.max_source_len <= 0:
            raise SaptError("--batch-size, --max-new-tokens and --max-source-len: expected positive integers")
        return self


def prediction_stats(preds: list[str], manifest: dict) -> dict:
    """What the predictions of one task look like: the most frequent prediction and its share, the share of empty
    predictions and, for classification tasks, the share that is one of the task's labels (after normalisation)."""
    from collections import Counter

    from sapt_core.evaluation.scoring import normalize_answer

    norm = [normalize_answer(p) for p in preds]
    top, count = Counter(norm).most_common(1)[0]
    labels = manifest.get("labels") if manifest.get("metric") == "accuracy" else None
    valid = None
    if labels:
        allowed = {normalize_answer(x) for x in labels}
        valid = sum(p in allowed for p in norm) / len(norm)
    return {"n": len(preds), "top": top, "top_share": count / len(norm),
            "empty_share": sum(not p for p in norm) / len(norm), "valid_share": valid}


def load_tasks(data_dirs, split: str) -> list[tuple[Path, dict, list[dict]]]:
    """(directory, manifest, rows) of every task to score; a task without rows of ``split`` is one line."""
    from sapt_core.data import load_manifest, load_split

    tasks = []
    for d in map(Path, data_dirs):
        manifest = load_manifest(d)
        rows = load_split(d, split)
        if not rows:
            raise SaptError(f"{d / layout.split_file_name(split)}: task {manifest.get('task')!r} has no {split} "
                            "instances")
        tasks.append((d, manifest, rows))
    return tasks


def evaluate(model, tokenizer, family: str, tasks, dec: Decoding, with_weights: bool, progress: bool = False):
    """Scores per task, prediction rows and (with ``with_weights``) the per-input block weights of ``model``."""
    from sapt_core.evaluation.generation import greedy_generate
    from sapt_core.evaluation.scoring import reference_lists, score_task

    scores, pred_rows, attention = {}, [], {}
    for d, manifest, rows in tasks:
        weights: list = []
        preds = greedy_generate(model, tokenizer, family, rows, dec.batch_size, dec.max_new_tokens, dec.max_source_len,
                                progress=progress, weights_out=weights)
        res = score_task(preds, reference_lists(rows), manifest["metric"], multi_reference=dec.multi_reference)
        task = manifest["task"]
        scores[task] = {k: res[k] for k in ("metric", "score", "exact_match", "rougeL", "n") if k in res}
        scores[task]["derived"] = bool(manifest.get("derived", {}).get(dec.split, False))
        scores[task]["predictions"] = prediction_stats(preds, manifest)
        scores[task]["upstream"] = manifest.get("upstream")
        if with_weights:
            attention[task] = {"mean": [sum(c) / len(weights) for c in zip(*weights)], "ids": [r["id"] for r in rows],
                               "per_input": [[round(x, 6) for x in w] for w in weights]}
        pred_rows += [{"task": task, "id": r["id"], "prediction": p, "target": r["target"],
                       "score": s} for r, p, s in zip(rows, preds, res["per_instance"])]
    return scores, pred_rows, attention


def write_outputs(out, tasks, dec: Decoding, backbone: dict, scores, pred_rows, attention, state_dir=None,
                  side: dict | None = None, method=None, predictions=None, attention_out=None) -> None:
    """The scores JSON, the predictions JSONL and the block weights JSON: each written to a temp file first, all
    renamed once all are written (none on a failure). ``backbone``: its provenance (``backbone_provenance``)."""
    from sapt_core.io import atomic_write_all, json_text, jsonl_text, sha256_file, versions

    doc = {
        "split": dec.split, "backbone": backbone,
        "state": ({"path": str(state_dir), "sha256": sha256_file(Path(state_dir) / layout.STATE_TENSORS),
                   "step": side["step"], "tasks": side["tasks"], "method": side["method"]} if side else None),
        "protocol": side.get("protocol") if side else None,
        "dtypes": side.get("dtypes") if side else None,  # the state's training dtypes (backbone, trainable)
        "decoding": {"greedy": True, "max_new_tokens": dec.max_new_tokens, "multi_reference": dec.multi_reference},
        "inputs": {str(d / layout.split_file_name(dec.split)): sha256_file(d / layout.split_file_name(dec.split))
                   for d, _, _ in tasks},
        "tasks": scores, "versions": versions(),
    }
    texts = {}
    if predictions:
        texts[predictions] = jsonl_text(pred_rows)
    if attention_out:
        texts[attention_out] = json_text({"blocks": method.block_names(side), "tasks": attention})
    texts[out] = json_text(doc)
    atomic_write_all(texts)
    for task, s in scores.items():
        print(f"{task}: {s['metric']} = {s['score']:.2f} (n={s['n']})")


def score(args, provenance: dict, tasks, dec: Decoding, out, state_dir=None, state=None, predictions=None,
          attention_out=None, progress: bool = False) -> None:
    """Load ``args.backbone`` (dtype, device, the LoRA sites the state's sidecar records), rebuild the model of
    ``state`` (tensors, sidecar) on it when given, score ``tasks`` and write the outputs: ``sapt evaluate`` and the
    step recipe's row k of the score matrix."""
    from sapt_core.models import load_backbone
    from sapt_core.state import check_sites, method_of

    method = method_of(state[1], str(Path(state_dir) / layout.STATE_SIDECAR)) if state is not None else None
    sites = check_sites(state[1], state[0], args.lora_sites, f"--state {state_dir}") if state is not None \
        else args.lora_sites
    bb = load_backbone(args.backbone, args.dtype, args.device, sites)
    model = method.load(bb.model, bb.family, *state) if state is not None else bb.model
    scores, pred_rows, attention = evaluate(model, bb.tokenizer, bb.family, tasks, dec, bool(attention_out), progress)
    write_outputs(out, tasks, dec, provenance, scores, pred_rows, attention, state_dir, state[1] if state else None,
                  method, predictions, attention_out)


def run(args: argparse.Namespace) -> int:
    dec = Decoding(args.batch_size, args.max_new_tokens, args.max_source_len, args.split, args.multi_reference).check()
    tasks = load_tasks(args.data_dirs, dec.split)
    if args.attention_out and not args.state:
        raise SaptError("--attention-out: needs --state (a model with blocks to weight)")
    from sapt_core.io import check_writable

    check_writable(*[p for p in (args.predictions, args.attention_out, args.out) if p])
    state = None
    backbone = backbone_provenance(args.backbone)
    if args.state:
        from sapt_core.state import check_backbone, method_of, read_state

        state = read_state(args.state)
        check_backbone(state[1], backbone, f"--state {args.state}")
        method_of(state[1], str(Path(args.state) / layout.STATE_SIDECAR))  # an unknown method: one line, before loading
    score(args, backbone, tasks, dec, args.out, args.state, state, args.predictions, args.attention_out,
          args.progress)
    return 0
