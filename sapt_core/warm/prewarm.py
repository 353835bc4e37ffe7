"""What every job of ``sapt warm`` would otherwise pay again after its fork: the first call of each code path.

Imports are not all of a job's start-up: the first ``from_pretrained`` of a process compiles transformers' weight-name
patterns (~0.2 s for a tiny T5), the first forward and backward set up torch's kernels and autograd, the first
``datasets`` map, the first greedy decoding and Rouge-L score their own state. Measured on one train-step job of the
embedded default (benchmarks/README.md, "profile_step.py"): about 0.8 s of a 7 s job. The worker runs each path once,
on a throwaway backbone of each family (a few hundred parameters, written to a temporary directory), before it serves,
so the forks start with them done.

What a job computes stays the same: the warm-up runs inside :func:`torch.random.fork_rng` with Python's and NumPy's
random states restored afterwards (a fresh process's default torch seed is what an unseeded draw would see), on one
thread (no OpenMP team is created in the worker: each fork sets its job's own thread count), and with the
``tokenizers`` parallelism off (a fork after a parallel encode would disable it in the job, with a warning). Nothing of
accelerate's or the HF Trainer's process-wide state is touched (a multi-rank launch initialises it per rank). Last,
the worker's heap is frozen (:func:`gc.freeze`), so a job's garbage collections (the Trainer runs a full one at the
end of training) do not walk, and copy, the worker's millions of import-time objects.
"""

from __future__ import annotations

import gc
import os
import tempfile
from pathlib import Path

from sapt_core.models.tiny import SPECIALS  # the tiny backbones' special ids

WORDS = ["a", "b", "c", "yes", "no", "Input:", "Output:"]


def prewarm() -> None:
    """Run the first calls of a model job once in this process (see the module docstring)."""
    import random

    import numpy as np
    import torch
    from transformers.utils import logging as hf_logging

    py_state, np_state, threads = random.getstate(), np.random.get_state(), torch.get_num_threads()
    bars = hf_logging.is_progress_bar_enabled()  # load_backbone turns transformers' bars off too
    hf_logging.disable_progress_bar()
    parallel = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory(prefix="sapt-prewarm-") as tmp:
            for family in ("t5", "llama"):
                _exercise(_write_backbone(Path(tmp) / family, family), family)
    finally:
        torch.set_num_threads(threads)
        if bars:
            hf_logging.enable_progress_bar()
        random.setstate(py_state)
        np.random.set_state(np_state)
        if parallel is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = parallel
    gc.collect()
    gc.freeze()


def _write_backbone(out: Path, family: str) -> Path:
    """A throwaway backbone directory as the tiny backbones are saved (model + fast tokenizer), 16-wide."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from sapt_core.models.tiny import build_model

    vocab = {w: i for i, w in enumerate(SPECIALS + [f"\u2581{w}" for w in WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                        bos_token="<s>")
    model = build_model(family, len(vocab), d_model=16, layers=1, heads=2, d_ff=16, seed=0)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _exercise(path: Path, family: str) -> None:
    """Load, one LoRA training step (forward, backward, clipping, AdamW), greedy decoding and scoring."""
    import torch

    from sapt_core.blocks.model import BlockModel, BlockSpec
    from sapt_core.evaluation.generation import greedy_generate
    from sapt_core.evaluation.scoring import score_task
    from sapt_core.models import load_backbone
    from sapt_core.models.batching import Collator, encode_rows

    bb = load_backbone(str(path))
    model = BlockModel(bb.model, family, BlockSpec(n_blocks=2, lora_r=2))
    rows = [{"source": "Input: a b c Output:", "target": "yes"}, {"source": "Input: b Output:", "target": "no"}]
    batch = Collator(bb.tokenizer.pad_token_id, family, with_query=True)(encode_rows(rows, bb.tokenizer, family))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    model.train()
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    model.zero_grad(set_to_none=True)
    preds = greedy_generate(model, bb.tokenizer, family, rows, batch_size=2, max_new_tokens=2, max_source_len=16)
    for metric in ("accuracy", "rougeL"):
        score_task(preds, [[r["target"]] for r in rows], metric)
