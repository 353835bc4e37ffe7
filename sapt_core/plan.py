"""From the workflow config to per-job paths and arguments (plain Python, no Snakemake import).

Each rule gets only the parameters of its own job (resolved here), so a config edit reruns exactly the jobs whose
parameters changed (design section 2).
"""

from __future__ import annotations

from sapt_core.errors import SaptError


def config_error_line(exc: BaseException) -> str:
    """One line naming the offending config field, from snakemake's wrapped jsonschema ValidationError."""
    err = exc
    while err is not None and not hasattr(err, "absolute_path"):
        err = err.__cause__ or err.__context__ or (err.args[0] if err.args and isinstance(err.args[0], BaseException) else None)
    if err is None:
        return "config: " + " ".join(str(exc).split())
    field = ".".join(str(p) for p in err.absolute_path) or "<top level>"
    return f"config field {field}: {' '.join(err.message.split())}"


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


# paper tables built from run metrics, and tables 4-7 built from the benchmark config (+ data manifests of a benchmark)
RESULT_TABLES = ("table1", "table2", "table8", "table9")
STATIC_TABLES = {"table4": "SuperNI", "table5": "Long_Sequence", "table6": "SuperNI_unseen", "table7": None}


# ---- continual runs (SAPT methods) ------------------------------------------------------------------------------
# hyperparameter keys that reach `sapt train-step` (names as in config/methods.yaml; flags via hparams.to_cli_args)
TRAIN_STEP_KEYS = ("optimizer", "lr", "proj_lr", "weight_decay", "max_grad_norm", "epochs", "batch_size", "grad_accum",
                   "max_source_len", "max_target_len", "max_new_tokens", "eval_batch_size", "eval_every_epochs",
                   "lora_r", "lora_alpha", "lora_dropout", "lora_mixing", "prompt_len", "d_p", "temperature",
                   "lambda", "projection_order", "pool_mask_pads", "kl_direction", "kl_scale_by_gas",
                   "kl_start_step", "attn_split")


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
        if key not in self._hparams:
            mo = self.config.get("method_overrides") or {}
            overrides = {**(mo.get("*") or {}), **(mo.get(method) or {})}
            self._hparams[key] = resolve(self.methods, method, backbone, benchmark, order,
                                         family=self.backbone(backbone)["family"], overrides=overrides or None,
                                         overrides_label=f"config method_overrides ({method})")
        return dict(self._hparams[key])

    @staticmethod
    def run_dir(benchmark, order, backbone, method, seed) -> str:
        return f"results/runs/{benchmark}/{order}/{backbone}/{method}/seed{seed}"

    def train_step_args(self, method, backbone, benchmark, order) -> str:
        from sapt_core.hparams import to_cli_args

        h = self.hparams(method, backbone, benchmark, order)
        return to_cli_args(h, [k for k in TRAIN_STEP_KEYS if k in h])

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
                          for t in tasks[: k - 1]]}
        if k > 1:
            out["state"] = f"{run}/step{k - 1}/state/state.safetensors"
        return out

    def pseudo_inputs(self, wc) -> dict:
        out = {"manifest": self.data_dir(wc.benchmark, wc.task, wc.seed) + "/manifest.json"}
        if wc.source == "generated":
            out["generator"] = (f"results/generators/{wc.benchmark}/{wc.backbone}/{wc.pet}/seed{wc.seed}/"
                                f"{wc.task}/gen.safetensors")
            out["backbone"] = self.backbone_input(wc.backbone)
        elif wc.source != "shipped":
            raise SaptError(f"pseudo source: expected generated or shipped, got {wc.source!r}")
        return out

    def pseudo_args(self, wc, input) -> str:
        data_dir = self.data_dir(wc.benchmark, wc.task, wc.seed)
        if wc.source == "shipped":
            return (f"--source shipped --data-dir {data_dir} --family {self.backbone(wc.backbone)['family']} "
                    f"--data-root {self.data_root} --benchmarks {self.config['benchmarks_file']}")
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

    def runs(self, experiment: str) -> list[tuple]:
        """(benchmark, order, backbone, method, seed) of every run an experiment (table/figure) needs."""
        exp = self.experiment(experiment)
        return [(b, o, bb, m, s) for b in exp["benchmarks"] for o in self.config["orders"][b]
                for bb in exp["backbones"] for m in exp["methods"] for s in self.seeds(exp)]

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
    def table_args(self, table: str) -> str:
        exp = self.experiment(table)
        orders = [o for b in exp["benchmarks"] for o in self.config["orders"][b]]
        seeds = self.seeds(exp)
        backbone = f"--backbone {exp['backbones'][0]}" if len(exp["backbones"]) == 1 else ""
        return (f"--methods {' '.join(exp['methods'])} --orders {' '.join(orders)} "
                f"--seeds {' '.join(map(str, seeds))} --benchmarks {self.config['benchmarks_file']} {backbone}")

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


    def report_outputs(self) -> list[str]:
        """Every table and figure ``all_tables`` builds."""
        exps = self.config.get("experiments", {})
        out = [f"results/tables/{t}.md" for t in RESULT_TABLES if t in exps]
        out += [f"results/tables/{t}.md" for t in STATIC_TABLES]
        if "table1" in exps:
            out += ["results/figures/figure3.png", "results/figures/figure8.png"]
        return out

    def index_args(self) -> str:
        """``--entry FILE SOURCES...`` of every report output, for ``sapt report-index``."""
        entries = []
        for f in self.report_outputs():
            stem = f.rsplit("/", 1)[1].split(".")[0]
            if stem in STATIC_TABLES:
                srcs = [self.config["benchmarks_file"]] + self.table_manifests(STATIC_TABLES[stem])
            elif stem == "figure3":
                srcs = self.sapt_run_dirs("table1")
            elif stem == "figure8":
                srcs = self.metrics_files("table1")
            else:
                srcs = self.metrics_files(stem)
            entries.append("--entry " + " ".join([f, *srcs]))
        return " ".join(entries)
