"""Back-of-the-envelope wall time of `./run demo` for candidate settings (the embedded default's exploration, benchmarks/demo_exploration.md).

    wall ~ set-up + sum over jobs of (idle seconds of the job) * co-run factor / cores

Calibration (README, clean-clone demo, 2 cores): 329 jobs, 41.5 min of job time (measured two side by side, each
~1.5x slower than alone) in 21.4 min of Snakemake time, i.e. wall ~ job time / 2. Idle seconds per job:
start-up (torch + transformers + a T5 class) + setup (backbone, data, Trainer) + steps x seconds per step +
evaluation. Per-step and evaluation seconds are the CPU seconds measured in benchmarks/demo_explore.py runs
(1 thread; CPU seconds of a 1-thread job ~ its wall time when the machine is idle).

    python benchmarks/demo_cost.py            # prints the scenarios of benchmarks/demo_exploration.md
"""

from __future__ import annotations

STARTUP = 5.7      # s, idle: import torch + transformers + a T5 class (README, best of 3)
SETUP = 0.8        # s, load backbone + data + build the Trainer (in-process train CPU at 0 steps, extrapolated)
SETUP_MIN = 1.7    # min, ./run's environment set-up in a clean clone
CORUN = 1.5        # each of two side-by-side jobs runs ~1.5x slower than alone (README)
CORES = 2
SMALL_JOB = 2.0    # s, run-metrics / tables / figures / prepare (no torch), co-run


def wall_minutes(runs: dict[str, int], T: dict[str, int], s_per_step: dict[str, float], steps: dict[str, int],
                 eval_s: dict[str, float], fused_eval: bool = False, singles_per_task: int = 8,
                 generators: int = 0, gen_s: float = 0.0, pseudo_jobs: int = 0, backbone_s: float = 4 * 30.0,
                 small_jobs: int = 110, unseen_s: float = 4 * 8.0, startup: float = STARTUP,
                 chain_job: bool = False) -> dict:
    """runs / T / s_per_step / steps / eval_s per benchmark ('LS', 'SN'). chain_job: one process per run (all its
    steps and evaluations), instead of one per step."""
    STARTUP = startup  # noqa: N806
    total = 0.0
    n_model = 0
    for b in runs:
        train = STARTUP + SETUP + steps[b] * s_per_step[b]
        ev = eval_s[b] if fused_eval else STARTUP + SETUP + eval_s[b]
        jobs = runs[b] * T[b]
        if chain_job:
            total += runs[b] * (STARTUP + T[b] * (SETUP + steps[b] * s_per_step[b] + eval_s[b]))
            n_model += runs[b]
        else:
            total += jobs * (train + ev)
            n_model += jobs * (1 if fused_eval else 2)
        singles = singles_per_task // 2 * T[b]  # single-task runs (FWT) of this benchmark: train + evaluate
        total += singles * (2 * (STARTUP + SETUP) + steps[b] * s_per_step[b] + eval_s[b])
        n_model += 2 * singles
    total += generators * (STARTUP + SETUP + gen_s) + pseudo_jobs * (STARTUP + SETUP + 1.0) + backbone_s + unseen_s
    n_model += generators + pseudo_jobs
    job_min = total * CORUN / 60
    return {"model_jobs": n_model, "job_min": round(job_min + small_jobs * SMALL_JOB / 60, 1),
            "wall_min": round(SETUP_MIN + job_min / CORES + small_jobs * SMALL_JOB / 60 / CORES, 1)}


def main() -> None:
    # measured (benchmarks/demo_exploration.md, "Seconds"): CPU s per optimizer step at max_source_len 128, batch 8
    sps = {"LS": 0.030, "SN": 0.055}
    ev = {"LS": 0.4, "SN": 0.7}   # CPU s of one step's evaluation (64 test inputs per seen task, 3 tasks)
    today = dict(runs={"LS": 24, "SN": 16}, T={"LS": 2, "SN": 2}, s_per_step=sps, steps={"LS": 12, "SN": 12},
                 eval_s=ev, generators=10, gen_s=1.0, pseudo_jobs=13)
    scen = {
        "today's default (40 runs, T=2, 12 steps/task) [check: README measured 23.1 min]": today,
        "40 runs, T=3, n_train 200 x 10 epochs (250 steps)":
            {**today, "T": {"LS": 3, "SN": 3}, "steps": {"LS": 250, "SN": 250}, "generators": 0, "pseudo_jobs": 26},
        "40 runs, T=3, n_train 200 x 5 epochs (125 steps)":
            {**today, "T": {"LS": 3, "SN": 3}, "steps": {"LS": 125, "SN": 125}, "generators": 0, "pseudo_jobs": 26},
        "40 runs, T=3, 125 steps, evaluation fused into the train job":
            {**today, "T": {"LS": 3, "SN": 3}, "steps": {"LS": 125, "SN": 125}, "generators": 0, "pseudo_jobs": 26,
             "fused_eval": True},
        "22 runs (Table 1's 4 LoRA methods + MTL + SAPT-Prompt, tiny+official SAPT-LoRA, both benchmarks; "
        "Table 2 ablations on LS; Fig. 6 ends), T=3, 125 steps, fused":
            {**today, "runs": {"LS": 13, "SN": 9}, "T": {"LS": 3, "SN": 3}, "steps": {"LS": 125, "SN": 125},
             "generators": 0, "pseudo_jobs": 4, "fused_eval": True, "singles_per_task": 4, "small_jobs": 70},
    }
    base22 = scen[list(scen)[-1]]
    scen["22 runs as above, start-up cut to 2.5 s"] = {**base22, "startup": 2.5}
    scen["40 runs, T=3, 125 steps, one process per run (chain job)"] = {
        **today, "T": {"LS": 3, "SN": 3}, "steps": {"LS": 125, "SN": 125}, "generators": 0, "pseudo_jobs": 26,
        "chain_job": True}
    scen["40 runs, T=3, 250 steps, one process per run (chain job)"] = {
        **today, "T": {"LS": 3, "SN": 3}, "steps": {"LS": 250, "SN": 250}, "generators": 0, "pseudo_jobs": 26,
        "chain_job": True}
    rec = dict(runs={"LS": 12, "SN": 12}, T={"LS": 3, "SN": 3}, s_per_step=sps, steps={"LS": 250, "SN": 250}, eval_s=ev,
               generators=0, pseudo_jobs=4, singles_per_task=4, small_jobs=70, backbone_s=2 * 30.0)
    scen["recommended chains, 24 runs (Table 1 LoRA rows incl. SAPT-LoRA tiny + official + MTL on both, Table 2 on "
         "LS, Fig. 6 ends, Fig. 4/5/7 o-lora + sapt-lora on 2 more backbones), T=3, 250 steps"] = rec
    scen["  ... evaluation fused into the train job"] = {**rec, "fused_eval": True}
    scen["  ... fused, start-up cut to 2.5 s"] = {**rec, "fused_eval": True, "startup": 2.5}
    scen["  ... one process per run"] = {**rec, "chain_job": True}
    small = {**rec, "runs": {"LS": 7, "SN": 7}, "small_jobs": 50, "backbone_s": 30.0}
    scen["14 runs (SeqLoRA, Replay, O-LoRA, SAPT-LoRA tiny, SAPT-LoRA official, MTL, SAPT-LoRA -ARM per benchmark), "
         "T=3, 250 steps"] = small
    scen["  ... fused"] = {**small, "fused_eval": True}
    for name, kw in scen.items():
        print(f"{name}: {wall_minutes(**kw)}")


if __name__ == "__main__":
    main()
