"""Model selection (``--selection val|test``): the trainable parameters of the best-scoring epoch, kept in the step's
work directory (docs/official_code.md section 4)."""

from __future__ import annotations

from pathlib import Path

from sapt_core.errors import SaptError


class BestEpoch:
    """Model selection (the official code's ``load_best_model_at_end`` with an evaluation every N epochs): every
    ``every_epochs`` epochs ``score_fn(model)`` is computed (the task metric on the selection split) and the
    trainable parameters of the best epoch are kept in the work directory (``best.safetensors``), so a resumed job
    keeps them.
    """

    def __init__(self, score_fn, every_epochs: int, workdir: str | Path):
        self.score_fn, self.every, self.workdir = score_fn, every_epochs, Path(workdir)

    @staticmethod
    def get_state(model) -> dict:
        return {n: p for n, p in model.named_parameters() if p.requires_grad}

    @staticmethod
    def set_state(model, tensors: dict) -> None:
        import torch

        params = dict(model.named_parameters())
        missing = sorted(set(tensors) - set(params))
        if missing:
            raise SaptError(f"best-epoch state: no parameter {missing[0]!r} in the model")
        with torch.no_grad():
            for n, v in tensors.items():
                params[n].copy_(v.to(params[n]))

    @property
    def path(self) -> Path:
        return self.workdir / "best.safetensors"

    def best(self) -> dict | None:
        from sapt_core.io import read_json

        meta = self.workdir / "best.json"
        return read_json(meta, "best-checkpoint record") if meta.is_file() else None

    def callback(self):
        from transformers import TrainerCallback

        keeper = self

        class _Callback(TrainerCallback):
            def on_epoch_end(self, args, state, control, model=None, **kw):
                epoch = int(round(state.epoch or 0))
                if keeper.every <= 0 or epoch % keeper.every or model is None:
                    return
                score = float(keeper.score_fn(model))
                model.train()
                best = keeper.best()
                if best is None or score > best["score"]:
                    from safetensors.torch import save_file

                    from sapt_core.io import atomic_path, atomic_write_json

                    with atomic_path(keeper.path) as tmp:
                        save_file({k: v.detach().contiguous().cpu() for k, v in keeper.get_state(model).items()},
                                  str(tmp))
                    atomic_write_json(keeper.workdir / "best.json", {"epoch": epoch, "score": score,
                                                                      "step": state.global_step})

        return _Callback()

    def restore(self, model) -> dict | None:
        """Load the best epoch's state into ``model``; returns its record (None when nothing was selected)."""
        best = self.best()
        if best is not None:
            from safetensors.torch import load_file

            self.set_state(model, load_file(str(self.path)))
        return best


def keeper_for(cfg, ctx, select_rows: list[dict], workdir) -> BestEpoch | None:
    """Model selection of a step job on the ``selection`` split every ``select_every_epochs`` epochs, scored with the
    task's metric on greedy predictions (``cfg``: the method's keys; None when ``select_rows`` is empty)."""
    if not select_rows:
        return None
    from sapt_core.evaluation.generation import greedy_generate
    from sapt_core.evaluation.scoring import reference_lists, score_task

    def score_fn(m):
        preds = greedy_generate(m, ctx.tokenizer, ctx.family, select_rows, cfg.eval_batch_size, cfg.max_new_tokens,
                                cfg.max_source_len)
        return score_task(preds, reference_lists(select_rows), ctx.manifest["metric"])["score"]

    return BestEpoch(score_fn, cfg.select_every_epochs, workdir)
