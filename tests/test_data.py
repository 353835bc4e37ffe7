"""Data layer: benchmark config, official templates, seeded split sampling (datasets), labels, manifest, CLI errors.

Reads the real upstream files under the data root (fixture ``data_root``); bad-input cases use a tmp data root holding
copies of the few small files they need (cb, copa).
"""

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

from sapt_core.settings.benchmarks import find_benchmark, get_benchmark, get_task, load_benchmarks
from sapt_core.cli import main
from sapt_core.data import format_source, load_manifest, load_pseudo_samples, load_split, prepare_task
from sapt_core.data import sampling
from sapt_core.data.prepare import TEST_SEED, build_task
from sapt_core.errors import SaptError
from sapt_core.io import sha256_file

LONG = "CL_Benchmark/Long_Sequence"


@pytest.fixture(scope="module")
def benches(benchmarks_path):
    return load_benchmarks(benchmarks_path)


def _prep(data_root, benches, out, task, seed=1, benchmark="Long_Sequence", protocol="official", **kw):
    m = prepare_task(data_root, benches, benchmark, task, protocol, seed, out, **kw)
    return m, {s: load_split(out, s) for s in m["counts"]}


def _by_id(splits):
    return {r["id"]: r for rows in splits.values() for r in rows}


@pytest.fixture(scope="module")
def cb1(tmp_path_factory, data_root, benches):
    out = tmp_path_factory.mktemp("cb1")
    return (out, *_prep(data_root, benches, out, "cb"))


# ------------------------------------------------------------------------------------------------ benchmarks.yaml
def test_benchmarks_file(benches):
    assert set(benches) == {"SuperNI", "Long_Sequence", "SuperNI_unseen"}
    long = get_benchmark(benches, "Long_Sequence")
    assert long.template == "long" and len(long.tasks) == 15 and long.paper_orders == ("order3", "order4")
    assert all(sorted(long.orders[o]) == sorted(long.tasks) for o in long.paper_orders)
    # the demo order (demo_orders): tasks 2-4 of order3, not a paper order
    assert set(long.orders) == {"order3", "order4", "longseq_demo"} and long.orders["longseq_demo"] == long.orders["order3"][1:4]
    assert get_task(long, "cb").metric == "accuracy"
    assert benches["SuperNI_unseen"].test_only and not benches["SuperNI"].test_only
    assert find_benchmark(benches, "task875_emotion_classification").name == "SuperNI"
    with pytest.raises(SaptError, match=r"task 'foo' is not in benchmark 'Long_Sequence' \(known: agnews, amazon, "):
        get_task(long, "foo")
    with pytest.raises(SaptError, match="unknown benchmark 'Nope'"):
        get_benchmark(benches, "Nope")


def test_benchmarks_validation(tmp_path, benchmarks_path):
    doc = yaml.safe_load(benchmarks_path.read_text())
    doc["benchmarks"]["SuperNI"]["tasks"]["task363_sst2_polarity_classification"]["metric"] = "acc"
    bad = tmp_path / "b.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(SaptError) as e:
        load_benchmarks(bad)
    assert str(e.value) == (f"{bad}: benchmarks.SuperNI.tasks.task363_sst2_polarity_classification.metric: "
                            "expected one of accuracy, rougeL, got 'acc'")
    doc = yaml.safe_load(benchmarks_path.read_text())
    doc["benchmarks"]["Long_Sequence"]["orders"]["order3"][1] = "cbb"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(SaptError, match=r"benchmarks\.Long_Sequence\.orders\.order3\[1\]: expected a task"):
        load_benchmarks(bad)


# ------------------------------------------------------------------------------------------------------ templates
def test_template_superni_official_string(tmp_path, data_root, benches):
    m, splits = _prep(data_root, benches, tmp_path, "task363_sst2_polarity_classification", benchmark="SuperNI")
    row = _by_id(splits)["task363-be53958bd59d4017af9e79f11d1229fd"]  # first instance of train.json
    expected = ('Definition: In this task, you are given sentences from movie reviews. The task is to classify a '
                'sentence as "POS" if the sentiment of the sentence is positive or as "NEG" if the sentiment of the '
                'sentence is negative\n\nNow complete the following example -\nInput: One of the most important and '
                'exhilarating forms of animated filmmaking since old Walt doodled Steamboat Willie .\nOutput: ')
    assert row["source"] == expected
    assert (row["target"], row["references"]) == ("POS", ["POS"])
    assert m["template"] == "superni"


def test_template_long_official_string(cb1):
    row = _by_id(cb1[2])["cb-train-0"]  # first instance of cb/train.json
    expected = ("Given a pair of sentences 1 and 2, identify the relationship between them.\n"
                "sentence 1: He's weird enough to have undressed me without thinking, according to some mad notion of "
                "the ``proper'' thing to do. Perhaps he thought I couldn't lie in bed with my clothes on.\n"
                "sentence 2: she couldn't lie in bed with her clothes on\nOutput: ")
    assert row["source"] == expected and row["target"] == "contradiction"


def test_template_long_without_definition(tmp_path, data_root, benches):
    assert format_source("long", "Def.\n", "x") == "Def.\nx\nOutput: "  # definition is stripped (qqp ends in \n)
    assert format_source("long", "", "x") == "x\nOutput: "
    _, splits = _prep(data_root, benches, tmp_path, "copa")  # copa's Definition is []
    row = _by_id(splits)["copa-train-0"]
    assert row["source"] == ('Which sentence is the cause of "The host cancelled the party."? Choose one between A and '
                             'B.\nA: She was certain she had the flu.\nB: She worried she would catch the flu.\nOutput: ')


# ------------------------------------------------------------------------------------------------------- sampling
def _files(d):
    return {p.name: p.read_bytes() for p in sorted(Path(d).iterdir())}


def test_deterministic_and_disjoint(tmp_path, data_root, benches, cb1):
    out1, m1, s1 = cb1
    _prep(data_root, benches, tmp_path / "again", "cb")
    assert _files(tmp_path / "again") == _files(out1)  # same seed: byte for byte, manifest included
    _, s2 = _prep(data_root, benches, tmp_path / "other", "cb", seed=2)
    assert [r["id"] for r in s2["val"]] != [r["id"] for r in s1["val"]]
    assert [r["id"] for r in s2["train"]] != [r["id"] for r in s1["train"]]
    assert s2["test"] == s1["test"]  # the shipped test file is used whole under `official`
    ids = {s: {r["id"] for r in rows} for s, rows in s1.items()}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    assert m1["counts"] == {"train": 238, "val": 12, "test": 56}  # 250 train, val = round(0.05 * 250)
    assert m1["derived"] == {} and m1["source"]["val"]["path"] == f"{LONG}/cb/train.json"


def test_derived_test_for_yelp(tmp_path, data_root, benches):
    m, s = _prep(data_root, benches, tmp_path, "yelp", seed=5, n_train=40, n_val=10)
    assert m["derived"] == {"test": True, "reason": "upstream test.json missing; held out from train.json"}
    assert m["source"]["test"]["path"] == f"{LONG}/yelp/train.json"
    assert m["counts"] == {"train": 40, "val": 10, "test": 500}  # test = round(0.1 * 5000)
    ids = {k: {r["id"] for r in rows} for k, rows in s.items()}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    assert all(i.startswith("yelp-train-") for i in ids["test"])
    assert len({r["target"] for r in s["train"]}) == 5 and len({r["target"] for r in s["val"]}) == 5


def test_paper_protocol_per_class(tmp_path, data_root, benches, benchmarks_path):
    m, s = _prep(data_root, benches, tmp_path / "p", "cb", protocol="paper")
    full = Counter(r["target"] for r in load_split(tmp_path / "p", "test"))
    assert set(full) == {"entailment", "contradiction", "neutral"} and max(full.values()) <= 500
    assert m["counts"]["test"] == 56 and m["protocol"] == "paper"  # every class of cb has < 500 test items
    # the per-class cap bites: 5 per class
    doc = yaml.safe_load(benchmarks_path.read_text())
    doc["benchmarks"]["Long_Sequence"]["paper_protocol"]["n_test_per_class"] = 5
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(doc))
    m5 = prepare_task(data_root, tmp_path / "b.yaml", "Long_Sequence", "cb", "paper", 1, tmp_path / "p5")
    per = Counter(r["target"] for r in load_split(tmp_path / "p5", "test"))
    assert per == {lab: min(5, n) for lab, n in full.items()} and m5["counts"]["test"] == sum(per.values())
    # SuperNI: 1000 train / 100 test; val comes from the train instances the 1000 leave, and task875 ships exactly
    # 1000, so val is empty and the manifest says why
    m, _ = _prep(data_root, benches, tmp_path / "s", "task875_emotion_classification", benchmark="SuperNI",
                 protocol="paper")
    assert m["counts"] == {"train": 1000, "val": 0, "test": 100}
    assert m["val_note"].startswith("0 train instances outside the paper's 1000-instance train sample")


def _share_ok(picked: Counter, pool: Counter, k: int) -> bool:
    """Each class's count is its share of the pool, rounded either way (stratified sampling, not balanced)."""
    n = sum(pool.values())
    return sum(picked.values()) == k and all(abs(picked[c] - k * pool[c] / n) < 1 for c in pool)


def test_stratified_caps_keep_each_class_share(tmp_path, data_root, benches):
    m, s = _prep(data_root, benches, tmp_path, "cb", n_train=16, n_val=8, n_test=16)
    assert m["counts"] == {"train": 16, "val": 8, "test": 16}
    assert m["caps"] == {"n_train": 16, "n_val": 8, "n_test": 16}
    shipped = {f: Counter(x["output"] for x in json.loads((data_root / LONG / "cb" / f"{f}.json").read_text())
                          ["Instances"]) for f in ("train", "test")}
    assert _share_ok(Counter(r["target"] for r in s["val"]), shipped["train"], 8)
    assert _share_ok(Counter(r["target"] for r in s["test"]), shipped["test"], 16)
    train_pool = shipped["train"] - Counter(r["target"] for r in s["val"])  # the cap draws from train minus val
    assert _share_ok(Counter(r["target"] for r in s["train"]), train_pool, 16)
    m, s = _prep(data_root, benches, tmp_path / "e", "task875_emotion_classification", benchmark="SuperNI",
                 n_train=60)
    assert len(Counter(r["target"] for r in s["train"])) == 6  # every emotion has a share of at least one in 60


def test_sampling_helpers():
    pool = sampling.make_pool(range(100), ["a" if i < 90 else "b" for i in range(100)])
    seed = sampling.draw_seed(0, "B", "t", "x")
    drawn, rest = sampling.split_off(pool, 10, seed, stratify=True)
    pick = sampling.indices(drawn)
    assert len(pick) == 10 and pick == sorted(pick) and not set(pick) & set(sampling.indices(rest))
    assert Counter("a" if i < 90 else "b" for i in pick) == {"a": 9, "b": 1}  # the pool's 90 / 10 share
    assert pick == sampling.indices(sampling.split_off(pool, 10, seed, stratify=True)[0])  # same seed, same draw
    assert pick != sampling.indices(sampling.split_off(pool, 10, seed + 1, stratify=True)[0])
    assert len(sampling.indices(sampling.split_off(pool, 1, seed, stratify=True)[0])) == 1  # too small: shuffled
    assert sampling.indices(sampling.split_off(pool, 200, seed, stratify=True)[0]) == list(range(100))
    drawn, rest = sampling.per_class(pool, 20, 0)
    assert Counter("a" if i < 90 else "b" for i in sampling.indices(drawn)) == {"a": 20, "b": 10}
    assert len(rest) == 70
    assert sampling.draw_seed(0, "B", "t", "x") == int.from_bytes(__import__("hashlib").sha256(b"0-B-t-x").digest()[:8],
                                                                   "big")


def test_multi_reference_targets_drawn_from_references(tmp_path, data_root, benches):
    task = "task002_quoref_answer_generation"
    _, s0 = _prep(data_root, benches, tmp_path / "a", task, benchmark="SuperNI", seed=0, n_train=8)
    _, s1 = _prep(data_root, benches, tmp_path / "b", task, benchmark="SuperNI", seed=1, n_train=8)
    _, r1 = _prep(data_root, benches, tmp_path / "c", task, benchmark="SuperNI", seed=1, n_train=8, redraw_test=True)
    multi = [r for r in s0["test"] if len(r["references"]) > 1]
    assert len(multi) == 17  # quoref's test items with several references
    assert all(r["target"] in r["references"] for r in s0["test"] + s1["test"] + r1["test"])
    assert all(r["target"] == r["references"][0] for r in s0["test"] if len(r["references"]) == 1)
    assert s0["test"] == s1["test"]  # the test data, targets included, is the same for every seed ...
    assert [r["target"] for r in s0["test"]] != [r["target"] for r in r1["test"]]  # ... unless redrawn per seed


def test_test_subsets_fixed_across_seeds(tmp_path, data_root, benches):
    """Test draws use TEST_SEED, so seeds differ in train/val only; redraw_test draws them with the run's seed."""
    runs = {seed: _prep(data_root, benches, tmp_path / f"s{seed}", "cb", seed=seed, n_train=16, n_val=8, n_test=16)
            for seed in (0, 1)}
    ids = {seed: {k: [r["id"] for r in rows] for k, rows in s.items()} for seed, (_, s) in runs.items()}
    assert ids[0]["test"] == ids[1]["test"]
    assert ids[0]["train"] != ids[1]["train"] and ids[0]["val"] != ids[1]["val"]
    assert runs[1][0]["test_subset"] == {"seed": TEST_SEED, "redrawn_per_seed": False}
    m, s = _prep(data_root, benches, tmp_path / "r", "cb", seed=1, n_train=16, n_val=8, n_test=16, redraw_test=True)
    assert [r["id"] for r in s["test"]] != ids[0]["test"] and m["test_subset"] == {"seed": 1, "redrawn_per_seed": True}
    assert [r["id"] for r in s["train"]] == ids[1]["train"]  # train/val follow the seed either way
    # the derived test slice of a task without test.json is a test subset too
    y = {seed: _prep(data_root, benches, tmp_path / f"y{seed}", "yelp", seed=seed, n_train=8, n_val=4, n_test=8)[1]
         for seed in (0, 1)}
    assert y[0]["test"] == y[1]["test"] and y[0]["train"] != y[1]["train"]


def test_paper_protocol_long_sequence_sizes(data_root, benches):
    """mnli: 1000 train, val from the 2000 train instances left over, 500 per class of test after the drops."""
    p = build_task(data_root, benches, "Long_Sequence", "mnli", "paper", 0)
    ids = {k: {r["id"] for r in rows} for k, rows in p.rows.items()}
    assert p.manifest["counts"] == {"train": 1000, "val": 150, "test": 1500}  # val = round(0.05 * 3000)
    assert not ids["train"] & ids["val"]
    assert Counter(r["target"] for r in p.rows["test"]) == {"neutral": 500, "entailment": 500, "contradiction": 500}
    shipped = Counter(x["output"] for x in json.loads((data_root / LONG / "mnli" / "train.json").read_text())
                      ["Instances"])
    assert _share_ok(Counter(r["target"] for r in p.rows["train"]), shipped, 1000)  # 1010 / 995 / 995 shipped


def test_test_only_and_pseudo(tmp_path, data_root, benches):
    m, s = _prep(data_root, benches, tmp_path / "u", "task833_poem_sentiment_classification",
                 benchmark="SuperNI_unseen")
    assert list(s) == ["test"] and m["counts"] == {"test": 57}
    assert sorted(p.name for p in (tmp_path / "u").iterdir()) == ["manifest.json", "test.jsonl"]
    rows = load_pseudo_samples(data_root, benches["Long_Sequence"], "t5", "copa")  # generated Definition is []
    assert len(rows) == 8 and all(r["target"] == "" and r["references"] == [] for r in rows)
    assert rows[0]["source"] == rows[0]["input"] + "\nOutput: "
    rows = load_pseudo_samples(data_root, benches["SuperNI"], "llama", "task363_sst2_polarity_classification")
    assert len(rows) == 20 and rows[0]["source"].startswith("Definition: In this task, you are given sentences")
    with pytest.raises(SaptError, match="no pseudo samples for family 'gpt'"):
        load_pseudo_samples(data_root, benches["SuperNI"], "gpt", "task363_sst2_polarity_classification")


# ------------------------------------------------------------------------------------------ labels and drops
LONG_TASKS = list(load_benchmarks(Path(__file__).resolve().parents[1] / "config" / "benchmarks.yaml")
                  ["Long_Sequence"].tasks)


def _direct(data_root, benches, task):
    """(the task's labels, {file: Counter of outputs not among them, instances}) straight from the JSON files."""
    tdir = data_root / LONG / task
    info = benches["Long_Sequence"].tasks[task]
    labels = list(info.labels) if info.labels else json.loads((tdir / "labels.json").read_text())
    out = {}
    for f in ("train", "test"):
        p = tdir / f"{f}.json"
        outs = [x["output"] for x in json.loads(p.read_text())["Instances"]] if p.is_file() else []
        out[f] = (Counter(o for o in outs if o not in labels), len(outs))
    return labels, out


@pytest.mark.parametrize("task", LONG_TASKS)
def test_long_sequence_targets_are_labels_and_drops_counted(data_root, benches, task):
    labels, direct = _direct(data_root, benches, task)
    p = build_task(data_root, benches, "Long_Sequence", task, "official", 0)
    m = p.manifest
    assert m["labels"] == labels and sum(m["counts"].values()) > 0
    assert all(r["target"] in labels and set(r["references"]) <= set(labels) for rows in p.rows.values() for r in rows)
    (dtrain, ntrain), (dtest, ntest) = direct["train"], direct["test"]
    assert m["dropped"] == {"train": sum(dtrain.values()), "val": 0, "test": sum(dtest.values()),
                            "labels": dict(sorted((dtrain + dtest).items())), "reason": "output not in labels.json"}
    # official, uncapped: every kept instance is in exactly one split
    assert sum(m["counts"].values()) == ntrain + ntest - sum(dtrain.values()) - sum(dtest.values())


def test_mnli_no_gold_label_dropped_and_qqp_override(data_root, benches, benchmarks_path, tmp_path):
    m = build_task(data_root, benches, "Long_Sequence", "mnli", "official", 0).manifest
    assert m["dropped"] == {"train": 0, "val": 0, "test": 131, "labels": {"-": 131},
                            "reason": "output not in labels.json"}
    assert m["counts"]["test"] == 7600 - 131 and m["labels_from"] == "labels.json"
    # qqp's labels.json says True/False while its outputs are yes/no: config/benchmarks.yaml lists its classes,
    # visibly; without that override the stale file is an error, never a silently emptied task
    q = build_task(data_root, benches, "Long_Sequence", "qqp", "official", 0, n_train=16, n_val=4, n_test=8).manifest
    assert q["labels"] == ["no", "yes"] and q["labels_from"] == "benchmarks file (labels.json is stale)"
    assert q["labels_observed"] == ["no", "yes"] and q["dropped"]["test"] == 0
    doc = yaml.safe_load(benchmarks_path.read_text())
    del doc["benchmarks"]["Long_Sequence"]["tasks"]["qqp"]["labels"]
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(SaptError) as e:
        build_task(data_root, tmp_path / "b.yaml", "Long_Sequence", "qqp", "official", 0)
    assert str(e.value) == (f"{data_root / LONG / 'qqp' / 'labels.json'}: 7600 of the 7600 instances of test.json "
                            "have an output not in it (e.g. 'no'); the label file looks stale: list the task's classes "
                            "under 'labels' in the benchmarks file")


# ------------------------------------------------------------------------------------ provenance in the manifest
def _git_blob(path):
    import hashlib

    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_manifest_records_upstream_provenance(data_root, benches, tmp_path, tiny_root):
    m = build_task(data_root, benches, "Long_Sequence", "cb", "official", 0, n_train=8).manifest
    for split, name in (("train", "train"), ("val", "train"), ("test", "test")):
        src = m["source"][split]
        assert src["path"] == f"{LONG}/cb/{name}.json" and src["upstream"] == "match"
        assert src["git_blob"] == _git_blob(data_root / LONG / "cb" / f"{name}.json")
    assert m["labels_source"]["upstream"] == "match" and m["upstream"] == "match"
    # the shared copy's dbpedia train.json is rebuilt, not upstream: said in the manifest of every slice built from it
    committed = {x["path"]: x["git_blob"] for x in json.loads((Path(__file__).resolve().parents[1] / "config" /
                                                               "upstream_manifest.json").read_text())["files"]}
    d = build_task(data_root, benches, "Long_Sequence", "dbpedia", "official", 0, n_train=8, n_val=4, n_test=8)
    want = {split: "match" if _git_blob(data_root / LONG / "dbpedia" / f"{split}.json") ==
            committed[f"{LONG}/dbpedia/{split}.json"] else "differs" for split in ("train", "test")}
    assert {split: d.manifest["source"][split]["upstream"] for split in ("train", "test")} == want
    assert d.manifest["upstream"] == ("match" if set(want.values()) == {"match"} else "differs")
    if (data_root / "MANIFEST.md").is_file():  # the development machines' copy
        assert want == {"train": "differs", "test": "match"}
    # an edited copy differs; a file the upstream manifest does not list is "unlisted"
    f = tiny_root / LONG / "cb" / "train.json"
    f.write_text(json.dumps(json.loads(f.read_text())))
    e = build_task(tiny_root, benches, "Long_Sequence", "cb", "official", 0).manifest
    assert e["source"]["train"]["upstream"] == "differs" and e["source"]["test"]["upstream"] == "match"
    doc = json.loads((Path(__file__).resolve().parents[1] / "config" / "upstream_manifest.json").read_text())
    doc["files"] = [x for x in doc["files"] if "/cb/" not in x["path"]]
    (tmp_path / "u.json").write_text(json.dumps(doc))
    u = build_task(data_root, benches, "Long_Sequence", "cb", "official", 0, upstream_manifest=tmp_path / "u.json")
    assert {s["upstream"] for s in u.manifest["source"].values()} == {"unlisted"}
    assert u.manifest["upstream"] == "differs"


# ------------------------------------------------------------------------------------------------------------ CLI
def _cli(*args, data_root, benchmarks_path):
    return main(["prepare-data", "--data-root", str(data_root), "--benchmarks", str(benchmarks_path), *map(str, args)])


def test_cli_writes_files_and_manifest(tmp_path, data_root, benchmarks_path, capsys):
    rc = _cli("--task", "cb", "copa", "--seed", 3, "--n-train", 16, "--n-test", 12, "--out", tmp_path / "o",
              data_root=data_root, benchmarks_path=benchmarks_path)
    assert rc == 0 and "Long_Sequence/cb: train 16 val 12 test 12" in capsys.readouterr().out
    for task in ("cb", "copa"):
        d = tmp_path / "o" / task
        m = load_manifest(d)
        assert sorted(p.name for p in d.iterdir()) == ["manifest.json", "test.jsonl", "train.jsonl", "val.jsonl"]
        assert (m["benchmark"], m["task"], m["protocol"], m["seed"], m["metric"]) == ("Long_Sequence", task,
                                                                                     "official", 3, "accuracy")
        for split in ("train", "val", "test"):
            assert m["sha256"][split] == sha256_file(d / f"{split}.jsonl")
            assert m["counts"][split] == len(load_split(d, split))
        assert m["source"]["test"] == {"path": f"{LONG}/{task}/test.json",
                                       "sha256": sha256_file(data_root / LONG / task / "test.json"),
                                       "git_blob": _git_blob(data_root / LONG / task / "test.json"),
                                       "upstream": "match"}
        row = load_split(d, "train")[0]
        assert list(row) == ["id", "task", "benchmark", "source", "target", "references", "definition", "input"]
    assert load_manifest(tmp_path / "o" / "cb")["labels"] == ["entailment", "contradiction", "neutral"]
    rc = _cli("--benchmark", "Long_Sequence", "--task", "cb", "--seed", 3, "--n-train", 16, "--n-test", 12,
              "--out-task-dir", tmp_path / "single", data_root=data_root, benchmarks_path=benchmarks_path)
    assert rc == 0 and _files(tmp_path / "single") == _files(tmp_path / "o" / "cb")


@pytest.fixture
def tiny_root(tmp_path, data_root):
    """A data root holding copies of cb and copa only (small files)."""
    root = tmp_path / "data"
    for task in ("cb", "copa"):
        shutil.copytree(data_root / LONG / task, root / LONG / task)
    return root


def _break(root, how):
    f = root / LONG / "cb" / "train.json"
    if how == "missing":
        f.unlink()
    elif how == "malformed":
        f.write_text('{"Definition": ["x"], "Instances": [')
    else:
        doc = json.loads(f.read_text())
        if how == "empty":
            doc["Instances"] = []
        elif how == "bad_output":
            doc["Instances"][3]["output"] = 5
        f.write_text(json.dumps(doc))


@pytest.mark.parametrize("case, args, expect", [
    ("missing", ["--task", "cb"], f"{LONG}/cb/train.json: upstream task file not found"),
    ("malformed", ["--task", "cb"], f"{LONG}/cb/train.json: malformed JSON"),
    ("empty", ["--task", "cb"], f"{LONG}/cb/train.json: Instances is empty"),
    ("bad_output", ["--task", "cb"], f"{LONG}/cb/train.json: Instances[3].output: expected a string or non-empty"),
    ("missing", ["--task", "copa", "cb"], f"{LONG}/cb/train.json: upstream task file not found"),  # copa is fine
    (None, ["--benchmark", "Long_Sequence", "--task", "foo"], "task 'foo' is not in benchmark 'Long_Sequence'"),
    (None, ["--task", "foo"], "task 'foo' is in no benchmark"),
    (None, ["--benchmark", "Nope", "--task", "cb"], "unknown benchmark 'Nope'"),
    (None, ["--task", "cb", "--n-train", "abc"], "--n-train: expected a positive integer, got 'abc'"),
    (None, ["--task", "cb", "--n-test", "0"], "--n-test: expected a positive integer, got '0'"),
    (None, ["--task", "cb", "--n-val", "250"], "250 train instances left, too few to hold out 250 for val"),
    (None, ["--task", "cb", "--val-fraction", "1.5"], "--val-fraction: expected a number strictly between 0 and 1"),
    ("no_root", ["--task", "cb"], "data root not found"),
])
def test_cli_bad_input(tmp_path, tiny_root, benchmarks_path, capsys, case, args, expect):
    if case == "no_root":
        tiny_root = tmp_path / "nowhere"
    elif case:
        _break(tiny_root, case)
    out = tmp_path / "out"
    rc = _cli(*args, "--seed", 0, "--out", out, data_root=tiny_root, benchmarks_path=benchmarks_path)
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert expect in err, err
    assert not out.exists()  # nothing written, not even for the valid task of a multi-task call
