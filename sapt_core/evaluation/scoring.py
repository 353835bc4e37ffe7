"""Per-instance task metrics, as in the official ``src/compute_metrics.py`` (copied from SuperNI).

* exact match: after :func:`normalize_answer` (lowercase, drop ``string.punctuation``, collapse whitespace; articles
  are NOT removed, unlike SQuAD's normaliser), x100.
* Rouge-L: Google ``rouge_score`` with ``use_stemmer=True`` and its default tokenizer, F-measure, x100.

The paper (Sec. 5.1.2) scores classification tasks by accuracy (= exact match here) and the others by Rouge-L; the
official ``score.py`` uses Rouge-L for every task, so :func:`score_task` always reports both means.
"""

from __future__ import annotations

import functools
import string
from typing import Sequence

from sapt_core.errors import SaptError

METRICS = ("accuracy", "rougeL")
_ALIASES = {"accuracy": "accuracy", "exact_match": "accuracy", "rougeL": "rougeL"}
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lowercase, remove punctuation, collapse whitespace (SuperNI ``normalize_answer``; articles kept)."""
    return " ".join("".join(ch for ch in s.lower() if ch not in _PUNCT).split())


def exact_match(pred: str, ref: str) -> float:
    """100.0 if the normalised strings are equal, else 0.0; an empty prediction never matches (a reference that
    normalises to "" would otherwise score empty outputs as correct)."""
    p = normalize_answer(pred)
    return 100.0 if p and p == normalize_answer(ref) else 0.0


@functools.lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(pred: str, ref: str) -> float:
    """Rouge-L F-measure x100 (``RougeScorer(["rougeL"], use_stemmer=True)``; LCS over stemmed tokens)."""
    return 100.0 * _scorer().score(target=ref, prediction=pred)["rougeL"].fmeasure


_FUNCS = {"accuracy": exact_match, "rougeL": rouge_l}


def score_task(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    metric: str,
    multi_reference: str = "single",
) -> dict:
    """Score one task's predictions.

    ``references[i]`` is the list of references of instance i (a bare string is taken as a one-element list).
    ``multi_reference="single"`` uses ``references[i][0]`` (what the official code does); ``"max"`` takes the best
    score over the references (SuperNI's ``metric_max_over_ground_truths``). ``metric`` is ``"accuracy"`` (exact
    match after normalisation; ``"exact_match"`` is accepted as an alias) or ``"rougeL"``.

    Returns ``{"score", "metric", "n", "per_instance", "exact_match", "rougeL"}``: ``score`` is the mean of
    ``per_instance`` (the chosen metric, 0-100); ``exact_match`` and ``rougeL`` are both means, always reported.
    """
    if metric not in _ALIASES:
        raise SaptError(f"metric: unknown metric {metric!r}, expected one of {', '.join(_ALIASES)}")
    if multi_reference not in ("single", "max"):
        raise SaptError(f"multi_reference: unknown mode {multi_reference!r}, expected 'single' or 'max'")
    if len(predictions) != len(references):
        raise SaptError(f"predictions: {len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise SaptError("predictions: empty prediction set, nothing to score")
    per = {name: [] for name in METRICS}
    for i, (pred, refs) in enumerate(zip(predictions, references)):
        refs = [refs] if isinstance(refs, str) else list(refs)
        if not refs or not all(isinstance(r, str) for r in refs) or not isinstance(pred, str):
            raise SaptError(f"references[{i}]: expected a string prediction and a non-empty list of strings")
        refs = refs[:1] if multi_reference == "single" else refs
        for name, fn in _FUNCS.items():
            per[name].append(max(fn(pred, r) for r in refs))
    means = {name: sum(v) / len(v) for name, v in per.items()}
    chosen = _ALIASES[metric]
    return {
        "score": means[chosen],
        "metric": chosen,
        "n": len(predictions),
        "per_instance": per[chosen],
        "exact_match": means["accuracy"],
        "rougeL": means["rougeL"],
    }


def reference_lists(rows: list[dict]) -> list[list[str]]:
    """References of prepared rows for :func:`score_task`: the drawn ``target`` first (what ``multi_reference=
    "single"`` scores against, as the official loader), then the row's other references."""
    return [[r["target"]] + [x for x in r["references"] if x != r["target"]] for r in rows]
