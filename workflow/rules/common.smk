# Shared helpers: config access and paths. Logic lives in sapt_core.plan (plain Python, unit-tested).
import os

from sapt_core import plan

DATA_ROOT = os.environ.get("SAPT_DATA_ROOT") or config["data_root"]
PLAN = plan.ContinualPlan(config, data_root=DATA_ROOT)


wildcard_constraints:
    seed=r"\d+",
    pet="lora|prompt",
    protocol="official|paper",
    k=r"\d+",
    order=r"order\d+",
    source="generated|shipped|real",
    volume=r"[0-9.]+",


def demo_targets():
    return PLAN.demo_targets()
