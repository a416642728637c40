"""Reloading the configuration without a restart: Agented.reload, POST /config/reload, SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from agented_core import Agented, ConfigError, Status, load_config
from agented_http import Settings
from conftest import FAKE_CLI
from http_support import KEY, ThreadServer
from test_http_server import serve

pytestmark = pytest.mark.anyio


def write(path: Path, *bots: str, database: str = "agented.db") -> Path:
    path.write_text(f'[agented]\ndatabase = "sqlite:///{database}"\n' + "\n".join(bots))
    return path


def waiter(release: Path, word: str) -> str:
    return (
        f'[bots.waiter]\ncommand = ["{FAKE_CLI}", "until", "{release}"]\n'
        f'description = "{word}"\non = [{{ manual = true }}]\n'
    )


HELLO = '[bots.hello]\ncommand = ["echo", "hi"]\non = [{ manual = true }]\n'
NIGHTLY = '[bots.nightly]\ncommand = ["echo", "night"]\non = [{ cron = "0 3 * * *" }]\n'


async def test_a_reload_changes_new_runs_only_and_replans_schedules(tmp_path: Path) -> None:
    release = tmp_path / "release"
    path = write(tmp_path / "agented.toml", waiter(release, "v1"))
    async with Agented.open(config=path, entry_points=False, schedules=True) as ag:
        running = await ag.run("waiter")
        assert ag.next_fire("nightly") is None
        write(path, waiter(release, "v2").replace('"until"', '"say", "v2", "--"'), HELLO, NIGHTLY)
        result = await ag.reload(actor="tester")
        assert (result.added, result.removed, result.changed) == (
            ("hello", "nightly"),
            (),
            ("waiter",),
        )
        assert ag.next_fire("nightly") is not None  # planned again
        release.touch()
        first = await ag.wait(running.id, timeout=20)
        assert first.status is Status.SUCCEEDED
        assert "until" in first.command  # the definition it started with
        second = await ag.wait((await ag.run("waiter")).id, timeout=20)
        assert second.status is Status.SUCCEEDED and "v2" in second.command
        assert (await ag.wait((await ag.run("hello")).id, timeout=20)).status is Status.SUCCEEDED
        [entry] = await ag.store.list_audit()
    assert entry["action"] == "reload" and entry["actor"] == "tester"
    assert entry["added"] == ["hello", "nightly"] and entry["changed"] == ["waiter"]


async def test_a_bad_file_is_refused_whole_and_the_old_config_stays(tmp_path: Path) -> None:
    path = write(tmp_path / "agented.toml", HELLO)
    async with Agented.open(config=path, entry_points=False) as ag:
        before = ag.config
        path.write_text(HELLO + '[bots.broken]\ncommand = ["x"]\ntimeot = "5m"\n')
        with pytest.raises(ConfigError) as bad:
            await ag.reload()
        assert "timeot" in str(bad.value) and "did you mean 'timeout'" in str(bad.value)
        path.write_text("this is [not toml")
        with pytest.raises(ConfigError, match="not valid TOML"):
            await ag.reload()
        write(path, HELLO, database="elsewhere.db")
        with pytest.raises(ConfigError, match=r"changing \[agented\] database .* needs a restart"):
            await ag.reload()
        path.write_text('[bots.x]\nprovider = "nope"\ncommand = ["true"]\n')
        with pytest.raises(ConfigError, match="nope"):
            await ag.reload()
        assert ag.config is before and ag.executor.config is before
        assert await ag.store.list_audit() == []  # nothing was reloaded
        done = await ag.wait((await ag.run("hello")).id, timeout=20)
    assert done.status is Status.SUCCEEDED


def test_post_config_reload_answers_with_the_problems(tmp_path: Path) -> None:
    path = write(tmp_path / "agented.toml", HELLO)
    config = load_config(path)
    with ThreadServer(config, Settings(api_keys=(KEY,)), {"entry_points": False}) as server:
        url = f"{server.url}/agented/config/reload"
        headers = {"X-API-Key": KEY}
        path.write_text(HELLO + '[bots.two]\ncommand = ["true"]\nmax_attempts = 0\n')
        refused = httpx.post(url, headers=headers)
        assert refused.status_code == 422
        body = refused.json()
        assert body["error"] == "bad_request" and "old one stays" in body["message"]
        [problem] = body["problems"]
        assert problem["bot"] == "two" and problem["field"] == "max_attempts"
        assert problem["line"] == 6 and problem["file"] == str(path.resolve())
        write(path, HELLO, '[bots.two]\ncommand = ["true"]\n')
        done = httpx.post(url, headers=headers)
        assert done.status_code == 200, done.text
        assert done.json()["added"] == ["two"] and done.json()["reloaded"] is True
        assert done.json()["warnings"][0]["bot"] == "two"  # no triggers: a warning only
        bots = httpx.get(f"{server.url}/agented/bots", headers=headers).json()["items"]
        assert sorted(b["name"] for b in bots) == ["hello", "two"]
        audit = httpx.get(f"{server.url}/agented/audit", headers=headers).json()["items"]
        assert audit[0]["action"] == "reload" and audit[0]["actor"].startswith("key-")
        assert httpx.post(url).status_code == 401


def test_sighup_reloads_agented_serve(tmp_path: Path) -> None:
    path = write(tmp_path / "agented.toml", HELLO)
    with serve(path, cwd=tmp_path, AGENTED_API_KEYS="k") as served:
        bots_url = f"{served.url}/agented/bots"

        def names() -> list[str]:
            items = httpx.get(bots_url, headers={"X-API-Key": "k"}).json()["items"]
            return sorted(b["name"] for b in items)

        assert names() == ["hello"]
        write(path, HELLO, NIGHTLY)
        served.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while names() != ["hello", "nightly"]:
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.05)
        path.write_text("[bots.broken")
        served.process.send_signal(signal.SIGHUP)
        for _ in range(3):  # requests served after the signal: its handler has had its turn
            assert names() == ["hello", "nightly"]  # the old configuration stays
        assert served.process.poll() is None
    assert "configuration not reloaded, the old one stays in use" in served.stderr
    assert "not valid TOML" in served.stderr


AGENTED = str(Path(sys.executable).parent / "agented")


def _reloads(db: Path) -> int:
    """How many processes audited a SIGHUP reload adding ``nightly``."""
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT data FROM audit WHERE actor = 'signal:SIGHUP' AND action = 'reload'"
        ).fetchall()
    return sum(json.loads(data)["added"] == ["nightly"] for (data,) in rows)


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("args", "processes"),
    [(["worker"], 1), (["serve", "--port", "0", "--workers", "2"], 2)],
    ids=["worker", "serve-workers"],
)
def test_sighup_reloads_a_worker_and_every_process_of_serve_workers(
    tmp_path: Path, args: list[str], processes: int
) -> None:
    """What systemd's ExecReload sends reaches each process, which reloads (each audits it)
    and lives on (Python's default for SIGHUP would have ended the ``--workers`` parent and a
    worker)."""
    path = write(tmp_path / "agented.toml", HELLO)
    db = tmp_path / "agented.db"
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [AGENTED, *args, "--config", str(path)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, "AGENTED_API_KEYS": KEY},
        )
    try:
        assert proc.stdout is not None
        banner = "agented worker" if args[0] == "worker" else "  open "
        while not (line := proc.stdout.readline()).startswith(banner):
            assert line, f"exited before {banner!r}: {log.read_text()[-2000:]}"
        if args[0] == "serve":  # a child's SIGHUP receiver is set once its startup completes
            _wait_for(
                lambda: log.read_text().count("Application startup complete") == processes,
                "not every worker started",
            )
        write(path, HELLO, NIGHTLY)
        proc.send_signal(signal.SIGHUP)
        _wait_for(lambda: _reloads(db) == processes, f"not reloaded: {log.read_text()[-2000:]}")
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert _reloads(db) == processes
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_a_removed_bots_queued_and_waiting_runs_are_cancelled_saying_why(
    tmp_path: Path,
) -> None:
    """No process would take them once their bot is gone: they end at the reload."""
    from datetime import timedelta

    from agented_core.models import Execution, TriggerKind

    release = tmp_path / "release"
    settings = '[agented]\ndatabase = "sqlite:///agented.db"\nmax_concurrent_runs = 1\n'
    path = tmp_path / "agented.toml"
    path.write_text(settings + waiter(release, "v1") + HELLO)
    async with Agented.open(config=path, entry_points=False) as ag:
        running = await ag.run("waiter")
        queued = await ag.run("hello")  # no room: in the shared queue, for anyone
        stored = await ag.store.get_execution(queued.id)
        assert stored is not None and stored.status is Status.QUEUED and stored.owner is None
        waiting = Execution(
            id="01WAITINGFORITSRETRY00000",
            bot="hello",
            trigger=TriggerKind.MANUAL,
            status=Status.WAITING,
            created_at=ag.clock(),
            retry_at=ag.clock() + timedelta(hours=1),
        )
        await ag.store.save_execution(waiting)
        path.write_text(settings + waiter(release, "v1"))
        result = await ag.reload()
        assert result.removed == ("hello",)
        ended = [await ag.wait(i, timeout=20) for i in (queued.id, waiting.id)]
        release.touch()
        first = await ag.wait(running.id, timeout=20)
    assert first.status is Status.SUCCEEDED  # a running one of a kept bot goes on
    for execution in ended:
        assert execution.status is Status.CANCELLED
        assert execution.error == "cancelled: bot 'hello' was removed from the configuration"
