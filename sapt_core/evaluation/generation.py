"""Batched greedy decoding for evaluation (docs/official_code.md §5): num_beams 1, no sampling, 50 new tokens, KV cache on; and
seeded sampling of many texts from one source prompt (ARM's pseudo inputs, LFPT5's pseudo examples).

Rows are sorted by prompt length so each batch pads little, then predictions are returned in the input order.
For LLaMA only the newly generated tokens are decoded (equivalent to the official "text after the last Output:").
"""

from __future__ import annotations

from sapt_core.models.batching import Collator, encode_rows


def greedy_generate(model, tokenizer, family: str, rows: list[dict], batch_size: int = 32, max_new_tokens: int = 50,
                    max_source_len: int = 512, progress: bool = False, weights_out: list | None = None) -> list[str]:
    """Predictions in row order. With ``weights_out`` (a list), SAPT models also report the block weights each row
    was decoded with (they depend on the batch when pads enter the max-pool, so they are taken from decoding)."""
    import torch

    enc = encode_rows(rows, tokenizer, family, max_source_len=max_source_len, train=False)
    order = sorted(range(len(enc)), key=lambda i: -len(enc[i].input_ids))
    collate = Collator(tokenizer.pad_token_id, family)
    preds: list[str] = [""] * len(enc)
    weights: list = [None] * len(enc)
    model.eval()
    batches = range(0, len(order), batch_size)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="generate", unit="batch")
    with torch.inference_mode():
        for start in batches:
            idx = order[start:start + batch_size]
            batch = collate([enc[i] for i in idx])
            device = next(model.parameters()).device
            batch = {k: v.to(device) for k, v in batch.items()}
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                 use_cache=True, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id)
            if family != "t5" and not getattr(model, "generate_returns_new_tokens_only", False):
                out = out[:, batch["input_ids"].shape[1]:]
            if weights_out is not None and getattr(model, "last_weights", None) is not None:
                for i, w in zip(idx, model.last_weights.float().tolist()):
                    weights[i] = w
            texts = tokenizer.batch_decode(out, skip_special_tokens=True)
            for i, t in zip(idx, texts):
                preds[i] = t.strip()
    if weights_out is not None:
        weights_out.extend(weights)
    return preds


def sample_from(model, tokenizer, family: str, source: str, n: int, batch_size: int, max_new_tokens: int,
                max_source_len: int, seed: int, sampling: dict) -> list[str]:
    """``n`` texts sampled from the one prompt ``source`` with the generate kwargs ``sampling``, seeded with
    ``torch.manual_seed(seed)``; only the newly generated tokens are decoded (LLaMA)."""
    import torch

    enc = encode_rows([{"source": source}], tokenizer, family, max_source_len=max_source_len, train=False)[0]
    collate = Collator(tokenizer.pad_token_id, family)
    device = next(model.parameters()).device
    model.eval()
    torch.manual_seed(seed)
    texts: list[str] = []
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            batch = {k: v.to(device) for k, v in collate([enc] * min(batch_size, n - start)).items()}
            out = model.generate(**batch, max_new_tokens=max_new_tokens, use_cache=True,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **sampling)
            if family != "t5" and not getattr(model, "generate_returns_new_tokens_only", False):
                out = out[:, batch["input_ids"].shape[1]:]
            texts.extend(tokenizer.batch_decode(out, skip_special_tokens=True))
    return texts
