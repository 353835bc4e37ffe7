"""One job's method values: ``config/methods.yaml`` resolved for (method, backbone, benchmark, order), then the
workflow config's ``method_overrides`` (``"*"`` for every method, then the method's own entry), then a method
variant's values (``<method>~<key>=<value>,...``: Figure 6's replay volumes). Each job reads only its own values, so
editing one method's entry reruns only that method's jobs."""

from __future__ import annotations

from sapt_core.errors import SaptError, did_you_mean, known_text
from sapt_core.settings.methods_file import METHODS_FILE, split_variant, variant_name  # noqa: F401  (re-exported)


EXTENDS = "extends"  # in a method's method_overrides entry: the entry it extends instead (not a value)


class HparamsPlan:
    config: dict

    @property
    def methods_file(self) -> str:
        """The config's ``methods_file``, else the default :data:`~sapt_core.settings.methods_file.METHODS_FILE`."""
        return self.config.get("methods_file", METHODS_FILE)

    @property
    def methods(self) -> dict:
        if getattr(self, "_methods", None) is None:
            from sapt_core.settings.methods_file import load_methods

            self._methods = load_methods(self.methods_file, self.method_bases(), "config method_overrides")
        return self._methods

    def method_bases(self) -> dict[str, str]:
        """``method_overrides.<method>.extends``: the methods file entry the method extends in this workflow instead
        of the file's own base (:func:`~sapt_core.settings.methods_file.load_methods`)."""
        mo = self.config.get("method_overrides") or {}
        return {m: v[EXTENDS] for m, v in mo.items() if m != "*" and isinstance(v, dict) and EXTENDS in v}

    def method_names(self) -> list[str]:
        return list(self.methods["methods"])

    def hparams(self, method: str, backbone: str, benchmark: str | None, order: str | None) -> dict:
        """The resolved values of one job (identity keys first); cached per (method, backbone, benchmark, order)."""
        from sapt_core.methods.keys import check_mapping

        cache = self.__dict__.setdefault("_hparams", {})
        key = (method, backbone, benchmark, order)
        if key not in cache:
            base, variant = split_variant(method)
            if variant:
                h = self.hparams(base, backbone, benchmark, order)
                from sapt_core.methods import component

                comp = component(h["component"])
                h.update(check_mapping(comp.Config, variant, f"method variant {method!r}",
                                       f"key of {base!r} (component {comp.component})"))
                cache[key] = {**h, "method": method}
            else:
                from sapt_core.settings.methods_file import resolve

                cache[key] = resolve(self.methods, method, backbone, benchmark, order,
                                     family=self.backbone(backbone)["family"], overrides=self._overrides(method),
                                     overrides_label=f"config method_overrides ({method})")
        return dict(cache[key])

    def protocol_values(self, keys) -> dict:
        """The workflow's ``protocol`` as method values: the selection policy for every method, SAPT's a_i split for
        the methods that store one; ``official`` leaves the methods file's own values (the authors' protocol)."""
        p = self.config.get("protocol") or {}
        out = {}
        if p.get("selection", "official") != "official":
            out.update(selection=p["selection"], select_every_epochs=p["select_every_epochs"])
        if p.get("attention_split", "official") != "official" and "attn_split" in keys:
            out["attn_split"] = p["attention_split"]
        return out

    def _overrides(self, method: str) -> dict:
        """The protocol, then ``method_overrides``: ``"*"`` reaches the keys the method's component has; the method's
        own entry must fit its keys exactly."""
        from sapt_core.methods import component
        from sapt_core.settings.methods_file import method_entry

        mo = self.config.get("method_overrides") or {}
        own = component(method_entry(self.methods, method)["component"]).keys()
        star = mo.get("*") or {}
        known = {k for comp in _components() for k in comp.keys()}
        unknown = [k for k in star if k not in known]
        if unknown:
            raise SaptError(f"config method_overrides.*.{unknown[0]}: not a key of any method"
                            f"{did_you_mean(unknown[0], known)}{known_text(sorted(known))}")
        values = {k: v for k, v in (mo.get(method) or {}).items() if k != EXTENDS}
        return {**self.protocol_values(own), **{k: v for k, v in star.items() if k in own}, **values}

    def method(self, method: str, backbone: str, benchmark: str | None, order: str | None):
        """The :class:`~sapt_core.methods.base.Method` of one job."""
        from sapt_core.settings.methods_file import instance

        return instance(self.hparams(method, backbone, benchmark, order))

    def method_info(self, method: str) -> dict:
        """A method's entry of the methods file (label, component, benchmarks), by its (variant) name."""
        from sapt_core.settings.methods_file import method_entry

        return method_entry(self.methods, split_variant(method)[0])


def _components():
    from sapt_core.methods import components

    return components().values()
