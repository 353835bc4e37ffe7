"""Tiny backbones built locally from a config (no model hub): the embedded default and the tests use them.

A BPE tokenizer (HF ``tokenizers``: NFKC + Metaspace) is trained on the benchmark's own training text, wrapped in
``PreTrainedTokenizerFast`` (environment notes, section 4) and saved beside a randomly initialised ``T5Config`` or
``LlamaConfig`` model with ``save_pretrained``; :func:`sapt_core.models.load_backbone` reads it back like any hub id.
Special ids: <pad>=0, </s>=1, <unk>=2, <s>=3 (T5's pad/eos/decoder-start convention; LLaMA uses <s> as bos).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

from sapt_core.errors import SaptError
from sapt_core.settings.benchmarks import BENCHMARKS_FILE

SPECIALS = ["<pad>", "</s>", "<unk>", "<s>"]
CORPUS_BENCHMARKS = ("SuperNI", "Long_Sequence")  # the tiny tokenizers' corpus: the paper's benchmarks


def corpus_items(data_root: str | os.PathLike, benchmarks_path: str, per_task: int = 300) -> list[tuple[str, str]]:
    """(field, text) of every task's definitions and of the inputs and outputs of its first ``per_task`` training
    instances, in file order; one read of the benchmark files serves both the tokenizer and the warm-up.

    The corpus is the paper's two benchmarks (:data:`CORPUS_BENCHMARKS`), so adding a benchmark of one's own leaves
    the tiny backbones (and every run on them) as they are; a benchmarks file with neither uses all its trainable
    benchmarks. Task files are upstream JSON or JSONL (:func:`sapt_core.data.upstream.task_file`)."""
    from sapt_core.data.upstream import read_task_file, task_file
    from sapt_core.settings.benchmarks import load_benchmarks

    root = Path(data_root)
    if not root.is_dir():
        raise SaptError(f"data root {root}: directory not found")
    benches = load_benchmarks(benchmarks_path)
    names = [n for n in CORPUS_BENCHMARKS if n in benches] or [n for n, b in benches.items() if not b.test_only]
    items: list[tuple[str, str]] = []
    for name in names:
        bench = benches[name]
        for task, info in bench.tasks.items():
            tdir = root / bench.dir / task
            path = task_file(tdir, "train") or tdir / "train.json"
            if path.suffix == ".jsonl":  # read and checked as prepare-data reads it
                f = read_task_file(path, task, "train").instances[:per_task]
                obj = {"Instances": [{"input": i, "output": r} for i, r in zip(f["input"], f["references"])]}
            else:
                try:
                    obj = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                    raise SaptError(f"{path}: cannot read tokenizer corpus ({e.__class__.__name__})") from None
            definitions = [info.instruction] if info.instruction is not None else obj.get("Definition", [])
            items.extend(("definition", d) for d in definitions if isinstance(d, str))
            for inst in obj.get("Instances", [])[:per_task]:
                out = inst.get("output", "")
                items.append(("input", str(inst.get("input", ""))))
                items.extend(("output", o) for o in (out if isinstance(out, list) else [str(out)]))
    return [(f, t) for f, t in items if t.strip()]


def train_tokenizer(lines: list[str], vocab_size: int):
    """BPE on the corpus, wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(lines, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", bos_token="<s>"
    )


def build_model(family: str, vocab_size: int, d_model: int, layers: int, heads: int, d_ff: int, seed: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, T5Config, T5ForConditionalGeneration

    if d_model % heads:
        raise SaptError(f"tiny backbone: d_model ({d_model}) must be divisible by heads ({heads})")
    torch.manual_seed(seed)
    if family == "t5":
        cfg = T5Config(
            vocab_size=vocab_size, d_model=d_model, d_kv=d_model // heads, d_ff=d_ff, num_layers=layers,
            num_decoder_layers=layers, num_heads=heads, feed_forward_proj="relu", dropout_rate=0.0,
            pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, tie_word_embeddings=True,
        )
        return T5ForConditionalGeneration(cfg)
    if family == "llama":
        cfg = LlamaConfig(
            vocab_size=vocab_size, hidden_size=d_model, intermediate_size=d_ff, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=2048,
            pad_token_id=0, eos_token_id=1, bos_token_id=3, tie_word_embeddings=False,
            # HF's default 0.02 leaves a tiny model's LM head unable to make any token likely (max logit ~ 0.02 d)
            initializer_range=d_model ** -0.5,
        )
        return LlamaForCausalLM(cfg)
    raise SaptError(f"tiny backbone family: expected one of t5, llama, got {family!r}")


def pretrain(model, family: str, tokenizer, lines: list[str], steps: int, seed: int, batch_size: int = 32,
             seq_len: int = 64, lr: float = 1e-3) -> list[float]:
    """Short self-supervised warm-up of a tiny random backbone on benchmark *input* text (never instructions or
    answers): T5 = prefix LM (encoder reads the first half of a window, decoder predicts the rest), LLaMA = causal LM.

    A random backbone gives PET blocks almost nothing to steer (a frozen random encoder and LM head; measured here:
    a LoRA on a random tiny LLaMA cannot even fit 16 examples), so the embedded default warms its tiny backbones up,
    the way real backbones arrive pre-trained. Returns the loss every 10 steps.
    """
    import torch

    ids = []
    for chunk in tokenizer(lines, add_special_tokens=False).input_ids:
        ids.extend(chunk + [tokenizer.eos_token_id])
    data = torch.tensor(ids[: len(ids) // seq_len * seq_len]).view(-1, seq_len)
    if len(data) == 0:
        raise SaptError("tiny backbone pretraining: corpus shorter than one window")
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for step in range(steps):
        batch = data[torch.randint(0, len(data), (batch_size,), generator=g)]
        if family == "t5":
            half = seq_len // 2
            eos = torch.full((batch_size, 1), tokenizer.eos_token_id)
            loss = model(input_ids=torch.cat([batch[:, :half], eos], 1),
                         labels=torch.cat([batch[:, half:], eos], 1)).loss
        else:
            loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 10 == 0 or step == steps - 1:
            losses.append(round(loss.item(), 4))
    model.eval()
    return losses


def build_tiny_backbone(out: str | os.PathLike, family: str, data_root: str, benchmarks_path: str = BENCHMARKS_FILE,
                        vocab_size: int = 4096, d_model: int = 64, layers: int = 2, heads: int = 4, d_ff: int = 128,
                        seed: int = 0, corpus_per_task: int = 300, pretrain_steps: int = 0) -> Path:
    """Build, save and return the directory of a tiny backbone (written atomically as a whole directory)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    out = Path(out)
    items = corpus_items(data_root, benchmarks_path, corpus_per_task)
    lines = [t for _, t in items]
    tokenizer = train_tokenizer(lines, vocab_size)
    model = build_model(family, len(tokenizer), d_model, layers, heads, d_ff, seed)
    pretrain_log = []
    if pretrain_steps > 0:
        import torch

        text = [t for f, t in items if f == "input"]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            pretrain_log = pretrain(model, family, tokenizer, text, pretrain_steps, seed)
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = 1
    if family == "llama":
        model.generation_config.bos_token_id = 3
    from sapt_core.io import atomic_dir

    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        spec = dict(family=family, vocab_size=len(tokenizer), d_model=d_model, layers=layers, heads=heads, d_ff=d_ff,
                    seed=seed, corpus_per_task=corpus_per_task, corpus_lines=len(lines),
                    pretrain_steps=pretrain_steps, pretrain_loss=pretrain_log,
                    corpus_sha256=hashlib.sha256("\n".join(lines).encode()).hexdigest(),
                    n_params=sum(p.numel() for p in model.parameters()))
        (tmp / "sapt_backbone.json").write_text(json.dumps(spec, indent=2) + "\n")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    from sapt_core.data.root import add_data_root_argument

    p.add_argument("--family", required=True, choices=["t5", "llama"])
    p.add_argument("--out", required=True, help="output directory (config.json, model.safetensors, tokenizer.json)")
    add_data_root_argument(p, "benchmark data root whose training text trains the tokenizer")
    p.add_argument("--benchmarks", default=BENCHMARKS_FILE)
    p.add_argument("--vocab-size", type=int, default=4096)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--d-ff", type=int, default=128)
    p.add_argument("--corpus-per-task", type=int, default=300)
    p.add_argument("--pretrain-steps", type=int, default=0,
                   help="self-supervised warm-up steps on benchmark input text (0 = random backbone)")
    p.add_argument("--seed", type=int, required=True)


def run(args: argparse.Namespace) -> int:
    from sapt_core.data.root import default_data_root

    for field in ("vocab_size", "d_model", "layers", "heads", "d_ff", "corpus_per_task"):
        if getattr(args, field) <= 0:
            raise SaptError(f"--{field.replace('_', '-')}: expected a positive integer, got {getattr(args, field)}")
    out = build_tiny_backbone(args.out, args.family, args.data_root or default_data_root(), args.benchmarks,
                              args.vocab_size, args.d_model, args.layers, args.heads, args.d_ff, args.seed,
                              args.corpus_per_task, args.pretrain_steps)
    spec = json.loads((out / "sapt_backbone.json").read_text())
    print({k: v for k, v in spec.items() if k != "pretrain_loss"}, "pretrain loss:", spec["pretrain_loss"][-1:])
    return 0
