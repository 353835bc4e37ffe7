"""What the report layer builds: the paper's tables and figures by name, what each shows, and the metrics they carry.

A leaf module (it imports nothing from the project), so the planner, the rules and every report module read the same
names without an import cycle. The paper's published numbers are data, in ``config/paper_results.yaml``
(:mod:`sapt_core.report.paper_results`).
"""

from __future__ import annotations

# ---- tables ----------------------------------------------------------------------------------------------------------
TABLES = ("table1", "table2", "table3", "table8", "table9", "table4", "table5", "table6", "table7")
# built from run metrics (sapt run-metrics): Tables 1, 2 (per benchmark, its orders averaged), 8, 9 (per order)
RESULT_TABLES = ("table1", "table2", "table8", "table9")
# per-order tables, with the paper's benchmark of each (their default orders; an experiment may list any benchmarks).
# Tables 1 / 2 have a column group per benchmark of their experiment, in the benchmarks file's order.
PER_ORDER = {"table8": "SuperNI", "table9": "Long_Sequence"}
# built from the benchmark config (+ the data manifests of a benchmark; Table 7, the task orders, has none)
STATIC_TABLES = {"table4": "SuperNI", "table5": "Long_Sequence", "table6": "SuperNI_unseen", "table7": None}
DATASET_TABLES = {t: b for t, b in STATIC_TABLES.items() if b is not None}
UNSEEN = "SuperNI_unseen"  # Table 3 (paper section 6.4): the final SuperNI model on the unseen tasks
# tables whose published numbers are transcribed (config/paper_results.yaml): each gets a `<table>_vs_paper` companion
PAPER_TABLES = ("table1", "table2", "table3", "table8", "table9")
VS_PAPER_SUFFIX = "_vs_paper"
PAPER_RESULTS = "config/paper_results.yaml"
# each result table's companion: every method's AP minus the reference method's, with a 95% paired-bootstrap interval
AP_DIFF_SUFFIX = "_ap_diff"

# the metrics of a result table (paper section 5.1.2) with the better direction, as the paper's column headers show it
METRICS = (("AP", "↑"), ("F.Ra", "↓"), ("FWT", "↑"), ("BWT", "↑"))
# metric variant -> (metrics.json block, what it measures)
VARIANTS = {"paper": ("metrics", "task metric: accuracy for classification, Rouge-L otherwise (paper section 5.1.2)"),
            "rougeL_all": ("metrics_rougeL_all", "Rouge-L for every task (official score.py)")}

# ---- figures ---------------------------------------------------------------------------------------------------------
ATTENTION_FIGURES = ("figure3", "figure9", "figure10", "figure11", "figure12")
METRIC_FIGURES = {"figure4": "scale", "figure5": "architecture", "figure6": "replay", "figure7": "architecture"}
FIGURES = ("figure8", *ATTENTION_FIGURES, *METRIC_FIGURES)
# what the paper's figure shows (the caption's subject); the plotted runs are whatever the experiment declares
FIGURE_PAPER = {
    "figure3": "paper: SAPT-Prompt, Long Sequence (T5-large)",
    "figure4": "paper: T5 sizes large / XL / XXL",
    "figure5": "paper: T5 vs LLaMA-2, SuperNI",
    "figure6": "paper App. E.2: replay volume and type, T5-large",
    "figure7": "paper: T5 vs LLaMA-2, Long Sequence",
    "figure8": "paper: T5-large, SuperNI and Long Sequence",
    "figure9": "paper: SAPT-Prompt, SuperNI (T5-large)",
    "figure10": "paper: SAPT-Prompt, Long Sequence (T5-large)",
    "figure11": "paper: SAPT-LoRA, SuperNI (T5-large)",
    "figure12": "paper: SAPT-LoRA, Long Sequence (T5-large)",
}

# ---- results/README.md: what each output is -------------------------------------------------------------------------
WHAT = {
    "table1": "overall results per benchmark (orders averaged): AP, F.Ra, FWT, BWT (paper Table 1)",
    "table2": "ablations of SAPT-LoRA (paper Table 2)",
    "table3": "unseen SuperNI tasks by category (paper Table 3)",
    "table4": "SuperNI tasks, categories, metrics, split sizes (paper Table 4)",
    "table5": "Long Sequence tasks, categories, metrics, split sizes (paper Table 5)",
    "table6": "unseen SuperNI tasks (paper Table 6)",
    "table7": "task orders (paper Table 7)",
    "table8": "results per task order (paper Table 8: the SuperNI orders)",
    "table9": "results per task order (paper Table 9: the Long Sequence orders)",
    "figure3": "shared-attention heat maps, learning time vs test time (paper Figure 3: SAPT-Prompt, Long Sequence)",
    "figure4": "AP, F.Ra, FWT vs backbone size, per method (paper Figure 4)",
    "figure5": "AP, F.Ra, FWT of T5 vs LLaMA backbones on SuperNI, per method (paper Figure 5)",
    "figure6": "AP, F.Ra, FWT vs replayed volume, per method and replay type: real samples or pseudo inputs "
               "(paper Figure 6, Appendix E.2)",
    "figure7": "AP, F.Ra, FWT of T5 vs LLaMA backbones on Long Sequence, per method (paper Figure 7)",
    "figure8": "average performance after each time step (paper Figure 8)",
    "figure9": "shared-attention heat maps, SAPT-Prompt on SuperNI (paper Figure 9)",
    "figure10": "shared-attention heat maps, SAPT-Prompt on Long Sequence (paper Figure 10)",
    "figure11": "shared-attention heat maps, SAPT-LoRA on SuperNI (paper Figure 11)",
    "figure12": "shared-attention heat maps, SAPT-LoRA on Long Sequence (paper Figure 12)",
    "runs": "every run's metrics, one row per run and metric variant (load with pandas.read_csv)",
    **{f"{t}{VS_PAPER_SUFFIX}": f"our {t.replace('table', 'Table ')} beside the paper's published numbers: "
                                "difference, within two seed sd or not" for t in PAPER_TABLES},
    **{f"{t}{AP_DIFF_SUFFIX}": f"{t.replace('table', 'Table ')}: each method's AP minus the reference method's, with "
                               "a 95% paired-bootstrap interval over test instances; clear or not" for t in RESULT_TABLES},
}


def table_number(table: str) -> str:
    """``table1`` -> ``Table 1`` (also ``figure8`` -> ``Figure 8``)."""
    return table.replace("table", "Table ").replace("figure", "Figure ")
