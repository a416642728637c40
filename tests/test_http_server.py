"""``agented serve``: the reference server as a real process on 127.0.0.1."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from agented_cli import run_cli
from agented_core.run._process import group_alive
from conftest import FAKE_CLI, alive

AGENTED = str(Path(sys.executable).parent / "agented")
EXAMPLE = Path(__file__).parent.parent / "examples" / "agented.toml"
KEY = "serve-test-key"
AUTH = {"X-API-Key": KEY}


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("AGENTED_API_KEYS",)}
    return {**base, **extra}


class Served:
    def __init__(self, process: subprocess.Popen[str], url: str = "") -> None:
        self.process = process
        self.url = url
        self.stderr = ""
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read_until(self, pattern: str, timeout: float) -> re.Match[str]:
        """Read stdout lines until one matches ``pattern``."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r} in {seen!r}")


@contextmanager
def serve(config: Path, *args: str, cwd: Path, **extra_env: str) -> Iterator[Served]:
    with tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [AGENTED, "serve", "--config", str(config), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=cwd,
            env=env(**extra_env),
        )
        served = Served(process)
        try:
            found = served.read_until(r"open\s+(http://127\.0\.0\.1:\d+)/", timeout=30)
            served.url = found.group(1)
            yield served
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            err.seek(0)
            served.stderr = err.read()


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The README's example config, copied away from the repo (its database lands beside it)."""
    folder = tmp_path / "conf"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "agented.toml")
    (tmp_path / "elsewhere").mkdir()
    return folder / "agented.toml"


def test_serve_refuses_to_start_without_a_key(example: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [AGENTED, "serve", "--config", str(example)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
    )
    assert result.returncode == 2
    assert "AGENTED_API_KEYS" in result.stderr and "--dev" in result.stderr
    assert not (example.parent / "agented.db").exists()  # nothing was opened
    loud = subprocess.run(
        [AGENTED, "serve", "--config", str(example), "--dev", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
    )
    assert loud.returncode == 2 and "127.0.0.1" in loud.stderr


def test_serve_runs_the_example_from_any_directory(example: Path, tmp_path: Path) -> None:
    keys = f"old-key,{KEY}"
    with (
        serve(example, cwd=tmp_path / "elsewhere", AGENTED_API_KEYS=keys) as served,
        httpx.Client(base_url=served.url, timeout=20) as client,
    ):
        opened = client.get("/")
        assert opened.status_code == 307 and opened.headers["location"] == "/agented/ui/"
        page = client.get("/", follow_redirects=True)
        assert page.status_code == 200 and 'content="/agented"' in page.text
        assert client.get("/agented/health").json() == {"status": "ok"}
        assert client.get("/agented/bots").status_code == 401
        started = client.post(
            "/agented/bots/hello/runs", json={"params": {"message": "serve"}}, headers=AUTH
        )
        assert started.status_code == 202
        events_url = started.json()["events_url"]
        with client.stream("GET", events_url, headers=AUTH) as stream:
            data = [
                json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")
            ]
    assert [e["text"] for e in data] == ["queued", "running", "hello serve", "succeeded"]
    assert (example.parent / "agented.db").exists()  # beside the config, not in the cwd
    assert not (tmp_path / "elsewhere" / "agented.db").exists()
    assert served.process.returncode == 0
    assert "Application shutdown complete" in served.stderr


def test_shutdown_interrupts_running_executions_gracefully(tmp_path: Path) -> None:
    config = tmp_path / "agented.toml"
    config.write_text(
        f"""
[agented]
database = "sqlite:///agented.db"
shutdown_grace = "0.5s"
kill_grace = "1s"

[bots.sleeper]
command = ["{FAKE_CLI}", "sleep", "60"]
on = [{{ manual = true }}]
"""
    )
    with serve(config, cwd=tmp_path, AGENTED_API_KEYS=KEY) as served:
        with httpx.Client(base_url=served.url, timeout=20) as client:
            execution_id = client.post("/agented/bots/sleeper/runs", headers=AUTH).json()[
                "execution_id"
            ]
            with client.stream(
                "GET", f"/agented/executions/{execution_id}/events", headers=AUTH
            ) as stream:
                for line in stream.iter_lines():
                    if '"text":"started"' in line:
                        break
        started = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(timeout=30)
    assert time.monotonic() - started < 15
    shown = subprocess.run(
        [sys.executable, "-c", _SHOW, str(config), execution_id],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.stdout.strip() == "interrupted", shown.stderr


_SHOW = """
import sys, anyio
from agented_core import Agented
async def main():
    async with Agented.open(config=sys.argv[1], entry_points=False) as ag:
        print((await ag.get(sys.argv[2])).status.value)
anyio.run(main)
"""


def test_dev_mode_needs_no_key_and_warns(example: Path, tmp_path: Path) -> None:
    with (
        serve(example, "--dev", cwd=tmp_path) as served,
        httpx.Client(base_url=served.url, timeout=20) as client,
    ):
        bots = client.get("/agented/bots")
    assert bots.status_code == 200
    assert [b["name"] for b in bots.json()["items"]] == ["count", "hello"]
    assert "UNAUTHENTICATED DEVELOPMENT MODE" in served.stderr


def test_serve_without_the_http_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "agented_http", None)
    code = run_cli(["serve", "--config", str(EXAMPLE)])
    assert code == 2
    assert "pip install 'agented[http]'" in capsys.readouterr().err


# a shell that starts a job in a session of its own and keeps writing: once the server is
# killed, the next write kills the shell (SIGPIPE), its group dies, the job lives on
ESCAPER = """
setsid sleep 300 < /dev/null > /dev/null 2>&1 &
echo $! > "$1.tmp" && mv "$1.tmp" "$1"
echo ready
while :; do echo tick; sleep 0.1; done
"""


def _wait(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.05)


def test_a_server_killed_and_restarted_at_once_ends_the_dead_ones_runs(tmp_path: Path) -> None:
    """systemd's ``Restart=always``: SIGKILL, a new server 2 s later, far within stale_after."""
    (tmp_path / "escaper.sh").write_text(ESCAPER)
    escaped_file = tmp_path / "escaped"
    config = tmp_path / "agented.toml"
    config.write_text(
        f"""
[agented]
database = "sqlite:///agented.db"
kill_grace = "1s"

[bots.sleeper]
command = ["{FAKE_CLI}", "silent", "300"]
on = [{{ manual = true }}]

[bots.escaper]
command = ["sh", "{tmp_path / "escaper.sh"}", "{escaped_file}"]
on = [{{ manual = true }}]
"""
    )
    escaped, groups = 0, []
    try:
        with serve(config, cwd=tmp_path, AGENTED_API_KEYS=KEY) as served:
            with httpx.Client(base_url=served.url, timeout=20) as client:
                ids = [
                    client.post(f"/agented/bots/{bot}/runs", headers=AUTH).json()["execution_id"]
                    for bot in ("sleeper", "escaper")
                ]

                def running() -> bool:
                    return (
                        all(
                            client.get(f"/agented/executions/{i}", headers=AUTH).json()["status"]
                            == "running"
                            for i in ids
                        )
                        and escaped_file.exists()
                    )

                _wait(running, 30)
                executions = [
                    client.get(f"/agented/executions/{i}", headers=AUTH).json() for i in ids
                ]
            escaped = int(escaped_file.read_text())
            groups = [e["pgid"] for e in executions]
            # SIGKILL: no cleanup at all (the silent sleeper writes nothing, so no SIGPIPE ends it)
            served.process.kill()
            served.process.wait()
            killed_at = time.monotonic()
        _wait(lambda: not group_alive(groups[1]), 10)  # the shell died of SIGPIPE ...
        assert alive(escaped) and group_alive(groups[0])  # ... the rest lives on
        time.sleep(max(0.0, killed_at + 2.0 - time.monotonic()))  # the restart delay
        with serve(config, cwd=tmp_path, AGENTED_API_KEYS=KEY) as served:
            restarted = time.monotonic()
            with httpx.Client(base_url=served.url, timeout=20) as client:

                def interrupted() -> bool:
                    return all(
                        client.get(f"/agented/executions/{i}", headers=AUTH).json()["status"]
                        == "interrupted"
                        for i in ids
                    )

                _wait(interrupted, 5)
                assert time.monotonic() - restarted < 5
                errors = [
                    client.get(f"/agented/executions/{i}", headers=AUTH).json()["error"]
                    for i in ids
                ]
        assert all("stopped while it was running" in e for e in errors)
        assert not alive(escaped) and not any(group_alive(g) for g in groups)
    finally:
        for kill, pid in ((os.kill, escaped), *((os.killpg, g) for g in groups)):
            try:
                if pid:
                    kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("dev", [False, True])
def test_the_hint_serve_prints_works_when_pasted(example: Path, tmp_path: Path, dev: bool) -> None:
    if shutil.which("curl") is None or shutil.which("bash") is None:
        pytest.skip("needs curl and bash")
    keys = f"old-key,{KEY}"
    args = ("--dev",) if dev else ()
    with serve(example, *args, cwd=tmp_path, AGENTED_API_KEYS=keys) as served:
        hint = served.read_until(r"^  try\s+(.*)$", timeout=10).group(1)
        start = served.read_until(r"^\s+(ID=.*)$", timeout=10).group(1)
        follow = served.read_until(r"^\s+(curl .*)$", timeout=10).group(1)
        # another terminal: the key in AGENTED_API_KEY (the hint names it), no AGENTED_API_KEYS
        shell = subprocess.run(
            ["bash", "-c", f"{start}\n{follow}"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env=env(AGENTED_API_KEY="" if dev else KEY),
        )
    assert shell.returncode == 0, shell.stderr
    events = [json.loads(line) for line in shell.stdout.splitlines()]
    assert [e["text"] for e in events] == ["queued", "running", "hello world", "succeeded"]
    assert ("AGENTED_API_KEY" in hint) is not dev
    assert ("$AGENTED_API_KEY" in start) is not dev
    assert "old-key" not in start + follow and KEY not in start + follow  # no secret printed
