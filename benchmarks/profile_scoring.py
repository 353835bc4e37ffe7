"""Where one scoring pass goes: a step job's row k (``sapt evaluate --state``, the same code as ``train-step``'s
scoring): reading the state, loading the backbone, rebuilding the model, then per test set tokenising, greedy
decoding (the backbone's forward per generated token vs ``generate``'s own per-token work), detokenising, the metrics
(exact match, Rouge-L) and writing the outputs.

Runs the command in this process ``--repeat`` times (imports first, as in a ``sapt warm`` fork); median per phase
(benchmarks/phases.py). The command is a step job's scoring, e.g. for the default's step 3 of a chain:

    python benchmarks/profile_scoring.py --repeat 3 -- evaluate --state <run>/step3/state \\
        --data-dirs <task1> <task2> <task3> --backbone results/backbones/tiny-t5 --batch-size 64 \\
        --max-new-tokens 20 --max-source-len 128 --out x.json --predictions x.jsonl --attention-out x_attn.json

Its ``--out``, ``--predictions`` and ``--attention-out`` are replaced by paths under ``--work``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from phases import Phases, median_table, print_tree  # noqa: E402
from profile_step import instrument, run_once  # noqa: E402

OUTPUT_FLAGS = {"--out": "scores.json", "--predictions": "predictions.jsonl", "--attention-out": "attention.json"}
RELOAD = ("read state", "load backbone", "rebuild model from state")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the workflow's tiny jobs: 1)")
    p.add_argument("--work", default=None, help="output directory (default: a temporary one, removed)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- evaluate ... (the sapt arguments)")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if command[:1] != ["evaluate"]:
        p.error("give `-- evaluate ...` (sapt evaluate's arguments)")
    os.environ.pop("SAPT_WARM", None)
    import torch

    import sapt_core.cli as cli

    cli.build_parser([])
    torch.set_num_threads(args.threads)
    ph = Phases()
    instrument(ph)
    work = Path(args.work or tempfile.mkdtemp(prefix="profile_scoring_"))
    runs, walls = [], []
    for i in range(args.repeat):
        walls.append(run_once(command, work / f"run{i}", ph, OUTPUT_FLAGS))
        runs.append(ph.snapshot())
    rows = median_table(runs)
    total = statistics.median(walls)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} repeats {args.repeat}; wall s per run: "
          f"{', '.join(f'{x:.2f}' for x in walls)}")
    print_tree(rows, total, f"phase (median of {args.repeat})")

    def own(*names):
        return sum(o for path, o, _, _ in rows if path.rsplit("/", 1)[-1] in names)

    forwards = sum(c for path, _, _, c in rows if path.endswith("/backbone forward"))
    reload = own(*RELOAD) + sum(o for path, o, _, _ in rows if any(f"/{n}/" in path for n in RELOAD))
    print("\n| scoring pass | s | share |")
    print("|---|---|---|")
    for label, s in (("state + backbone load + model rebuild (what scoring the model in memory saves)", reload),
                     (f"backbone forward in decoding ({forwards} calls)", own("backbone forward")),
                     ("generate's own per-token work (logits processors, stopping, cache)", own("generate")),
                     ("routing", own("routing")),
                     ("tokenise + collate + detokenise", own("encode (tokenise)", "collate", "detokenise")),
                     ("metrics (EM, Rouge-L) + prediction stats", own("metrics (EM, Rouge-L)", "prediction stats")),
                     ("write outputs (sha256, JSON)", own("write outputs"))):
        print(f"| {label} | {s:.3f} | {100 * s / total:.1f}% |")
    print(f"| all | {total:.3f} | 100% |")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
