"""Backbones: any HF seq2seq (T5 family) or causal LM (LLaMA family), by hub id or local path."""

from sapt_core.models.backbone import Backbone, load_backbone

__all__ = ["Backbone", "load_backbone"]
