"""Helpers for the scale-out tests: a shared config, worker and server processes, run records.

Every test gets a SQLite file of its own (the store every process shares) and a Redis key
prefix of its own (the broker). Processes are real ``agented`` commands, reaped at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import anyio.to_thread

from services import REDIS_HOST, REDIS_PORT, answers, unavailable

HERE = Path(__file__).parent
CHILD = str(HERE / "fixtures" / "scaleout_child.py")
AGENTED = str(Path(sys.executable).parent / "agented")


def need_redis() -> None:
    """Skip (fail under CI=true) without a Redis server, or without the Redis plugin."""
    if not answers(REDIS_HOST, REDIS_PORT):
        unavailable(f"no Redis at {REDIS_HOST}:{REDIS_PORT}")
    try:
        import agented_redis  # noqa: F401
    except ImportError:
        unavailable(
            "the agented-redis plugin is not installed (pip install -e plugins/agented-redis)"
        )


PREFIXES: list[str] = []
"""The key prefixes handed out, whose keys :func:`processes` deletes at its end."""


def redis_url(port: int = REDIS_PORT) -> str:
    """A broker URL with a key prefix of its own."""
    prefix = f"agented-test:{uuid.uuid4().hex[:12]}:"
    PREFIXES.append(prefix)
    return f"redis://{REDIS_HOST}:{port}/0?prefix={prefix}"


def delete_keys(prefixes: list[str]) -> None:
    """Delete the Redis keys under these prefixes (the streams a test left)."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        for prefix in prefixes:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


def write_config(
    tmp: Path,
    *,
    broker: str,
    max_runs: int = 4,
    lease: str = "1.5s",
    heartbeat: str = "0.25s",
    seconds: float = 0.2,
    lines: int = 0,
    bot: str = "",
    database: str | None = None,
) -> Path:
    """An ``agented.toml`` with one bot, ``job``, running :data:`CHILD`; the store is a SQLite
    file of ``tmp`` unless ``database`` names another."""
    records = tmp / "records"
    records.mkdir(exist_ok=True)
    path = tmp / "agented.toml"
    path.write_text(
        f"""
[agented]
database = "{database or f"sqlite:///{tmp / 'agented.db'}"}"
broker = "{broker}"
max_concurrent_runs = {max_runs}
lease = "{lease}"
heartbeat = "{heartbeat}"
shutdown_grace = "1s"
kill_grace = "0.5s"

[bots.job]
command = ["{sys.executable}", "{CHILD}", "{records}", "{{execution.id}}", "{{execution.attempt}}",
           "{seconds}", "{lines}"]
on = [{{ manual = true }}]
{bot}
"""
    )
    return path


class Proc:
    """An ``agented`` process of a test, reaped when the test ends."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.popen = subprocess.Popen(
            [AGENTED, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []

    @property
    def pid(self) -> int:
        return self.popen.pid

    async def wait_for_line(self, start: str, timeout: float = 30.0) -> str:
        """The first stdout line starting with ``start`` (the lines before are kept)."""
        assert self.popen.stdout is not None
        with anyio.fail_after(timeout):
            while True:
                line = await anyio.to_thread.run_sync(
                    self.popen.stdout.readline, abandon_on_cancel=True
                )
                if not line:
                    raise AssertionError(f"exited before {start!r}: {self.stderr_text()}")
                self.lines.append(line)
                if line.startswith(start):
                    return line

    def stderr_text(self) -> str:
        if self.popen.poll() is None:
            return "(running)"
        assert self.popen.stderr is not None
        return self.popen.stderr.read()[-3000:]

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise

    def kill(self) -> None:
        """SIGKILL, then reap."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()


@contextmanager
def processes() -> Iterator[list[Proc]]:
    """A list to put the test's processes in; each is ended and reaped at the end."""
    procs: list[Proc] = []
    try:
        yield procs
    finally:
        for proc in procs:
            try:
                proc.terminate(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            for stream in (proc.popen.stdout, proc.popen.stderr):
                if stream is not None:
                    stream.close()
        if PREFIXES:
            delete_keys(PREFIXES)
            PREFIXES.clear()


async def start_worker(procs: list[Proc], config: Path, *args: str) -> Proc:
    """An ``agented worker`` on ``config``, once it is ready."""
    proc = Proc(["worker", "--config", str(config), *args])
    procs.append(proc)
    await proc.wait_for_line("agented worker")
    return proc


def records(tmp: Path) -> dict[str, dict[str, float | int]]:
    """What each run's child recorded, by ``{execution id}.{attempt}``."""
    found: dict[str, dict[str, float | int]] = {}
    for path in (tmp / "records").iterdir():
        entry: dict[str, float | int] = {}
        for line in path.read_text().splitlines():
            parts = line.split()
            if parts[0] == "start":
                entry["start"], entry["pid"] = float(parts[1]), int(parts[2])
            elif parts[0] == "end":
                entry["end"] = float(parts[1])
        found[path.name] = entry
    return found


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most spans overlapping at one time."""
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = best = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best
