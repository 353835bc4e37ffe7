"""The SLURM profile: what it sets, the SITE lines a user edits, and ``sapt install-profile`` putting it where
``snakemake --profile slurm`` finds it by name. The live submission is tests/test_cluster.py."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import sapt_core.plan as plan_module
from sapt_core.errors import SaptError
from sapt_core.commands.install_profile import install_profile, user_profile_dir


def test_slurm_profile_settings(repo_root):
    text = (repo_root / "workflow/profiles/slurm/config.yaml").read_text()
    prof = yaml.safe_load(text)
    assert prof["executor"] == "slurm" and prof["configfile"] == "config/paper.yaml"
    assert prof["retries"] >= 1 and prof["rerun-incomplete"] is True
    assert prof["slurm-requeue"] is True and prof["slurm-logdir"] == "results/logs/slurm"
    assert 0 < prof["slurm-init-seconds-before-status-checks"] < 40  # the plugin's default 40 s delays every run
    assert prof["slurm-status-command"] in ("sacct", "squeue")
    assert set(prof["default-resources"]) == {"slurm_partition", "runtime", "mem_mb", "cpus_per_task"}
    site = [line for line in text.splitlines() if "SITE" in line]
    assert any("slurm_partition" in line for line in site) and any("account" in line for line in site)
    assert "slurm_account" not in prof["default-resources"]  # the plugin validates accounts with sacctmgr: opt in


def test_model_rules_request_per_job_and_run_in_the_gpu_partition(repo_root):
    """The rules that load a model state ``resources: **job_resources("<rule>")`` (sapt_core.plan.resources: GPUs
    per job, runtime x attempt) and are exactly the profile's set-resources rules (the GPU partition, one SITE
    line); every other rule takes the default-resources (the CPU partition) and requests no GPU."""
    from sapt_core.plan.resources import RULE_KINDS

    text = (repo_root / "workflow/profiles/slurm/config.yaml").read_text()
    prof = yaml.safe_load(text)
    model_rules = set()
    for smk in (repo_root / "workflow/rules").glob("*.smk"):
        for block in ("\n" + smk.read_text()).split("\nrule ")[1:]:
            name = block.split(":")[0]
            if "job_resources(" in block:
                assert f'**job_resources("{name}")' in block and f'threads: job_threads("{name}")' in block, name
                model_rules.add(name)
            else:
                assert "gpu" not in block, (smk.name, name)
    assert model_rules == set(RULE_KINDS) | {"generate_pseudo"}
    # what those requests are: the rules' `job_resources` as workflow/rules/common.smk defines it, bound to the
    # plan of config/paper.yaml; every model rule's runtime grows with the attempt (a retry asks for 2x, then 3x)
    plan = plan_module.ContinualPlan(yaml.safe_load((repo_root / "config/paper.yaml").read_text()), data_root="unused")
    common = (repo_root / "workflow/rules/common.smk").read_text()
    source = common[common.index("def job_resources("):].split("\n\n\n")[0]
    scope = {"per_job": lambda f: f, "PLAN": plan, "plan": plan_module}
    exec(source, scope)
    for rule in sorted(model_rules):
        wc = SimpleNamespace(backbone="t5-large", source="generated")  # generate_pseudo sampling: loads the model
        runtime = scope["job_resources"](rule)["runtime"]
        first = runtime(wc, 1)
        assert first > 0 and plan.job_resource(rule, wc, "gpu") >= 1, rule
        assert [runtime(wc, 2), runtime(wc, 3)] == [2 * first, 3 * first], rule
    assert set(prof["set-resources"]) == model_rules
    assert {r["slurm_partition"] for r in prof["set-resources"].values()} == {"gpu"}
    assert prof["default-resources"]["slurm_partition"] == "cpu"
    site = [line for line in text.splitlines() if "SITE" in line]
    assert sum("slurm_partition" in line for line in site) == 2  # the CPU and the GPU partition: one line each


def test_install_profile_honours_xdg_config_home(monkeypatch, tmp_path, repo_root):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_profile_dir() == tmp_path / "xdg" / "snakemake"
    target = install_profile()
    assert target == tmp_path / "xdg/snakemake/slurm"
    assert (target / "config.yaml").read_text() == (repo_root / "workflow/profiles/slurm/config.yaml").read_text()
    (target / "config.yaml").write_text("executor: slurm  # edited SITE values\n")
    with pytest.raises(SaptError, match="already installed"):
        install_profile()
    assert "edited" in (target / "config.yaml").read_text()  # not replaced without --force
    install_profile(force=True)
    assert (target / "config.yaml").read_text() == (repo_root / "workflow/profiles/slurm/config.yaml").read_text()
    assert [p.name for p in target.parent.iterdir()] == ["slurm"]  # no temporary directory left behind
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_profile_dir() == tmp_path / "home/.config/snakemake"


def test_snakemake_finds_the_installed_profile_by_name(tmp_path, repo_root, data_root):
    """``sapt install-profile`` then ``snakemake --profile slurm`` (dry run, the tiny .test config) from the repo."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    res = subprocess.run(["sapt", "install-profile"], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "slurm", "-n", "table1", "--configfile",
                          ".test/config.yaml", "--config", f"data_root={data_root}", "--quiet", "rules"],
                         cwd=repo_root, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert "Using profile slurm" in out and "train_step" in out
