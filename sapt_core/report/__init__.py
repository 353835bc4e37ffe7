"""Reports built from evaluation scores: per-run CL metrics (``sapt run-metrics``), the tidy table of every run
(``sapt report-runs``), the paper's tables (``sapt report-table``: Tables 1, 2, 8, 9 from run metrics, Table 3 from
the unseen-task scores, Tables 4-7 from config/benchmarks.yaml and data manifests) and figures (``sapt
report-figure``). :mod:`sapt_core.report.registry` names them all.

Every number a report writes traces back to a file under ``results/``: ``metrics.json`` records the path and sha256 of
each scores file it read, and every table lists the metrics files (or manifests) it was built from.
"""
