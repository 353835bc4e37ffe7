"""From the workflow config's ``experiments`` to runs: a run is (benchmark, order, backbone, method, seed); a table or
figure needs the runs of its experiment (methods x backbones x benchmarks x orders[benchmark] x seeds)."""

from __future__ import annotations

from sapt_core import layout
from sapt_core.errors import SaptError, known_text
from sapt_core.plan.hparams import split_variant, variant_name

ZERO_SHOT = "zero-shot"  # Table 3's T5-ZS row: the backbone without any PET block (not a method of the methods file)


class ExperimentPlan:
    config: dict

    @property
    def benchmarks(self) -> dict:
        if getattr(self, "_benchmarks", None) is None:
            from sapt_core.settings.benchmarks import load_benchmarks

            self._benchmarks = load_benchmarks(self.config["benchmarks_file"])
        return self._benchmarks

    def benchmark_pattern(self, test_only: bool = False) -> str:
        """A wildcard constraint matching the trainable benchmarks of the benchmarks file (``test_only``: its
        test-only ones), so the data rules serve any benchmark a user adds there."""
        import re

        names = [re.escape(n) for n, b in self.benchmarks.items() if b.test_only == test_only]
        return "|".join(names) or "(?!)"

    def order_tasks(self, benchmark: str, order: str) -> list[str]:
        """The task sequence of an order (paper Table 7), cut to the first ``n_tasks`` for tiny runs."""
        from sapt_core.settings.benchmarks import get_benchmark

        b = get_benchmark(self.benchmarks, benchmark)
        if order not in b.orders:
            raise SaptError(f"config: order {order!r} is not an order of {benchmark}{known_text(b.orders)}")
        n = self.config.get("n_tasks")
        return list(b.orders[order])[: n or None]

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

    def method_defaults(self, method: str):
        """The method with its methods-file defaults (no family/benchmark/order layer, no overrides)."""
        from sapt_core.settings.methods_file import defaults_instance

        return defaults_instance(self.methods, method)

    def replay_variant(self, method: str, kind: str, volume: float) -> str | None:
        """Figure 6's run of ``method`` at one replay type and volume: the method itself when its own values are
        that point, else a variant; None where the method has no such replay type (Replay has no pseudo type)."""
        self.method_info(method)  # an unknown method: one line listing the known ones
        m = self.method_defaults(method)
        knobs = m.replay_knobs()
        if not knobs:
            raise SaptError(f"config experiments.figure6: method {method!r} has no replay volume to vary")
        if kind not in knobs:
            return None
        key, extra = knobs[kind]
        own = self.own_values(method)
        if own[key] == volume and all(own[k] == v for k, v in extra.items()):
            return method  # the method's own default run, shared with the tables
        return variant_name(method, {key: volume, **extra})

    def own_values(self, method: str) -> dict:
        """A method's values before any benchmark / backbone layer: its methods-file defaults, then the workflow's
        protocol and ``method_overrides`` (what its Table 1 run uses for the keys Figure 6 varies)."""
        return {**self.method_defaults(method).values(), **self._overrides(method)}

    def replay_point(self, method: str) -> tuple[str, str, float]:
        """(base method, replay type, volume) of a Figure 6 run."""
        base, variant = split_variant(method)
        m = self.method_defaults(base)
        values = {**self.own_values(base), **variant}
        for kind, (key, extra) in m.replay_knobs().items():
            if all(values.get(k) == v for k, v in extra.items()) and (kind != "pseudo" or values.get(
                    "pseudo_source", "generated") != "real"):
                return base, kind, float(values[key])
        raise SaptError(f"figure6: run of method {method!r} is not a replay-volume point")

    def applies(self, method: str, benchmark: str) -> bool:
        """Whether a method runs on a benchmark (the methods file's ``benchmarks``: EPI on classification only)."""
        if method == ZERO_SHOT:
            return True
        only = self.method_info(method).get("benchmarks")
        return only is None or benchmark in only

    def runs(self, experiment: str) -> list[tuple]:
        """(benchmark, order, backbone, method, seed) of every run an experiment needs; the zero-shot row of Table 3
        trains nothing and is not a run."""
        exp = self.experiment(experiment)
        return [(b, o, bb, m, s) for b in exp["benchmarks"] for o in self.config["orders"][b]
                for bb in exp["backbones"] for m in self.experiment_methods(experiment)
                if m != ZERO_SHOT and self.applies(m, b) for s in self.seeds(exp)]

    def has_attention(self, method: str) -> bool:
        """Whether a method's states hold shared attention to plot (the heat maps of Figures 3, 9-12)."""
        from sapt_core.methods import component

        return method != ZERO_SHOT and component(self.method_info(method)["component"]).has_attention

    def attention_run_dirs(self, experiment: str) -> list[str]:
        return [layout.run_dir(*r) for r in self.runs(experiment) if self.has_attention(r[3])]

    def metrics_files(self, experiment: str) -> list[str]:
        return [layout.metrics_file(*r) for r in self.runs(experiment)]
