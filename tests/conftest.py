"""Shared fixtures: the repository root, the upstream data root and the benchmarks file."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def data_root() -> Path:
    """$SAPT_DATA_ROOT, else <repo>/../shared/data; tests that need it are skipped when it is absent."""
    root = Path(os.environ.get("SAPT_DATA_ROOT") or REPO_ROOT.parent / "shared" / "data")
    if not (root / "CL_Benchmark").is_dir():
        pytest.skip(f"benchmark data root not found: {root}")
    return root


@pytest.fixture(scope="session")
def benchmarks_path() -> Path:
    return REPO_ROOT / "config" / "benchmarks.yaml"


# ---- tiny backbones and prepared real-data slices, built once per session ------------------------------------


def _tiny(tmp_path_factory, data_root, benchmarks_path, family):
    from sapt_core.models.tiny import build_tiny_backbone

    out = tmp_path_factory.mktemp("backbones") / f"tiny-{family}"
    return build_tiny_backbone(out, family, str(data_root), str(benchmarks_path), vocab_size=2048, d_model=64,
                               layers=2, heads=4, d_ff=128, seed=0, corpus_per_task=60)


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory, data_root, benchmarks_path):
    return _tiny(tmp_path_factory, data_root, benchmarks_path, "t5")


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory, data_root, benchmarks_path):
    return _tiny(tmp_path_factory, data_root, benchmarks_path, "llama")


def prepare_chain(tmp_path_factory, data_root, benchmarks_path, name: str, tasks, n_train: int, n_val: int,
                  n_test: int) -> list[Path]:
    """Long Sequence tasks prepared (official protocol, seed 0) into one temporary directory, in chain order."""
    from sapt_core.data import prepare_task

    root = tmp_path_factory.mktemp(name)
    for t in tasks:
        prepare_task(str(data_root), str(benchmarks_path), "Long_Sequence", t, "official", 0, root / t,
                     n_train=n_train, n_val=n_val, n_test=n_test)
    return [root / t for t in tasks]


def _prepared(tmp_path_factory, data_root, benchmarks_path, benchmark, task, n_train=32, n_test=16):
    from sapt_core.data import prepare_task

    out = tmp_path_factory.mktemp("data") / task
    prepare_task(str(data_root), str(benchmarks_path), benchmark, task, "official", 0, out,
                 n_train=n_train, n_val=8, n_test=n_test)
    return out


@pytest.fixture(scope="session")
def cb_dir(tmp_path_factory, data_root, benchmarks_path):
    return _prepared(tmp_path_factory, data_root, benchmarks_path, "Long_Sequence", "cb")


@pytest.fixture(scope="session")
def sst2_superni_dir(tmp_path_factory, data_root, benchmarks_path):
    return _prepared(tmp_path_factory, data_root, benchmarks_path, "SuperNI", "task363_sst2_polarity_classification")
