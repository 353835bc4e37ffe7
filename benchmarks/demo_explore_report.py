"""Markdown tables from the exploration's results.jsonl (benchmarks/demo_explore.py): chains and single-task runs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

EXPLORE = Path(os.environ.get("EXPLORE", "/work/scratch-explore"))


def short(t: str) -> str:
    return t.split("_")[1] if t.startswith("task") else t


def main(prefixes: list[str]) -> None:
    rows = [json.loads(x) for x in (EXPLORE / "results.jsonl").read_text().splitlines() if x.strip()]
    last = {}
    for r in rows:  # the latest record of each name
        last[r["name"]] = r
    chains = [r for r in last.values() if "matrix" in r and (not prefixes or r["name"].startswith(tuple(prefixes)))]
    if chains:
        print("| run | method | tasks | score matrix (row = after step k) | own-step valid | own-step distinct | F.Ra | AP | final routing (rows: test inputs of task; own weight bold) | CPU s train / eval per job |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in chains:
            T = len(r["tasks"])
            mat = " / ".join("[" + ", ".join(f"{x:.1f}" for x in row if x is not None) + "]" for row in r["matrix"])
            val = ", ".join("-" if v is None else f"{100 * v:.0f}%" for v in r["own_valid"].values())
            dist = ", ".join(str(r["steps"][k]["analysis"][t]["distinct"]) for k, t in enumerate(r["tasks"]))
            att = ""
            if r.get("final_attention"):
                att = "; ".join(f"{short(t)}: " + ",".join((f"**{w:.2f}**" if i == k else f"{w:.2f}") for i, w in enumerate(ws))
                                for k, (t, ws) in enumerate(r["final_attention"].items()))
            cpu = r.get("cpu", {})
            tr = cpu.get("train-step") or cpu.get("train-seq") or []
            ev = cpu.get("evaluate") or []
            # the first call of a process pays the imports: report the mean of the later ones
            tcpu = f"{sum(tr[1:]) / max(1, len(tr) - 1):.1f}" if len(tr) > 1 else "-"
            ecpu = f"{sum(ev[1:]) / max(1, len(ev) - 1):.2f}" if len(ev) > 1 else "-"
            print(f"| {r['name']} | {r['method']} | {' -> '.join(map(short, r['tasks']))} | {mat} | {val} | {dist} | "
                  f"{r['FRa']} | {r['AP']} | {att} | {tcpu} / {ecpu} |")
    singles = [r for r in last.values() if r.get("kind") == "single" and (not prefixes or r["name"].startswith(tuple(prefixes)))]
    if singles:
        print()
        print("| run | backbone | task | n_train | epochs | LoRA sites | accuracy | majority | valid | top predictions | train s (wall, loaded) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in singles:
            print(f"| {r['name']} | {Path(r['backbone']).name} | {short(r['task'])} | {r['n_train']} | {r['epochs']} | "
                  f"{' '.join(r.get('targets') or ['q', 'v'])} | {r['acc']:.1f} | {100 * r['majority']:.1f} | "
                  f"{100 * r['valid']:.0f}% | {', '.join(f'{p[:14]} {n}' for p, n in r['top'][:2])} | {r['t_train']:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
