"""``sapt prepare-data``: deterministic train/val/test splits of one benchmark task as JSONL + manifest.

Implements design section 5 on the upstream files of facts section 5.1, with the templates of facts section 5.3.

Protocols (``--protocol``):

* ``official``: the shipped train and test files as they are (the official loader never subsamples, facts 5.2).
* ``paper``: paper section 5.1.1 sizes from ``paper_protocol`` in config/benchmarks.yaml: SuperNI 1000 train / 100
  test, Long Sequence 1000 train and 500 per class (by output label) of test, sampled from the shipped files.

Both hold out a validation slice from train (never from test: upstream dev.json == test.json, facts 5.1) of
``n_val`` or ``max(1, round(val_fraction * len(train)))`` instances. A task without an upstream test.json (yelp,
yahoo) first gets a test slice held out from train (``test_fraction`` of it, or the paper sizes), marked in the
manifest under ``derived``. test_only benchmarks (SuperNI_unseen) have a test split only. Order: derived test, then
val, then the paper train sample, then the caps ``n_train``/``n_test`` (``n_val`` sets the val size directly), so a
capped split is a subset of the uncapped one. Train/val/test are disjoint by upstream instance index.

Every draw uses its own ``random.Random(f"{seed}-{benchmark}-{task}-{step}")`` (string seeds hash with SHA-512, not
Python's salted ``hash()``), so outputs are byte-identical for a seed. Subsamples of classification tasks (metric
accuracy) are class-stratified: round-robin over the labels in a seeded order, each label's instances in a seeded
order, so a 16-example slice holds every class when it can. Rows are written in upstream file order. When an
instance has several references, the training/eval target is one drawn with a per-instance seeded rng, as the
official loader draws one at load time (facts 5.3); all references are kept in ``references``.

Everything is read and validated before anything is written; each JSONL is written atomically and manifest.json
last (an existing manifest is removed first), so a directory with a manifest is always complete.
"""

from __future__ import annotations

import argparse
import os
import random
from dataclasses import dataclass
from pathlib import Path

from sapt_core.benchmarks import Benchmark, find_benchmark, get_benchmark, get_task, load_benchmarks
from sapt_core.data.templates import format_source
from sapt_core.data.upstream import UpstreamFile, read_labels, read_task_file
from sapt_core.errors import SaptError

PROTOCOLS = ("official", "paper")
SPLITS = ("train", "val", "test")
PSEUDO_FAMILIES = ("t5", "llama")
DERIVED_TEST_REASON = "upstream test.json missing; held out from train.json"
_OUTPUT_FILES = ("train.jsonl", "val.jsonl", "test.jsonl", "pseudo.jsonl")


def default_data_root() -> str:
    return os.environ.get("SAPT_DATA_ROOT") or "../shared/data"


# ----------------------------------------------------------------------------------------------------- sampling
def _rng(seed: int, benchmark: str, task: str, step: str) -> random.Random:
    return random.Random(f"{seed}-{benchmark}-{task}-{step}")


def _groups(pool: list[int], labels: dict[int, str], rng: random.Random) -> list[list[int]]:
    """Pool indices grouped by label; labels in a seeded order, each group in a seeded order."""
    by: dict[str, list[int]] = {}
    for i in pool:
        by.setdefault(labels[i], []).append(i)
    order = sorted(by)
    rng.shuffle(order)
    for lab in order:
        rng.shuffle(by[lab])
    return [by[lab] for lab in order]


def _select(pool: list[int], k: int, rng: random.Random, labels: dict[int, str] | None = None) -> list[int]:
    """``k`` indices of ``pool`` (all of it when smaller), sorted; class-stratified round-robin when ``labels``."""
    pool = sorted(pool)
    if k >= len(pool):
        return pool
    if labels is None:
        return sorted(rng.sample(pool, k))
    groups, out, depth = _groups(pool, labels, rng), [], 0
    while len(out) < k:
        out += [g[depth] for g in groups if depth < len(g)][: k - len(out)]
        depth += 1
    return sorted(out)


def _per_class(pool: list[int], n: int, rng: random.Random, labels: dict[int, str]) -> list[int]:
    """At most ``n`` indices of every label (paper: 500 per class)."""
    return sorted(i for g in _groups(sorted(pool), labels, rng) for i in g[:n])


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
    rows = []
    for i in idx:
        x = f.instances[i]
        refs = [] if pseudo else x["references"]
        if pseudo:
            target = ""
        elif len(refs) == 1:
            target = refs[0]
        else:  # the official loader draws one reference when it loads the data (facts 5.3)
            target = _rng(seed, bench.name, task, f"target-{x['id']}").choice(refs)
        rows.append({"id": x["id"], "task": task, "benchmark": bench.name,
                     "source": format_source(bench.template, f.definition, x["input"]), "target": target,
                     "references": refs, "definition": f.definition, "input": x["input"]})
    return rows


def _benches(benchmarks) -> dict[str, Benchmark]:
    return benchmarks if isinstance(benchmarks, dict) else load_benchmarks(benchmarks)


def _data_root(data_root) -> Path:
    root = Path(data_root)
    if not root.is_dir():
        raise SaptError(f"{root}: data root not found (set --data-root or SAPT_DATA_ROOT)")
    return root


# --------------------------------------------------------------------------------------------------- public API
def load_pseudo_samples(data_root, benchmark: Benchmark, family: str, task: str) -> list[dict]:
    """The authors' shipped pseudo samples of ``task`` (``<pseudo_dir[family]>/<Bench>/<task>/train.json``).

    Same row schema as the prepared splits, with the source templated on the file's own (generated) Definition,
    ``target`` "" and ``references`` [] (the shipped outputs are empty; ARM labels them later).
    """
    get_task(benchmark, task)
    if family not in benchmark.pseudo_dir:
        known = ", ".join(benchmark.pseudo_dir) or "none"
        raise SaptError(f"benchmark '{benchmark.name}' has no pseudo samples for family {family!r} (known: {known})")
    path = _data_root(data_root) / benchmark.pseudo_dir[family] / Path(benchmark.dir).name / task / "train.json"
    f = read_task_file(path, task, f"pseudo_{family}")
    return _rows(f, list(range(len(f.instances))), benchmark, task, 0, pseudo=True)


@dataclass
class PreparedTask:
    """Splits built in memory (nothing written yet) and the manifest minus the written files' sha256."""

    rows: dict[str, list[dict]]
    manifest: dict


def build_task(data_root, benchmarks, benchmark: str, task: str, protocol: str, seed: int, n_train=None,
               n_val=None, n_test=None, val_fraction=0.05, test_fraction=0.1, use_pseudo_for=None) -> PreparedTask:
    """Read, validate and sample one task; see the module docstring for the rules. Writes nothing."""
    bench = get_benchmark(_benches(benchmarks), benchmark)
    info = get_task(bench, task)
    if protocol not in PROTOCOLS:
        raise SaptError(f"protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SaptError(f"seed: expected an integer, got {seed!r}")
    caps = {k: _positive_int(k, v) for k, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test))}
    val_fraction, test_fraction = _fraction("val_fraction", val_fraction), _fraction("test_fraction", test_fraction)
    if use_pseudo_for is not None and use_pseudo_for not in PSEUDO_FAMILIES:
        raise SaptError(f"use_pseudo_for: expected one of {', '.join(PSEUDO_FAMILIES)}, got {use_pseudo_for!r}")
    root = _data_root(data_root)
    tdir = root / bench.dir / task
    if not tdir.is_dir():
        raise SaptError(f"{tdir}: task directory not found")
    proto = bench.paper_protocol if protocol == "paper" else {}

    def rng(step):
        return _rng(seed, benchmark, task, step)

    def label_of(f):  # the class of an instance = its (first) output
        return {i: x["references"][0] for i, x in enumerate(f.instances)}

    def strat(labels):  # stratify subsamples of classification tasks only
        return labels if info.is_classification else None

    def protocol_test(pool, labels, step):
        if "n_test_per_class" in proto:
            return _per_class(pool, proto["n_test_per_class"], rng(step), labels)
        if "n_test" in proto:
            return _select(pool, proto["n_test"], rng(step), strat(labels))
        return None

    labels_file = read_labels(tdir / "labels.json")
    derived: dict = {}
    src: dict[str, UpstreamFile] = {}
    idx: dict[str, list[int]] = {}
    test_path = tdir / "test.json"
    if bench.test_only or test_path.is_file():
        src["test"] = read_task_file(test_path, task, "test")
        tl = label_of(src["test"])
        pool = list(range(len(src["test"].instances)))
        idx["test"] = protocol_test(pool, tl, "paper-test") or pool
    if not bench.test_only:
        train = src["train"] = src["val"] = read_task_file(tdir / "train.json", task, "train")
        trl = label_of(train)
        avail = list(range(len(train.instances)))
        if "test" not in src:  # yelp, yahoo: hold a test slice out of train
            src["test"] = train
            idx["test"] = (protocol_test(avail, trl, "test-holdout")
                           or _select(avail, max(1, round(test_fraction * len(avail))), rng("test-holdout"), strat(trl)))
            derived["test"] = True
            derived["reason"] = DERIVED_TEST_REASON
            avail = sorted(set(avail) - set(idx["test"]))
        n_v = caps["n_val"] or max(1, round(val_fraction * len(avail)))
        if n_v >= len(avail):
            raise SaptError(f"{train.path}: {len(avail)} train instances left, too few to hold out {n_v} for val "
                            "and keep a train split")
        idx["val"] = _select(avail, n_v, rng("val-holdout"), strat(trl))
        avail = sorted(set(avail) - set(idx["val"]))
        idx["train"] = _select(avail, proto["n_train"], rng("paper-train"), strat(trl)) if "n_train" in proto else avail
        if caps["n_train"]:
            idx["train"] = _select(idx["train"], caps["n_train"], rng("cap-train"), strat(trl))
    if caps["n_test"]:
        idx["test"] = _select(idx["test"], caps["n_test"], rng("cap-test"), strat(label_of(src["test"])))

    splits = [s for s in SPLITS if s in idx]
    rows = {s: _rows(src[s], idx[s], bench, task, seed) for s in splits}
    manifest = {
        "benchmark": bench.name, "task": task, "category": info.category, "metric": info.metric,
        "protocol": protocol, "seed": seed, "caps": caps,
        "fractions": {"val": val_fraction, "test": test_fraction},
        "counts": {s: len(rows[s]) for s in splits},
        "sha256": {},
        "source": {s: {"path": src[s].path.relative_to(root).as_posix(), "sha256": src[s].sha256} for s in splits},
        "labels": None, "labels_observed": None,
        "derived": derived, "template": bench.template,
    }
    if info.is_classification:
        observed = sorted({r["references"][0] for s in splits for r in rows[s]})
        manifest["labels"], manifest["labels_observed"] = labels_file or observed, observed
    elif labels_file:
        manifest["labels"] = labels_file
    if use_pseudo_for:
        rows["pseudo"] = load_pseudo_samples(root, bench, use_pseudo_for, task)
        manifest["counts"]["pseudo"] = len(rows["pseudo"])
        pdir = root / bench.pseudo_dir[use_pseudo_for] / Path(bench.dir).name / task / "train.json"
        manifest["source"]["pseudo"] = {"path": pdir.relative_to(root).as_posix(), "family": use_pseudo_for}
    return PreparedTask(rows, manifest)


def write_task(prepared: PreparedTask, out_dir) -> dict:
    """Write the JSONL files then manifest.json (atomically, manifest last); returns the manifest."""
    from sapt_core.io import atomic_write_json, atomic_write_jsonl, sha256_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    manifest = dict(prepared.manifest, sha256={})
    for name in _OUTPUT_FILES:  # drop files of an earlier run that this one does not write
        if name[: -len(".jsonl")] not in prepared.rows:
            (out / name).unlink(missing_ok=True)
    for split, rows in prepared.rows.items():
        atomic_write_jsonl(out / f"{split}.jsonl", rows)
        manifest["sha256"][split] = sha256_file(out / f"{split}.jsonl")
    atomic_write_json(out / "manifest.json", manifest)
    return manifest


def prepare_task(data_root, benchmarks, benchmark: str, task: str, protocol: str, seed: int, out_dir, n_train=None,
                 n_val=None, n_test=None, val_fraction=0.05, test_fraction=0.1, use_pseudo_for=None) -> dict:
    """Build and write one task's splits into ``out_dir`` (train/val/test.jsonl, manifest.json); returns the manifest.

    ``benchmarks`` is the dict from :func:`sapt_core.benchmarks.load_benchmarks` or a path to the YAML.
    ``use_pseudo_for`` ("t5" or "llama") also writes the authors' pseudo samples of the task as pseudo.jsonl.
    """
    prepared = build_task(data_root, benchmarks, benchmark, task, protocol, seed, n_train, n_val, n_test,
                          val_fraction, test_fraction, use_pseudo_for)
    return write_task(prepared, out_dir)


# ---------------------------------------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = (
        "Sample deterministic train/val/test splits of benchmark tasks as JSONL + manifest.json.\n\n"
        "Output: with --out ROOT every task goes to ROOT/<task>/; with --out-task-dir DIR the single --task is\n"
        "written directly into DIR. Each task dir holds train.jsonl, val.jsonl, test.jsonl (test only for test-only\n"
        "benchmarks), pseudo.jsonl with --pseudo, and manifest.json, written last. All tasks are read and validated\n"
        "before anything is written. Bad input: one 'error: ...' line on stderr naming the file/field, exit 2.")
    p.add_argument("--data-root", default=None, metavar="DIR",
                   help="upstream data root (default: $SAPT_DATA_ROOT or ../shared/data)")
    p.add_argument("--benchmarks", default="config/benchmarks.yaml", metavar="YAML",
                   help="benchmark definitions (default: %(default)s)")
    p.add_argument("--benchmark", metavar="NAME", help="benchmark name (inferred from --task when omitted)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--task", nargs="+", metavar="TASK", help="one or more tasks of the benchmark")
    which.add_argument("--all", action="store_true", help="every task of --benchmark")
    p.add_argument("--protocol", choices=PROTOCOLS, default="official",
                   help="official: shipped files; paper: paper section 5.1.1 sizes (default: %(default)s)")
    p.add_argument("--seed", required=True, metavar="INT", help="sampling seed (required)")
    p.add_argument("--n-train", metavar="N", help="cap on train (positive int; class-stratified for accuracy tasks)")
    p.add_argument("--n-val", metavar="N", help="val size, held out from train (default: --val-fraction of train)")
    p.add_argument("--n-test", metavar="N", help="cap on test (positive int; class-stratified for accuracy tasks)")
    p.add_argument("--val-fraction", default="0.05", metavar="F", help="val held out from train (default: 0.05)")
    p.add_argument("--test-fraction", default="0.1", metavar="F",
                   help="derived test held out from train when test.json is missing (default: 0.1)")
    p.add_argument("--pseudo", choices=PSEUDO_FAMILIES, help="also write the authors' pseudo samples as pseudo.jsonl")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", metavar="ROOT", help="output root: task T goes to ROOT/T/")
    out.add_argument("--out-task-dir", metavar="DIR", help="output dir of the single --task")


def _parse_int(flag: str, s: str | None, positive: bool):
    if s is None:
        return None
    try:
        v = int(s)
    except ValueError:
        raise SaptError(f"{flag}: expected {'a positive' if positive else 'an'} integer, got {s!r}") from None
    if positive and v <= 0:
        raise SaptError(f"{flag}: expected a positive integer, got {s!r}")
    return v


def _parse_fraction(flag: str, s: str) -> float:
    try:
        return _fraction(flag, float(s))
    except ValueError:
        raise SaptError(f"{flag}: expected a number strictly between 0 and 1, got {s!r}") from None


def run(args: argparse.Namespace) -> int:
    seed = _parse_int("--seed", args.seed, positive=False)
    caps = {k: _parse_int(f"--n-{k}", getattr(args, f"n_{k}"), positive=True) for k in SPLITS}
    fracs = _parse_fraction("--val-fraction", args.val_fraction), _parse_fraction("--test-fraction", args.test_fraction)
    benches = load_benchmarks(args.benchmarks)
    if args.all:
        if not args.benchmark:
            raise SaptError("--all: needs --benchmark")
        bench = get_benchmark(benches, args.benchmark)
        tasks = list(bench.tasks)
    else:
        tasks = list(dict.fromkeys(args.task))
        if args.benchmark:
            bench = get_benchmark(benches, args.benchmark)
        else:
            found = {find_benchmark(benches, t).name for t in tasks}
            if len(found) > 1:
                raise SaptError(f"--task: tasks from several benchmarks ({', '.join(sorted(found))}); pass --benchmark")
            bench = benches[found.pop()]
        for t in tasks:
            get_task(bench, t)
    if args.out_task_dir and len(tasks) != 1:
        raise SaptError(f"--out-task-dir: takes exactly one --task, got {len(tasks)}")
    root = args.data_root or default_data_root()
    built = [(t, build_task(root, benches, bench.name, t, args.protocol, seed, caps["train"], caps["val"],
                            caps["test"], *fracs, args.pseudo)) for t in tasks]
    for t, prepared in built:
        dest = Path(args.out_task_dir) if args.out_task_dir else Path(args.out) / t
        m = write_task(prepared, dest)
        counts = " ".join(f"{s} {n}" for s, n in m["counts"].items())
        print(f"{bench.name}/{t}: {counts}{' (derived test)' if m['derived'] else ''} -> {dest}")
    return 0
