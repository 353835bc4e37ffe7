"""LFPT5 (Qin & Joty, 2022; paper section 5.2): one soft prompt trained on every task in turn, which also learns to
generate whole examples of its tasks (LAMOL-style) so that it can replay them.

- Generation rows (:func:`generation_rows`): source ``__gen__ <task>`` (a task-specific generation token, as text),
  target ``<source> __ans__ <answer>``: the same prompt learns to write a complete example of the task.
- Objective on task t:  L = L_task + lm_lambda * L_gen, with L_gen the LM loss of generation rows of the training
  data (task t's rows and the replayed ones), one batch per micro-step.
- Generative replay (:func:`generate_examples`): before task t, the prompt of step t-1 samples
  ``n_i = max(1, int(v * N_i))`` examples of each earlier task i (LFPT5's sampling: top-k 64, repetition penalty 2.5,
  3 candidates per example; the first candidate with the ``__ans__`` marker is kept, split there into source and
  answer), and these are mixed into task t's training data.

Documented deviations: the markers are plain text (no new tokens, as our ARM generator); the prompt is prepended
(the official code appends it after the input) and initialised from sampled vocabulary embeddings (official: task and
label words); greedy decoding at test time (official: 4 beams) for parity with every other method.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sapt_core.arm.generator import GEN_MARKER

ANS_MARKER = "__ans__"


@dataclass
class GenSampling:
    """LFPT5's sampling of pseudo examples (official DiffType scripts)."""

    top_k: int = 64
    repetition_penalty: float = 2.5
    candidates: int = 3      # num_return_sequences: candidates per drawn example
    max_new_tokens: int = 306

    def to_dict(self) -> dict:
        return asdict(self)


def gen_source(task: str) -> str:
    return f"{GEN_MARKER} {task}"


def generation_rows(rows: list[dict]) -> list[dict]:
    """One generation row per training row: ``__gen__ <task>`` -> ``<source> __ans__ <answer>``."""
    return [{"id": r.get("id"), "task": r["task"], "source": gen_source(r["task"]),
             "target": f"{r['source']} {ANS_MARKER} {r['target']}"} for r in rows]


def split_example(text: str) -> tuple[str, str] | None:
    """(source, answer) of a sampled example, or None when it lacks the ``__ans__`` marker or a source."""
    if ANS_MARKER not in text:
        return None
    source, _, answer = text.partition(ANS_MARKER)
    source, answer = source.strip(), answer.split(ANS_MARKER)[0].strip()
    return (source, answer) if source else None


def generate_examples(model, tokenizer, family: str, task: str, n: int, sampling: GenSampling, seed: int,
                      batch_size: int = 16) -> tuple[list[dict], int]:
    """Draw ``n`` examples of ``task`` from the current prompt; returns (kept rows, candidates sampled).

    Each draw samples ``sampling.candidates`` texts and keeps the first that splits into (source, answer); a draw
    whose candidates all lack the marker yields nothing (LAMOL drops such samples)."""
    from sapt_core.evaluation.generation import sample_from

    texts = sample_from(model, tokenizer, family, gen_source(task), n * sampling.candidates, batch_size,
                        sampling.max_new_tokens, 32, seed,
                        {"do_sample": True, "top_k": sampling.top_k, "top_p": 1.0, "temperature": 1.0,
                         "repetition_penalty": sampling.repetition_penalty, "num_beams": 1})
    rows = []
    for d in range(n):
        for text in texts[d * sampling.candidates:(d + 1) * sampling.candidates]:
            pair = split_example(text)
            if pair:
                rows.append({"id": f"{task}-lfpt5-{d}", "task": task, "source": pair[0], "target": pair[1],
                             "references": [pair[1]]})
                break
    return rows, len(texts)
