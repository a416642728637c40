"""``agented serve --workers N``: N server processes sharing one listening socket.

The parent binds the socket, starts N ``agented serve`` processes that inherit it (each a
whole server: HTTP, runs, schedules, sharing the store and the broker), passes SIGTERM and
SIGINT on to them, and SIGHUP (each then reloads the configuration file), waits for every
one, and exits with the worst exit code. Only the first prints the banner. Metrics are in
prometheus-client's multiprocess mode (a fresh ``PROMETHEUS_MULTIPROC_DIR`` unless one is
set), so any worker answers ``/metrics`` for all. A worker that dies is not restarted: its
runs are taken over by the others (or by the next start) once its lease runs out, as for any
dead process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from types import FrameType
from typing import TextIO

from agented_core.errors import AgentedError

WORKER_INDEX_ENV = "AGENTED_SERVE_WORKER"
"""The index of a ``serve --workers`` process (``0`` prints the banner)."""
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's multiprocess mode: a fresh folder unless one is given."""
WORKERS_ENV = "AGENTED_SERVE_WORKERS"
"""How many processes ``serve --workers`` started (the banner says so)."""


def serve_many(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``args.workers`` servers on one socket until a signal; the worst exit code."""
    try:
        from agented_http.server import DEFAULT_HOST, bind, is_loopback
    except ImportError as exc:
        raise AgentedError(
            f"agented serve needs the HTTP extra: pip install 'agented[http]' ({exc})"
        ) from None
    host = args.host or DEFAULT_HOST
    if args.dev and not is_loopback(host):
        raise AgentedError(f"--dev binds to 127.0.0.1 only; refusing --host {host}")
    try:
        sock = bind(host, args.port)
    except OSError as exc:
        raise AgentedError(str(exc)) from None
    fd = sock.fileno()
    # one socket: a scrape reaches any one worker, so every worker's metrics go to one place
    own_metrics = None if os.environ.get(METRICS_DIR_ENV) else tempfile.mkdtemp("-metrics")
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    def reload(signum: int, frame: FrameType | None) -> None:
        for child in children:  # each reloads its configuration (they all read the one file)
            if child.poll() is None:
                child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, reload)
    try:
        for index in range(args.workers):
            argv = [sys.executable, "-c", "from agented_cli import main; main()", "serve"]
            argv += ["--config", args.config, "--host", host, "--port", str(args.port)]
            argv += ["--listen-fd", str(fd)]
            if args.dev:
                argv.append("--dev")
            if args.log_format:
                argv += ["--log-format", args.log_format]
            env = {**os.environ, WORKER_INDEX_ENV: str(index), WORKERS_ENV: str(args.workers)}
            if own_metrics is not None:
                env[METRICS_DIR_ENV] = own_metrics
            out.flush()
            children.append(subprocess.Popen(argv, pass_fds=[fd], env=env))
        codes = [child.wait() for child in children]
    finally:
        if not stopping:  # an error here: end the ones started
            for child in children:
                if child.poll() is None:
                    child.terminate()
                    child.wait()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
        if own_metrics is not None:
            shutil.rmtree(own_metrics, ignore_errors=True)
    return max(codes, key=abs)
