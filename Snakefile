# SAPT continual-learning workflow. Entry point: config, validation, stage rules, named targets.
# Embedded default: `snakemake --cores 2 demo` (./run demo). Rules are thin calls of the `sapt` CLI.
import sys

from snakemake.utils import min_version

from sapt_core.errors import SaptError
from sapt_core.plan import drop_disabled_experiments
from sapt_core.plan.validate import ConfigSources, check_schema, check_yaml_files, validate_config

min_version("9.0")

try:  # a YAML syntax error: one line naming the file and the line (Snakemake's own message names neither)
    check_yaml_files(["config/config.yaml"])
except SaptError as e:
    sys.exit(f"error: {e}")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# The whole merged config is checked here, before any DAG is built, so an invalid edit fails even where every output
# exists: one line naming the file, the key path and what was expected, exit 1 (sapt_core/plan/validate.py).
try:
    CONFIG_SOURCES = ConfigSources.from_snakemake(workflow.config_settings)
    check_schema(config, "workflow/schemas/config.schema.yaml", CONFIG_SOURCES)
    drop_disabled_experiments(config)  # an overlay's `experiments.<name>: null` switches that table / figure off
    validate_config(config, CONFIG_SOURCES)
except SaptError as e:
    sys.exit(f"error: {e}")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/backbones.smk"
include: "workflow/rules/single_task.smk"
include: "workflow/rules/generator.smk"
include: "workflow/rules/continual.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/unseen.smk"


rule all_tables:
    """Every table and figure whose runs the config declares, plus Tables 4-7 and results/README.md."""
    default_target: True
    input:
        PLAN.report_outputs(),
        layout.RESULTS_INDEX,


rule built:
    """The tables and figures of all_tables that exist already: `snakemake --report report.html built` reports a
    partly built results/ tree (a plain `--report` needs every marked output of all_tables to exist)."""
    input:
        lambda wc: [f for f in PLAN.report_outputs() if os.path.exists(f)],


rule demo:
    """Quick check: one single-task train + evaluate per `demo.runs` entry (the embedded default is all_tables)."""
    input:
        demo_targets(),
    log:
        layout.log_file("demo"),
    shell:
        "for f in {input}; do echo \"== $f\"; grep -A3 '\"metric\"' $f; done | tee {log}"


rule runs:
    """Every continual run of every configured experiment, up to its metrics.json (tables land with the report)."""
    input:
        lambda wc: sorted({f for e in config.get("experiments", {}) for f in PLAN.metrics_files(e)}),
