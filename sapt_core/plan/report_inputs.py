"""What the report rules read and pass: the metrics files, state and attention files of the runs each table and
figure declares, the paper's labels of their methods, and the results index."""

from __future__ import annotations

import shlex

from sapt_core import layout
from sapt_core.errors import SaptError
from sapt_core.plan.experiments import ZERO_SHOT
from sapt_core.report.registry import (AP_DIFF_SUFFIX, ATTENTION_FIGURES, FIGURES, PAPER_RESULTS, PAPER_TABLES,
                                       PER_ORDER, RESULT_TABLES, STATIC_TABLES, VS_PAPER_SUFFIX)


class ReportPlan:
    config: dict

    def labels_arg(self, methods: list[str]) -> str:
        """``--labels`` of a table / figure job: the paper's name of each listed method (``label`` in the methods
        file, e.g. ``- ARM`` for sapt-lora-noarm; ``Zero-shot`` for Table 3's backbone row), shell-quoted."""
        labels = {m: ("Zero-shot" if m == ZERO_SHOT else self.method_info(m)["label"]) for m in methods
                  if "~" not in m}  # a variant (Figure 6) is named by its series, not its own label
        items = [shlex.quote(f"{m}={lab}") for m, lab in labels.items() if lab != m]
        return f"--labels {' '.join(items)}" if items else ""

    def report_labels(self) -> dict[str, str]:
        """The paper's name of every method the experiments list (methods file ``label``; Table 3's backbone row:
        ``Zero-shot``), for the report's front page (workflow/report/workflow.rst)."""
        listed = dict.fromkeys(m for e in self.config.get("experiments", {}).values() for m in e["methods"])
        return {m: "Zero-shot" if m == ZERO_SHOT else self.method_info(m)["label"] for m in listed}

    def table_args(self, table: str) -> str:
        exp = self.experiment(table)
        orders = [o for b in exp["benchmarks"] for o in self.config["orders"][b]]
        backbone = f"--backbone {exp['backbones'][0]}" if len(exp["backbones"]) == 1 else ""
        na = [f"{m}:{b}" for m in exp["methods"] for b in exp["benchmarks"] if not self.applies(m, b)]
        formulas = self.config.get("formulas") or "paper"
        return ((f"--not-applicable {' '.join(na)} " if na else "") +
                (f"--formulas {formulas} " if formulas != "paper" else "") +
                f"--methods {' '.join(exp['methods'])} --orders {' '.join(orders)} "
                f"--seeds {' '.join(map(str, self.seeds(exp)))} --benchmarks {self.config['benchmarks_file']} "
                f"{backbone} {self.labels_arg(exp['methods'])}").rstrip()

    def orders_table_args(self) -> str:
        """``--orders`` of Table 7: the paper's orders, then the configured ones that are not (the demo chains)."""
        paper = [o for b in self.benchmarks.values() for o in b.paper_orders]
        run = [o for b in sorted(self.config["orders"]) for o in self.config["orders"][b] if o not in paper]
        return f"--orders {' '.join(paper + run)}"

    def compares_with_paper(self, table: str) -> bool:
        """Whether a table's experiment runs on a benchmark the paper published the table for (a per-order table:
        its paper's benchmark; Tables 1 / 2: SuperNI or Long Sequence; Table 3: always), so that its comparison
        with the paper (``<table>_vs_paper``) is built; a table on benchmarks of one's own alone has none."""
        if table == "table3":
            return True
        benches = self.experiment(table)["benchmarks"]
        return PER_ORDER[table] in benches if table in PER_ORDER else bool(set(benches) & set(PER_ORDER.values()))

    def vs_paper_inputs(self, table: str) -> list[str]:
        """The files a table's comparison with the paper is computed from: the table's own inputs (Table 3: the
        unseen-task scores; Tables 1, 2, 8, 9: the runs' metrics)."""
        return [p for _, p in self.unseen_score_files()] if table == "table3" else self.metrics_files(table)

    def vs_paper_args(self, table: str) -> str:
        """``sapt report-table`` arguments of a table's comparison with the paper (``--vs-paper`` is added by the
        rule): the table's own arguments, so the compared cells are the table's."""
        if table == "table3":
            methods = self.experiment("table3")["methods"]
            unseen = " ".join(shlex.quote(f"{m}={p}") for m, p in self.unseen_score_files())
            return (f"--unseen {unseen} --methods {' '.join(methods)} --benchmarks {self.config['benchmarks_file']} "
                    f"{self.labels_arg(methods)}").rstrip()
        return f"--metrics {' '.join(self.metrics_files(table))} {self.table_args(table)}"

    # ---- each result table's AP differences with their intervals (<table>_ap_diff) ----------------------------------
    def reference_method(self, table: str) -> str:
        """The method a result table's companion compares every row with: ``experiments.<table>.reference_method``,
        else the first SAPT method listed (a method with shared attention), else the first one."""
        exp = self.experiment(table)
        if exp.get("reference_method"):
            return exp["reference_method"]
        return next((m for m in exp["methods"] if m != ZERO_SHOT and self.has_attention(m)), exp["methods"][0])

    def last_step_predictions(self, table: str) -> list[str]:
        """``step<T>/predictions.jsonl`` of every run of an experiment (MTL trains step T alone: the same file)."""
        return [layout.step_predictions(*r, len(self.order_tasks(r[0], r[1]))) for r in self.runs(table)]

    def ap_diff_args(self, table: str) -> str:
        """``sapt report-table`` arguments of a result table's companion (``--predictions`` is added by the rule):
        the reference, the bootstrap's replicates and seed (``bootstrap``), and the table's own rows and cells."""
        boot = self.config.get("bootstrap") or {}
        return (f"--ap-diff {self.reference_method(table)} --bootstrap-replicates {boot.get('replicates', 1000)} "
                f"--bootstrap-seed {boot.get('seed', 0)} {self.table_args(table)}")

    def _table_tasks(self, benchmark: str | None) -> list[tuple[str, str]]:
        """(task, seed) of every task of a benchmark (first seed), for the split sizes of Tables 4-6."""
        if benchmark is None:
            return []
        from sapt_core.settings.benchmarks import get_benchmark

        seed = self.seeds()[0]
        return [(t, seed) for t in get_benchmark(self.benchmarks, benchmark).tasks]

    def table_manifests(self, benchmark: str | None) -> list[str]:
        """Manifests of every task of a benchmark (first seed), for the split sizes of Tables 4-6."""
        return [self.data_manifest(benchmark, t, seed) for t, seed in self._table_tasks(benchmark)]

    def table_manifests_arg(self, benchmark: str | None) -> str:
        """``--manifests``: the data directories of those manifests (none: empty)."""
        dirs = [self.data_dir(benchmark, t, seed) for t, seed in self._table_tasks(benchmark)]
        return f"--manifests {' '.join(dirs)}" if dirs else ""

    def final_step_files(self, experiment: str, path) -> list[str]:
        """``path(*run, T)`` (a :mod:`sapt_core.layout` function of step T) of every attention run of an
        experiment (the heat maps of Figures 3, 9-12)."""
        return [path(*r, len(self.order_tasks(r[0], r[1]))) for r in self.runs(experiment) if self.has_attention(r[3])]

    # ---- figures (Figures 3-12) -------------------------------------------------------------------------------
    def figure_experiment(self, figure: str) -> str:
        """The experiment whose runs a figure plots: its own ``experiments.<figure>`` entry; Figure 8 falls back to
        ``table1`` (the paper draws it from the main runs)."""
        if figure == "figure8" and figure not in self.config.get("experiments", {}):
            return "table1"
        return figure

    def figure_configured(self, figure: str) -> bool:
        """Whether a figure has runs to plot: its experiment is declared (and, for the heat maps, holds a method with
        shared attention). Unconfigured figures are not scheduled by ``all_tables``; asking for one is an error."""
        exp = self.config.get("experiments", {}).get(self.figure_experiment(figure))
        if exp is None:
            return False
        return any(self.has_attention(m) for m in exp["methods"]) if figure in ATTENTION_FIGURES else True

    def configured_figures(self) -> list[str]:
        """The figures whose runs are configured, in the paper's numbering."""
        return [f for f in sorted(FIGURES, key=lambda f: int(f[6:])) if self.figure_configured(f)]

    def figure_outputs(self) -> list[str]:
        return [layout.figure_file(f) for f in self.configured_figures()]

    def _figure_checked(self, figure: str) -> str:
        exp = self.figure_experiment(figure)
        if exp not in self.config.get("experiments", {}):
            raise SaptError(f"config experiments: no experiment {exp!r}, so {figure} has no runs to plot")
        if not self.figure_configured(figure):
            raise SaptError(f"config experiments.{exp}: {figure} plots shared attention, but the experiment lists no "
                            f"method with shared attention (methods: {', '.join(self.experiment(exp)['methods'])})")
        return exp

    def attention_figure_inputs(self, figure: str) -> dict:
        exp = self._figure_checked(figure)
        return {"states": self.final_step_files(exp, layout.state_file),
                "attention": self.final_step_files(exp, layout.step_attention)}

    def attention_figure_runs(self, figure: str) -> list[str]:
        return self.attention_run_dirs(self._figure_checked(figure))

    def figure_metrics(self, figure: str) -> list[str]:
        return self.metrics_files(self._figure_checked(figure))

    def figure_args(self, figure: str) -> str:
        """``--methods`` (series order), ``--backbones`` (x-axis order) and labels of a metrics figure."""
        exp = self.experiment(self._figure_checked(figure))
        return (f"--methods {' '.join(exp['methods'])} --backbones {' '.join(exp['backbones'])} "
                f"{self.labels_arg(exp['methods'])}").rstrip()

    def replay_points_arg(self, figure: str = "figure6") -> str:
        """``--points METHOD=SERIES:TYPE:VOLUME ...`` of the Figure 6 job: each run method's base method, replay type
        and volume (:mod:`sapt_core.report.replay_figure`), shell-quoted."""
        exp = self._figure_checked(figure)
        items = [f"{m}={':'.join(map(str, self.replay_point(m)))}" for m in self.experiment_methods(exp)]
        return "--points " + " ".join(map(shlex.quote, items))

    def figure_sources(self, figure: str) -> list[str]:
        return self.attention_figure_runs(figure) if figure in ATTENTION_FIGURES else self.figure_metrics(figure)

    def _report_entries(self) -> list[tuple]:
        """(file, a function giving the files it is built from) of every table and figure ``all_tables`` builds
        (figures only where their runs are configured), each result table's comparison with the paper and its AP
        differences (``<table>_ap_diff``), and results/runs.csv (every run's metrics)."""
        exps = self.config.get("experiments", {})
        out = [(layout.table_file(t), lambda t=t: self.metrics_files(t)) for t in RESULT_TABLES if t in exps]
        if "table3" in exps:
            out.append((layout.table_file("table3"), lambda: [p for _, p in self.unseen_score_files()]))
        out += [(layout.table_file(t), lambda b=b: [self.config["benchmarks_file"]] + self.table_manifests(b))
                for t, b in STATIC_TABLES.items()]
        out += [(layout.table_file(f"{t}{VS_PAPER_SUFFIX}"), lambda t=t: [PAPER_RESULTS] + self.vs_paper_inputs(t))
                for t in PAPER_TABLES if t in exps and self.compares_with_paper(t)]
        out += [(layout.table_file(f"{t}{AP_DIFF_SUFFIX}"), lambda t=t: self.last_step_predictions(t))
                for t in RESULT_TABLES if t in exps]
        out += [(layout.RUNS_CSV, self.all_metrics_files)] if self.all_metrics_files() else []
        return out + [(layout.figure_file(f), lambda f=f: self.figure_sources(f)) for f in self.configured_figures()]

    def report_outputs(self) -> list[str]:
        return [f for f, _ in self._report_entries()]

    def all_metrics_files(self) -> list[str]:
        """The metrics.json of every run of every configured experiment, once each (results/runs.csv)."""
        return sorted({f for e in self.config.get("experiments", {}) for f in self.metrics_files(e)})

    def index_args(self) -> str:
        """``--entry FILE SOURCES...`` of every report output, for ``sapt report-index``."""
        return " ".join("--entry " + " ".join([f, *sources()]) for f, sources in self._report_entries())
