"""The inputs and per-job arguments of the model rules: data slices, training steps, pseudo inputs, generators,
evaluation, the single-task runs of FWT and the unseen tasks of Table 3. Each rule gets only its own job's values."""

from __future__ import annotations

import hashlib
import json

from sapt_core import layout
from sapt_core.errors import SaptError
from sapt_core.plan.experiments import ZERO_SHOT


class JobPlan:
    config: dict

    # ---- data ---------------------------------------------------------------------------------------------------
    def data_protocol(self, benchmark: str) -> str:
        """The data protocol of a benchmark: ``data.benchmark_protocol`` (per benchmark), else ``data.protocol``."""
        d = self.config["data"]
        return (d.get("benchmark_protocol") or {}).get(benchmark, d["protocol"])

    def data_dir(self, benchmark: str, task: str, seed) -> str:
        return layout.data_dir(self.data_protocol(benchmark), seed, benchmark, task)

    def data_manifest(self, benchmark: str, task: str, seed) -> str:
        """A prepared task's manifest: the file that stands for its data directory in a rule's inputs."""
        return layout.data_manifest(self.data_protocol(benchmark), seed, benchmark, task)

    def data_caps_args(self, test_only: bool = False) -> str:
        d = self.config["data"]
        keys = ("n_test",) if test_only else ("n_train", "n_val", "n_test")
        return " ".join(f"--{k.replace('_', '-')} {d[k]}" for k in keys if d.get(k))

    def step_data_dir(self, benchmark, order, seed, k) -> str:
        """The data slice that step k of a run trains on."""
        return self.data_dir(benchmark, self.order_tasks(benchmark, order)[int(k) - 1], seed)

    def eval_data_dirs(self, benchmark, order, seed, k) -> list[str]:
        return [self.data_dir(benchmark, t, seed) for t in self.order_tasks(benchmark, order)[: int(k)]]

    def eval_manifests(self, benchmark, order, seed, k) -> list[str]:
        """The manifests of the tasks step k is scored on (tasks 1..k)."""
        return [self.data_manifest(benchmark, t, seed) for t in self.order_tasks(benchmark, order)[: int(k)]]

    # ---- training steps -------------------------------------------------------------------------------------------
    def step_args(self, method, backbone, benchmark, order) -> str:
        """Every value of the job's method as ``sapt train-step`` flags."""
        import shlex

        from sapt_core.methods.keys import cli_args
        from sapt_core.settings.methods_file import values_of

        values = self.with_grad_accum(values_of(self.hparams(method, backbone, benchmark, order)), backbone,
                                      f"methods.{method}")
        self.check_selection_engine(values, backbone, method)
        return " ".join(shlex.quote(a) for a in cli_args(values))

    def check_selection_engine(self, values: dict, backbone: str, method: str) -> None:
        """Model selection keeps the best epoch's trainable tensors, read whole on one rank; ZeRO-3 partitions them
        over the ranks, so that combination is refused here, before any job is submitted (as at run time)."""
        from sapt_core.training.ranks import zero_stage

        ds = (self.backbone(backbone).get("resources") or {}).get("deepspeed")
        if values.get("selection", "none") != "none" and ds and zero_stage(ds) == 3:
            raise SaptError(f"protocol.selection {values['selection']!r} ({method} on backbone {backbone}): model "
                            f"selection is not supported under ZeRO-3 ({ds}); use selection none or ZeRO-2")

    def with_grad_accum(self, values: dict, backbone: str, where: str) -> dict:
        """``values`` with the gradient accumulation that keeps the method's global batch (App. C's batch sizes are
        totals) on the backbone's ranks (``resources.gpu``, at least 1): a site that changes the GPU count keeps
        the paper's batch. One line naming the key when it does not divide."""
        from sapt_core.methods.base import grad_accum_for

        ranks = max(int(self.resources(backbone, "gpu")), 1)
        g, b = values["global_batch"], values["batch_size"]
        where = (f"{self.config.get('methods_file', 'config/methods.yaml')} {where}.global_batch (backbone {backbone}: "
                 f"{ranks} rank(s), backbones.{backbone}.resources.gpu)")
        accum = grad_accum_for(g, b, ranks, where)
        if values.get("grad_accum") not in (None, accum):
            raise SaptError(f"{where}: grad_accum {values['grad_accum']} gives {b} x {values['grad_accum']} x {ranks} "
                            f"= {b * values['grad_accum'] * ranks}, not global_batch {g} (leave grad_accum unset)")
        return {**values, "grad_accum": accum}

    def pseudo_path(self, method, backbone, benchmark, order, seed, task) -> str:
        spec = self.method(method, backbone, benchmark, order).pseudo()
        return layout.pseudo_file(benchmark, backbone, spec.pet, seed, spec.source, spec.volume, task)

    def _step(self, wc):
        """(the chain's tasks, the job's method) of step k of a run, k checked against the chain."""
        k, tasks = int(wc.k), self.order_tasks(wc.benchmark, wc.order)
        if not 1 <= k <= len(tasks):
            raise SaptError(f"step {k}: the {wc.order} chain has {len(tasks)} tasks")
        return tasks, self.method(wc.method, wc.backbone, wc.benchmark, wc.order)

    @staticmethod
    def _starts_from_state(k: int, method) -> bool:
        """Whether step k starts from state k-1 (MTL's step k starts from scratch: no state k-1)."""
        return k > 1 and not method.last_step_only()

    def step_inputs(self, wc) -> dict:
        k = int(wc.k)
        tasks, method = self._step(wc)
        needs = method.needs(k)
        out = {"backbone": self.backbone_input(wc.backbone),
               "data": self.data_manifest(wc.benchmark, tasks[k - 1], wc.seed),
               "pseudo": [self.pseudo_path(wc.method, wc.backbone, wc.benchmark, wc.order, wc.seed, t)
                          for t in tasks[: needs.pseudo]],
               "replay": [self.data_manifest(wc.benchmark, t, wc.seed) for t in tasks[: needs.replay]]}
        if self._starts_from_state(k, method):
            out["state"] = layout.state_file(wc.benchmark, wc.order, wc.backbone, wc.method, wc.seed, k - 1)
        owner = self._first_step_taken(wc)
        if owner:  # its step 1 is an equal run's state, scored as its own
            out["first_step"] = f"{owner}/{layout.STATE_TENSORS}"
        return out

    def state_in_args(self, wc) -> str:
        """Where step k starts: ``--state-in`` state k-1, or (MTL, a fresh block on tasks 1..k) ``--step k``; a
        shared step 1 names the state it takes (``--first-step-from``)."""
        k = int(wc.k)
        if self._starts_from_state(k, self._step(wc)[1]):
            return f"--state-in {layout.state_dir(wc.benchmark, wc.order, wc.backbone, wc.method, wc.seed, k - 1)}"
        owner = self._first_step_taken(wc)
        if owner:
            return f"--first-step-from {owner}"
        return f"--step {wc.k}" if k > 1 else ""

    # ---- shared first steps -------------------------------------------------------------------------------------
    def first_step_owner(self, benchmark, order, backbone, method, seed) -> str | None:
        """The state directory this run takes as its step 1 instead of training it, or None (it trains it): the
        first, in config order, of the single-task runs a_{0,t} (trained for FWT anyway) and the configured runs on
        the same benchmark, first task, backbone and seed whose method has an equal
        :meth:`~sapt_core.methods.base.Method.first_step_key` (docs/methods.md "Shared first steps")."""
        key = self._first_step_key(benchmark, order, backbone, self.method(method, backbone, benchmark, order), seed)
        if key is None:
            return None
        mine = layout.state_dir(benchmark, order, backbone, method, seed, 1)
        owner = self._first_step_owners().setdefault(key, mine)
        return None if owner == mine else owner

    def _first_step_taken(self, wc) -> str | None:
        """The state a step job takes as its step 1 (only step 1 of a run whose owner is another)."""
        if int(wc.k) != 1:
            return None
        return self.first_step_owner(wc.benchmark, wc.order, wc.backbone, wc.method, wc.seed)

    def _first_step_owners(self) -> dict[str, str]:
        """First-step key -> the state directory that trains it, over every configured run and its single-task runs."""
        owners = self.__dict__.get("_first_step_owner_dirs")
        if owners is not None:
            return owners
        from sapt_core.methods.single_block import reference_method

        owners = self.__dict__["_first_step_owner_dirs"] = {}
        runs = [(r, self.method(r[3], r[2], r[0], r[1])) for exp in self.config.get("experiments", {})
                for r in self.runs(exp)]
        for (b, o, bb, m, s), method in runs:
            if not method.ap_only():
                ref, single = self.reference(m, bb, b, o), reference_method(method)
                for t in self.order_tasks(b, o):
                    owners.setdefault(self._first_step_key(b, None, bb, single, s, task=t),
                                      layout.single_task_state_dir(b, bb, ref, s, t))
        for (b, o, bb, m, s), method in runs:
            key = self._first_step_key(b, o, bb, method, s)
            if key is not None:
                owners.setdefault(key, layout.state_dir(b, o, bb, m, s, 1))
        return owners

    def _first_step_key(self, benchmark, order, backbone, method, seed, task: str | None = None) -> str | None:
        key = method.first_step_key()
        if key is None:
            return None
        task = task or self.order_tasks(benchmark, order)[0]
        return json.dumps([benchmark, self.data_protocol(benchmark), task, backbone, str(seed), key], sort_keys=True)

    def replay_args(self, wc) -> str:
        """``--replay-data``: the data directories of the earlier tasks whose samples step k replays (or nothing)."""
        tasks, method = self._step(wc)
        dirs = [self.data_dir(wc.benchmark, t, wc.seed) for t in tasks[: method.needs(int(wc.k)).replay]]
        return f"--replay-data {' '.join(dirs)}" if dirs else ""

    def run_steps(self, method, backbone, benchmark, order) -> list[int]:
        """The steps a run trains and scores: 1..T, or only T for a method whose earlier steps feed nothing
        (MTL: tables and Figure 8 use its AP after the last task; docs/methods.md)."""
        T = len(self.order_tasks(benchmark, order))
        return [T] if self.method(method, backbone, benchmark, order).last_step_only() else list(range(1, T + 1))

    def step_scores_files(self, method, backbone, benchmark, order, seed) -> list[str]:
        """The score-matrix rows of a run (``step<k>/scores.json`` of each step it scores), in step order."""
        return [layout.step_scores(benchmark, order, backbone, method, seed, k)
                for k in self.run_steps(method, backbone, benchmark, order)]

    def eval_args(self, method=None, backbone=None, benchmark=None, order=None) -> str:
        """Decoding settings of an evaluation: the method's (for zero-shot: the ``single-task`` entry's)."""
        if method is None or method == ZERO_SHOT:
            method = "single-task"
        h = self.hparams(method, backbone, benchmark, order) if backbone else self._zero_shot_hparams()
        return (f"--batch-size {h['eval_batch_size']} --max-new-tokens {h['max_new_tokens']} "
                f"--max-source-len {h['max_source_len']}")

    def _zero_shot_hparams(self) -> dict:
        backbone = next(iter(self.config["backbones"]))
        return self.hparams("single-task", backbone, None, None)

    def run_metrics_args(self, method, backbone, benchmark, order) -> str:
        """MTL (a fresh block on the union of tasks, trained once after the last task): only AP applies."""
        return "--ap-only" if self.method(method, backbone, benchmark, order).ap_only() else ""

    # ---- single-task runs a_{0,t} (FWT) -----------------------------------------------------------------------------
    def reference(self, method, backbone, benchmark, order) -> str:
        """The name of a method's single-task recipe (``<pet>-<hash of its values>``): every method with the same
        recipe for a (benchmark, backbone) shares its single-task jobs."""
        values = self.method(method, backbone, benchmark, order).reference()
        ref = f"{values['pet']}-{hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:10]}"
        self.__dict__.setdefault("_references", {})[ref] = values
        return ref

    def reference_values(self, ref: str) -> dict:
        refs = self.__dict__.setdefault("_references", {})
        if ref not in refs:  # asked for before any run named it (a target given by path): scan every run
            for exp in self.config.get("experiments", {}):
                for b, o, bb, m, _ in self.runs(exp):
                    if not self.method(m, bb, b, o).ap_only():
                        self.reference(m, bb, b, o)
        if ref not in refs:
            raise SaptError(f"single-task recipe {ref!r}: no method of the configured experiments uses it")
        return refs[ref]

    def reference_args(self, ref: str, backbone: str) -> str:
        import shlex

        from sapt_core.methods.keys import cli_args

        values = self.with_grad_accum(self.reference_values(ref), backbone, f"single-task recipe {ref}")
        return " ".join(shlex.quote(a) for a in cli_args(values))

    def reference_eval_args(self, ref: str) -> str:
        v = self.reference_values(ref)
        return (f"--batch-size {v['eval_batch_size']} --max-new-tokens {v['max_new_tokens']} "
                f"--max-source-len {v['max_source_len']}")

    def single_task_scores(self, method, backbone, benchmark, order, seed) -> list[str]:
        if self.method(method, backbone, benchmark, order).ap_only():
            return []
        ref = self.reference(method, backbone, benchmark, order)
        return [layout.single_task_scores(benchmark, backbone, ref, seed, t) for t in self.order_tasks(benchmark, order)]

    def demo_targets(self) -> list[str]:
        out = []
        for r in self.config.get("demo", {}).get("runs", []):
            ref = self.reference(r["method"], r["backbone"], r["benchmark"], None)
            out.append(layout.single_task_scores(r["benchmark"], r["backbone"], ref, r["seed"], r["task"]))
        return out

    # ---- ARM: generators and pseudo inputs ----------------------------------------------------------------------
    def pseudo_inputs(self, wc) -> dict:
        out = {"manifest": self.data_manifest(wc.benchmark, wc.task, wc.seed)}
        if wc.source == "generated":
            out["generator"] = layout.generator_file(wc.benchmark, wc.backbone, wc.pet, wc.seed, wc.task)
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
        """ARM generator settings of a PET type (methods file), with the config's ``generator_overrides``."""
        gen = self.methods["generator"][pet]
        return {**gen, **(self.config.get("generator_overrides") or {})}

    def logger_args(self, rule: str, *parts) -> str:
        """A training job's logger flags (config ``logging.report_to``; none: no flag, the command unchanged): the run
        is named after the job's results path, TensorBoard writes under :func:`sapt_core.layout.trainer_log_dir`."""
        to = (self.config.get("logging") or {}).get("report_to", "none")
        if to == "none":
            return ""
        name = "/".join([rule, *map(str, parts)])
        return f"--report-to {to} --run-name {name} --logging-dir {layout.trainer_log_dir(rule, *parts)}"

    def generator_args(self, pet: str, backbone: str) -> str:
        """Every key of the PET type's generator (:mod:`sapt_core.arm.settings`) as ``sapt train-generator`` flags;
        a ``max_steps`` of ``generator_overrides`` bounds the prompt generator too (its own key is ``epochs``)."""
        import dataclasses
        import shlex

        from sapt_core.arm.settings import GENERATORS
        from sapt_core.methods.keys import cli_args

        g = self.generator(pet)
        keys = [f.name for f in dataclasses.fields(GENERATORS[pet])]
        values = {"pet": pet, **{k: g[k] for k in keys}}
        if "max_steps" in g:
            values["max_steps"] = g["max_steps"]
        self.check_generator_engine(values["optimizer"], pet, backbone)
        return " ".join(shlex.quote(a) for a in cli_args(values))

    def check_generator_engine(self, optimizer: str, pet: str, backbone: str) -> None:
        """Adafactor is refused under DeepSpeed at run time (ZeRO flattens the parameters, which changes its update:
        :class:`sapt_core.training.loop.TrainConfig`), so a generator with that optimizer on a DeepSpeed backbone is
        refused here, before any job is submitted."""
        ds = (self.backbone(backbone).get("resources") or {}).get("deepspeed")
        if ds and optimizer == "adafactor":
            raise SaptError(f"{self.config.get('methods_file', 'config/methods.yaml')} generator.{pet}.optimizer: "
                            f"adafactor is not supported under DeepSpeed (backbone {backbone}: {ds}); use adamw")

    def sampling_args(self, pet: str) -> str:
        """Every sampling key of the PET type's generator as ``sapt generate-pseudo`` flags (``max_new_tokens``:
        ``generator_overrides``' when set)."""
        import shlex

        from sapt_core.methods.keys import cli_args

        g = self.generator(pet)
        values = {**g["sampling"], **({"max_new_tokens": g["max_new_tokens"]} if "max_new_tokens" in g else {})}
        return " ".join(shlex.quote(a) for a in cli_args(values))

    # ---- Table 3: unseen tasks after the last SuperNI step ----------------------------------------------------
    def unseen_data_dirs(self, seed) -> list[str]:
        from sapt_core.settings.benchmarks import get_benchmark
        from sapt_core.report.registry import UNSEEN

        return [self.data_dir(UNSEEN, t, seed) for t in get_benchmark(self.benchmarks, UNSEEN).tasks]

    def unseen_manifests(self, seed) -> list[str]:
        from sapt_core.settings.benchmarks import get_benchmark
        from sapt_core.report.registry import UNSEEN

        return [self.data_manifest(UNSEEN, t, seed) for t in get_benchmark(self.benchmarks, UNSEEN).tasks]

    def final_state_file(self, benchmark, order, backbone, method, seed) -> str:
        """The state after the last step of a run (Table 3 evaluates it on the unseen tasks)."""
        return layout.state_file(benchmark, order, backbone, method, seed, len(self.order_tasks(benchmark, order)))

    def final_state_dir(self, benchmark, order, backbone, method, seed) -> str:
        return layout.state_dir(benchmark, order, backbone, method, seed, len(self.order_tasks(benchmark, order)))

    def unseen_score_files(self) -> list[tuple[str, str]]:
        """(method, unseen-task scores) of every row of Table 3: each SuperNI run's final model, and the backbone
        alone (``zero-shot``, one file per backbone and seed)."""
        from sapt_core.report.registry import UNSEEN

        exp = self.experiment("table3")
        if exp["benchmarks"] != ["SuperNI"]:
            raise SaptError("config experiments.table3.benchmarks: expected [SuperNI] (Table 3 evaluates the final "
                            f"SuperNI model on the unseen SuperNI tasks), got {exp['benchmarks']}")
        out = []
        for m in exp["methods"]:
            if m == ZERO_SHOT:
                out += [(m, layout.zero_shot_scores(UNSEEN, bb, s)) for bb in exp["backbones"] for s in self.seeds(exp)]
            else:
                out += [(m, layout.unseen_scores_file(*r)) for r in self.runs("table3") if r[3] == m]
        return out
