"""Training loggers (config ``logging.report_to``, flag ``--report-to``): the HF Trainer's own integrations receive the
step job's logged losses. TensorBoard: the event files under ``--logging-dir`` hold the job's loss curve, the same
values as the state sidecar's ``train_log``; a logger whose package is missing is one line."""

import pytest

from sapt_core.cli import main
from sapt_core.io import read_json

STEP = ["--seed", "0", "--batch-size", "8", "--global-batch", "8", "--max-steps", "6", "--logging-steps", "2",
        "--lr", "1e-2", "--max-source-len", "48", "--no-progress"]


def _scalars(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_event_files_hold_the_step_jobs_loss_curve(tiny_t5, cb_dir, tmp_path):
    logdir = tmp_path / "tb" / "step1"
    assert main(["train-step", "--method", "seq-lora", "--backbone", str(tiny_t5), "--data-dir", str(cb_dir),
                 "--state-out", str(tmp_path / "s1"), "--report-to", "tensorboard", "--run-name", "demo/step1",
                 "--logging-dir", str(logdir), *STEP]) == 0
    assert list(logdir.glob("events.out.tfevents.*")), "no event file"
    scalars = _scalars(logdir)
    logged = [(h["step"], h["loss"]) for h in read_json(tmp_path / "s1/state.json", "state")["history"][-1]["train_log"]]
    assert [s for s, _ in scalars["train/loss"]] == [s for s, _ in logged] == [2, 4, 6]
    assert [v for _, v in scalars["train/loss"]] == pytest.approx([v for _, v in logged], rel=1e-5)
    assert "train/learning_rate" in scalars


def test_without_a_logger_no_event_file_is_written(tiny_t5, cb_dir, tmp_path):
    assert main(["train-step", "--method", "seq-lora", "--backbone", str(tiny_t5), "--data-dir", str(cb_dir),
                 "--state-out", str(tmp_path / "s1"), "--logging-dir", str(tmp_path / "tb"), *STEP]) == 0
    assert not (tmp_path / "tb").exists() and not list(tmp_path.rglob("events.out.tfevents.*"))


def test_a_logger_whose_package_is_missing_is_one_line(tiny_t5, cb_dir, tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    assert main(["train-step", "--method", "seq-lora", "--backbone", str(tiny_t5), "--data-dir", str(cb_dir),
                 "--state-out", str(tmp_path / "s1"), "--report-to", "wandb", *STEP]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--report-to wandb" in err[0] and "'wandb' package is not installed" in err[0]
    assert not (tmp_path / "s1").exists()


def test_the_workflow_key_names_each_training_job_after_its_results_path():
    """``logging.report_to`` reaches every training job as flags; ``none`` (the default) adds none."""
    import yaml

    from sapt_core.plan import ContinualPlan

    config = yaml.safe_load(open("config/config.yaml"))
    assert ContinualPlan(config, "data").logger_args("train_step", "Long_Sequence", "o", "tiny-t5", "m", "seed0",
                                                     "step2") == ""
    config["logging"] = {"report_to": "tensorboard"}
    flags = ContinualPlan(config, "data").logger_args("train_step", "Long_Sequence", "o", "tiny-t5", "m", "seed0",
                                                      "step2").split()
    assert flags == ["--report-to", "tensorboard", "--run-name", "train_step/Long_Sequence/o/tiny-t5/m/seed0/step2",
                     "--logging-dir", "results/logs/trainer/train_step/Long_Sequence/o/tiny-t5/m/seed0/step2"]
