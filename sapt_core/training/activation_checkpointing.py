"""Activation (gradient) checkpointing of the backbone's layers during one training step (the backbone switch
``backbones.<name>.gradient_checkpointing``, ``--gradient-checkpointing``; docs/cluster.md).

Each transformer layer keeps only its input in the forward pass and recomputes its activations in the backward
pass, trading one extra forward for the memory of the layers' activations. The backbone is frozen and only PET
blocks train, so torch's non-reentrant checkpoint is used (``use_reentrant=False``): gradients reach the LoRA
blocks inside a layer even when the layer's input does not require grad.

SAPT-LoRA's blocks read the batch's block weights from a shared :class:`~sapt_core.blocks.lora.MixingContext`
that each forward sets. A step may run several forwards before one backward (ARM's pseudo batch, Eq. 6), so a
recomputation during the backward restores the weights its own forward saw (``context_fn``).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext


def _hf_model(model):
    from transformers import PreTrainedModel

    for m in model.modules():
        if isinstance(m, PreTrainedModel) and m.supports_gradient_checkpointing:
            return m
    from sapt_core.errors import SaptError

    raise SaptError(f"gradient checkpointing: {type(model).__name__} holds no transformers model that supports it")


def _mixing_contexts(model) -> list:
    from sapt_core.blocks.lora import MixingContext

    seen = {}
    for m in model.modules():
        ctx = m.__dict__.get("ctx")
        if isinstance(ctx, MixingContext):
            seen[id(ctx)] = ctx
    return list(seen.values())


def _context_fn(contexts: list):
    """torch.utils.checkpoint ``context_fn``: the recomputation sees the block weights of its own forward."""

    def context_fn():
        saved = [c.weights for c in contexts]

        @contextmanager
        def recompute():
            now = [c.weights for c in contexts]
            for c, w in zip(contexts, saved):
                c.weights = w
            try:
                yield
            finally:
                for c, w in zip(contexts, now):
                    c.weights = w

        return nullcontext(), recompute()

    return context_fn


def enable(model) -> None:
    kwargs = {"use_reentrant": False}
    contexts = _mixing_contexts(model)
    if contexts:
        kwargs["context_fn"] = _context_fn(contexts)
    _hf_model(model).activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)


def disable(model) -> None:
    hf = _hf_model(model)
    hf.activation_checkpointing_disable()
    hf.disable_input_require_grads()
