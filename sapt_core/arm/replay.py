"""Pseudo replay streams (paper section 4.3): while task t is learned, one seeded, cycling stream of pseudo inputs per
earlier task gives one batch per micro-step, for ARM's reflection loss (Eq. 5-6) and for the methods that replay
generated rows (+Replay, LFPT5's generative replay).
"""

from __future__ import annotations

import itertools

import torch


class PseudoReplay:
    """Cycling, seeded batches of pseudo inputs, one stream per earlier task (docs/official_code.md §3).

    The streams are deterministic, so the position (batches consumed) is their whole state: ``state_dict`` /
    ``load_state_dict`` let a job resumed from an in-job checkpoint continue the streams where the checkpoint was taken
    instead of replaying the first batches again.
    """

    def __init__(self, encoded_per_task: list[list], collate, batch_size: int, seed: int, rank: int = 0,
                 ranks: int = 1):
        self.encoded, self.collate, self.consumed = encoded_per_task, collate, 0
        self.rank, self.ranks = rank, ranks
        self.streams = []
        for i, enc in enumerate(encoded_per_task):
            if not enc:
                raise ValueError(f"pseudo inputs of earlier task {i + 1} are empty")
            g = torch.Generator().manual_seed(seed * 1000 + i)
            self.streams.append(self._cycle(len(enc), batch_size, g))

    @staticmethod
    def _cycle(n, batch_size, g):
        for _ in itertools.count():
            order = torch.randperm(n, generator=g).tolist()
            for s in range(0, len(order), batch_size):
                yield order[s:s + batch_size]

    def next_batches(self) -> list[dict]:
        """The next batch of every stream. Under ``ranks`` data-parallel ranks each call draws ``ranks`` batches and
        returns the ``rank``-th: micro-batch i of rank r gets draw i x ranks + r, the draw one process would take for
        the same global micro-batch (the Trainer's data loader shards the training batches the same way), so the run
        does not depend on the rank count."""
        self.consumed += 1
        out = []
        for enc, s in zip(self.encoded, self.streams):
            draws = [next(s) for _ in range(self.ranks)]
            out.append(self.collate([enc[j] for j in draws[self.rank]]))
        return out

    def state_dict(self) -> dict:
        return {"consumed": self.consumed}

    def load_state_dict(self, state: dict) -> None:
        """Fast-forward a fresh instance to a saved position."""
        if self.consumed:
            raise ValueError("PseudoReplay.load_state_dict: only a fresh instance can be fast-forwarded")
        for _ in range(int(state["consumed"]) * self.ranks):
            for s in self.streams:
                next(s)
        self.consumed = int(state["consumed"])
