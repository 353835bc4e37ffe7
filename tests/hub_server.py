"""A model hub on 127.0.0.1 for the offline-fetch tests: the endpoints ``huggingface_hub`` and ``sapt fetch-backbone``
use, in the hub's layout (``HF_ENDPOINT=http://127.0.0.1:<port>``).

- ``GET /api/models/<org>/<name>/revision/<rev>``: the repository's commit and files (``siblings`` with size, git
  blob id and, for weights, the LFS sha256), as ``HfApi.model_info(files_metadata=True)`` reads them;
- ``HEAD`` / ``GET /<org>/<name>/resolve/<rev>/<file>``: the file, with ``ETag``, ``X-Repo-Commit``,
  ``Content-Length`` and ``Range`` (206 + ``Content-Range``);
- a gated repository answers 401 with ``X-Error-Code: GatedRepo`` unless ``Authorization: Bearer <its token>`` is
  sent; an unknown one 404 with ``X-Error-Code: RepoNotFound``;
- ``cut[file] = n``: the first GET of that file sends the full ``Content-Length`` but only n bytes, then closes the
  connection (a download cut mid-file).

Requests are recorded as (method, path, authorised, Range header) for the tests; the token itself is never stored.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_API = re.compile(r"^/api/models/([^/]+/[^/]+)/revision/([^/?]+)")
_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, files: dict[str, bytes], token: str | None = None):
        self.files, self.token = files, token  # token: gated, this token grants access

    def sibling(self, name: str) -> dict:
        data = self.files[name]
        out = {"rfilename": name, "size": len(data), "blobId": _git_blob_id(data)}
        if name.endswith((".safetensors", ".bin", ".h5")):
            out["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        return out

    def etag(self, name: str) -> str:
        s = self.sibling(name)
        return s["lfs"]["sha256"] if "lfs" in s else s["blobId"]


class FakeHub:
    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.cut: dict[str, int] = {}
        self.requests: list[tuple[str, str, bool, str | None]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _deny(self, code: int, error_code: str):
                body = json.dumps({"error": error_code}).encode()
                self.send_response(code)
                self.send_header("X-Error-Code", error_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _repo(self, repo_id: str) -> Repo | None:
                repo = hub.repos.get(repo_id)
                authorised = repo is not None and repo.token is not None and \
                    self.headers.get("Authorization") == f"Bearer {repo.token}"
                hub.requests.append((self.command, self.path, authorised, self.headers.get("Range")))
                if repo is None:
                    self._deny(404, "RepoNotFound")
                elif repo.token is not None and not authorised:
                    self._deny(401, "GatedRepo")
                else:
                    return repo
                return None

            def do_HEAD(self):
                self.do_GET()

            def do_GET(self):
                path = self.path.split("?")[0]
                if m := _API.match(path):
                    if (repo := self._repo(m.group(1))) is None:
                        return
                    body = json.dumps({"id": m.group(1), "modelId": m.group(1), "sha": COMMIT, "private": False,
                                       "gated": "manual" if repo.token else False,
                                       "siblings": [repo.sibling(n) for n in sorted(repo.files)]}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                    return
                m = _RESOLVE.match(path)
                if not m:
                    hub.requests.append((self.command, self.path, False, None))
                    return self._deny(404, "EntryNotFound")
                if (repo := self._repo(m.group(1))) is None:
                    return
                name = m.group(3)
                if name not in repo.files:
                    return self._deny(404, "EntryNotFound")
                data = repo.files[name]
                start = 0
                rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if rng and int(rng.group(1)) < len(data):
                    start = int(rng.group(1))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("ETag", f'"{repo.etag(name)}"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if self.command == "HEAD":
                    return
                n = hub.cut.pop(name, None) if start == 0 else None
                if n is not None:  # a connection cut mid-file
                    self.wfile.write(data[:n])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data[start:])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_dir(self, repo_id: str, directory: Path, token: str | None = None, extra: dict | None = None) -> Repo:
        files = {p.name: p.read_bytes() for p in Path(directory).iterdir() if p.is_file()}
        self.repos[repo_id] = Repo({**files, **(extra or {})}, token)
        return self.repos[repo_id]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
