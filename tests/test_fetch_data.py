"""fetch-data and verify-data against the committed upstream manifest, offline.

The archives are built here, in GitHub's layout (one top folder ``<repo>-<commit>/``), from the shared data root.
That copy holds four rebuilt files and lacks two (its MANIFEST.md), so "good" is computed, not assumed: the test
manifest is the committed one restricted to the files whose git blob id the shared copy matches (recomputed here with
hashlib, independently of the code under test), and the tests assert that exactly that subset is fetched, each file
with the committed manifest's blob id. The archives also carry files the manifest does not list (dev.json, code),
which must not be kept. Downloads go through ``file://`` URLs or a loopback HTTP server started by the test.
"""

import hashlib
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest

from sapt_core.cli import main
from sapt_core.data.fetch import downloads_dir, fetch
from sapt_core.data.upstream_manifest import git_blob_id, load_upstream_manifest
from sapt_core.errors import SaptError

SAPT = ("circle-hit/SAPT", "52a52b920324c656bdb6dac08e43dc600ba22f21")
OCL = ("deety-dino/Online-CL-LLM", "5c9e2c823bf06e77e94605f7ab749b169b6b03a7")
# the shared copy's rebuilt and missing files (its MANIFEST.md, "Status")
DIFFERS = {"CL_Benchmark/Long_Sequence/dbpedia/train.json", "CL_Benchmark/Long_Sequence/imdb/test.json",
           "CL_Benchmark/Long_Sequence/multirc/test.json", "CL_Benchmark/Long_Sequence/yahoo/train.json"}
MISSING = {"CL_Benchmark/Long_Sequence/yahoo/test.json", "CL_Benchmark/Long_Sequence/yelp/test.json"}
SMALL = {"CL_Benchmark/Long_Sequence/cb/train.json", "CL_Benchmark/Long_Sequence/cb/test.json",
         "CL_Benchmark/Long_Sequence/cb/labels.json", "CL_Benchmark/Long_Sequence/copa/train.json",
         "unseen/SuperNI/task833_poem_sentiment_classification/test.json"}


def _blob(path: Path) -> str:  # git hash-object, written out here rather than imported
    data = path.read_bytes()
    return hashlib.sha1(b"blob " + str(len(data)).encode() + b"\x00" + data).hexdigest()


def _top(repo):
    return f"{repo[0].split('/')[1]}-{repo[1]}"


def _subset_manifest(path: Path, data_root: Path, keep=None) -> dict:
    """The committed manifest restricted to the files the shared copy holds unchanged (and to ``keep``)."""
    doc = json.loads(load_upstream_manifest().path.read_text())
    doc["files"] = [f for f in doc["files"] if (data_root / f["path"]).is_file()
                    and _blob(data_root / f["path"]) == f["git_blob"] and (keep is None or f["path"] in keep)]
    path.write_text(json.dumps(doc))
    return doc


def _archives(out: Path, data_root: Path, doc: dict, edit=None) -> dict[str, Path]:
    """One GitHub-layout .tar.gz per repository of ``doc``, plus files no manifest lists; ``edit(path, bytes)``
    may change a file's content on the way in."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, spec in doc["repos"].items():
        top = _top((name, spec["commit"]))
        paths[name] = out / f"{top}.tar.gz"
        with tarfile.open(paths[name], "w:gz") as tar:
            def add(arcname, data):
                info = tarfile.TarInfo(f"{top}/{arcname}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            add("README.md", b"# not data\n")
            for f in doc["files"]:
                if f["repo"] == name:
                    data = (data_root / f["path"]).read_bytes()
                    add(f["upstream_path"], edit(f["path"], data) if edit else data)
                    if f["upstream_path"].endswith("/test.json"):  # upstream's dev.json duplicates, never kept
                        add(f["upstream_path"][:-len("test.json")] + "dev.json", data)
    return paths


@pytest.fixture(scope="module")
def subset(tmp_path_factory, data_root):
    d = tmp_path_factory.mktemp("subset")
    doc = _subset_manifest(d / "manifest.json", data_root)
    return d / "manifest.json", doc, _archives(d / "archives", data_root, doc)


@pytest.fixture
def small(tmp_path, data_root):
    doc = _subset_manifest(tmp_path / "small.json", data_root, keep=SMALL)
    return tmp_path / "small.json", doc


def _listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _nothing_left(parent: Path, dest: Path):
    assert not dest.exists()
    assert not [p for p in parent.iterdir() if p.name.startswith(f".{dest.name}.")]  # no staging directory


def _fetch_cli(capsys, *args):
    rc = main(["fetch-data", *map(str, args)])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# ------------------------------------------------------------------------------------------ committed manifest
def test_committed_manifest_pins_both_repositories():
    m = load_upstream_manifest()
    assert {r.name: r.commit for r in m.repos.values()} == dict([SAPT, OCL])
    assert len(m.files) == 151 and len(m.files_of(SAPT[0])) == 136 and len(m.files_of(OCL[0])) == 15
    assert all(f.path.startswith(("CL_Benchmark/", "generated_data/")) for f in m.files_of(SAPT[0]))
    assert {f.path for f in m.files_of(OCL[0])} == {f"unseen/{f.upstream_path.split('/', 1)[1]}"
                                                     for f in m.files_of(OCL[0])}
    assert not [f for f in m.files if f.path.endswith(("dev.json", ".DS_Store"))]
    assert git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object` of "hello\n"


def test_committed_manifest_matches_the_reference_listing(repo_root):
    """Every SAPT blob id is the one of the upstream tree listing kept beside the data."""
    listing = repo_root.parent / "shared" / "reference" / "upstream_sapt_data_files.tsv"
    if not listing.is_file():
        pytest.skip(f"{listing} not found")
    blobs = dict(line.split("\t")[:2] for line in listing.read_text().splitlines()[1:])
    for f in load_upstream_manifest().files_of(SAPT[0]):
        assert blobs[f.upstream_path] == f.git_blob, f.path


# ------------------------------------------------------------------------------------------------- verify-data
def _shared_copy(data_root: Path) -> bool:
    """The development machines' copy (its MANIFEST.md lists the rebuilt and missing files)."""
    return (data_root / "MANIFEST.md").is_file()


def test_verify_data_on_the_shared_copy(data_root, capsys):
    rc = main(["verify-data", str(data_root)])
    out = capsys.readouterr().out.splitlines()
    status = dict(reversed(line.split(maxsplit=1)) for line in out[:-1])
    expect = {f.path: ("missing" if not (data_root / f.path).is_file() else
                       "upstream" if _blob(data_root / f.path) == f.git_blob else "differs")
              for f in load_upstream_manifest().files}
    assert status == expect and rc == (0 if set(expect.values()) == {"upstream"} else 1)
    if _shared_copy(data_root):
        assert {p for p, s in status.items() if s == "differs"} == DIFFERS
        assert {p for p, s in status.items() if s == "missing"} == MISSING
        assert out[-1] == "151 files: 145 upstream, 4 differ, 2 missing (git blob ids of upstream_manifest.json)"


def test_verify_data_bad_input(tmp_path, capsys):
    (tmp_path / "stuff").mkdir()
    assert main(["verify-data", str(tmp_path / "stuff")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'stuff'}: not a data root (expected CL_Benchmark/, " \
                                      "generated_data/, unseen/ in it)\n"
    assert main(["verify-data", str(tmp_path / "nope")]) == 2


# -------------------------------------------------------------------------------------------------- fetch-data
def test_fetch_good_archives_keeps_exactly_the_listed_files(subset, data_root, tmp_path, capsys):
    manifest, doc, archives = subset
    dest = tmp_path / "results" / "upstream"
    rc, out, err = _fetch_cli(capsys, "--dest", dest, "--manifest", manifest, "--source", archives[SAPT[0]],
                              "--source", archives[OCL[0]].as_uri())  # a local archive and a file:// URL
    assert rc == 0, err
    fetched = {f["path"] for f in doc["files"]}
    committed = {f.path: f.git_blob for f in load_upstream_manifest().files}
    if _shared_copy(data_root):
        assert fetched == set(committed) - DIFFERS - MISSING and len(fetched) == 145
    assert _listing(dest) == fetched | {"verified.json"}  # no dev.json, no README.md
    assert all(_blob(dest / p) == committed[p] for p in fetched)
    marker = json.loads((dest / "verified.json").read_text())
    assert marker["files"] == len(fetched) and marker["repos"][SAPT[0]]["commit"] == SAPT[1]
    n = len(fetched)
    assert out.splitlines()[-1] == f"{dest}: {n} files verified against manifest.json (marker verified.json)"
    assert not downloads_dir(dest).exists()  # the file:// download was removed once verified
    # verify-data agrees; a second fetch finds everything in place and fetches nothing
    assert main(["verify-data", str(dest), "--manifest", str(manifest)]) == 0
    capsys.readouterr()
    rc, out, _ = _fetch_cli(capsys, "--dest", dest, "--manifest", manifest, "--source", tmp_path / "absent")
    assert rc == 0 and out == f"{dest}: all {n} files already verified against manifest.json\n"
    # the fetched copy is itself a source (a mirror carried to a machine without internet)
    rc, _, err = _fetch_cli(capsys, "--dest", tmp_path / "copy", "--manifest", manifest, "--source", dest)
    assert rc == 0, err
    assert _listing(tmp_path / "copy") == _listing(dest)


def test_fetch_directory_of_archives_or_unpacked_folders(small, data_root, tmp_path):
    manifest, doc = small
    archives = _archives(tmp_path / "mirror", data_root, doc)
    marker = fetch(tmp_path / "d", [str(tmp_path / "mirror")], manifest, echo=lambda s: None)
    assert marker["files"] == len(SMALL) and _listing(tmp_path / "d") == SMALL | {"verified.json"}
    for a in archives.values():  # the archives unpacked (tar -xzf) into a folder, then one folder named directly
        with tarfile.open(a) as tar:
            tar.extractall(tmp_path / "unpacked", filter="data")
    fetch(tmp_path / "e", [str(tmp_path / "unpacked")], manifest, echo=lambda s: None)
    fetch(tmp_path / "f", [str(tmp_path / "unpacked" / _top(SAPT)), str(archives[OCL[0]])], manifest,
          echo=lambda s: None)
    assert _listing(tmp_path / "e") == _listing(tmp_path / "f") == SMALL | {"verified.json"}


def _one_line_error(capsys, *args):
    rc, out, err = _fetch_cli(capsys, *args)
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err[len("error: "):-1]


def test_fetch_flipped_byte_in_a_file(small, data_root, tmp_path, capsys):
    manifest, doc = small
    bad = "CL_Benchmark/Long_Sequence/cb/test.json"

    def flip(path, data):
        return data[:100] + bytes([data[100] ^ 1]) + data[101:] if path == bad else data
    archives = _archives(tmp_path / "a", data_root, doc, edit=flip)
    dest = tmp_path / "up"
    msg = _one_line_error(capsys, "--dest", dest, "--manifest", manifest, "--source", archives[SAPT[0]],
                          "--source", archives[OCL[0]])
    want = next(f["git_blob"] for f in doc["files"] if f["path"] == bad)
    assert msg.startswith(f"{bad}: differs from the pinned upstream file (git blob ") and f"expected {want}" in msg
    _nothing_left(tmp_path, dest)
    assert archives[SAPT[0]].exists()  # a user's own archive is never deleted
    msg2 = _one_line_error(capsys, "--dest", dest, "--manifest", manifest, "--source", archives[SAPT[0]].as_uri(),
                           "--source", archives[OCL[0]])
    assert msg2.startswith(f"{bad}: differs from the pinned upstream file")
    _nothing_left(tmp_path, dest)
    assert not downloads_dir(dest).exists()  # a downloaded archive that fails verification is deleted


def test_fetch_flipped_byte_in_the_compressed_archive(small, data_root, tmp_path, capsys):
    manifest, doc = small
    archives = _archives(tmp_path / "a", data_root, doc)
    raw = bytearray(archives[SAPT[0]].read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    archives[SAPT[0]].write_bytes(bytes(raw))
    msg = _one_line_error(capsys, "--dest", tmp_path / "up", "--manifest", manifest, "--source", tmp_path / "a")
    assert (msg.startswith(f"{archives[SAPT[0]]}: truncated or corrupt archive")
            or ": differs from the pinned upstream file" in msg), msg
    _nothing_left(tmp_path, tmp_path / "up")


def test_fetch_truncated_archive(small, data_root, tmp_path, capsys):
    manifest, doc = small
    archives = _archives(tmp_path / "a", data_root, doc)
    for cut in (0.5, 0.999):  # mid-file, and only the end of the compressed stream
        raw = archives[SAPT[0]].read_bytes()
        (tmp_path / "cut.tar.gz").write_bytes(raw[:int(len(raw) * cut)])
        msg = _one_line_error(capsys, "--dest", tmp_path / "up", "--manifest", manifest,
                              "--source", tmp_path / "cut.tar.gz", "--source", archives[OCL[0]])
        assert msg.startswith(f"{tmp_path / 'cut.tar.gz'}: truncated or corrupt archive ("), msg
        _nothing_left(tmp_path, tmp_path / "up")


def test_fetch_missing_file_and_wrong_commit(small, data_root, tmp_path, capsys):
    manifest, doc = small
    gone = "CL_Benchmark/Long_Sequence/copa/train.json"
    archives = _archives(tmp_path / "a", data_root, {**doc, "files": [f for f in doc["files"] if f["path"] != gone]})
    msg = _one_line_error(capsys, "--dest", tmp_path / "up", "--manifest", manifest, "--source", tmp_path / "a")
    assert msg == f"{gone}: not found in {archives[SAPT[0]]}"
    _nothing_left(tmp_path, tmp_path / "up")
    other = {**doc, "repos": {**doc["repos"], SAPT[0]: {"commit": "0" * 40}}}
    wrong = _archives(tmp_path / "b", data_root, other)[SAPT[0]]
    msg = _one_line_error(capsys, "--dest", tmp_path / "up", "--manifest", manifest, "--source", wrong)
    assert msg.startswith(f"{wrong}: archive top folder SAPT-{'0' * 40}/ is not one of SAPT-{SAPT[1]}/")
    msg = _one_line_error(capsys, "--dest", tmp_path / "up", "--manifest", manifest, "--source", archives[OCL[0]])
    assert msg.startswith(f"no source for {SAPT[0]}@{SAPT[1][:7]} in --source {archives[OCL[0]]}")
    _nothing_left(tmp_path, tmp_path / "up")


def test_fetch_never_replaces_a_copy_that_is_not_its_own(small, data_root, tmp_path, capsys):
    manifest, doc = small
    _archives(tmp_path / "a", data_root, doc)
    dest = tmp_path / "mine"
    (dest / "CL_Benchmark/Long_Sequence/cb").mkdir(parents=True)
    (dest / "CL_Benchmark/Long_Sequence/cb/train.json").write_text("{}")
    msg = _one_line_error(capsys, "--dest", dest, "--manifest", manifest, "--source", tmp_path / "a")
    assert msg.startswith(f"{dest}: holds 1 files that differ from upstream, e.g. CL_Benchmark/Long_Sequence/cb/")
    assert (dest / "CL_Benchmark/Long_Sequence/cb/train.json").read_text() == "{}"


class _Server:
    """A loopback HTTP server for one file with Range support; ``cut_first`` bytes only on the first GET."""

    def __init__(self, path: Path, cut_first=None):
        self.data, self.requests = path.read_bytes(), []
        self.cut_first, self.sent = cut_first, 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append(rng)
                start = int(rng[len("bytes="):-1]) if rng else 0
                body = server.data[start:]
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", '"v1"')
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(server.data) - 1}/{len(server.data)}")
                self.end_headers()
                if server.cut_first is not None and len(server.requests) == 1:
                    body = body[:server.cut_first]  # then close the connection mid-transfer
                    self.close_connection = True
                self.wfile.write(body)
                server.sent += len(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/archive.tar.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_interrupted_download_resumes(small, data_root, tmp_path, capsys):
    manifest, doc = small
    archives = _archives(tmp_path / "a", data_root, doc)
    size = archives[SAPT[0]].stat().st_size
    server = _Server(archives[SAPT[0]], cut_first=size // 3)
    dest = tmp_path / "up"
    args = ["--dest", dest, "--manifest", manifest, "--source", server.url, "--source", archives[OCL[0]]]
    try:
        msg = _one_line_error(capsys, *args, "--retries", "0")
        assert msg.startswith(f"{server.url}: download interrupted (after {size // 3} of {size} bytes: ")
        assert msg.endswith("kept, run fetch-data again to resume")
        _nothing_left(tmp_path, dest)
        parts = list(downloads_dir(dest).glob("*.part"))
        assert len(parts) == 1 and parts[0].stat().st_size == size // 3
        rc, out, err = _fetch_cli(capsys, *args, "--retries", "0")  # the next run asks for the rest only
        assert rc == 0, err
        assert server.requests == [None, f"bytes={size // 3}-"] and server.sent == size
        assert _listing(dest) == SMALL | {"verified.json"} and not downloads_dir(dest).exists()
        # within one run: the break is retried (after a 2 s back-off) and resumed
        server.requests, server.sent, server.cut_first = [], 0, size // 2
        rc, _, err = _fetch_cli(capsys, "--dest", tmp_path / "up2", *args[2:])
        assert rc == 0, err
        assert server.requests == [None, f"bytes={size // 2}-"] and server.sent == size
    finally:
        server.close()


def test_fetch_api_bad_retries(tmp_path, capsys):
    assert main(["fetch-data", "--retries", "x"]) == 2
    assert "--retries: expected a non-negative integer, got 'x'" in capsys.readouterr().err
    with pytest.raises(SaptError, match="--source not found"):
        fetch(tmp_path / "up", ["/nonexistent/archive.tar.gz"], echo=lambda s: None)


# ---------------------------------------------------------------------------------------------------- workflow
def test_workflow_checks_the_data_root_when_planning(repo_root, tmp_path, monkeypatch):
    """A bad data root stops Snakemake while it plans: one line naming it, before any job runs or output goes."""
    from wf_helpers import _copy_workflow, _snakemake

    (tmp_path / "wf").mkdir()
    wd = _copy_workflow(repo_root, tmp_path / "wf")
    kept = wd / "results/data/official/seed0/Long_Sequence/cb/train.jsonl"
    kept.parent.mkdir(parents=True)
    kept.write_text("an earlier slice\n")
    res = _snakemake(wd, "--cores", "1", "demo", "--config", "data_root=/nonexistent")
    err = res.stdout + res.stderr
    assert res.returncode != 0
    assert ("data_root /nonexistent: no such directory (expected the upstream data layout, CL_Benchmark/, "
            "generated_data/, unseen/; `sapt fetch-data` makes one, or leave data_root at results/upstream to fetch "
            "it)\n") in err, err
    assert kept.read_text() == "an earlier slice\n" and sorted(p.name for p in (wd / "results").iterdir()) == ["data"]
    partial = tmp_path / "partial"
    (partial / "CL_Benchmark").mkdir(parents=True)
    monkeypatch.setenv("SAPT_DATA_ROOT", str(partial))  # the environment variable is checked the same way
    res = _snakemake(wd, "-n", "demo")
    assert res.returncode != 0
    assert (f"data_root {partial}: CL_Benchmark/SuperNI/task639_multi_woz_user_utterance_generation/train.json not "
            "found") in res.stdout + res.stderr


def test_workflow_fetches_the_project_local_data_root_first(repo_root, data_root, tmp_path):
    """data_root results/upstream: rule fetch_data runs first (here from a local mirror), prepare_data waits for its
    marker; once fetched, nothing is fetched again."""
    from wf_helpers import _copy_workflow, _snakemake

    (tmp_path / "wf").mkdir()
    wd = _copy_workflow(repo_root, tmp_path / "wf")
    doc = _subset_manifest(wd / "config" / "test_manifest.json", data_root, keep=SMALL)
    _archives(tmp_path / "mirror", data_root, doc)
    cfg = ["--config", "data_root=results/upstream", "upstream_manifest=config/test_manifest.json",
           f'data_sources=["{tmp_path / "mirror"}"]']  # --config data_root wins over a SAPT_DATA_ROOT of CI
    res = _snakemake(wd, "-n", "-p", "demo", *cfg)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "rule fetch_data:" in out and f"--source {tmp_path / 'mirror'}" in out
    prep = out[out.index("rule prepare_data:"):]
    assert prep[:prep.index("\n\n")].count("input: results/upstream/verified.json") == 1
    res = _snakemake(wd, "--cores", "1", "results/upstream/verified.json", *cfg)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert _listing(wd / "results/upstream") == SMALL | {"verified.json"}
    res = _snakemake(wd, "-n", "demo", *cfg)
    assert res.returncode == 0 and "rule fetch_data:" not in res.stdout + res.stderr
