"""From the workflow config to per-job paths and arguments (plain Python, no Snakemake import).

Each rule gets only the parameters of its own job (resolved here), so a config edit reruns exactly the jobs whose
parameters changed (design section 2).
"""

from __future__ import annotations

from sapt_core.errors import SaptError


def config_error_line(exc: BaseException) -> str:
    """One line naming the offending config field, from snakemake's wrapped jsonschema ValidationError."""
    err = exc
    while err is not None and not hasattr(err, "absolute_path"):
        err = err.__cause__ or err.__context__ or (err.args[0] if err.args and isinstance(err.args[0], BaseException) else None)
    if err is None:
        return "config: " + " ".join(str(exc).split())
    field = ".".join(str(p) for p in err.absolute_path) or "<top level>"
    return f"config field {field}: {' '.join(err.message.split())}"


class Plan:
    def __init__(self, config: dict, data_root: str):
        self.config = config
        self.data_root = data_root

    # ---- data -----------------------------------------------------------------------------------------------
    def data_dir(self, benchmark: str, task: str, seed) -> str:
        return f"results/data/{self.config['data']['protocol']}/seed{seed}/{benchmark}/{task}"

    def data_caps_args(self) -> str:
        d = self.config["data"]
        return " ".join(f"--{k.replace('_', '-')} {d[k]}" for k in ("n_train", "n_val", "n_test") if d.get(k))

    # ---- backbones --------------------------------------------------------------------------------------------
    def backbone(self, name: str) -> dict:
        try:
            return self.config["backbones"][name]
        except KeyError:
            known = ", ".join(self.config["backbones"])
            raise SaptError(f"config backbones: no backbone named {name!r} (known: {known})") from None

    def backbone_path(self, name: str) -> str:
        b = self.backbone(name)
        return b["path"] if "path" in b else f"results/backbones/{name}"

    def backbone_input(self, name: str) -> list[str]:
        """Tiny backbones are built by a rule; hub ids / local paths are not workflow inputs."""
        return [f"results/backbones/{name}/config.json"] if "tiny" in self.backbone(name) else []

    def tiny_backbone_args(self, name: str) -> str:
        b = self.backbone(name)
        if "tiny" not in b:
            raise SaptError(f"config backbones.{name}: not a tiny backbone (it loads {b.get('path')!r})")
        t = b["tiny"]
        return (f"--family {b['family']} --d-model {t['d_model']} --layers {t['layers']} --heads {t['heads']} "
                f"--d-ff {t['d_ff']} --vocab-size {t['vocab_size']} --seed {t['seed']} "
                f"--pretrain-steps {t.get('pretrain_steps', 0)}")

    # ---- single-task jobs --------------------------------------------------------------------------------------
    def single_task_args(self, pet: str) -> str:
        st = self.config["single_task"]
        h = st[pet]
        args = [f"--lr {h['lr']}", f"--epochs {h['epochs']}", f"--batch-size {h['batch_size']}",
                f"--grad-accum {h.get('grad_accum', 1)}", f"--max-source-len {st.get('max_source_len', 512)}",
                f"--max-target-len {st.get('max_target_len', 50)}"]
        if pet == "lora":
            args += [f"--lora-r {h.get('lora_r', 8)}", f"--lora-alpha {h.get('lora_alpha', 32)}",
                     f"--lora-dropout {h.get('lora_dropout', 0.0)}"]
        else:
            args += [f"--prompt-len {h.get('prompt_len', 10)}"]
        return " ".join(args)

    def eval_args(self) -> str:
        st = self.config["single_task"]
        return f"--batch-size {st.get('eval_batch_size', 32)} --max-source-len {st.get('max_source_len', 512)}"

    def demo_targets(self) -> list[str]:
        out = []
        for r in self.config.get("demo", {}).get("runs", []):
            self.backbone(r["backbone"])
            out.append(f"results/single_task/{r['benchmark']}/{r['backbone']}/{r['pet']}/seed{r['seed']}/"
                       f"{r['task']}/scores.json")
        return out
