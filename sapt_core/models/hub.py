"""Hub backbones on a cluster whose compute nodes have no network (docs/cluster.md).

``sapt fetch-backbone`` runs on the submitting host (rule ``fetch_backbone``, a Snakemake ``localrules`` entry): it
fetches the files a backbone needs (config, generation config, tokenizer, weights: safetensors when the repository
has them, else its PyTorch ``.bin`` files) once into the shared ``hub_cache`` in the hub's own cache layout
(``models--<org>--<name>/{blobs,snapshots/<commit>,refs/main}``, what ``HF_HUB_CACHE`` points at), then writes a
manifest under ``results/backbones/<name>/hub.json``, an input of every model job of that backbone. Those jobs run
with ``HF_HUB_OFFLINE=1 HF_HUB_CACHE=<hub_cache>`` (:func:`job_env`), so transformers resolves the hub id in the cache
and never opens a connection.

The token is the user's: ``HF_TOKEN`` or the one ``hf auth login`` stored (``huggingface_hub.get_token``). It goes
into the HTTP ``Authorization`` header only: never into a command line, a rule's params, a log or the manifest.
Each file is downloaded with :func:`sapt_core.data.download.download` (``<blob>.part`` + ``Range``), so a cut
download resumes on the next run, and checked against the hub's sha256 (LFS files) or git blob id before it is
linked into the snapshot. Every failure is one line naming the backbone and what to do.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path

from sapt_core.errors import SaptError

REVISION = "main"
CONFIG_FILES = ("config.json", "generation_config.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                   "spiece.model", "tokenizer.model", "vocab.json", "merges.txt", "chat_template.jinja")
SAFETENSORS = ("*.safetensors", "model.safetensors.index.json")
TORCH_BIN = ("pytorch_model*.bin", "pytorch_model.bin.index.json")


class HubUnreachable(SaptError):
    """No answer from the hub (no network, closed port, timeout): a complete cached snapshot may still do."""


def is_hub_id(path: str) -> bool:
    """``org/name`` (what the hub serves), not a local directory (:func:`sapt_core.models.backbone._looks_local`)."""
    from sapt_core.models.backbone import _looks_local

    return not _looks_local(path) and path.count("/") == 1


def select_files(names: list[str]) -> list[str]:
    """The repository files a backbone job loads: top-level config and tokenizer files and one weight format
    (safetensors if present, else ``pytorch_model*.bin``; never TF / Flax / ONNX copies or sub-folders such as
    LLaMA's ``original/``)."""
    top = [n for n in names if "/" not in n]
    weights = [n for n in top if any(fnmatch.fnmatch(n, p) for p in SAFETENSORS)]
    if not any(n.endswith(".safetensors") for n in weights):
        weights = [n for n in top if any(fnmatch.fnmatch(n, p) for p in TORCH_BIN)]
    return sorted({n for n in top if n in CONFIG_FILES or n in TOKENIZER_FILES} | set(weights))


def cache_dir(hub_cache: str) -> Path:
    """``hub_cache`` of the workflow config with ``~`` and ``$VARS`` expanded."""
    return Path(os.path.expanduser(os.path.expandvars(hub_cache)))


def job_env(hub_cache: str) -> str:
    """Environment prefix of a model job of a hub backbone: offline, reading the shared cache."""
    import shlex

    return f"HF_HUB_OFFLINE=1 HF_HUB_CACHE={shlex.quote(str(cache_dir(hub_cache)))}"


def _storage(cache: Path, repo: str) -> Path:
    return cache / ("models--" + repo.replace("/", "--"))


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def _hub_error(name: str, repo: str, e: Exception, token: str | None) -> SaptError:
    """One line for what ``model_info`` raised: gated, unknown, offline, unreachable."""
    import httpx2  # huggingface_hub's HTTP client
    from huggingface_hub.errors import (GatedRepoError, OfflineModeIsEnabled, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    where = f"backbone {name} ({repo})"
    url = f"{_endpoint()}/{repo}"
    if isinstance(e, GatedRepoError):
        if token is None:
            return SaptError(f"{where}: gated model and no hub token on this host: set HF_TOKEN or run `hf auth login`,"
                             f" and accept the licence at {url}")
        return SaptError(f"{where}: gated model and the hub token has no access: accept the licence at {url} with "
                         f"that account (or set HF_TOKEN to a token that has)")
    if isinstance(e, RevisionNotFoundError):
        return SaptError(f"{where}: no revision {REVISION!r} on {_endpoint()}")
    if isinstance(e, RepositoryNotFoundError):
        return SaptError(f"{where}: no such model on {_endpoint()} (check backbones.{name}.path in the workflow "
                         f"config; a private model also needs HF_TOKEN or `hf auth login`)")
    if isinstance(e, OfflineModeIsEnabled):
        return SaptError(f"{where}: not in the hub cache and HF_HUB_OFFLINE is set on this host: unset it where "
                         f"snakemake runs, or fill hub_cache from a host with network")
    if isinstance(e, (httpx2.ConnectError, httpx2.TimeoutException, httpx2.NetworkError)):
        return HubUnreachable(f"{where}: cannot reach {_endpoint()} ({e.__class__.__name__}): run snakemake where the hub "
                         f"is reachable (rule fetch_backbone runs on the submitting host), or fill hub_cache there")
    return SaptError(f"{where}: {e.__class__.__name__} from {_endpoint()}: {str(e).strip().splitlines()[0]}")


def check_access(name: str, repo: str):
    """``model_info`` of ``repo`` (with file sizes and hashes) or a one-line :class:`SaptError`."""
    from huggingface_hub import HfApi, get_token

    token = get_token()
    try:
        return HfApi().model_info(repo, revision=REVISION, files_metadata=True, token=token or False)
    except Exception as e:  # noqa: BLE001 - every hub failure becomes one line (see _hub_error)
        raise _hub_error(name, repo, e, token) from None


def preflight(name: str, repo: str, hub_cache: str) -> None:
    """What :func:`fetch` would fail on first, without downloading: the hub's answer about ``repo`` (skipped when an
    earlier fetch left a complete snapshot in the cache, which :func:`fetch` falls back to without network)."""
    if _cached_manifest(cache_dir(hub_cache), repo) is None:
        check_access(name, repo)


def _file_id(sibling) -> tuple[str, str, int | None]:
    """(blob name, kind, size): the LFS sha256 for large files, else the git blob id (the hub cache's own names)."""
    if sibling.lfs is not None:
        return sibling.lfs.sha256, "sha256", sibling.lfs.size
    return sibling.blob_id, "git_blob_id", sibling.size


def _verify(path: Path, kind: str, expected: str) -> bool:
    from sapt_core.data.upstream_manifest import git_blob_file
    from sapt_core.io import sha256_file

    return (sha256_file(path) if kind == "sha256" else git_blob_file(path)) == expected


def _link(storage: Path, commit: str, filename: str, blob: str) -> None:
    dst = storage / "snapshots" / commit / filename
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(os.path.relpath(storage / "blobs" / blob, dst.parent), dst)


def _cached_manifest(cache: Path, repo: str) -> dict | None:
    """The manifest an earlier fetch left in the cache, if every file it lists is still there at its size."""
    p = _storage(cache, repo) / ".sapt" / f"{REVISION}.json"
    try:
        m = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    snap = _storage(cache, repo) / "snapshots" / m["commit"]
    ok = all((snap / f).is_file() and (snap / f).stat().st_size == v["size"] for f, v in m["files"].items())
    return m if ok else None


def fetch(name: str, repo: str, hub_cache: str, *, progress: bool | None = None, retries: int = 3,
          log=print) -> dict:
    """Fetch ``repo``'s files for backbone ``name`` into ``hub_cache``; the manifest (no credential in it)."""
    cache = cache_dir(hub_cache)
    storage = _storage(cache, repo)
    try:
        info = check_access(name, repo)
    except HubUnreachable:
        cached = _cached_manifest(cache, repo)
        if cached is None:
            raise
        log(f"{name}: hub not reachable, using the complete snapshot {cached['commit']} in {cache}")
        return cached
    (storage / ".sapt").mkdir(parents=True, exist_ok=True)
    with open(storage / ".sapt" / "lock", "w") as lock:  # one fetch of a repository at a time (shared caches)
        import fcntl

        fcntl.flock(lock, fcntl.LOCK_EX)
        return _fetch_files(name, repo, cache, storage, info, progress, retries, log)


def _fetch_files(name, repo, cache: Path, storage: Path, info, progress, retries, log) -> dict:
    from huggingface_hub import get_token, hf_hub_url

    from sapt_core.data.download import download

    token = get_token()
    auth = {"Authorization": f"Bearer {token}"} if token else None
    siblings = {s.rfilename: s for s in info.siblings or []}
    files = select_files(list(siblings))
    if "config.json" not in files or not any(f.endswith((".safetensors", ".bin")) for f in files):
        raise SaptError(f"backbone {name} ({repo}): the repository has no config.json and weights "
                        f"(safetensors or pytorch_model.bin) at {REVISION}: not a transformers model")
    out = {"backbone": name, "repo": repo, "revision": REVISION, "commit": info.sha, "endpoint": _endpoint(),
           "cache": str(cache.resolve()), "files": {}}
    for f in files:
        blob, kind, size = _file_id(siblings[f])
        dest = storage / "blobs" / blob
        fresh = not dest.is_file()
        if fresh:
            url = hf_hub_url(repo, f, revision=info.sha)
            try:
                download(url, dest, progress=progress, desc=f"{name}: {f}", auth=auth, retries=retries,
                         again=f"run snakemake again (rule fetch_backbone {name})")
            except SaptError as e:
                raise SaptError(f"backbone {name} ({repo}): {f}: {str(e).removeprefix(url + ': ')}") from None
            if not _verify(dest, kind, blob):
                dest.unlink()
                raise SaptError(f"backbone {name} ({repo}): {f} does not match the hub's {kind} {blob[:12]}...: "
                                f"removed, run again")
        elif size is not None and dest.stat().st_size != size:
            raise SaptError(f"backbone {name} ({repo}): {dest} has {dest.stat().st_size} bytes, the hub lists {size} "
                            f"for {f}: remove it and run again")
        _link(storage, info.sha, f, blob)
        out["files"][f] = {"size": dest.stat().st_size, kind: blob}
        log(f"{name}: {f} {'fetched and verified' if fresh else 'already in the cache'} ({dest.stat().st_size} bytes)")
    (storage / "refs").mkdir(parents=True, exist_ok=True)
    (storage / "refs" / REVISION).write_text(info.sha, encoding="utf-8")
    from sapt_core.io import write_bytes

    write_bytes(storage / ".sapt" / f"{REVISION}.json", json.dumps(out, indent=1).encode())
    return out


# ---- CLI: sapt fetch-backbone ---------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    p.add_argument("--name", required=True, help="the backbone's name in the workflow config (for messages)")
    p.add_argument("--repo", required=True, help="hub id, e.g. google-t5/t5-large")
    p.add_argument("--hub-cache", required=True, help="the shared cache (HF_HUB_CACHE layout) to fill")
    p.add_argument("--out", required=True, help="manifest JSON (written last)")
    p.add_argument("--retries", type=int, default=3, help="further attempts after a broken transfer, in this run")
    p.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    from sapt_core.io import write_bytes

    if not is_hub_id(args.repo):
        raise SaptError(f"backbone {args.name}: {args.repo!r} is not a hub id (org/name)")
    m = fetch(args.name, args.repo, args.hub_cache, progress=False if args.no_progress else None,
              retries=args.retries)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_bytes(Path(args.out), json.dumps(m, indent=1).encode())
    print(f"{args.name}: {args.repo}@{m['commit'][:12]} in {m['cache']} ({len(m['files'])} files)")
    return 0

