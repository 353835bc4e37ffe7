"""ARM generator B_ref and pseudo inputs: training rows, post-processing, volume selection, and the two CLI commands
(train-generator, generate-pseudo) on tiny backbones and real task slices."""

import json

import pytest

from sapt_core.arm.generator import (GEN_MARKER, INP_MARKER, generator_rows, select_pseudo, split_generation,
                                     split_generations)
from sapt_core.cli import main
from sapt_core.data import format_source, load_split
from sapt_core.errors import SaptError


# ------------------------------------------------------------------------------------------------ pure functions
def test_generator_rows_never_hold_the_answer(cb_dir):
    rows = [{"id": "x1", "task": "t", "benchmark": "B", "source": "Def\nIn\nOutput: ", "target": "ANSWER-XYZ",
             "references": ["ANSWER-XYZ", "OTHER-ANSWER"], "definition": "Def", "input": "In"}]
    g = generator_rows(rows)
    assert g[0]["source"] == GEN_MARKER and g[0]["target"] == "Def" + INP_MARKER + "In"
    assert "ANSWER" not in json.dumps(g)
    for r, real in zip(generator_rows(load_split(cb_dir, "train")), load_split(cb_dir, "train")):
        assert r["source"] == GEN_MARKER and r["references"] == []
        assert r["target"] == real["definition"] + INP_MARKER + real["input"]


@pytest.mark.parametrize("which", ["tiny_t5", "tiny_llama"])
def test_markers_round_trip_through_the_tokenizer(which, request):
    """No tokens are added: the markers must survive encode/decode as plain text pieces."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(request.getfixturevalue(which))
    text = "Given a pair of sentences." + INP_MARKER + "sentence 1: A: so"
    ids = tok(text, add_special_tokens=False).input_ids
    assert INP_MARKER in tok.decode(ids, skip_special_tokens=True)


def test_split_generation_cases():
    d = "Summarize the dialogue."
    assert split_generation(f"{d}{INP_MARKER}A: hi B: hello", d, "cb") == (d, "A: hi B: hello")
    assert split_generation(f" An instruction {INP_MARKER} an input ", d, "cb") == ("An instruction", "an input")
    # the model started over: the input stops at the next marker
    assert split_generation(f"ins{INP_MARKER}inp{INP_MARKER}more", d, "cb") == ("ins", "inp")
    # no marker: dropped, except diplomacy / samsum, split at the original instruction's length
    assert split_generation("no marker here at all", d, "cb") is None
    assert split_generation("no marker here at all", d, "task363_sst2_polarity_classification") is None
    text = "Summarize the dialogXX. Tom: where are you?"
    assert split_generation(text, d, "task1572_samsum_summary") == ("Summarize the dialogXX.", "Tom: where are you?")
    assert split_generation(text, d, "task1590_diplomacy_text_generation") == (text[:len(d)], text[len(d):].strip())


def test_split_generations_drop_fallback_and_error():
    d = "Def."
    pairs, st = split_generations([f"a{INP_MARKER}b", "junk", f"c{INP_MARKER}d"], d, "cb")
    assert pairs == [("a", "b"), ("c", "d")] and st.dropped == 1 and not st.fallback_all and st.length_split == 0
    # no text holds the marker: every text is split at the instruction length instead of yielding nothing
    pairs, st = split_generations(["Def.input one", "Xyz.input two", ""], d, "cb")
    assert pairs == [("Def.", "input one"), ("Xyz.", "input two")]
    assert st.fallback_all and st.length_split == 3 and st.dropped == 1 and st.usable == 2
    with pytest.raises(SaptError, match="'cb'"):
        split_generations(["", "  "], d, "cb")


def test_select_pseudo_volume_and_determinism():
    gen = [(f"instruction {i % 3}", f"input {i}") for i in range(50)]
    kw = dict(volume=0.02, seed=1, template="superni", task="t", benchmark="B")
    rows = select_pseudo(gen, n_train=1000, **kw)
    assert len(rows) == 20
    assert len({r["definition"] for r in rows}) == 1 and rows[0]["definition"] in {g[0] for g in gen}
    assert all(r["target"] == "" and r["references"] == [] for r in rows)
    assert all(r["source"] == format_source("superni", r["definition"], r["input"]) for r in rows)
    assert len({r["id"] for r in rows}) == 20
    assert len(select_pseudo(gen, n_train=30, **kw)) == 1  # int(0.6) = 0 -> at least one
    assert len(select_pseudo(gen[:5], n_train=1000, **kw)) == 5  # fewer available than asked: all of them
    assert select_pseudo(gen, n_train=1000, **kw) == rows
    others = [select_pseudo(gen, n_train=1000, **{**kw, "seed": s}) for s in range(2, 6)]
    assert any(o != rows for o in others)
    for bad in (0, 1.5, -0.1):
        with pytest.raises(SaptError, match="volume"):
            select_pseudo(gen, n_train=1000, **{**kw, "volume": bad})


# --------------------------------------------------------------------------------------------------------- CLI
def _train_gen(backbone, data_dir, out, *extra):
    return main(["train-generator", "--backbone", str(backbone), "--data-dir", str(data_dir), "--out", str(out),
                 "--seed", "0", "--batch-size", "8", "--logging-steps", "2", "--max-target-len", "64", "--lr", "5e-3",
                 "--no-progress", *extra])


@pytest.fixture(scope="module")
def generators(tiny_t5, tiny_llama, cb_dir, tmp_path_factory):
    out = {}
    for fam, bb in (("t5", tiny_t5), ("llama", tiny_llama)):
        path = tmp_path_factory.mktemp("gen") / f"gen-{fam}.safetensors"
        assert _train_gen(bb, cb_dir, path, "--max-steps", "6") == 0
        out[fam] = (bb, path)
    return out


@pytest.mark.parametrize("fam", ["t5", "llama"])
def test_train_generator(fam, generators, tmp_path):
    from safetensors.torch import load_file

    _, path = generators[fam]
    side = json.loads(path.with_suffix(".json").read_text())
    losses = [h["loss"] for h in side["train_log"]]
    assert len(losses) == 3 and losses[-1] < losses[0] - 0.05, losses
    assert side["kind"] == "arm_generator" and side["task"] == "cb" and side["benchmark"] == "Long_Sequence"
    assert side["seed"] == 0 and side["resumed_from_step"] == 0 and side["inputs"]["train.jsonl"]
    assert side["pet"]["type"] == "lora" and side["pet"]["lora_r"] == 8 and side["pet"]["lora_alpha"] == 32
    assert side["pet"]["lora_dropout"] == 0.1 and side["backbone"]["family"] == fam
    assert side["train"]["max_target_len"] == 64 and side["train"]["max_source_len"] == 8
    assert side["markers"] == {"gen": GEN_MARKER, "inp": INP_MARKER, "added_tokens": False}
    assert any("lora_A" in k for k in load_file(str(path)))
    assert not path.with_name(path.name + ".work").exists()


def test_train_generator_defaults_are_appendix_c():
    from sapt_core.cli import build_parser
    from sapt_core.recipes.train_generator import settings

    argv = ["train-generator", "--backbone", "b", "--data-dir", "d", "--out", "o.safetensors", "--seed", "0"]
    s = settings(build_parser(argv).parse_args(argv))
    assert (s["lr"], s["max_steps"], s["batch_size"], s["max_target_len"], s["r"], s["alpha"], s["dropout"]) == \
        (1e-3, 5000, 16, 512, 8, 32, 0.1)
    p = settings(build_parser(argv + ["--pet", "prompt"]).parse_args(argv + ["--pet", "prompt"]))
    assert (p["length"], p["epochs"], p["optimizer"], p["lr"], p["batch_size"]) == (300, 80, "adafactor", 0.5, 16)
    assert "max_steps" not in p  # the prompt generator trains for its epochs (App. C: 80), not for 5k steps


def test_train_generator_resumes(tiny_t5, cb_dir, tmp_path):
    out, work = tmp_path / "g.safetensors", tmp_path / "work"
    common = ["--save-steps", "2", "--workdir", str(work), "--keep-workdir"]
    assert _train_gen(tiny_t5, cb_dir, out, "--max-steps", "2", *common) == 0
    assert _train_gen(tiny_t5, cb_dir, out, "--max-steps", "4", *common) == 0
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["resumed_from_step"] == 2 and [h["step"] for h in side["train_log"]] == [2, 4]


def _gen(backbone, generator, data_dir, out, *extra):
    return main(["generate-pseudo", "--backbone", str(backbone), "--generator", str(generator), "--data-dir",
                 str(data_dir), "--out", str(out), "--seed", "0", "--max-new-tokens", "24", "--n-candidates", "8",
                 *extra])


@pytest.mark.parametrize("fam", ["t5", "llama"])
def test_generate_pseudo(fam, generators, cb_dir, tmp_path):
    bb, gen = generators[fam]
    a, b = tmp_path / "a" / "pseudo.jsonl", tmp_path / "b" / "pseudo.jsonl"
    # N_train = 32: volume 0.125 keeps int(4.0) = 4 of the 8 candidates
    assert _gen(bb, gen, cb_dir, a, "--volume", "0.125", "--batch-size", "3") == 0
    assert _gen(bb, gen, cb_dir, b, "--volume", "0.125", "--batch-size", "3") == 0
    assert a.read_bytes() == b.read_bytes()  # same seed, same file
    rows = [json.loads(line) for line in a.read_text().splitlines()]
    side = json.loads(a.with_name("pseudo.json").read_text())
    assert len(rows) == 4 == side["n_rows"] == side["n_target"]
    assert len({r["definition"] for r in rows}) == 1
    for r in rows:
        assert r["task"] == "cb" and r["benchmark"] == "Long_Sequence" and r["target"] == "" and r["references"] == []
        assert r["source"] == format_source("long", r["definition"], r["input"])
        assert GEN_MARKER not in r["source"]  # LLaMA: the prompt is not decoded back into the sample
    assert side["source"] == "generated" and side["n_candidates"] == 8 and side["split"]["candidates"] == 8
    assert side["sampling"]["top_k"] == 20 and side["sampling"]["repetition_penalty"] == 2.5
    assert side["sampling"]["do_sample"] is True and side["sampling"]["num_beams"] == 1
    assert side["generator"]["sha256"] and side["seed"] == 0 and side["versions"]["torch"]
    assert side["fallbacks"] == (side["split"]["length_split"] if side["split"]["fallback_all"] else 0)
    # default volume 0.02: max(1, int(0.64)) = 1 row
    c = tmp_path / "c.jsonl"
    assert _gen(bb, gen, cb_dir, c) == 0 and len(c.read_text().splitlines()) == 1


def test_generate_pseudo_shipped(cb_dir, data_root, benchmarks_path, tmp_path):
    shipped = json.loads((data_root / "generated_data/lora_gen_long_t5/Long_Sequence/cb/train.json").read_text())
    inputs = {x["input"] for x in shipped["Instances"]}

    def go(out, volume, seed="0"):
        return main(["generate-pseudo", "--source", "shipped", "--family", "t5", "--data-dir", str(cb_dir),
                     "--data-root", str(data_root), "--benchmarks", str(benchmarks_path), "--volume", volume,
                     "--seed", seed, "--out", str(out)])

    assert go(tmp_path / "p.jsonl", "0.1") == 0  # int(3.2) = 3 of the 5 shipped
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and {r["input"] for r in rows} <= inputs
    assert all(r["definition"] == shipped["Definition"][0] and r["target"] == "" for r in rows)
    assert all(r["source"] == format_source("long", r["definition"], r["input"]) for r in rows)
    side = json.loads((tmp_path / "p.json").read_text())
    assert side["source"] == "shipped" and side["shipped"]["available"] == 5 and side["shipped"]["family"] == "t5"
    assert go(tmp_path / "q.jsonl", "1") == 0  # min(32, 5 shipped)
    assert len((tmp_path / "q.jsonl").read_text().splitlines()) == 5
    assert go(tmp_path / "r.jsonl", "0.1") == 0
    assert (tmp_path / "r.jsonl").read_bytes() == (tmp_path / "p.jsonl").read_bytes()


@pytest.mark.parametrize("case", ["no-generator", "volume-0", "volume-big", "family", "wrong-task"])
def test_generate_pseudo_bad_input(case, tiny_t5, cb_dir, sst2_superni_dir, data_root, benchmarks_path, tmp_path,
                                   capsys):
    out = tmp_path / "pseudo.jsonl"
    missing = tmp_path / "nope.safetensors"
    base = ["generate-pseudo", "--seed", "0", "--out", str(out), "--backbone", str(tiny_t5)]
    if case == "wrong-task":  # a generator of cb used on sst2 (the sidecar check runs before any model is loaded)
        gen = tmp_path / "g.safetensors"
        from sapt_core.io import save_weights
        import torch

        save_weights(gen, {"x": torch.zeros(1)}, {"kind": "arm_generator", "task": "cb"})
    argv, expect = {
        "no-generator": (["--generator", str(missing), "--data-dir", str(cb_dir)], "nope.safetensors"),
        "volume-0": (["--generator", str(missing), "--data-dir", str(cb_dir), "--volume", "0"], "--volume"),
        "volume-big": (["--generator", str(missing), "--data-dir", str(cb_dir), "--volume", "1.5"], "--volume"),
        "family": (["--source", "shipped", "--family", "gpt", "--data-dir", str(cb_dir), "--data-root",
                    str(data_root), "--benchmarks", str(benchmarks_path)], "--family"),
        "wrong-task": (["--generator", str(tmp_path / "g.safetensors"), "--data-dir", str(sst2_superni_dir)], "cb"),
    }[case]
    assert main(base + argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and expect in err, err
    assert not out.exists() and not out.with_suffix(".json").exists()
