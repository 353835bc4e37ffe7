"""Where one ``sapt train-step`` job's wall time goes: the step recipe's stages (inputs, backbone, build, train, state,
scoring) and, inside the HF Trainer's loop, forward, backward, optimizer, collation, the Trainer's per-step
bookkeeping and callbacks, logging and the in-job checkpoints; the share of tensor work vs Python / Trainer overhead.

The job runs in this process (imports done first, as in a ``sapt warm`` fork), ``--repeat`` times, each into a fresh
output directory (nothing resumed); the table holds the median per phase (benchmarks/phases.py: own time excludes the
phases nested inside). The command is the workflow's, e.g. from ``snakemake -n -p -f <its state.safetensors>``:

    python benchmarks/profile_step.py --repeat 3 -- train-step --method sapt-lora-tiny ... --state-out X ...

Its ``--state-out``, ``--scores-out``, ``--predictions-out``, ``--attention-out`` and ``--logging-dir`` are replaced
by paths under ``--work``. ``--cprofile N`` adds one more run under cProfile and prints its N largest own times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from phases import Phases, group_sum, median_table, print_tree  # noqa: E402

OUTPUT_FLAGS = {"--state-out": "state", "--scores-out": "scores.json", "--predictions-out": "predictions.jsonl",
                "--attention-out": "attention.json", "--logging-dir": "tb"}

# own time of these phases is tensor work (their Python share included: at 64 wide most of a forward is Python)
TENSOR = ("forward + loss", "backbone forward", "routing", "method extra loss", "backward", "clip grad norm",
          "optimizer step")
GROUPS = {
    "tensor work (forward, loss, backward, clip, optimizer)": TENSOR,
    "batches (sampler + collate)": ("batches (sampler + collate)", "collate"),
    "Trainer per-step bookkeeping (callbacks, flops, lr, zero_grad, loop)": (
        "callbacks", "flops estimate", "lr scheduler", "zero grad", "grad norm", "save check", "Trainer.train",
        "training_step"),
    "logging": ("log",),
    "in-job checkpoints": ("in-job checkpoint/",),
    "Trainer set-up": ("Trainer set-up",),
}


def instrument(ph: Phases) -> None:
    """Wrap the functions of each phase (see the module docstring)."""
    import accelerate
    import torch
    from accelerate.optimizer import AcceleratedOptimizer
    from transformers import GenerationMixin, Trainer
    from transformers.models.llama.modeling_llama import LlamaForCausalLM
    from transformers.models.t5.modeling_t5 import T5ForConditionalGeneration
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase
    import transformers.trainer as hf_trainer
    from transformers.trainer_callback import CallbackHandler, TrainerState

    import sapt_core.evaluation.generation as generation
    import sapt_core.evaluation.scoring as scoring
    import sapt_core.models as models
    import sapt_core.models.batching as batching
    import sapt_core.recipes.evaluate as evaluate
    import sapt_core.recipes.step as step
    import sapt_core.state as state
    import sapt_core.training.loop as loop
    from sapt_core.blocks.model import BlockModel

    w = ph.wrap
    # the recipe
    w(step, "_load_inputs", "load inputs (data, state k-1, pseudo)")
    w(step, "_eval_tasks", "load test sets")
    w(models, "load_backbone", "load backbone")
    w(step, "_train", "train")
    w(step, "_sidecar", "sidecar (sha256 of inputs)")
    w(state, "save_state", "save state")
    w(loop, "clear_checkpoints", "clear in-job checkpoints")
    w(step, "_score", "score (row k)")
    w(state, "read_state", "read state")
    w(batching, "encode_rows", "encode (tokenise)")
    w(generation, "encode_rows", "encode (tokenise)")
    w(batching.Collator, "__call__", "collate")
    w(generation, "greedy_generate", "greedy decode")
    w(GenerationMixin, "generate", "generate")
    w(T5ForConditionalGeneration, "forward", "backbone forward")
    w(LlamaForCausalLM, "forward", "backbone forward")
    w(BlockModel, "route", "routing")
    w(PreTrainedTokenizerBase, "batch_decode", "detokenise")
    w(scoring, "score_task", "metrics (EM, Rouge-L)")
    w(evaluate, "prediction_stats", "prediction stats")
    w(evaluate, "write_outputs", "write outputs")

    method_from_args, method_of = step.method_from_args, state.method_of

    def wrap_method(m):
        for attr, name in (("build", "build model"), ("extra_rows", "extra rows"), ("after_task", "after task"),
                           ("state_tensors", "state tensors"), ("load", "rebuild model from state")):
            if hasattr(m, attr):
                orig = getattr(m, attr)
                setattr(m, attr, _timed(ph, orig, name))
        return m

    step.method_from_args = lambda args: wrap_method(method_from_args(args))
    state.method_of = lambda *a, **k: wrap_method(method_of(*a, **k))

    # the Trainer
    make_trainer = loop._trainer

    def trainer_setup(*a, **k):
        with ph.phase("Trainer set-up"):
            trainer, resume = make_trainer(*a, **k)
        if trainer.extra_loss is not None:
            trainer.extra_loss = _timed(ph, trainer.extra_loss, "method extra loss")
        return trainer, resume

    loop._trainer = trainer_setup
    w(Trainer, "train", "Trainer.train")
    w(Trainer, "get_batch_samples", "batches (sampler + collate)")
    w(Trainer, "training_step", "training_step")
    w(Trainer, "compute_loss", "forward + loss")
    w(accelerate.Accelerator, "backward", "backward")
    w(Trainer, "_clip_grad_norm", "clip grad norm")
    w(Trainer, "_get_grad_norm", "grad norm")
    w(AcceleratedOptimizer, "step", "optimizer step")
    w(torch.optim.lr_scheduler.LRScheduler, "step", "lr scheduler")
    w(torch.nn.Module, "zero_grad", "zero grad")
    w(Trainer, "floating_point_ops", "flops estimate")
    w(CallbackHandler, "call_event", "callbacks")
    w(Trainer, "_maybe_log_save_evaluate", "save check")
    w(Trainer, "log", "log")
    w(Trainer, "_save_checkpoint", "in-job checkpoint")
    w(Trainer, "_save", "trainable state")
    w(Trainer, "_save_optimizer_and_scheduler", "optimizer + scheduler state")
    w(Trainer, "_save_rng_state", "RNG state")
    w(hf_trainer, "rotate_checkpoints", "rotate (delete old)")
    w(TrainerState, "save_to_json", "trainer state JSON")


def _timed(ph: Phases, fn, name: str):
    def timed(*args, **kwargs):
        with ph.phase(name):
            return fn(*args, **kwargs)

    return timed


def redirect(argv: list[str], out: Path, flags: dict[str, str] = OUTPUT_FLAGS) -> list[str]:
    """``argv`` with its output ``flags`` pointing into ``out`` (``--flag value`` or ``--flag=value``), no
    ``--workdir``."""
    res, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        name = a.split("=", 1)[0]
        if name in flags:
            res += [name, str(out / flags[name])]
            skip = "=" not in a
        elif name == "--workdir":
            skip = "=" not in a
        else:
            res.append(a)
    return res


def run_once(argv: list[str], out: Path, ph: Phases, flags: dict[str, str] = OUTPUT_FLAGS) -> float:
    from sapt_core.cli import main

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    ph.reset()
    t0 = time.perf_counter()
    with ph.phase("job"):
        rc = main(redirect(argv, out, flags))
    if rc:
        raise SystemExit(f"the command exited {rc}")
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the workflow's tiny jobs: 1)")
    p.add_argument("--work", default=None, help="output directory (default: a temporary one, removed)")
    p.add_argument("--cprofile", type=int, default=0, metavar="N", help="one more run under cProfile: top N")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- train-step ... (the job's sapt arguments)")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("give the job's sapt arguments after --")
    os.environ.pop("SAPT_WARM", None)  # run here, not in a worker
    t0 = time.perf_counter()
    import torch

    import sapt_core.cli as cli

    cli.build_parser([])  # every command's module, as a warm worker has them
    torch.set_num_threads(args.threads)
    imports = time.perf_counter() - t0
    ph = Phases()
    instrument(ph)
    work = Path(args.work or tempfile.mkdtemp(prefix="profile_step_"))
    runs, walls = [], []
    for i in range(args.repeat):
        walls.append(run_once(command, work / f"run{i}", ph))
        runs.append(ph.snapshot())
    import statistics

    import transformers

    rows = median_table(runs[1:] or runs)  # the first run pays once-per-process costs: below
    total = statistics.median(walls[1:] or walls)
    print(f"torch {torch.__version__} transformers {transformers.__version__} threads {torch.get_num_threads()} "
          f"repeats {args.repeat}; imports (not in the table) {imports:.1f} s; job wall s per run: "
          f"{', '.join(f'{x:.2f}' for x in walls)}")
    print_tree(rows, total, f"phase (median of runs 2..{args.repeat})" if len(runs) > 1 else "phase")
    if len(runs) > 1:  # what a fresh process (a job forked from `sapt warm`) pays on top: first calls
        first = median_table(runs[:1])
        later = {path: own for path, own, _, _ in rows}
        extra = sorted(((own - later.get(path, 0.0), path) for path, own, _, _ in first), reverse=True)
        print(f"\nfirst run vs the median of the later ones: {walls[0] - total:+.2f} s; largest differences (own s):")
        print("| phase | first run extra s |")
        print("|---|---|")
        for d, path in extra[:10]:
            print(f"| {path} | {d:+.3f} |")
    train = next((inc for path, _, inc, _ in rows if path.endswith("/Trainer.train")), 0.0)
    steps = next((c for path, _, _, c in rows if path.endswith("/optimizer step")), 0)
    train_rows = [r for r in rows if "/Trainer.train" in r[0] or r[0].endswith("Trainer set-up")]
    groups = group_sum(train_rows, GROUPS)
    print(f"\n| training ({steps} optimizer steps) | s | per step ms | share of Trainer.train + set-up |")
    print("|---|---|---|---|")
    base = train + groups["Trainer set-up"]
    for g, s in groups.items():
        print(f"| {g} | {s:.3f} | {1000 * s / max(steps, 1):.1f} | {100 * s / max(base, 1e-9):.1f}% |")
    print(f"| all | {base:.3f} | {1000 * base / max(steps, 1):.1f} | 100% |")
    if args.cprofile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        run_once(command, work / "cprofile", ph)
        prof.disable()
        print(f"\ncProfile (one more run), top {args.cprofile} by own time:")
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.cprofile)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
