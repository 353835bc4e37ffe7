"""./run's set-up gives uv pip's package sources (envs/pip_sources.py): of each key, the value of the source pip itself
would use (environment, then site, user, global configuration), as uv's flag; list keys become one flag per item."""

import importlib.util

from conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location("pip_sources", REPO_ROOT / "envs/pip_sources.py")
pip_sources = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pip_sources)

LISTING = """\
:env:.cert='/env.pem'
:env:.find-links='/opt/wheels'
global.cert='/global.pem'
global.extra-index-url='file:///a/simple file:///b/simple'
global.find-links='/global/wheels'
global.timeout='60'
user.index-url='https://mirror/simple'
global.index-url='https://other/simple'
site.trusted-host='mirror other'
"""


def test_each_key_takes_the_value_pip_would_use_as_uvs_flag():
    settings = pip_sources.winning(LISTING)
    assert settings == {"cert": "/env.pem", "find-links": "/opt/wheels", "index-url": "https://mirror/simple",
                        "extra-index-url": "file:///a/simple file:///b/simple", "trusted-host": "mirror other"}
    assert pip_sources.flags(settings) == [
        "--cert", "/env.pem", "--find-links", "/opt/wheels", "--extra-index-url", "file:///a/simple",
        "--extra-index-url", "file:///b/simple", "--index-url", "https://mirror/simple",
        "--allow-insecure-host", "mirror", "--allow-insecure-host", "other"]
    assert pip_sources.flags(pip_sources.winning("global.cert=unquoted\n")) == []  # not pip's format: left to uv
    # an unreadable value of the winning source is left to uv, not replaced by a lower source's
    assert pip_sources.winning(":env:.cert=unquoted\nglobal.cert='/global.pem'\n") == {}
