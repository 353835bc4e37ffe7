"""The backbones of the workflow config: where each lives, what its jobs need, how their commands start."""

from __future__ import annotations

from sapt_core import layout
from sapt_core.errors import SaptError, unknown_text

DEFAULT_RESOURCES = {"gpu": 0, "mem_mb": 4000, "runtime": 60, "cpus_per_task": 2}


class BackbonePlan:
    config: dict

    def backbone(self, name: str) -> dict:
        try:
            return self.config["backbones"][name]
        except KeyError:
            raise SaptError(f"config backbones: {unknown_text('backbone', name, self.config['backbones'])}") from None

    def resources(self, name: str, key: str, attempt: int = 1):
        """The backbone table's resources (config ``backbones.<name>.resources``); runtime grows with the attempt.
        What a job of each rule requests from them: :mod:`sapt_core.plan.resources`."""
        r = {**DEFAULT_RESOURCES, **(self.backbone(name).get("resources") or {})}
        return r[key] * attempt if key == "runtime" else r[key]

    def device(self, name: str) -> str:
        """Where the backbone's model runs: ``backbones.<name>.device``, by default ``cuda`` when its jobs request
        GPUs (``resources.gpu`` > 0) and ``cpu`` otherwise. ``device: cpu`` with ``gpu: 2`` trains two ranks on the
        CPU inside a 2-GPU allocation (the cluster test's fake GPUs, tests/cluster/config.yaml)."""
        b = self.backbone(name)
        return b.get("device") or ("cuda" if int(self.resources(name, "gpu")) > 0 else "cpu")

    def device_args(self, name: str) -> str:
        """Model args of every job that loads the backbone: ``--dtype`` (config ``backbones.<name>.dtype``, default
        float32), for GPU backbones ``--device cuda`` (each torchrun rank takes cuda:LOCAL_RANK,
        :func:`sapt_core.models.backbone.resolve_device`), and :meth:`lora_site_args`."""
        dtype = self.backbone(name).get("dtype", "float32")
        return f"--dtype {dtype}" + (" --device cuda" if self.device(name) == "cuda" else "") + \
            self.lora_site_args(name)

    def lora_site_args(self, name: str) -> str:
        """`` --lora-sites ...`` (config ``backbones.<name>.lora_sites``: module names or full-path patterns,
        :mod:`sapt_core.blocks.sites`) when they differ from the family's default (q/v), so a default backbone's
        commands stay as they were; every job loading the backbone gets it and checks the sites at load."""
        import shlex

        from sapt_core.blocks.sites import default_sites

        b = self.backbone(name)
        sites = b.get("lora_sites")
        if not sites or list(sites) == default_sites(b["family"]):
            return ""
        return " --lora-sites " + " ".join(shlex.quote(str(e)) for e in sites)

    def train_device_args(self, name: str) -> str:
        """Model args of a training job: :meth:`device_args`, ``--bf16`` mixed precision for bf16 GPU backbones and
        the backbone's DeepSpeed config (``resources.deepspeed``: config/deepspeed/zero{2,3}.json)."""
        out = [self.device_args(name)]
        if self.device(name) == "cuda" and self.backbone(name).get("dtype") == "bfloat16":
            out.append("--bf16")
        ds = (self.backbone(name).get("resources") or {}).get("deepspeed")
        if ds:
            out.append(f"--deepspeed {ds}")
        return " ".join(out + self.checkpointing_args(name))

    def checkpointing_args(self, name: str) -> list[str]:
        """``--gradient-checkpointing`` for a backbone with ``gradient_checkpointing: true`` (activation
        checkpointing of its layers in every training job: sapt_core/training/activation_checkpointing.py)."""
        return ["--gradient-checkpointing"] if self.backbone(name).get("gradient_checkpointing") else []

    def launcher(self, name: str) -> str:
        """Prefix of a training job's ``sapt`` command. A multi-GPU backbone (``resources.gpu`` > 1) starts one rank per
        GPU with torchrun inside the job's allocation: the slurm executor already runs every job's command in an
        ``srun -n1 --gpus=N`` step, so torchrun (single node, rendezvous on localhost) sees all N GPUs. Empty (plain
        ``sapt``) for CPU and single-GPU backbones."""
        n = int(self.resources(name, "gpu"))
        return f"torchrun --standalone --nnodes=1 --nproc-per-node={n} --no-python" if n > 1 else ""

    def backbone_path(self, name: str) -> str:
        b = self.backbone(name)
        return b["path"] if "path" in b else layout.backbone_dir(name)

    def backbone_input(self, name: str) -> list[str]:
        """What a model job of the backbone waits for: :meth:`backbone_files` and, when the backbone names its own
        LoRA sites, rule check_lora_sites' match of them against its modules (the earliest point the model's module
        tree exists: :mod:`sapt_core.models.site_check`)."""
        return self.backbone_files(name) + ([layout.lora_sites_file(name)] if self.lora_site_args(name) else [])

    def backbone_files(self, name: str) -> list[str]:
        """Tiny backbones are built by a rule, hub ids fetched by one (the manifest of rule fetch_backbone); local
        paths are not workflow inputs."""
        if "tiny" in self.backbone(name):
            return [layout.backbone_dir(name) + "/config.json"]
        return [layout.hub_manifest(name)] if self.is_hub(name) else []

    def is_hub(self, name: str) -> bool:
        """Whether the backbone loads by hub id (``org/name``), which rule fetch_backbone fetches into hub_cache."""
        from sapt_core.models.hub import is_hub_id

        memo = self.__dict__.setdefault("_is_hub", {})  # asked once per model job of the DAG
        if name not in memo:
            b = self.backbone(name)
            memo[name] = "path" in b and is_hub_id(b["path"])
        return memo[name]

    def hub_cache(self) -> str:
        """The shared cache of the hub backbones (config ``hub_cache``, default ``results/hub``)."""
        return self.config.get("hub_cache") or layout.HUB_CACHE

    def hub_repo(self, name: str) -> str:
        if not self.is_hub(name):
            raise SaptError(f"config backbones.{name}: not a hub backbone (path org/name)")
        return self.backbone(name)["path"]

    def check_hub_access(self, names: list[str]) -> None:
        """One-line :class:`SaptError` for the first of these hub backbones the hub refuses or cannot be asked about
        (what rule fetch_backbone would fail on), checked before any job runs (the workflow's ``onstart``)."""
        from sapt_core.models.hub import preflight

        for name in names:
            preflight(name, self.hub_repo(name), self.hub_cache())

    def hub_env(self, name: str) -> str:
        """Environment prefix of a model job's command: offline from hub_cache for hub backbones, else empty."""
        from sapt_core.models.hub import job_env

        return job_env(self.hub_cache()) if self.is_hub(name) else ""

    def tiny_backbone_args(self, name: str) -> str:
        b = self.backbone(name)
        if "tiny" not in b:
            raise SaptError(f"config backbones.{name}: not a tiny backbone (it loads {b.get('path')!r})")
        t = b["tiny"]
        return (f"--family {b['family']} --d-model {t['d_model']} --layers {t['layers']} --heads {t['heads']} "
                f"--d-ff {t['d_ff']} --vocab-size {t['vocab_size']} --seed {t['seed']} "
                f"--pretrain-steps {t.get('pretrain_steps', 0)}")
