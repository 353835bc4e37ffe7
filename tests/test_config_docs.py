"""config/README.md's key tables are generated from the schema, the methods' config classes and the embedded
default: they equal what `sapt config-docs` renders now, and every key of every component is in them."""

import re

from sapt_core.settings.config_docs import blocks, render
from sapt_core.methods import components
from sapt_core.methods.keys import specs


def test_key_tables_are_current(repo_root):
    readme = (repo_root / "config/README.md").read_text()
    generated = blocks(repo_root / "workflow/schemas/config.schema.yaml", repo_root / "config/config.yaml",
                       repo_root / "config/methods.yaml")
    assert render(readme, generated, "README") == readme, "stale: run `./run sapt config-docs --write`"


def test_every_component_key_and_config_key_is_documented(repo_root):
    import yaml

    readme = (repo_root / "config/README.md").read_text()
    for name, cls in components().items():
        section = readme.split(f"### Component `{name}`")[1].split("### Component")[0].split("\n## ")[0]
        assert set(re.findall(r"^\| `(\w+)` \|", section, re.M)) == set(specs(cls.Config)), name
    cfg = yaml.safe_load((repo_root / "config/config.yaml").read_text())
    for key, value in cfg.items():
        assert f"| `{key}` |" in readme, key
        if isinstance(value, dict) and key in ("data", "protocol", "generator_overrides"):
            for sub in value:
                assert f"| `{key}.{sub}` |" in readme, f"{key}.{sub}"
