"""The rules that download (the upstream data, hub backbones) run on the submitting host (Snakemake ``localrules``):
cluster compute nodes often have no internet. Every rule that loads a model runs as a cluster job."""

from pathlib import Path


def test_downloads_run_on_the_submitting_host_and_model_jobs_on_the_cluster(repo_root, data_root, monkeypatch):
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

    monkeypatch.chdir(repo_root)
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        wf = api.workflow(resource_settings=ResourceSettings(), storage_settings=StorageSettings(),
                          config_settings=ConfigSettings(configfiles=[Path(".test/config.yaml")],
                                                         config={"data_root": str(data_root)}),
                          snakefile=Path("Snakefile"), workdir=Path("."))
        workflow = wf._workflow
        rules = {r.name for r in workflow.rules}
        local = set(workflow._localrules)
    assert {"fetch_data", "fetch_backbone"} <= local
    model_rules = {"train_step", "single_task", "train_generator", "generate_pseudo", "evaluate_unseen",
                   "zero_shot_unseen", "build_backbone"}
    assert model_rules <= rules and not model_rules & local
