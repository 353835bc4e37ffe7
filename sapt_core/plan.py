"""From the workflow config to per-job paths and arguments (plain Python, no Snakemake import).

Each rule gets only the parameters of its own job (resolved here), so a config edit reruns exactly the jobs whose
parameters changed (design section 2).
"""

from __future__ import annotations

from sapt_core.errors import SaptError
from sapt_core.layout import RUNS_CSV
from sapt_core.report.registry import (ATTENTION_FIGURES, FIGURES, PAPER_RESULTS, PAPER_TABLES, RESULT_TABLES,
                                       STATIC_TABLES, UNSEEN, VS_PAPER_SUFFIX)


def config_error_line(exc: BaseException) -> str:
    """One line naming the offending config field, from snakemake's wrapped jsonschema ValidationError."""
    err = exc
    while err is not None and not hasattr(err, "absolute_path"):
        err = err.__cause__ or err.__context__ or (err.args[0] if err.args and isinstance(err.args[0], BaseException) else None)
    if err is None:
        return "config: " + " ".join(str(exc).split())
    field = ".".join(str(p) for p in err.absolute_path) or "<top level>"
    return f"config field {field}: {' '.join(err.message.split())}"


def drop_disabled_experiments(config: dict) -> None:
    """Remove ``experiments`` entries set to null. Snakemake merges a ``--configfile`` overlay into
    config/config.yaml key by key, so an overlay (``.test/config.yaml``) can only switch a base experiment off by
    setting it to null."""
    exps = config.get("experiments") or {}
    config["experiments"] = {name: exp for name, exp in exps.items() if exp is not None}


class Plan:
    def __init__(self, config: dict, data_root: str):
        self.config = config
        self.data_root = data_root

    # ---- data -----------------------------------------------------------------------------------------------
    def data_dir(self, benchmark: str, task: str, seed) -> str:
        return f"results/data/{self.config['data']['protocol']}/seed{seed}/{benchmark}/{task}"

    def data_caps_args(self, test_only: bool = False) -> str:
        d = self.config["data"]
        keys = ("n_test",) if test_only else ("n_train", "n_val", "n_test")
        return " ".join(f"--{k.replace('_', '-')} {d[k]}" for k in keys if d.get(k))

    # ---- backbones --------------------------------------------------------------------------------------------
    def backbone(self, name: str) -> dict:
        try:
            return self.config["backbones"][name]
        except KeyError:
            known = ", ".join(self.config["backbones"])
            raise SaptError(f"config backbones: no backbone named {name!r} (known: {known})") from None

    DEFAULT_RESOURCES = {"gpu": 0, "mem_mb": 4000, "runtime": 60, "cpus_per_task": 2}

    def resources(self, name: str, key: str, attempt: int = 1):
        """Per-backbone job resources (config ``backbones.<name>.resources``); runtime grows with the attempt."""
        r = {**self.DEFAULT_RESOURCES, **(self.backbone(name).get("resources") or {})}
        return r[key] * attempt if key == "runtime" else r[key]

    def threads(self, name: str) -> int:
        """Threads of a model job (Snakemake exports them as OMP_NUM_THREADS): 1 for tiny CPU backbones, whose jobs
        are dominated by single-threaded start-up, so two run side by side on 2 cores; else ``cpus_per_task``."""
        return 1 if "tiny" in self.backbone(name) else int(self.resources(name, "cpus_per_task"))

    def device_args(self, name: str) -> str:
        """``--dtype`` (config ``backbones.<name>.dtype``, default float32) and, for GPU backbones, ``--device cuda``
        (each torchrun rank takes cuda:LOCAL_RANK, :func:`sapt_core.models.backbone.resolve_device`)."""
        dtype = self.backbone(name).get("dtype", "float32")
        return f"--dtype {dtype}" + (" --device cuda" if int(self.resources(name, "gpu")) > 0 else "")

    def train_device_args(self, name: str) -> str:
        """Model args of a training job: :meth:`device_args`, ``--bf16`` mixed precision for bf16 GPU backbones and
        the backbone's DeepSpeed config (``resources.deepspeed``: config/deepspeed/zero{2,3}.json)."""
        out = [self.device_args(name)]
        if int(self.resources(name, "gpu")) > 0 and self.backbone(name).get("dtype") == "bfloat16":
            out.append("--bf16")
        ds = (self.backbone(name).get("resources") or {}).get("deepspeed")
        if ds:
            out.append(f"--deepspeed {ds}")
        return " ".join(out)

    def launcher(self, name: str) -> str:
        """Prefix of a training job's ``sapt`` command. A multi-GPU backbone (``resources.gpu`` > 1) starts one rank per
        GPU with torchrun inside the job's allocation: the slurm executor already runs every job's command in an
        ``srun -n1 --gpus=N`` step, so torchrun (single node, rendezvous on localhost) sees all N GPUs. Empty (plain
        ``sapt``) for CPU and single-GPU backbones."""
        n = int(self.resources(name, "gpu"))
        return f"torchrun --standalone --nnodes=1 --nproc-per-node={n} --no-python" if n > 1 else ""

    def backbone_path(self, name: str) -> str:
        b = self.backbone(name)
        return b["path"] if "path" in b else f"results/backbones/{name}"

    def backbone_input(self, name: str) -> list[str]:
        """Tiny backbones are built by a rule; hub ids / local paths are not workflow inputs."""
        return [f"results/backbones/{name}/config.json"] if "tiny" in self.backbone(name) else []

    def tiny_backbone_args(self, name: str) -> str:
        b = self.backbone(name)
        if "tiny" not in b:
            raise SaptError(f"config backbones.{name}: not a tiny backbone (it loads {b.get('path')!r})")
        t = b["tiny"]
        return (f"--family {b['family']} --d-model {t['d_model']} --layers {t['layers']} --heads {t['heads']} "
                f"--d-ff {t['d_ff']} --vocab-size {t['vocab_size']} --seed {t['seed']} "
                f"--pretrain-steps {t.get('pretrain_steps', 0)}")

    # ---- single-task jobs --------------------------------------------------------------------------------------
    def single_task_args(self, pet: str) -> str:
        st = self.config["single_task"]
        h = st[pet]
        args = [f"--lr {h['lr']}", f"--epochs {h['epochs']}", f"--batch-size {h['batch_size']}",
                f"--grad-accum {h.get('grad_accum', 1)}", f"--max-source-len {st.get('max_source_len', 512)}",
                f"--max-target-len {st.get('max_target_len', 50)}"]
        if pet == "lora":
            args += [f"--lora-r {h.get('lora_r', 8)}", f"--lora-alpha {h.get('lora_alpha', 32)}",
                     f"--lora-dropout {h.get('lora_dropout', 0.0)}"]
        else:
            args += [f"--prompt-len {h.get('prompt_len', 10)}"]
        return " ".join(args)

    def eval_args(self) -> str:
        st = self.config["single_task"]
        return f"--batch-size {st.get('eval_batch_size', 32)} --max-source-len {st.get('max_source_len', 512)}"

    def demo_targets(self) -> list[str]:
        out = []
        for r in self.config.get("demo", {}).get("runs", []):
            self.backbone(r["backbone"])
            out.append(f"results/single_task/{r['benchmark']}/{r['backbone']}/{r['pet']}/seed{r['seed']}/"
                       f"{r['task']}/scores.json")
        return out


ZERO_SHOT = "zero-shot"  # Table 3's T5-ZS row: the backbone without any PET block


def split_variant(method: str) -> tuple[str, dict]:
    """``replay~real_replay_volume=0.05,init=fresh`` -> (``replay``, {key: value}); values parsed as YAML scalars."""
    if "~" not in method:
        return method, {}
    import yaml

    base, _, spec = method.partition("~")
    out = {}
    for item in spec.split(","):
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise SaptError(f"method variant {method!r}: expected <method>~<key>=<value>[,<key>=<value>]")
        out[k] = yaml.safe_load(v)
    return base, out


# ---- continual runs (SAPT methods) ------------------------------------------------------------------------------
# hyperparameter keys that reach `sapt train-step` (names as in config/methods.yaml; flags via hparams.to_cli_args)
TRAIN_STEP_KEYS = ("optimizer", "lr", "proj_lr", "weight_decay", "max_grad_norm", "epochs", "batch_size", "grad_accum",
                   "max_source_len", "max_target_len", "max_new_tokens", "eval_batch_size", "eval_every_epochs",
                   "lora_r", "lora_alpha", "lora_dropout", "lora_mixing", "prompt_len", "d_p", "temperature",
                   "lambda", "projection_order", "pool_mask_pads", "kl_direction", "kl_scale_by_gas",
                   "kl_start_step", "attn_split", "routing", "orth_lambda", "reflection", "selector_steps",
                   "selector_lr")
# ... and `sapt train-seq` (SeqLoRA, Replay, MTL)
TRAIN_SEQ_KEYS = ("optimizer", "lr", "weight_decay", "max_grad_norm", "epochs", "batch_size", "grad_accum",
                  "max_source_len", "max_target_len", "lora_r", "lora_alpha", "lora_dropout", "prompt_len", "init",
                  "real_replay_volume", "pool_size", "top_n", "pull_weight", "lm_lambda", "gen_replay_volume")
RECIPE_KEYS = {"train-step": TRAIN_STEP_KEYS, "train-seq": TRAIN_SEQ_KEYS}


class ContinualPlan(Plan):
    """Paths, inputs and per-job parameters of the continual DAG (design section 2)."""

    def __init__(self, config: dict, data_root: str):
        super().__init__(config, data_root)
        self._methods = self._benchmarks = None
        self._hparams: dict[tuple, dict] = {}  # one resolution per (method, backbone, benchmark, order), not per job

    @property
    def methods(self) -> dict:
        if self._methods is None:
            from sapt_core.hparams import load_methods

            self._methods = load_methods(self.config.get("methods_file", "config/methods.yaml"))
        return self._methods

    @property
    def benchmarks(self) -> dict:
        if self._benchmarks is None:
            from sapt_core.benchmarks import load_benchmarks

            self._benchmarks = load_benchmarks(self.config["benchmarks_file"])
        return self._benchmarks

    def order_tasks(self, benchmark: str, order: str) -> list[str]:
        """The task sequence of an order (paper Table 7), cut to the first ``n_tasks`` for tiny runs."""
        from sapt_core.benchmarks import get_benchmark

        b = get_benchmark(self.benchmarks, benchmark)
        if order not in b.orders:
            raise SaptError(f"config: order {order!r} is not an order of {benchmark} (known: {', '.join(b.orders)})")
        n = self.config.get("n_tasks")
        return list(b.orders[order])[: n or None]

    def hparams(self, method: str, backbone: str, benchmark: str, order: str | None) -> dict:
        """config/methods.yaml resolved for one job, then the config's ``method_overrides``: ``"*"`` for every
        method, then the method's own entry (so editing one method's entry reruns only that method's jobs)."""
        from sapt_core.hparams import resolve

        key = (method, backbone, benchmark, order)
        if key in self._hparams:  # asked per job (~40k times on the paper grid): skip the variant parse
            return dict(self._hparams[key])
        base, variant = split_variant(method)
        if key not in self._hparams and variant:
            h = self.hparams(base, backbone, benchmark, order)
            from sapt_core.hparams import KEY_SPECS, check_value

            for k, v in variant.items():
                if k not in h or k not in KEY_SPECS:
                    raise SaptError(f"method variant {method!r}: {k!r} is not a hyperparameter of {base!r}")
                h[k] = check_value(KEY_SPECS[k], v, f"method variant {method!r}: {k}")
            self._hparams[key] = {**h, "method": method}
        if key not in self._hparams:
            from sapt_core.hparams import KEY_SPECS

            mo = self.config.get("method_overrides") or {}
            star = mo.get("*") or {}
            unknown = [k for k in star if k not in KEY_SPECS]
            if unknown:
                raise SaptError(f"config method_overrides.*.{unknown[0]}: not a hyperparameter of any method "
                                f"(known: {', '.join(KEY_SPECS)})")
            own = self.methods["methods"].get(method, {}).get("defaults", {})
            # "*" reaches the keys each method has (SeqLoRA has no lambda); a method's own entry must fit it exactly
            overrides = {**{k: v for k, v in star.items() if k in own}, **(mo.get(method) or {})}
            self._hparams[key] = resolve(self.methods, method, backbone, benchmark, order,
                                         family=self.backbone(backbone)["family"], overrides=overrides or None,
                                         overrides_label=f"config method_overrides ({method})")
        return dict(self._hparams[key])

    @staticmethod
    def run_dir(benchmark, order, backbone, method, seed) -> str:
        return f"results/runs/{benchmark}/{order}/{backbone}/{method}/seed{seed}"

    def recipe(self, method, backbone, benchmark, order) -> str:
        """The ``sapt`` command that trains one step of this method (config/methods.yaml ``recipe``)."""
        return self.hparams(method, backbone, benchmark, order)["recipe"]

    def train_step_args(self, method, backbone, benchmark, order) -> str:
        from sapt_core.hparams import to_cli_args

        h = self.hparams(method, backbone, benchmark, order)
        keys = RECIPE_KEYS[h["recipe"]]
        pet = "l2p" if "pool_size" in h else h["pet"]  # L2P: a prompt pool (its FWT reference is prompt tuning)
        return f"--pet {pet} " + to_cli_args(h, [k for k in keys if k in h])

    def pseudo_tasks(self, method, backbone, benchmark, order, k: int) -> int:
        """How many tasks of the chain step k reads pseudo inputs of: ARM (lambda > 0) and +Replay the k-1 earlier
        ones; the -Alignment / -DA selector all k seen ones; other methods none."""
        h = self.hparams(method, backbone, benchmark, order)
        if h["recipe"] != "train-step":
            return 0
        routing = h.get("routing", "attention")
        if routing in ("pipeline", "top1"):
            return k
        arm = h.get("lambda", 0) > 0 or h.get("reflection") == "mix"
        return k - 1 if routing == "attention" and arm else 0

    def run_metrics_args(self, method, backbone, benchmark, order) -> str:
        """MTL (a fresh block per step): only AP applies."""
        return "--ap-only" if self.hparams(method, backbone, benchmark, order).get("init") == "fresh" else ""

    def uses_replay_data(self, method, backbone, benchmark, order) -> bool:
        """Step k reads the earlier tasks' prepared data: real replay (Replay, MTL), or LFPT5's generative replay
        (each earlier task's name and training-set size)."""
        h = self.hparams(method, backbone, benchmark, order)
        return h["recipe"] == "train-seq" and (h.get("real_replay_volume", 0) > 0 or h.get("gen_replay_volume", 0) > 0)

    def pseudo_path(self, method, backbone, benchmark, order, seed, task) -> str:
        h = self.hparams(method, backbone, benchmark, order)
        return (f"results/pseudo/{benchmark}/{backbone}/{h['pet']}/seed{seed}/"
                f"{h['pseudo_source']}-v{h['replay_volume']}/{task}.jsonl")

    def step_inputs(self, wc) -> dict:
        k = int(wc.k)
        tasks = self.order_tasks(wc.benchmark, wc.order)
        if not 1 <= k <= len(tasks):
            raise SaptError(f"step {k}: the {wc.order} chain has {len(tasks)} tasks")
        run = self.run_dir(wc.benchmark, wc.order, wc.backbone, wc.method, wc.seed)
        out = {"backbone": self.backbone_input(wc.backbone),
               "data": self.data_dir(wc.benchmark, tasks[k - 1], wc.seed) + "/manifest.json",
               "pseudo": [self.pseudo_path(wc.method, wc.backbone, wc.benchmark, wc.order, wc.seed, t)
                          for t in tasks[: self.pseudo_tasks(wc.method, wc.backbone, wc.benchmark, wc.order, k)]],
               "replay": [self.data_dir(wc.benchmark, t, wc.seed) + "/manifest.json" for t in tasks[: k - 1]]
               if self.uses_replay_data(wc.method, wc.backbone, wc.benchmark, wc.order) else []}
        if k > 1:
            out["state"] = f"{run}/step{k - 1}/state/state.safetensors"
        return out

    def pseudo_inputs(self, wc) -> dict:
        out = {"manifest": self.data_dir(wc.benchmark, wc.task, wc.seed) + "/manifest.json"}
        if wc.source == "generated":
            out["generator"] = (f"results/generators/{wc.benchmark}/{wc.backbone}/{wc.pet}/seed{wc.seed}/"
                                f"{wc.task}/gen.safetensors")
            out["backbone"] = self.backbone_input(wc.backbone)
        elif wc.source not in ("shipped", "real"):
            raise SaptError(f"pseudo source: expected generated, shipped or real, got {wc.source!r}")
        return out

    def pseudo_args(self, wc, input) -> str:
        data_dir = self.data_dir(wc.benchmark, wc.task, wc.seed)
        if wc.source == "shipped":
            return (f"--source shipped --data-dir {data_dir} --family {self.backbone(wc.backbone)['family']} "
                    f"--data-root {self.data_root} --benchmarks {self.config['benchmarks_file']}")
        if wc.source == "real":
            return f"--source real --data-dir {data_dir}"
        return (f"--source generated --data-dir {data_dir} --backbone {self.backbone_path(wc.backbone)} "
                f"--generator {input.generator} {self.sampling_args(wc.pet)}")

    def generator(self, pet: str) -> dict:
        """ARM generator settings of a PET type (config/methods.yaml), with the config's ``generator_overrides``."""
        from sapt_core.hparams import resolve_generator

        return {**resolve_generator(self.methods, pet), **(self.config.get("generator_overrides") or {})}

    def generator_args(self, pet: str) -> str:
        g = self.generator(pet)
        args = [f"--pet {pet}", f"--lr {g['lr']}", f"--batch-size {g['batch_size']}",
                f"--max-source-len {max(int(g['max_source_len']), 8)}", f"--max-target-len {g['max_target_len']}"]
        args.append(f"--max-steps {g['max_steps']}" if "max_steps" in g else f"--epochs {g['epochs']}")
        if pet == "lora":
            args += [f"--lora-r {g['r']}", f"--lora-alpha {g['alpha']}", f"--lora-dropout {g['dropout']}"]
        else:
            args += [f"--prompt-len {g['length']}"]
        return " ".join(args)

    def sampling_args(self, pet: str) -> str:
        g = self.generator(pet)
        return f"--max-new-tokens {g.get('max_new_tokens', g['sampling']['max_new_tokens'])}"

    def eval_args(self, method=None, backbone=None, benchmark=None, order=None) -> str:
        if method is None:
            return super().eval_args()
        h = self.hparams(method, backbone, benchmark, order)
        return (f"--batch-size {h['eval_batch_size']} --max-new-tokens {h['max_new_tokens']} "
                f"--max-source-len {h['max_source_len']}")

    def step_data_dir(self, benchmark, order, seed, k) -> str:
        """The data slice that step k of a run trains on."""
        return self.data_dir(benchmark, self.order_tasks(benchmark, order)[int(k) - 1], seed)

    def eval_data_dirs(self, benchmark, order, seed, k) -> list[str]:
        return [self.data_dir(benchmark, t, seed) for t in self.order_tasks(benchmark, order)[: int(k)]]

    def experiment(self, name: str) -> dict:
        exp = self.config.get("experiments", {}).get(name)
        if exp is None:
            raise SaptError(f"config experiments: no experiment {name!r}")
        return exp

    def seeds(self, exp: dict | None = None) -> list[int]:
        """An experiment's seeds, else the config's ``seeds``."""
        return (exp or {}).get("seeds", self.config.get("seeds", [0]))

    def experiment_methods(self, experiment: str) -> list[str]:
        """The methods of an experiment; with ``replay_volumes`` (Figure 6) every method becomes one variant per
        volume and replay type (``replay_types``: real / pseudo), e.g. ``replay~real_replay_volume=0.05``."""
        exp = self.experiment(experiment)
        if "replay_volumes" not in exp:
            return list(exp["methods"])
        out = []
        for m in exp["methods"]:
            for kind in exp.get("replay_types", ["real", "pseudo"]):
                for v in exp["replay_volumes"]:
                    name = self.replay_variant(m, kind, v)
                    if name and name not in out:
                        out.append(name)
        return out

    def replay_variant(self, method: str, kind: str, volume: float) -> str | None:
        """Figure 6's knob: real replay of a train-seq method (Replay), or SAPT's ARM inputs (pseudo, or real inputs
        in their place). None where the combination does not exist (Replay has no pseudo type)."""
        if method not in self.methods["methods"]:
            raise SaptError(f"config experiments.figure6: unknown method {method!r} "
                            f"(known: {', '.join(self.methods['methods'])})")
        h = self.methods["methods"][method]["defaults"]
        recipe = self.methods["methods"][method]["recipe"]
        if "gen_replay_volume" in h:  # LFPT5: the examples it generates itself (no real type)
            if kind != "pseudo":
                return None
            return method if volume == h["gen_replay_volume"] else f"{method}~gen_replay_volume={volume}"
        if recipe == "train-seq" and "real_replay_volume" in h:
            if kind != "real":
                return None
            return method if volume == h["real_replay_volume"] else f"{method}~real_replay_volume={volume}"
        if "replay_volume" in h:
            if kind == "pseudo" and volume == h["replay_volume"] and h.get("pseudo_source") == "generated":
                return method  # the method's own default run, shared with the tables
            return f"{method}~replay_volume={volume}" + (",pseudo_source=real" if kind == "real" else "")
        raise SaptError(f"config experiments.figure6: method {method!r} has no replay volume to vary")

    def replay_point(self, method: str) -> tuple[str, str, float]:
        """(base method, replay type, volume) of a Figure 6 run; a plain method name is its default run, read from the
        config's methods file."""
        base, v = split_variant(method)
        if not v:
            v = self.methods["methods"].get(method, {}).get("defaults", {})
        if "gen_replay_volume" in v:  # LFPT5: examples it generates itself
            return base, "pseudo", float(v["gen_replay_volume"])
        if "real_replay_volume" in v:
            return base, "real", float(v["real_replay_volume"])
        if "replay_volume" in v:
            return base, "real" if v.get("pseudo_source") == "real" else "pseudo", float(v["replay_volume"])
        raise SaptError(f"figure6: run of method {method!r} is not a replay-volume variant")

    def replay_points_arg(self, figure: str = "figure6") -> str:
        """``--points METHOD=SERIES:TYPE:VOLUME ...`` of the Figure 6 job: each run method's base method, replay type
        and volume (sapt_core.report.replay_figure), shell-quoted."""
        import shlex

        exp = self._figure_checked(figure)
        items = [f"{m}={':'.join(map(str, self.replay_point(m)))}" for m in self.experiment_methods(exp)]
        return "--points " + " ".join(map(shlex.quote, items))

    def runs(self, experiment: str) -> list[tuple]:
        """(benchmark, order, backbone, method, seed) of every run an experiment (table/figure) needs; the zero-shot
        row of Table 3 (method ``zero-shot``) trains nothing and is not a run."""
        exp = self.experiment(experiment)
        return [(b, o, bb, m, s) for b in exp["benchmarks"] for o in self.config["orders"][b]
                for bb in exp["backbones"] for m in self.experiment_methods(experiment)
                if m != ZERO_SHOT and self.applies(m, b) for s in self.seeds(exp)]

    def applies(self, method: str, benchmark: str) -> bool:
        """Whether a method runs on a benchmark (config/methods.yaml ``benchmarks``; EPI: classification only)."""
        only = self.methods["methods"].get(split_variant(method)[0], {}).get("benchmarks")  # unknown: resolve() says
        return only is None or benchmark in only

    # ---- Table 3: unseen tasks after the last SuperNI step ----------------------------------------------------
    def unseen_data_dirs(self, seed) -> list[str]:
        from sapt_core.benchmarks import get_benchmark

        return [self.data_dir(UNSEEN, t, seed) for t in get_benchmark(self.benchmarks, UNSEEN).tasks]

    def unseen_score_files(self) -> list[tuple[str, str]]:
        """(method, unseen-task scores) of every row of Table 3: each SuperNI run's final model, and the backbone
        alone (``zero-shot``, one file per backbone and seed)."""
        exp = self.experiment("table3")
        if exp["benchmarks"] != ["SuperNI"]:
            raise SaptError("config experiments.table3.benchmarks: expected [SuperNI] (Table 3 evaluates the final "
                            f"SuperNI model on the unseen SuperNI tasks), got {exp['benchmarks']}")
        out = []
        for m in exp["methods"]:
            if m == ZERO_SHOT:
                out += [(m, f"results/zero_shot/{UNSEEN}/{bb}/seed{s}/scores.json")
                        for bb in exp["backbones"] for s in self.seeds(exp)]
            else:
                out += [(m, f"{self.run_dir(*r)}/unseen_scores.json") for r in self.runs("table3") if r[3] == m]
        return out

    def sapt_run_dirs(self, experiment: str) -> list[str]:
        """Run directories of the SAPT methods of an experiment (the ones with shared attention to plot)."""
        return [self.run_dir(*r) for r in self.runs(experiment) if r[3].startswith("sapt-")]

    def metrics_files(self, experiment: str) -> list[str]:
        return [self.run_dir(*r) + "/metrics.json" for r in self.runs(experiment)]

    def single_task_scores(self, method, backbone, benchmark, order, seed) -> list[str]:
        pet = self.hparams(method, backbone, benchmark, order)["pet"]
        return [f"results/single_task/{benchmark}/{backbone}/{pet}/seed{seed}/{t}/scores.json"
                for t in self.order_tasks(benchmark, order)]

    # ---- report --------------------------------------------------------------------------------------------------
    def labels_arg(self, methods: list[str]) -> str:
        """``--labels`` of a table / figure job: the paper's name of each listed method (``label`` in the methods
        file, e.g. ``- ARM`` for sapt-lora-noarm; ``Zero-shot`` for Table 3's backbone row), shell-quoted."""
        import shlex

        labels = {m: ("Zero-shot" if m == ZERO_SHOT else self.methods["methods"][m]["label"])
                  for m in methods if m == ZERO_SHOT or m in self.methods["methods"]}
        items = [shlex.quote(f"{m}={lab}") for m, lab in labels.items() if lab != m]
        return f"--labels {' '.join(items)}" if items else ""

    def report_labels(self) -> dict[str, str]:
        """The paper's name of every method the experiments list (methods file ``label``; Table 3's backbone row:
        ``Zero-shot``), for the report's front page (workflow/report/workflow.rst)."""
        listed = dict.fromkeys(m for e in self.config.get("experiments", {}).values() for m in e["methods"])
        return {m: "Zero-shot" if m == ZERO_SHOT else self.methods["methods"][m].get("label", m)
                for m in listed if m == ZERO_SHOT or m in self.methods["methods"]}

    def table_args(self, table: str) -> str:
        exp = self.experiment(table)
        orders = [o for b in exp["benchmarks"] for o in self.config["orders"][b]]
        seeds = self.seeds(exp)
        backbone = f"--backbone {exp['backbones'][0]}" if len(exp["backbones"]) == 1 else ""
        na = [f"{m}:{b}" for m in exp["methods"] for b in exp["benchmarks"] if not self.applies(m, b)]
        return ((f"--not-applicable {' '.join(na)} " if na else "") +
                f"--methods {' '.join(exp['methods'])} --orders {' '.join(orders)} "
                f"--seeds {' '.join(map(str, seeds))} --benchmarks {self.config['benchmarks_file']} {backbone} "
                f"{self.labels_arg(exp['methods'])}").rstrip()

    def vs_paper_inputs(self, table: str) -> list[str]:
        """The files a table's comparison with the paper is computed from: the table's own inputs (Table 3: the
        unseen-task scores; Tables 1, 2, 8, 9: the runs' metrics)."""
        return [p for _, p in self.unseen_score_files()] if table == "table3" else self.metrics_files(table)

    def vs_paper_args(self, table: str) -> str:
        """``sapt report-table`` arguments of a table's comparison with the paper (``--vs-paper`` is added by the
        rule): the table's own arguments, so the compared cells are the table's."""
        import shlex

        if table == "table3":
            methods = self.experiment("table3")["methods"]
            unseen = " ".join(shlex.quote(f"{m}={p}") for m, p in self.unseen_score_files())
            return (f"--unseen {unseen} --methods {' '.join(methods)} --benchmarks {self.config['benchmarks_file']} "
                    f"{self.labels_arg(methods)}").rstrip()
        return f"--metrics {' '.join(self.metrics_files(table))} {self.table_args(table)}"

    def table_manifests(self, benchmark: str | None) -> list[str]:
        """Manifests of every task of a benchmark (first seed), for the split sizes of Tables 4-6."""
        if benchmark is None:
            return []
        from sapt_core.benchmarks import get_benchmark

        seed = self.seeds()[0]
        return [self.data_dir(benchmark, t, seed) + "/manifest.json"
                for t in get_benchmark(self.benchmarks, benchmark).tasks]

    def final_step_files(self, experiment: str, name: str) -> list[str]:
        """``step<T>/<name>`` of every SAPT run of an experiment (the heat maps of Figures 3, 9-12)."""
        return [f"{self.run_dir(*r)}/step{len(self.order_tasks(r[0], r[1]))}/{name}"
                for r in self.runs(experiment) if r[3].startswith("sapt-")]


    # ---- figures (Figures 3, 4, 5, 7, 8, 9-12) -------------------------------------------------------------------
    def figure_experiment(self, figure: str) -> str:
        """The experiment whose runs a figure plots: its own ``experiments.<figure>`` entry; Figure 8 falls back to
        ``table1`` (the paper draws it from the main runs)."""
        exps = self.config.get("experiments", {})
        if figure == "figure8" and figure not in exps:
            return "table1"
        return figure

    def figure_configured(self, figure: str) -> bool:
        """Whether a figure has runs to plot: its experiment is declared (and, for the heat maps, holds a SAPT
        method). Unconfigured figures are not scheduled by ``all_tables``; asking for one by name is an error."""
        exp = self.config.get("experiments", {}).get(self.figure_experiment(figure))
        if exp is None:
            return False
        return any(m.startswith("sapt-") for m in exp["methods"]) if figure in ATTENTION_FIGURES else True

    def figure_outputs(self) -> list[str]:
        return [f"results/figures/{f}.png" for f in sorted(FIGURES, key=lambda f: int(f[6:]))
                if self.figure_configured(f)]

    def _figure_checked(self, figure: str) -> str:
        exp = self.figure_experiment(figure)
        if exp not in self.config.get("experiments", {}):
            raise SaptError(f"config experiments: no experiment {exp!r}, so {figure} has no runs to plot")
        if not self.figure_configured(figure):
            raise SaptError(f"config experiments.{exp}: {figure} plots shared attention, but the experiment lists no "
                            f"SAPT method (methods: {', '.join(self.experiment(exp)['methods'])})")
        return exp

    def attention_figure_inputs(self, figure: str) -> dict:
        exp = self._figure_checked(figure)
        return {"states": self.final_step_files(exp, "state/state.safetensors"),
                "attention": self.final_step_files(exp, "attention.json")}

    def attention_figure_runs(self, figure: str) -> list[str]:
        return self.sapt_run_dirs(self._figure_checked(figure))

    def figure_metrics(self, figure: str) -> list[str]:
        return self.metrics_files(self._figure_checked(figure))

    def figure_args(self, figure: str) -> str:
        """``--methods`` (series order) and ``--backbones`` (x-axis order) of a metrics figure."""
        exp = self.experiment(self._figure_checked(figure))
        return (f"--methods {' '.join(exp['methods'])} --backbones {' '.join(exp['backbones'])} "
                f"{self.labels_arg(exp['methods'])}").rstrip()

    def figure_sources(self, figure: str) -> list[str]:
        return self.attention_figure_runs(figure) if figure in ATTENTION_FIGURES else self.figure_metrics(figure)

    def report_outputs(self) -> list[str]:
        """Every table and figure ``all_tables`` builds (figures only where their runs are configured), each result
        table's comparison with the paper, and results/runs.csv (every run's metrics)."""
        exps = self.config.get("experiments", {})
        out = [f"results/tables/{t}.md" for t in RESULT_TABLES if t in exps]
        out += ["results/tables/table3.md"] if "table3" in exps else []
        out += [f"results/tables/{t}.md" for t in STATIC_TABLES]
        out += [f"results/tables/{t}{VS_PAPER_SUFFIX}.md" for t in PAPER_TABLES if t in exps]
        out += [RUNS_CSV] if self.all_metrics_files() else []
        return out + self.figure_outputs()

    def all_metrics_files(self) -> list[str]:
        """The metrics.json of every run of every configured experiment, once each (results/runs.csv)."""
        return sorted({f for e in self.config.get("experiments", {}) for f in self.metrics_files(e)})

    def index_args(self) -> str:
        """``--entry FILE SOURCES...`` of every report output, for ``sapt report-index``."""
        entries = []
        for f in self.report_outputs():
            stem = f.rsplit("/", 1)[1].split(".")[0]
            if stem in STATIC_TABLES:
                srcs = [self.config["benchmarks_file"]] + self.table_manifests(STATIC_TABLES[stem])
            elif stem.startswith("figure"):
                srcs = self.figure_sources(stem)
            elif stem.endswith(VS_PAPER_SUFFIX):
                srcs = [PAPER_RESULTS] + self.vs_paper_inputs(stem[: -len(VS_PAPER_SUFFIX)])
            elif stem == "table3":
                srcs = [p for _, p in self.unseen_score_files()]
            elif f == RUNS_CSV:
                srcs = self.all_metrics_files()
            else:
                srcs = self.metrics_files(stem)
            entries.append("--entry " + " ".join([f, *srcs]))
        return " ".join(entries)
