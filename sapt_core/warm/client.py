"""The client side of ``sapt warm`` (:mod:`sapt_core.warm.server`): every ``sapt`` process while ``$SAPT_WARM`` names a
worker's socket hands its command line, working directory, environment and standard streams to it and returns the
command's exit status. Kept apart from the worker so that the CLI imports only this."""

from __future__ import annotations

import json
import os
import socket
import sys

ENV_VAR = "SAPT_WARM"


def delegate(argv: list[str]) -> int | None:
    """Run ``sapt argv`` in the worker named by ``$SAPT_WARM``. Returns its exit status, or None when there is no
    usable worker (the caller then runs the command itself)."""
    path = os.environ.get(ENV_VAR)
    if not path or not os.path.exists(path):  # none, or not yet serving: this process runs the command
        return None
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
    except OSError as e:
        print(f"[warm] worker {path} unavailable ({e.strerror or e}); running without it", file=sys.stderr)
        return None
    msg = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    with conn:
        socket.send_fds(conn, [len(msg).to_bytes(8, "big")], [0, 1, 2])
        conn.sendall(msg)
        reply = _recv_line(conn)
    if reply is None:
        print(f"error: warm worker {path} stopped during `sapt {' '.join(argv[:1])}`", file=sys.stderr)
        return 1
    status = json.loads(reply)
    if status.get("decline"):
        return None
    return int(status["rc"])


def _recv_line(conn: socket.socket) -> str | None:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            return None
        buf += chunk
    return buf.decode()
