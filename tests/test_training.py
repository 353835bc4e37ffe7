"""Single-block training (method single-task: the a_{0,t} recipe, one fresh block on one task) and evaluation through
the CLI on real task slices (tiny backbones)."""

import json

import pytest
from safetensors.torch import load_file

from sapt_core.cli import main
from sapt_core.data import load_split
from sapt_core.evaluation.scoring import score_task


def _train(backbone, data_dir, out, pet, *extra):
    opt = ["--optimizer", "adafactor"] if pet == "prompt" else []
    return main(["train-step", "--method", "single-task", "--backbone", str(backbone), "--data-dir", str(data_dir),
                 "--pet", pet, *opt, "--seed", "0", "--batch-size", "8", "--global-batch", "8", "--logging-steps", "2",
                 "--max-source-len", "128", "--no-progress", "--state-out", str(out), *extra])


def _state(out):
    return load_file(str(out / "state.safetensors")), json.loads((out / "state.json").read_text())


@pytest.mark.parametrize("which", ["tiny_t5", "tiny_llama"])
@pytest.mark.parametrize("pet,lr", [("lora", "5e-3"), ("prompt", "0.3")])
def test_single_block_loss_goes_down(which, pet, lr, request, cb_dir, tmp_path):
    out = tmp_path / "block"
    assert _train(request.getfixturevalue(which), cb_dir, out, pet, "--lr", lr, "--max-steps", "12") == 0
    tensors, side = _state(out)
    losses = [h["loss"] for h in side["history"][0]["train_log"]]
    assert len(losses) == 6
    assert losses[-1] < losses[0] - 0.05, losses
    assert side["tasks"] == ["cb"] and side["seed"] == 0 and side["config"]["pet"] == pet and side["step"] == 1
    assert side["inputs"]["train.jsonl"] and side["backbone"]["sha256"]
    if pet == "lora":
        assert any(k.endswith(".A") for k in tensors) and all(v.shape[0] == 1 for v in tensors.values())
    else:
        assert list(tensors) == ["prompt.P"] and tensors["prompt.P"].shape[:2] == (1, 10)
    assert not (tmp_path / "block.work").exists()  # in-job checkpoints cleared after success


def test_same_seed_same_weights(tiny_t5, cb_dir, tmp_path):
    for name in ("a", "b"):
        assert _train(tiny_t5, cb_dir, tmp_path / name, "lora", "--max-steps", "3") == 0
    a, b = _state(tmp_path / "a")[0], _state(tmp_path / "b")[0]
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_resume_continues_from_saved_step(tiny_t5, cb_dir, tmp_path):
    """A job stopped after step 3 and started again resumes at step 4 and ends with the uninterrupted weights."""
    full = tmp_path / "full"
    assert _train(tiny_t5, cb_dir, full, "lora", "--max-steps", "6", "--save-steps", "3", "--logging-steps", "1") == 0
    part, work = tmp_path / "part", tmp_path / "work"
    common = ["--save-steps", "3", "--logging-steps", "1", "--workdir", str(work), "--keep-workdir"]
    assert _train(tiny_t5, cb_dir, part, "lora", "--max-steps", "3", *common) == 0
    assert (work / "checkpoint-3").is_dir()
    assert _train(tiny_t5, cb_dir, part, "lora", "--max-steps", "6", *common) == 0
    hist = _state(part)[1]["history"][0]
    assert hist["resumed_from_step"] == 3  # the second run started from the saved step, not from 0
    assert [h["step"] for h in hist["train_log"]] == [1, 2, 3, 4, 5, 6]
    assert _state(full)[1]["history"][0]["resumed_from_step"] == 0
    a, b = _state(full)[0], _state(part)[0]
    assert all(
        __import__("torch").allclose(a[k], b[k], atol=1e-6) for k in a
    )


def test_non_finite_loss_stops_training(tiny_t5, cb_dir, tmp_path, capsys):
    """A backbone whose forward produces NaN: training stops at once with one clear line, nothing saved."""
    import torch

    from sapt_core.models import load_backbone

    bb = load_backbone(str(tiny_t5))
    with torch.no_grad():
        bb.model.encoder.final_layer_norm.weight.fill_(float("nan"))
    bb.model.save_pretrained(tmp_path / "nan-t5")
    bb.tokenizer.save_pretrained(tmp_path / "nan-t5")
    out = tmp_path / "nan"
    assert _train(tmp_path / "nan-t5", cb_dir, out, "lora", "--max-steps", "4") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: non-finite training loss") and "\n" not in err
    assert not out.exists()


@pytest.mark.parametrize("bad,flag", [(["--batch-size", "0"], "--batch-size"), (["--lr", "-1"], "--lr"),
                                      (["--lora-r", "0"], "--lora-r"), (["--pet", "adapter"], "--pet")])
def test_bad_hyperparameters(bad, flag, tiny_t5, cb_dir, tmp_path, capsys):
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as e:  # argparse refuses the value: one line naming the flag, exit 2
        _train(tiny_t5, cb_dir, out, "lora", "--max-steps", "1", *bad)
    assert e.value.code == 2 and flag in capsys.readouterr().err and not out.exists()


def test_missing_backbone_is_one_line_error(cb_dir, tmp_path, capsys):
    assert _train(tmp_path / "no-such-model", cb_dir, tmp_path / "x", "lora") == 2
    err = capsys.readouterr().err.strip()
    assert "no-such-model" in err and "\n" not in err


@pytest.mark.parametrize("which,pet", [("tiny_t5", "lora"), ("tiny_llama", "lora"), ("tiny_t5", "prompt")])
def test_evaluate_scores_match_predictions(which, pet, request, cb_dir, sst2_superni_dir, tmp_path):
    backbone = request.getfixturevalue(which)
    block = tmp_path / "block"
    assert _train(backbone, cb_dir, block, pet, "--lr", "5e-3", "--max-steps", "4") == 0
    out, preds = tmp_path / "scores.json", tmp_path / "preds.jsonl"
    rc = main(["evaluate", "--backbone", str(backbone), "--state", str(block), "--data-dirs", str(cb_dir),
               str(sst2_superni_dir), "--batch-size", "8", "--max-new-tokens", "8", "--out", str(out),
               "--predictions", str(preds)])
    assert rc == 0
    scores = json.loads(out.read_text())["tasks"]
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    for d in (cb_dir, sst2_superni_dir):
        test = load_split(d, "test")
        task = test[0]["task"]
        mine = [r for r in rows if r["task"] == task]
        assert [r["id"] for r in mine] == [r["id"] for r in test]
        expect = score_task([r["prediction"] for r in mine], [[r["target"]] for r in test], "accuracy")
        assert scores[task]["metric"] == "accuracy" and scores[task]["n"] == len(test)
        assert scores[task]["score"] == pytest.approx(expect["score"])
    # greedy decoding is deterministic
    rc = main(["evaluate", "--backbone", str(backbone), "--state", str(block), "--data-dirs", str(cb_dir),
               "--batch-size", "8", "--max-new-tokens", "8", "--out", str(tmp_path / "s2.json"),
               "--predictions", str(tmp_path / "p2.jsonl")])
    again = [json.loads(line)["prediction"] for line in (tmp_path / "p2.jsonl").read_text().splitlines()]
    assert again == [r["prediction"] for r in rows if r["task"] == "cb"]
