"""What Snakemake imports at parse time loads no torch: the planner, the config check, the layout, the report registry
and every method's plan-time part (its config and ``Method``, ``sapt_core/methods/<family>``). Torch and transformers
take seconds to import; a DAG of thousands of jobs is built by these modules alone. Also: a method family lives in one
place, so no module outside ``sapt_core/methods`` carries a family's name."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PLAN_TIME = """
import json, sys
import sapt_core.plan, sapt_core.plan.validate, sapt_core.layout, sapt_core.report.registry, sapt_core.arm.settings
import sapt_core.methods as methods
comps = methods.components()
for name, cls in comps.items():
    cls.Config()                       # every component's defaults build without torch
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "peft", "deepspeed"))
modules = sorted({cls.__module__ for cls in comps.values()})
print(json.dumps({"components": sorted(comps), "modules": modules, "heavy": heavy[:5]}))
"""


def test_planner_and_every_methods_plan_time_part_load_no_torch():
    out = subprocess.run([sys.executable, "-c", PLAN_TIME], cwd=ROOT, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert got["heavy"] == [], f"plan-time imports loaded {got['heavy']}"
    # every family of sapt_core/methods registered a component (a family the discovery missed is not checked here)
    families = {p.stem for p in (ROOT / "sapt_core/methods").iterdir()
                if p.name not in ("__init__.py", "base.py", "keys.py", "__pycache__")}
    seen = {m.split(".")[2] for m in got["modules"]}
    assert seen == families and len(families) == 7, (families, got)
    assert len(got["components"]) == 8


def test_the_check_fails_when_a_plan_time_module_imports_torch(tmp_path):
    """The probe above sees a top-level torch import (the property it guards is observable)."""
    (tmp_path / "probe_mod.py").write_text("import torch\n")
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import probe_mod; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_no_method_family_module_outside_methods():
    families = {p.stem for p in (ROOT / "sapt_core/methods").iterdir() if p.is_dir() and p.name != "__pycache__"}
    families |= {"selector", "shared_attention", "reflection"}  # SAPT's parts live in methods/sapt/
    outside = [str(p.relative_to(ROOT)) for p in (ROOT / "sapt_core").rglob("*.py")
               if "methods" not in p.relative_to(ROOT / "sapt_core").parts and p.stem in families]
    assert outside == []
