"""``sapt warm``: a worker that imports torch, transformers, peft, datasets, pandas and matplotlib once and forks one
process per ``sapt`` command, so that a job's start-up is a fork (milliseconds) instead of a fresh interpreter's
imports (about 6 s on a laptop CPU: the larger part of a tiny backbone's job).

``./run demo`` starts one for the duration of the Snakemake run and exports ``SAPT_WARM=<socket>``; ``sapt``
(:func:`sapt_core.cli.main` through :mod:`sapt_core.warm.client`) then hands its command line, working directory, environment and standard streams to the
worker and exits with the command's exit status. Each command still runs in a process of its own, with the job's
arguments, environment and output files, so the Snakemake DAG, its logs and its results are those of a plain run (the
exactness test: ``tests/test_warm.py``). What differs: resource fields of a job's ``benchmark:`` file other than wall
time (``max_rss``, ``cpu_time``) measure the thin client, not the command.

Fork safety: the worker imports, then runs a model job's first calls once on one thread (a throwaway 16-wide
backbone, no CUDA, its random states restored: :mod:`sapt_core.warm.prewarm`), so the forked command starts with
torch's thread pools uninitialised; ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` of the job are applied in the child because the
libraries read them when imported. Settings other libraries read at import time (``HF_*``, ``TRANSFORMERS_*``,
``TOKENIZERS_PARALLELISM``, ``PYTHONHASHSEED``, ...) must match the worker's; a command whose environment differs
there, or that cannot reach the worker, runs in its own interpreter as without it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

from sapt_core.warm.client import ENV_VAR

# environment variables libraries read when they are imported: a command may use the worker only when they match
IMPORT_TIME_PREFIXES = ("HF_", "TRANSFORMERS_", "TOKENIZERS_", "TORCH", "PYTORCH_", "CUDA_", "PYTHON", "DS_",
                        "ACCELERATE_", "MPLBACKEND", "LD_", "KMP_", "GOMP_")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
PRELOAD = ("torch", "transformers", "transformers.trainer", "transformers.models.t5.modeling_t5",
           "transformers.models.llama.modeling_llama", "peft", "datasets", "pandas", "matplotlib.pyplot",
           "rouge_score.rouge_scorer", "safetensors.torch", "yaml")
_MAX_MSG = 1 << 22


def import_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(IMPORT_TIME_PREFIXES)}


# ---- worker ------------------------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    p.add_argument("--socket", required=True, help="path of the Unix socket to listen on (created; removed on exit)")
    p.add_argument("--preload", nargs="*", default=list(PRELOAD), help="modules imported once before serving")
    p.add_argument("--no-prewarm", dest="prewarm", action="store_false",
                   help="serve right after the imports, without running a model job's first calls once")
    p.add_argument("--log", default=None, help="append one line per command started / ended (pid, command, exit "
                                               "status, wall and CPU seconds)")


def run(args) -> int:
    import importlib

    started_with = os.environ.copy()  # before the imports, some of which set variables (TORCHINDUCTOR_CACHE_DIR)
    for name in args.preload:
        importlib.import_module(name)
    import sapt_core.cli as cli

    cli.build_parser([])  # imports every command's module
    if args.prewarm:
        from sapt_core.warm.prewarm import prewarm

        try:  # the first calls of a model job, done once here (sapt_core/warm/prewarm.py)
            prewarm()
        except Exception as e:  # only slower jobs without it: serve anyway
            print(f"[warm] pre-warm skipped ({e.__class__.__name__}: {e})", file=sys.stderr)
    serve(args.socket, started_with, args.log)
    return 0


def serve(path: str, started_with: dict[str, str], log: str | None = None) -> None:
    """Accept commands on ``path`` until SIGTERM / SIGINT; one forked handler per connection."""
    tmp = f"{path}.{os.getpid()}.tmp"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(tmp)
    server.listen(64)
    os.replace(tmp, path)  # the socket appears only when it accepts
    handlers: set[int] = set()

    def stop(signum, frame):
        for pid in list(handlers):
            _kill(pid, signal.SIGTERM)
        raise SystemExit(0)

    def reap(signum, frame):
        for pid in list(handlers):
            try:
                done = os.waitpid(pid, os.WNOHANG)[0]
            except ChildProcessError:  # reaped already: a SIGCHLD handled while this loop ran (ECHILD)
                done = True
            if done:
                handlers.discard(pid)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGCHLD, reap)
    try:
        while True:
            conn, _ = server.accept()
            pid = os.fork()
            if pid == 0:
                server.close()
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                    signal.signal(sig, signal.SIG_DFL)
                os._exit(_handle(conn, started_with, log))
            conn.close()
            handlers.add(pid)
            reap(None, None)
    finally:
        server.close()
        if os.path.exists(path):
            os.unlink(path)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _log(path: str | None, line: str) -> None:
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


def _handle(conn: socket.socket, server_env: dict[str, str], log: str | None) -> int:
    """One connection: run the command in a child of its own (its own process group), report its exit status, and
    kill it when the client goes away first (Snakemake cancelled the job)."""
    import select
    import time

    head, fds, _, _ = socket.recv_fds(conn, 8, 3)
    size = int.from_bytes(head, "big")
    body = b""
    while len(body) < size:
        chunk = conn.recv(min(size - len(body), _MAX_MSG))
        if not chunk:
            return 1
        body += chunk
    req = json.loads(body)
    theirs, mine = import_env(req["env"]), import_env(server_env)
    if theirs != mine:
        differ = sorted(k for k in theirs.keys() | mine.keys() if theirs.get(k) != mine.get(k))
        _log(log, f"decline {' '.join(req['argv'][:1])}: import-time environment differs ({', '.join(differ)})")
        conn.sendall(b'{"decline": true}\n')
        return 0
    t0 = time.monotonic()
    child = os.fork()
    if child == 0:
        conn.close()
        os.setpgid(0, 0)
        _run_command(req, fds)
    for fd in fds:
        os.close(fd)
    _log(log, f"start {child} sapt {' '.join(req['argv'])}")

    def forward(signum, frame):
        _kill(-child, signal.SIGTERM)
        raise SystemExit(1)

    signal.signal(signal.SIGTERM, forward)
    pidfd = os.pidfd_open(child)
    while True:
        ready, _, _ = select.select([conn, pidfd], [], [])
        if pidfd in ready:
            _, status, usage = os.wait4(child, 0)
            rc = os.waitstatus_to_exitcode(status)
            rc = 128 - rc if rc < 0 else rc
            cpu = usage.ru_utime + usage.ru_stime  # the command's own CPU time (steadier than wall on a shared machine)
            _log(log, f"end {child} rc {rc} {time.monotonic() - t0:.2f} s cpu {cpu:.2f} s")
            try:
                conn.sendall(json.dumps({"rc": rc}).encode() + b"\n")
            except OSError:
                pass
            return 0
        if not conn.recv(1):  # the client exited: stop the command
            _kill(-child, signal.SIGTERM)
            os.waitpid(child, 0)
            _log(log, f"cancelled {child} (the client exited)")
            return 0


def _run_command(req: dict, fds: list[int]) -> None:
    """In the forked child: become the command (streams, directory, environment, thread counts) and run it."""
    import atexit

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    os.environ.pop(ENV_VAR, None)
    threads = next((os.environ[v] for v in THREAD_VARS if os.environ.get(v)), None)
    if threads and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads))
    sys.argv = ["sapt", *req["argv"]]
    rc = 1
    try:
        from sapt_core.cli import main

        rc = main(req["argv"])
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)
