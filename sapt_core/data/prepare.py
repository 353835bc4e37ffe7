"""``sapt prepare-data``: deterministic train/val/test splits of one benchmark task as JSONL + manifest.

Reads the upstream files (:mod:`sapt_core.data.upstream`, as :class:`datasets.Dataset`), samples with ``datasets``
(:mod:`sapt_core.data.sampling`) and formats sources with the official templates (:mod:`sapt_core.data.templates`).

Protocols (``--protocol``):

* ``official``: the shipped train and test files as they are; a validation slice of ``n_val`` or
  ``max(1, round(val_fraction * len(train)))`` instances is held out of train.
* ``paper``: paper section 5.1.1's sizes from ``paper_protocol`` in config/benchmarks.yaml: SuperNI 1000 train /
  100 test, Long Sequence 1000 train and 500 per class (by output label) of test. The validation slice (same size
  rule) is drawn from the train instances the 1000 leave over, so train keeps its 1000. Where the shipped train file
  has no more than 1000 instances (every SuperNI task) nothing is left and val is empty (``manifest["val_note"]``).

Validation never comes from test (upstream's dev.json is its test.json). A task without an upstream test.json
(yelp, yahoo here) first gets a test slice held out of its train file (``test_fraction`` of it, or the paper sizes),
marked in the manifest under ``derived``. test_only benchmarks (SuperNI_unseen) have a test split only. Caps
``n_train`` / ``n_test`` are applied last, so a capped split is a subset of the uncapped one; ``n_val`` sets the val
size directly. Train/val/test are disjoint by upstream instance.

Test subsets (the paper-size test draw, a derived test slice, the ``n_test`` cap, and the reference drawn for a
multi-reference test instance) use the fixed seed :data:`TEST_SEED`, so every seed of a run is scored on the same
instances and the seeds' spread is training variance only; ``redraw_test`` (``--redraw-test``, config
``data.redraw_test``) draws them with the run's seed instead. Train and val always follow the seed.

Classification instances whose output is not one of the task's labels (``labels.json``, or ``labels`` in
config/benchmarks.yaml where that file is stale) are dropped from every split before sampling and counted in
``manifest["dropped"]`` (mnli's test file holds 131 instances labelled "-", GLUE's "no gold label"). A label file that
more than half a file's instances miss is an error, never a silently emptied task.

Classification subsamples are class-stratified (each class keeps its share of the pool). Rows are written in upstream
file order. When an instance has several references, the target is one drawn with a per-instance seeded rng, as the
official loader draws one when it loads the data; all references are kept in ``references``. The manifest records,
per source file, its git blob id and whether it is the pinned upstream file (``config/upstream_manifest.json``).

Everything is read and validated before anything is written; each JSONL is written atomically and manifest.json
last (an existing manifest is removed first), so a directory with a manifest is always complete. The command line is
:mod:`sapt_core.data.prepare_cli`.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sapt_core import layout
from sapt_core.settings.benchmarks import Benchmark, TaskInfo, get_benchmark, get_task, load_benchmarks
from sapt_core.data import sampling
from sapt_core.data.templates import format_source
from sapt_core.data.upstream import UpstreamFile, read_labels, read_task_file, task_file
from sapt_core.errors import SaptError, known_text
from sapt_core.models.backbone import FAMILIES

__all__ = ["PreparedTask", "build_task", "load_pseudo_samples", "prepare_task", "write_task"]

PROTOCOLS = ("official", "paper")
SPLITS = ("train", "val", "test")
TEST_SEED = 0
DERIVED_TEST_REASON = "upstream test.json missing; held out from train.json"
DROP_REASON = "output not in labels.json"
STALE_LABELS_SHARE = 0.5  # more of a file's instances outside its label file than this: the label file is stale
_OUTPUT_SPLITS = ("train", "val", "test", "pseudo")


# ------------------------------------------------------------------------------------------------------- checks
def _positive_int(name: str, v) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise SaptError(f"{name}: expected a positive integer, got {v!r}")
    return v


def _fraction(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
        raise SaptError(f"{name}: expected a number strictly between 0 and 1, got {v!r}")
    return float(v)


def _rows(f: UpstreamFile, idx: list[int], bench: Benchmark, task: str, seed: int, pseudo: bool = False) -> list[dict]:
    """Prepared rows of the instances ``idx`` of ``f`` (in that order)."""
    if not idx:
        return []
    picked = f.instances.select(idx)[:]  # one batch: column -> values
    rows = []
    for iid, inp, refs in zip(picked["id"], picked["input"], picked["references"]):
        refs = [] if pseudo else list(refs)
        if pseudo:
            target = ""
        elif len(refs) == 1:
            target = refs[0]
        else:  # the official loader draws one reference when it loads the data
            target = random.Random(f"{seed}-{bench.name}-{task}-target-{iid}").choice(refs)
        rows.append({"id": iid, "task": task, "benchmark": bench.name,
                     "source": format_source(bench.template, f.definition, inp), "target": target,
                     "references": refs, "definition": f.definition, "input": inp})
    return rows


def _benches(benchmarks) -> dict[str, Benchmark]:
    return benchmarks if isinstance(benchmarks, dict) else load_benchmarks(benchmarks)


def _data_root(data_root) -> Path:
    root = Path(data_root)
    if not root.is_dir():
        raise SaptError(f"{root}: data root not found (set --data-root or SAPT_DATA_ROOT, or run `sapt fetch-data`)")
    return root


class _Upstream:
    """Whether the files read are the pinned upstream ones: ``match`` | ``differs`` | ``unlisted``."""

    def __init__(self, root: Path, manifest):
        from sapt_core.data.upstream_manifest import load_upstream_manifest

        self.root = root
        self.blobs = {f.path: f.git_blob for f in load_upstream_manifest(manifest).files}

    def record(self, path: Path, git_blob: str, **extra) -> dict:
        rel = path.relative_to(self.root).as_posix()
        want = self.blobs.get(rel)
        status = "unlisted" if want is None else "match" if want == git_blob else "differs"
        return {"path": rel, **extra, "git_blob": git_blob, "upstream": status}


# --------------------------------------------------------------------------------------------------- public API
def load_pseudo_samples(data_root, benchmark: Benchmark, family: str, task: str) -> list[dict]:
    """The authors' shipped pseudo samples of ``task`` (``<pseudo_dir[family]>/<Bench>/<task>/train.json``).

    Same row schema as the prepared splits, with the source templated on the file's own (generated) Definition,
    ``target`` "" and ``references`` [] (the shipped outputs are empty; ARM labels them later).
    """
    return _rows(*_pseudo_file(data_root, benchmark, family, task), benchmark, task, 0, pseudo=True)


def _pseudo_file(data_root, benchmark: Benchmark, family: str, task: str) -> tuple[UpstreamFile, list[int]]:
    get_task(benchmark, task)
    if family not in benchmark.pseudo_dir:
        raise SaptError(f"benchmark '{benchmark.name}' has no pseudo samples for family {family!r}"
                        f"{known_text(benchmark.pseudo_dir)}")
    path = _data_root(data_root) / benchmark.pseudo_dir[family] / Path(benchmark.dir).name / task / "train.json"
    f = read_task_file(path, task, f"pseudo_{family}")
    return f, list(range(len(f.instances)))


@dataclass
class PreparedTask:
    """Splits built in memory (nothing written yet) and the manifest minus the written files' sha256."""

    rows: dict[str, list[dict]]
    manifest: dict


def _allowed_labels(info: TaskInfo, labels_file) -> tuple[list[str] | None, str | None]:
    """(the task's classes, where they come from) for a classification task; (None, None) when it has none."""
    if not info.is_classification:
        return None, None
    if info.labels:
        return list(info.labels), "benchmarks file (labels.json is stale)"
    if labels_file:
        return list(labels_file.labels), "labels.json"
    return None, None


def _keep_labelled(f: UpstreamFile, allowed: list[str] | None, labels_path: Path | None) -> tuple[list[int], Counter]:
    """Indices of ``f`` whose every reference is a label, and the dropped outputs counted."""
    refs = sampling.column(f.instances, "references")
    if allowed is None:
        return list(range(len(refs))), Counter()
    ok = set(allowed)
    keep = [i for i, r in enumerate(refs) if all(x in ok for x in r)]
    dropped = Counter(r[0] for r in refs if not all(x in ok for x in r))
    n_drop = len(refs) - len(keep)
    if n_drop > STALE_LABELS_SHARE * len(refs):
        example = dropped.most_common(1)[0][0]
        raise SaptError(f"{labels_path}: {n_drop} of the {len(refs)} instances of {f.path.name} have an output not "
                        f"in it (e.g. {example!r}); the label file looks stale: list the task's classes under "
                        f"'labels' in the benchmarks file")
    return keep, dropped


def build_task(data_root, benchmarks, benchmark: str, task: str, protocol: str, seed: int, n_train=None,
               n_val=None, n_test=None, val_fraction=0.05, test_fraction=0.1, use_pseudo_for=None,
               redraw_test: bool = False, upstream_manifest=None) -> PreparedTask:
    """Read, validate and sample one task; see the module docstring for the rules. Writes nothing.

    ``upstream_manifest``: the upstream file list the sources are compared with (default: the repository's).
    """
    bench = get_benchmark(_benches(benchmarks), benchmark)
    info = get_task(bench, task)
    if protocol not in PROTOCOLS:
        raise SaptError(f"protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SaptError(f"seed: expected an integer, got {seed!r}")
    if not isinstance(redraw_test, bool):
        raise SaptError(f"redraw_test: expected true or false, got {redraw_test!r}")
    caps = {k: _positive_int(k, v) for k, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test))}
    val_fraction, test_fraction = _fraction("val_fraction", val_fraction), _fraction("test_fraction", test_fraction)
    if use_pseudo_for is not None and use_pseudo_for not in FAMILIES:
        raise SaptError(f"use_pseudo_for: expected one of {', '.join(FAMILIES)}, got {use_pseudo_for!r}")
    root = _data_root(data_root)
    tdir = root / bench.dir / task
    if not tdir.is_dir():
        raise SaptError(f"{tdir}: task directory not found")
    proto = bench.paper_protocol if protocol == "paper" else {}
    test_seed = seed if redraw_test else TEST_SEED
    strat = info.is_classification
    upstream = _Upstream(root, upstream_manifest)

    def dseed(step, s=seed):
        return sampling.draw_seed(s, benchmark, task, step)

    def read(split: str, path: Path | None = None) -> UpstreamFile:
        """The task's ``split`` file (upstream JSON or JSONL); the benchmarks file's ``instruction`` replaces its
        Definition."""
        f = read_task_file(path or task_file(tdir, split) or tdir / f"{split}.json", task, split)
        return f if info.instruction is None else dataclasses.replace(f, definition=info.instruction)

    labels_file = read_labels(tdir / "labels.json")
    allowed, labels_from = _allowed_labels(info, labels_file)

    def pool_of(f: UpstreamFile):
        keep, dropped = _keep_labelled(f, allowed, labels_file.path if labels_file and not info.labels else None)
        refs = sampling.column(f.instances, "references")
        return sampling.make_pool(keep, [refs[i][0] for i in keep]), dropped

    def protocol_test(pool, step):  # (drawn, rest) of the paper's test sizes, or None
        if "n_test_per_class" in proto:
            return sampling.per_class(pool, proto["n_test_per_class"], dseed(step, test_seed))
        if "n_test" in proto:
            return sampling.split_off(pool, proto["n_test"], dseed(step, test_seed), strat)
        return None

    derived: dict = {}
    src: dict[str, UpstreamFile] = {}
    picked: dict[str, object] = {}  # split -> pool
    dropped = {s: 0 for s in SPLITS}
    dropped_labels: Counter = Counter()
    val_note = None
    test_path = task_file(tdir, "test")
    if bench.test_only or test_path is not None:
        src["test"] = read("test", test_path)
        tpool, d = pool_of(src["test"])
        dropped["test"], dropped_labels = sum(d.values()), dropped_labels + d
        drawn = protocol_test(tpool, "paper-test")
        picked["test"] = drawn[0] if drawn else tpool
    if not bench.test_only:
        train = src["train"] = src["val"] = read("train")
        avail, d = pool_of(train)  # train.json feeds train and val: its drops count under train
        dropped["train"], dropped_labels = sum(d.values()), dropped_labels + d
        if "test" not in src:  # yelp, yahoo: hold a test slice out of train
            src["test"] = train
            picked["test"], avail = (protocol_test(avail, "test-holdout")
                                     or sampling.split_off(avail, max(1, round(test_fraction * len(avail))),
                                                           dseed("test-holdout", test_seed), strat))
            derived = {"test": True, "reason": DERIVED_TEST_REASON}
        n_v = caps["n_val"] or max(1, round(val_fraction * len(avail)))
        if "n_train" in proto:  # paper: the train sample first, val from what it leaves
            picked["train"], rest = sampling.split_off(avail, proto["n_train"], dseed("paper-train"), strat)
            picked["val"], _ = sampling.split_off(rest, min(n_v, len(rest)), dseed("val-holdout"), strat)
            if len(picked["val"]) < n_v:
                val_note = (f"{len(rest)} train instances outside the paper's {proto['n_train']}-instance train "
                            f"sample; val has {len(picked['val'])} of the {n_v} asked for")
        else:
            if n_v >= len(avail):
                raise SaptError(f"{train.path}: {len(avail)} train instances left, too few to hold out {n_v} for "
                                "val and keep a train split")
            picked["val"], picked["train"] = sampling.split_off(avail, n_v, dseed("val-holdout"), strat)
        if caps["n_train"]:
            picked["train"], _ = sampling.split_off(picked["train"], caps["n_train"], dseed("cap-train"), strat)
    if caps["n_test"]:
        picked["test"], _ = sampling.split_off(picked["test"], caps["n_test"], dseed("cap-test", test_seed), strat)

    splits = [s for s in SPLITS if s in picked]
    rows = {s: _rows(src[s], sampling.indices(picked[s]), bench, task, test_seed if s == "test" else seed)
            for s in splits}
    source = {s: upstream.record(src[s].path, src[s].git_blob, sha256=src[s].sha256) for s in splits}
    manifest = {
        "benchmark": bench.name, "task": task, "category": info.category, "metric": info.metric,
        "protocol": protocol, "seed": seed, "caps": caps,
        "fractions": {"val": val_fraction, "test": test_fraction},
        "counts": {s: len(rows[s]) for s in splits},
        "sha256": {},
        "source": source,
        "labels": None, "labels_observed": None, "labels_from": labels_from,
        "labels_source": (upstream.record(labels_file.path, labels_file.git_blob) if labels_file else None),
        "dropped": {**{s: dropped[s] for s in SPLITS}, "labels": dict(sorted(dropped_labels.items())),
                    "reason": DROP_REASON},
        "test_subset": {"seed": test_seed, "redrawn_per_seed": redraw_test},
        "derived": derived, "template": bench.template,
    }
    if val_note:
        manifest["val_note"] = val_note
    if info.is_classification:
        observed = sorted({r["references"][0] for s in splits for r in rows[s]})
        manifest["labels"], manifest["labels_observed"] = allowed or observed, observed
    elif labels_file:
        manifest["labels"] = labels_file.labels
    if use_pseudo_for:
        pf, pidx = _pseudo_file(root, bench, use_pseudo_for, task)
        rows["pseudo"] = _rows(pf, pidx, bench, task, 0, pseudo=True)
        manifest["counts"]["pseudo"] = len(rows["pseudo"])
        manifest["source"]["pseudo"] = upstream.record(pf.path, pf.git_blob, family=use_pseudo_for)
    records = list(manifest["source"].values()) + ([manifest["labels_source"]] if labels_file else [])
    manifest["upstream"] = "match" if all(r["upstream"] == "match" for r in records) else "differs"
    return PreparedTask(rows, manifest)


def write_task(prepared: PreparedTask, out_dir) -> dict:
    """Write the JSONL files and manifest.json; returns the manifest. Everything is written to temp files first;
    only then is an existing manifest removed and the files renamed into place, manifest last. A failed write (a
    full disk) leaves the directory as it was, and no directory where there was none."""
    from sapt_core.io import atomic_files, json_text, jsonl_text, sha256_file, write_bytes

    out = Path(out_dir)
    manifest = dict(prepared.manifest, sha256={})
    splits = list(prepared.rows)
    with atomic_files(*[out / layout.split_file_name(s) for s in splits], out / layout.DATA_MANIFEST) as tmps:
        for split, tmp in zip(splits, tmps):
            write_bytes(tmp, jsonl_text(prepared.rows[split]))
            manifest["sha256"][split] = sha256_file(tmp)
        write_bytes(tmps[-1], json_text(manifest))
        (out / layout.DATA_MANIFEST).unlink(missing_ok=True)
        for split in _OUTPUT_SPLITS:  # drop files of an earlier run that this one does not write
            if split not in prepared.rows:
                (out / layout.split_file_name(split)).unlink(missing_ok=True)
    return manifest


def prepare_task(data_root, benchmarks, benchmark: str, task: str, protocol: str, seed: int, out_dir, n_train=None,
                 n_val=None, n_test=None, val_fraction=0.05, test_fraction=0.1, use_pseudo_for=None,
                 redraw_test: bool = False, upstream_manifest=None) -> dict:
    """Build and write one task's splits into ``out_dir`` (train/val/test.jsonl, manifest.json); returns the manifest.

    ``benchmarks`` is the dict from :func:`sapt_core.settings.benchmarks.load_benchmarks` or a path to the YAML.
    ``use_pseudo_for`` ("t5" or "llama") also writes the authors' pseudo samples of the task as pseudo.jsonl.
    ``redraw_test`` draws the test subsets with ``seed`` instead of :data:`TEST_SEED`.
    """
    prepared = build_task(data_root, benchmarks, benchmark, task, protocol, seed, n_train, n_val, n_test,
                          val_fraction, test_fraction, use_pseudo_for, redraw_test, upstream_manifest)
    return write_task(prepared, out_dir)
