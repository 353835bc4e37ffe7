"""Tokenisation and padding per backbone family (docs/official_code.md §5).

T5: source = prompt tokens (first ``max_source_len`` kept, the official code cuts from the end) + </s>, right-padded;
labels = answer tokens (first ``max_target_len - 1``) + </s>, pads -> -100.
LLaMA: prompt without special tokens (first ``max_source_len`` kept), answer + </s> appended for training with the
prompt positions masked to -100; left-padded; at test time the prompt alone.
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE = -100


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int] | None  # None at test time
    n_prompt: int = 0         # LLaMA training: the first n_prompt ids are the prompt (SAPT's routing query)


def encode_rows(rows: list[dict], tokenizer, family: str, max_source_len: int = 512, max_target_len: int = 50,
                train: bool = True) -> list[Encoded]:
    """Tokenise rows (``source``/``target`` fields of the prepared JSONL) once, before batching: a batched
    ``datasets`` ``map`` over the rows, then the family's layout above."""
    from datasets import Dataset

    from sapt_core.data.sampling import quiet

    eos = tokenizer.eos_token_id

    def tokenise(batch: dict) -> dict:
        out = {"src": tokenizer(batch["source"], add_special_tokens=False).input_ids}
        if train:
            out["tgt"] = tokenizer(batch["target"], add_special_tokens=False).input_ids
        return out

    columns = {"source": [r["source"] for r in rows]}
    if train:
        columns["target"] = [r.get("target", "") for r in rows]
    with quiet():
        ds = Dataset.from_dict(columns).map(tokenise, batched=True, remove_columns=list(columns))
    srcs, tgts = ds["src"], ds["tgt"] if train else None  # each column read once (a read copies it out of Arrow)
    out = []
    for i, s in enumerate(srcs):
        s = s[:max_source_len]
        if family == "t5":
            out.append(Encoded(s + [eos], tgts[i][: max_target_len - 1] + [eos] if train else None))
        elif train:
            t = tgts[i][: max_target_len - 1] + [eos]
            out.append(Encoded(s + t, [IGNORE] * len(s) + t, n_prompt=len(s)))
        else:
            out.append(Encoded(s, None))
    return out


class Collator:
    """Pads a list of :class:`Encoded` into tensors (right for T5, left for LLaMA)."""

    def __init__(self, pad_id: int, family: str, with_query: bool = False):
        self.pad_id, self.family, self.with_query = pad_id, family, with_query

    def _pad(self, seqs: list[list[int]], value: int):
        import torch

        n = max(len(s) for s in seqs)
        if self.family == "t5":
            return torch.tensor([s + [value] * (n - len(s)) for s in seqs])
        return torch.tensor([[value] * (n - len(s)) + s for s in seqs])

    def __call__(self, batch: list[Encoded]) -> dict:
        ids = self._pad([b.input_ids for b in batch], self.pad_id)
        mask = self._pad([[1] * len(b.input_ids) for b in batch], 0)
        out = {"input_ids": ids, "attention_mask": mask}
        if batch[0].labels is not None:
            out["labels"] = self._pad([b.labels for b in batch], IGNORE)
            if self.with_query and self.family != "t5":
                # SAPT routes on the prompt alone (LLaMA: the prompt without the answer, left-padded; docs/official_code.md §1)
                out["query_ids"] = self._pad([b.input_ids[: b.n_prompt] for b in batch], self.pad_id)
                out["query_mask"] = self._pad([[1] * b.n_prompt for b in batch], 0)
        return out
