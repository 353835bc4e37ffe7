"""The difference in AP between two methods with a 95% interval: a paired bootstrap over test instances.

AP after the last task (paper section 5.1.2) is ``AP = (1/T) sum_i a_{T,i}``, with ``a_{T,i}`` the mean of task i's
per-instance scores (its metric: exact match or Rouge-L, :mod:`sapt_core.evaluation.scoring`) after the last step. For method m
against a reference method r, on one run key (benchmark, order, seed) both runs score the same test instances, so
with ``d_{i,j} = s^m_{i,j} - s^r_{i,j}`` (instance j of task i)::

    ΔAP = AP_m - AP_r = (1/T) sum_i (1/n_i) sum_j d_{i,j}

and over the R run keys of a column group (its orders x seeds) the shown difference is their mean,
``ΔAP = (1/R) sum_k ΔAP_k`` (equal to the result table's AP difference, a mean over orders then seeds).

Bootstrap replicate b (``B`` replicates, 1000 by default): in every run key and every task i, draw n_i instance
indices with replacement (stratified by task, so each task keeps its weight 1/T in AP however many instances it has;
a task with 2 instances weighs as much as one with 200), the *same* indices for m and r (paired: the instance-level
correlation of the two methods cancels), and compute ``ΔAP^(b)`` by the formula above on the drawn instances. The 95%
interval is the 2.5 and 97.5 percentiles of ``ΔAP^(1..B)`` (percentile bootstrap); a difference is *clear* when the
interval excludes 0. The draws come from ``numpy.random.default_rng(seed)`` (a fixed seed, 0 by default), so the
same inputs give the same numbers.

:func:`last_step_scores` reads a run's last-step ``predictions.jsonl`` (``sapt train-step --predictions-out``: one row
``{task, id, prediction, target, score}`` per test instance); :func:`pair_tasks` aligns two runs' instances by id.
"""

from __future__ import annotations

from dataclasses import dataclass

from sapt_core.errors import SaptError

REPLICATES = 1000
SEED = 0
CONFIDENCE = 0.95


@dataclass
class Difference:
    """ΔAP (method - reference), its percentile interval and what it was computed from."""
    estimate: float
    low: float
    high: float
    runs: int  # run keys (orders x seeds) pooled
    instances: int  # test instances per method, summed over run keys and tasks

    @property
    def clear(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0


def last_step_scores(path) -> dict:
    """``{task: (ids, scores)}`` of a run's last-step predictions JSONL, in file order (``scores``: float array of
    the task's metric per test instance, 0-100). A row without a numeric ``score`` is one line naming it."""
    import math

    import numpy as np

    from sapt_core.io import read_jsonl

    def check(row, where):
        s = row.get("score")
        if not isinstance(row.get("task"), str) or "id" not in row:
            raise SaptError(f"{where}: expected a prediction row with 'task' and 'id' (sapt train-step "
                            "--predictions-out)")
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s):
            raise SaptError(f"{where}: score: expected the instance's finite score (written by sapt train-step "
                            f"--predictions-out), got {s!r}")

    tasks: dict[str, tuple[list, list]] = {}
    for row in read_jsonl(path, "predictions JSONL", check):
        ids, scores = tasks.setdefault(row["task"], ([], []))
        ids.append(str(row["id"]))
        scores.append(float(row["score"]))
    return {t: (ids, np.asarray(s, dtype=float)) for t, (ids, s) in tasks.items()}


def pair_tasks(method: dict, reference: dict, tasks: list[str]) -> list[tuple] | str:
    """``[(s_m, s_r), ...]`` per task of ``tasks``, the two score arrays aligned instance by instance (by id); or the
    reason the runs cannot be paired (a task without predictions, different test instances), as text."""
    import numpy as np

    out = []
    for t in tasks:
        missing = [who for who, run in (("method", method), ("reference", reference)) if t not in run]
        if missing:
            return f"no predictions of task {t} ({' and '.join(missing)})"
        (ids_m, s_m), (ids_r, s_r) = method[t], reference[t]
        om, orr = np.argsort(ids_m, kind="stable"), np.argsort(ids_r, kind="stable")
        if len(ids_m) != len(ids_r) or [ids_m[i] for i in om] != [ids_r[i] for i in orr]:
            return f"task {t}: the two runs scored different test instances ({len(ids_m)} vs {len(ids_r)})"
        out.append((s_m[om], s_r[orr]))
    return out


def ap_difference(runs: list[list[tuple]], replicates: int = REPLICATES, seed: int = SEED,
                  confidence: float = CONFIDENCE, paired: bool = True) -> Difference:
    """ΔAP = AP_m - AP_r with its bootstrap percentile interval (see the module docstring). ``runs``: one entry per
    run key (benchmark, order, seed), each ``[(s_m, s_r), ...]`` per task, aligned per instance (:func:`pair_tasks`).
    ``paired=False`` draws the two methods' instances independently (what ignoring the pairing would give; for
    comparison only)."""
    import numpy as np

    if not runs or any(not tasks for tasks in runs):
        raise SaptError("paired bootstrap: expected at least one run with at least one task")
    if replicates < 1 or not 0 < confidence < 1:
        raise SaptError(f"paired bootstrap: expected replicates >= 1 and 0 < confidence < 1, got {replicates}, "
                        f"{confidence}")
    rng = np.random.default_rng(seed)
    reps = np.zeros(replicates)
    estimate, instances = 0.0, 0
    for tasks in runs:
        run_reps = np.zeros(replicates)
        run_est = 0.0
        for s_m, s_r in tasks:
            s_m, s_r = np.asarray(s_m, dtype=float), np.asarray(s_r, dtype=float)
            n = len(s_m)
            if n == 0 or len(s_r) != n:
                raise SaptError(f"paired bootstrap: expected the same non-zero number of instances for both methods, "
                                f"got {n} and {len(s_r)}")
            idx = rng.integers(0, n, size=(replicates, n))  # stratified: task i's own instances only
            idx_r = idx if paired else rng.integers(0, n, size=(replicates, n))
            run_reps += s_m[idx].mean(axis=1) - s_r[idx_r].mean(axis=1)
            run_est += float(s_m.mean() - s_r.mean())
            instances += n
        reps += run_reps / len(tasks)  # AP: mean over the run's tasks
        estimate += run_est / len(tasks)
    reps /= len(runs)  # pooled: mean over run keys (orders x seeds)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(reps, [tail, 100 - tail])
    return Difference(estimate / len(runs), float(low), float(high), len(runs), instances)
