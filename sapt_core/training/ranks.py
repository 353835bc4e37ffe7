"""The ranks of a torchrun / DeepSpeed launch (one process per GPU; gloo on the CPU): who this process is, how the
Trainer joins the process group, the gathers ZeRO-3 needs to read its partitioned parameters, and the end of the
group after a multi-rank step (README "Running on a SLURM cluster", docs/cluster.md)."""

from __future__ import annotations

import os
from contextlib import contextmanager

def single_process_launch() -> None:
    """A DeepSpeed run started without torchrun (plain ``sapt train-step --deepspeed ...``): the environment of a
    one-rank launch, so DeepSpeed does not go looking for an MPI launcher (``mpi4py``) to learn its rank."""
    if "LOCAL_RANK" in os.environ:
        return
    import socket

    with socket.socket() as sock:  # a free port for the one-process rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})


def device_args(model, cfg) -> dict:
    """TrainingArguments for a model on the CPU (torchrun ranks talk over gloo). Without DeepSpeed: ``use_cpu``, so a
    torchrun launch becomes accelerate's multi-CPU data parallelism (DDP over gloo). With DeepSpeed: accelerate finds
    no backend for CPU ranks by itself, counts one process and fills DeepSpeed's ``auto`` train_batch_size for one
    rank, which DeepSpeed's batch check then refuses; so its process state is set up here over gloo (DeepSpeed's
    ``init_distributed``) and the Trainer told to use it."""
    if cfg.deepspeed:
        single_process_launch()
    if next(model.parameters()).device.type != "cpu":
        return {}
    if not cfg.deepspeed:
        return {"use_cpu": True}
    from accelerate import PartialState

    os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"  # what TrainingArguments sets around its own PartialState
    try:
        PartialState(backend="gloo")
    finally:
        del os.environ["ACCELERATE_USE_DEEPSPEED"]
    return {"accelerator_config": {"use_configured_state": True}}


def zero_stage(deepspeed_config: str | os.PathLike | None) -> int:
    """The ZeRO stage of a DeepSpeed JSON config (0 without one)."""
    if not deepspeed_config:
        return 0
    from sapt_core.io import read_json

    return int((read_json(deepspeed_config, "DeepSpeed config").get("zero_optimization") or {}).get("stage", 0))


def world_size() -> int:
    """Ranks of a torchrun/DeepSpeed launch (``WORLD_SIZE``; 1 for a plain process)."""
    return max(int(os.environ.get("WORLD_SIZE", "1")), 1)


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """Rank 0 of a torchrun/DeepSpeed launch (or a plain single process): the one that writes the step's outputs."""
    return rank() == 0


def release_ranks() -> None:
    """After the last collective of a multi-rank step (the state gathered): wait for every rank, then end the
    process group on each, so the ranks that stop here exit cleanly while rank 0 writes the outputs (a rank leaving
    with the group alive could abort in gloo's teardown, ``terminate called without an active exception``, and
    torchrun would report the job failed). A no-op for one process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    unset_hf_deepspeed_config()  # rank 0's scoring loads a plain backbone, not a ZeRO-3-partitioned one


@contextmanager
def gathered(model):
    """Full parameters on every rank while inside: ZeRO-3 leaves each rank a slice (``p.data`` empty elsewhere), so
    reading the trained state needs this collective gather (every rank must enter). A no-op without ZeRO-3."""
    with gathered_params(model.parameters()):
        yield


@contextmanager
def gathered_params(params):
    """:func:`gathered` for some parameters, e.g. those a loss reads outside a module's forward (where ZeRO-3's hooks
    do not gather them). Collective: every rank enters. A no-op without ZeRO-3."""
    params = [p for p in params if hasattr(p, "ds_id")]
    if not params:
        yield
        return
    import deepspeed

    with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
        yield
