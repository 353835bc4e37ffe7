"""Multi-rank training as the cluster launches it (``torchrun --nproc-per-node N --no-python sapt train-step``, the
profile's launcher, sapt_core/plan/backbones.py), here with 2 CPU ranks over gloo: with the same global batch, 2 ranks
under DeepSpeed ZeRO-2/3 (and plain DDP) give the loss log and weights of 1 rank; the state and scores are written
once; a rank SIGKILLed mid-step resumes from the newest complete checkpoint and ends as the uninterrupted run.

Tolerance (against the plain 1-rank run): 1 rank sums the gradients of its micro-batches divided by the
accumulation, 2 ranks all-reduce the per-rank gradients and average them, and ZeRO flattens and partitions them: the
same fp32 sums in another order, so the runs agree up to float rounding, which AdamW's m / sqrt(v) amplifies for
near-zero gradients. Measured: losses <= 9.5e-7 apart, weights <= 1.2e-6, except O-LoRA under ZeRO-3 on T5 at
2.8e-5, the same on 1 and on 2 ZeRO-3 ranks (1 vs 2 ranks under ZeRO-3 agree exactly there): an engine rounding
difference, not a rank one. LOSS_TOL 1e-4 and WEIGHT_TOL 1e-4 (1/30 of one AdamW step at lr 3e-3) stay far below
what a broken contract changes: on the SAPT-LoRA step 2 run here, the KL weight doubled moves the loss log by 2.0e-2
and the weights by 1.0e-2, the global batch doubled by 2.0e-1 and 2.5e-2 (measured, 1 rank). LoRA dropout is 0: its
masks come from each rank's own RNG stream, so with dropout the runs agree only in distribution.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOSS_TOL = 1e-4   # absolute, per logged optimizer step
WEIGHT_TOL = 1e-4  # absolute, per element of the step state
needs_deepspeed = pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None,
                                     reason="deepspeed is not installed (.ci/run installs it)")


def _step(backbone, data_dir, out, *extra, ranks=1, env=None):
    args = ["train-step", "--backbone", str(backbone), "--data-dir", str(data_dir), "--seed", "0", "--lr", "3e-3",
            "--batch-size", "4", "--global-batch", "8", "--selection", "none", "--logging-steps", "1", "--max-source-len", "48",
            "--lora-dropout", "0", "--no-progress", "--state-out", str(out), *extra]
    cmd = [str(BIN / "sapt"), *args] if ranks == 1 else \
        [str(BIN / "torchrun"), "--standalone", "--nnodes=1", f"--nproc-per-node={ranks}", "--no-python",
         str(BIN / "sapt"), *args]
    e = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **(env or {})}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        e.pop(k, None)
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=600, cwd=REPO)


def _ok(res):
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return res.stdout + res.stderr


def _log(out):
    return json.loads((out / "state.json").read_text())


def _diff(a, b):
    """(max |loss a - loss b| over the logged steps, max |weight a - weight b| over the state)."""
    la, lb = (_log(x)["history"][-1]["train_log"] for x in (a, b))
    assert [h["step"] for h in la] == [h["step"] for h in lb] and la
    wa, wb = load_file(str(a / "state.safetensors")), load_file(str(b / "state.safetensors"))
    assert wa.keys() == wb.keys()
    return (max(abs(x["loss"] - y["loss"]) for x, y in zip(la, lb)),
            max((wa[k] - wb[k]).abs().max().item() for k in wa))


# method -> (step trained, its extra flags): SAPT-LoRA step 2 with ARM (pseudo inputs of task 1 every micro-batch),
# SeqLoRA step 1, O-LoRA step 2 (the orthogonality loss against block 1)
METHODS = {"sapt-lora": (2, []), "seq-lora": (1, []), "o-lora": (2, [])}
# every method on both families and every ZeRO stage on both families, each (method, family) once
MATRIX = [("sapt-lora", "t5", 2), ("seq-lora", "t5", 3), ("o-lora", "t5", 2),
          ("sapt-lora", "llama", 3), ("seq-lora", "llama", 2), ("o-lora", "llama", 3)]
if os.environ.get("SAPT_MULTIRANK_FULL"):  # the whole method x stage x family matrix (docs/testing.md numbers)
    MATRIX = [(m, f, s) for m in METHODS for f in ("t5", "llama") for s in (2, 3)]


@pytest.fixture(scope="module")
def references(request, cb_dir, tmp_path_factory):
    """Per (method, family): the step-1 state it continues (if step 2) and its 1-rank run (plain, 6 optimizer
    steps of 2 micro-batches)."""
    root = tmp_path_factory.mktemp("multirank")
    cache = {}

    def get(method, family):
        if (method, family) not in cache:
            bb = request.getfixturevalue(f"tiny_{family}")
            k, _ = METHODS[method]
            extra = ["--method", method, "--max-steps", "6"]
            if k == 2:
                s1 = root / f"{method}-{family}-s1"
                _ok(_step(bb, cb_dir, s1, "--method", method, "--max-steps", "2"))
                extra += ["--state-in", str(s1)]
                if method == "sapt-lora":
                    extra += ["--pseudo", str(cb_dir / "train.jsonl")]
            one = root / f"{method}-{family}-1rank"
            _ok(_step(bb, cb_dir, one, *extra))
            cache[method, family] = (bb, extra, one, root)
        return cache[method, family]

    return get


@pytest.mark.slow
@needs_deepspeed
@pytest.mark.parametrize("method,family,stage", MATRIX)
def test_two_ranks_give_the_one_rank_run(references, cb_dir, method, family, stage):
    bb, extra, one, root = references(method, family)
    two = root / f"{method}-{family}-zero{stage}"
    score = ["--eval-data-dirs", str(cb_dir), "--scores-out", str(two) + ".scores.json"] if method == "sapt-lora" \
        and family == "t5" else []
    log = _ok(_step(bb, cb_dir, two, *extra, *score, "--deepspeed", f"config/deepspeed/zero{stage}.json", ranks=2))
    assert log.count(f"deepspeed: DeepSpeedEngine, ZeRO stage {stage}, world size 2") == 2  # one line per rank
    assert log.count(f"step {METHODS[method][0]} (cb): {method}") == 1  # the state is written by rank 0 only
    train = _log(two)["train"]
    assert (train["ranks"], train["batch_size"], train["grad_accum"], train["global_batch"]) == (2, 4, 1, 8)
    assert _log(one)["train"]["grad_accum"] == 2 and _log(one)["train"]["ranks"] == 1
    if score:
        assert json.loads(Path(str(two) + ".scores.json").read_text())["tasks"]
    dl, dw = _diff(one, two)
    print(f"\n[multirank] {method} ZeRO-{stage} {family}: max |loss 2 ranks - 1 rank| {dl:.2e}, max |weight| {dw:.2e}")
    assert dl <= LOSS_TOL and dw <= WEIGHT_TOL, (dl, dw)
    assert not Path(f"{two}.work").exists()


@pytest.mark.slow
def test_plain_ddp_two_ranks_give_the_one_rank_run(references, cb_dir):
    """torchrun without --deepspeed: accelerate's DDP over gloo, the same contract."""
    bb, extra, one, root = references("sapt-lora", "t5")
    two = root / "sapt-lora-t5-ddp"
    log = _ok(_step(bb, cb_dir, two, *extra, ranks=2))
    assert log.count("step 2 (cb): sapt-lora") == 1 and _log(two)["train"]["ranks"] == 2
    dl, dw = _diff(one, two)
    print(f"\n[multirank] sapt-lora DDP t5: max |loss 2 ranks - 1 rank| {dl:.2e}, max |weight| {dw:.2e}")
    assert dl <= LOSS_TOL and dw <= WEIGHT_TOL, (dl, dw)


@pytest.mark.slow
@needs_deepspeed
def test_one_rank_sigkilled_mid_step_resumes_to_the_uninterrupted_run(references, cb_dir):
    """Rank 1 SIGKILLed after optimizer step 5 (torchrun stops rank 0): the rerun resumes from checkpoint-4 (model,
    ZeRO partitions, scheduler, RNG of both ranks, data order, ARM's streams) and ends as the uninterrupted run."""
    bb, extra, one, root = references("sapt-lora", "t5")
    out = root / "killed"
    ds = ["--deepspeed", "config/deepspeed/zero2.json", "--save-steps", "4"]
    res = _step(bb, cb_dir, out, *extra, *ds, ranks=2,
                env={"SAPT_FAULT_KILL_AT_STEP": "5", "SAPT_FAULT_KILL_RANK": "1"})
    assert res.returncode != 0 and "SIGKILL" in res.stdout + res.stderr, (res.stdout + res.stderr)[-3000:]
    work = Path(f"{out}.work")
    assert sorted(p.name for p in work.glob("checkpoint-*")) == ["checkpoint-4"] and not out.exists()
    ckpt = work / "checkpoint-4"
    # only what a resume needs: no frozen backbone in DeepSpeed's module file (with it, the file outweighs the
    # backbone's weights; without, it is about the trainable state: benchmarks/README.md "Checkpoint sizes")
    backbone = (Path(bb) / "model.safetensors").stat().st_size
    [module] = ckpt.glob("global_step4/mp_rank_00_model_states.pt")
    assert module.stat().st_size < backbone / 4, (module.stat().st_size, backbone)
    _ok(_step(bb, cb_dir, out, *extra, *ds, ranks=2))
    side = _log(out)["history"][-1]
    assert side["resumed_from_step"] == 4
    dl, dw = _diff(one, out)
    assert dl <= LOSS_TOL and dw <= WEIGHT_TOL, (dl, dw)
    assert not work.exists()


def test_a_hand_launch_cannot_change_the_global_batch(tiny_t5, cb_dir, tmp_path):
    """--grad-accum that does not give --global-batch on WORLD_SIZE ranks: one line, nothing written."""
    out = tmp_path / "s"
    res = _step(tiny_t5, cb_dir, out, "--method", "seq-lora", "--grad-accum", "1", "--max-steps", "1")
    assert res.returncode != 0 and not out.exists()
    err = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert err == ["error: train global_batch: expected batch_size x grad_accum x ranks = 8, got 4 x 1 x 1 "
                   "(WORLD_SIZE) = 4; pass --global-batch to change it"], res.stderr[-2000:]


def test_selection_under_zero3_is_refused_at_run_time(tiny_t5, cb_dir, tmp_path):
    out = tmp_path / "s"
    res = _step(tiny_t5, cb_dir, out, "--method", "seq-lora", "--selection", "val", "--max-steps", "1",
                "--deepspeed", "config/deepspeed/zero3.json")
    assert res.returncode != 0 and not out.exists()
    err = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert err == ["error: --selection val: model selection is not supported under ZeRO-3 (config/deepspeed/zero3.json: "
                   "it partitions the trainable tensors the best epoch keeps); use --selection none or ZeRO-2"], \
        res.stderr[-2000:]


def _batches(plan, runs) -> dict:
    """(method, backbone, benchmark, order) -> (batch_size, grad_accum, global_batch, ranks) of the step job, and
    the same for each single-task recipe a run needs."""
    import shlex

    out = {}
    for b, o, bb, m, _ in runs:
        for key, argv in (((m, bb, b, o), plan.step_args(m, bb, b, o)),
                          (("single-task", bb, b, plan.reference(m, bb, b, o)), None)):
            if key in out:
                continue
            argv = shlex.split(argv if argv is not None else plan.reference_args(key[3], bb))
            v = {argv[i][2:]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
            out[key] = (int(v["batch-size"]), int(v["grad-accum"]), int(v["global-batch"]),
                        max(int(plan.resources(bb, "gpu")), 1))
    return out


def test_the_global_batch_survives_a_change_of_gpu_count(repo_root):
    """Every method/backbone/benchmark/order of config/paper.yaml (and their single-task recipes): per-device batch x
    accumulation x ranks is the method's global batch, with 4 GPUs per large backbone and with 2."""
    import copy

    import yaml

    from sapt_core.plan import ContinualPlan

    cfg = yaml.safe_load((repo_root / "config/paper.yaml").read_text())
    four = ContinualPlan(cfg, data_root="unused")
    runs = {r[:4] + (0,) for exp in cfg["experiments"] if cfg["experiments"][exp] for r in four.runs(exp)
            if r[3] != "zero-shot"}
    halved = copy.deepcopy(cfg)
    changed = [n for n, b in halved["backbones"].items() if (b.get("resources") or {}).get("gpu") == 4]
    for n in changed:
        halved["backbones"][n]["resources"]["gpu"] = 2
    assert changed  # T5-XL/XXL, LLaMA-2-7B/13B
    a, b = _batches(four, runs), _batches(ContinualPlan(halved, data_root="unused"), runs)
    assert a.keys() == b.keys() and len(a) > 50
    for key in a:
        (bs, acc, g, n), (bs2, acc2, g2, n2) = a[key], b[key]
        assert bs * acc * n == g and bs2 * acc2 * n2 == g2 and g == g2, (key, a[key], b[key])
        if key[1] in changed:
            assert (n, n2) == (4, 2) and acc2 == 2 * acc, key
    by_method = {k[0]: v[2] for k, v in a.items() if k[1] == "t5-xl"}  # App. C / the official scripts' totals
    assert by_method["sapt-lora"] == 32 and by_method["o-lora"] == 64


def test_the_planner_refuses_a_global_batch_the_ranks_cannot_split(repo_root):
    import yaml

    from sapt_core.errors import SaptError
    from sapt_core.plan import ContinualPlan

    cfg = yaml.safe_load((repo_root / "config/paper.yaml").read_text())
    cfg["backbones"]["t5-xl"]["resources"]["gpu"] = 3
    with pytest.raises(SaptError, match=r"methods.sapt-lora.global_batch \(backbone t5-xl: 3 rank\(s\), "
                                        r"backbones.t5-xl.resources.gpu\): global_batch 32 is not a multiple of "
                                        r"batch_size 8 x 3 rank\(s\) = 24"):
        ContinualPlan(cfg, data_root="unused").step_args("sapt-lora", "t5-xl", "Long_Sequence", "order3")


def test_the_whole_config_check_refuses_before_any_job(repo_root):
    """The workflow's config check (the Snakefile's, before any DAG) resolves every step job's values: a GPU count
    that cannot split a global batch, and model selection under ZeRO-3 (which partitions the tensors the best epoch
    keeps), are one line each before anything is submitted."""
    import copy

    import yaml

    from sapt_core.errors import SaptError
    from sapt_core.plan.validate import validate_config

    paper = yaml.safe_load((repo_root / "config/paper.yaml").read_text())
    validate_config(copy.deepcopy(paper))  # as shipped: every job resolves
    odd = copy.deepcopy(paper)
    odd["backbones"]["t5-xl"]["resources"]["gpu"] = 3
    with pytest.raises(SaptError, match=r"global_batch 32 is not a multiple of batch_size 8 x 3 rank\(s\)"):
        validate_config(odd)
    select = copy.deepcopy(paper)
    select["protocol"]["selection"] = "val"
    with pytest.raises(SaptError, match=r"protocol.selection 'val' \(\S+ on backbone (t5-xxl|llama-2-13b)\): model "
                                        r"selection is not supported under ZeRO-3"):
        validate_config(select)


@pytest.mark.slow
@needs_deepspeed
def test_deepspeed_without_torchrun_runs_as_one_rank(references, cb_dir):
    """Plain ``sapt train-step --deepspeed ...`` (no launcher): one rank, not DeepSpeed's MPI discovery (mpi4py)."""
    bb, extra, one, root = references("sapt-lora", "t5")
    out = root / "no-launcher"
    log = _ok(_step(bb, cb_dir, out, *extra, "--deepspeed", "config/deepspeed/zero2.json"))
    assert "ZeRO stage 2, world size 1" in log and _log(out)["train"]["ranks"] == 1
    dl, dw = _diff(one, out)
    assert dl <= LOSS_TOL and dw <= WEIGHT_TOL, (dl, dw)


def _generator(backbone, data_dir, out, ranks=1, batch=4):
    args = ["train-generator", "--backbone", str(backbone), "--data-dir", str(data_dir), "--pet", "lora",
            "--seed", "0", "--lr", "3e-3", "--batch-size", str(batch), "--max-steps", "4", "--dropout", "0",
            "--max-target-len", "48", "--no-progress", "--out", str(out)]
    cmd = [str(BIN / "sapt"), *args] if ranks == 1 else \
        [str(BIN / "torchrun"), "--standalone", "--nnodes=1", f"--nproc-per-node={ranks}", "--no-python",
         str(BIN / "sapt"), *args]
    e = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        e.pop(k, None)
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=600, cwd=REPO)


@pytest.mark.slow
def test_the_generator_batch_is_global_over_ranks(tiny_t5, cb_dir, tmp_path):
    """ARM's generator (App. C: batch 16 in all) on 2 torchrun ranks: 2 per rank, the same 4 examples per optimizer
    step and the same weights as 1 rank; an odd batch the ranks cannot split is one line."""
    one, two = tmp_path / "g1.safetensors", tmp_path / "g2.safetensors"
    _ok(_generator(tiny_t5, cb_dir, one))
    log = _ok(_generator(tiny_t5, cb_dir, two, ranks=2))
    assert log.count("saved ") == 1  # rank 0 writes the generator
    side = json.loads(two.with_suffix(".json").read_text())["train"]
    assert (side["ranks"], side["batch_size"], side["global_batch"]) == (2, 2, 4)
    wa, wb = load_file(str(one)), load_file(str(two))
    assert wa.keys() == wb.keys() and max((wa[k] - wb[k]).abs().max().item() for k in wa) < WEIGHT_TOL
    bad = _generator(tiny_t5, cb_dir, tmp_path / "g3.safetensors", ranks=2, batch=3)
    assert bad.returncode != 0 and "generator batch_size: 3 is not a multiple of the 2 ranks" in bad.stderr
    assert not (tmp_path / "g3.safetensors").exists()
