"""A decoder-only backbone's training loss needs its LM head only where a label is.

The loss of a causal LM is the mean cross-entropy of the tokens that carry a label, each predicted from the position
before it: L = mean over {(b, p) : y[b, p+1] != -100} of -log softmax(W h[b, p])[y[b, p+1]]. A training row is its
prompt masked to -100 and then its answer (:mod:`sapt_core.models.batching`: left-padded, so every answer ends at the
last column), and an answer is a few tokens beside a prompt of up to ``max_source_len``: projecting every position
onto the vocabulary computes logits that the mean never reads. With ``f`` the first column holding a label, the
positions f-1 .. L-1 are the only ones L reads, so the backbone is asked for its last K = L - f + 1 logits
(``logits_to_keep``) and given the labels of those K columns; its own loss function shifts them as before, so L is
the same sum over the same pairs (and the model's own head, soft-capping or scaling included, is what computes them).

Every model calls it on its backbone's kwargs, whatever the family: an encoder-decoder's labels are its decoder's
answer tokens, which start at column 0, so nothing is cut there (and T5's forward takes no ``logits_to_keep``).

Measured (benchmarks/README.md, "Making the default's jobs faster"): a tiny LLaMA's optimizer step 2.1-2.6x faster.
"""

from __future__ import annotations

import inspect

from sapt_core.models.batching import IGNORE

_SUPPORTS: dict[type, bool] = {}


def supports(model) -> bool:
    """Whether the backbone's forward takes ``logits_to_keep`` (every decoder-only family of transformers 5 does)."""
    cls = type(model)
    if cls not in _SUPPORTS:
        _SUPPORTS[cls] = "logits_to_keep" in inspect.signature(cls.forward).parameters
    return _SUPPORTS[cls]


def keep_labelled(model, kwargs: dict) -> dict:
    """``kwargs`` of a backbone's forward with labels, narrowed to the columns the loss reads (unchanged when they
    are all of them, when there are no labels, or when the backbone cannot narrow its logits)."""
    labels = kwargs.get("labels")
    if labels is None or not supports(model):
        return kwargs
    cols = (labels != IGNORE).any(0).nonzero()
    if len(cols) == 0:
        return kwargs
    width = labels.shape[1]
    keep = width - int(cols[0]) + 1
    if keep >= width:
        return kwargs
    return {**kwargs, "labels": labels[:, -keep:], "logits_to_keep": keep}
