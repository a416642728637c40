"""``agented db upgrade`` and ``agented db copy`` (SQLite to PostgreSQL and back), and a
PostgreSQL server that cannot be reached: one line, exit 2, in every command."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from agented_postgres.schema import MIGRATIONS

from agented_cli import run_cli
from agented_core.models import Event, Status
from agented_core.plugins import Plugins
from agented_core.store import Store
from agented_core.store.testing import NOW, execution
from pg_support import fresh_schema, raw_sql

AGENTED = str(Path(sys.executable).parent / "agented")


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run_cli(list(args), out=out)
    return code, out.getvalue()


def opened(url: str) -> Store:
    return Plugins().open_store(url)


async def fill(url: str) -> None:
    """Three executions with events, two deliveries, audit entries and state."""
    store = opened(url)
    await store.open()
    for n in range(3):
        id = f"01X{n}"
        await store.save_execution(
            execution(id, Status.SUCCEEDED, finished_at=NOW + timedelta(minutes=n), prompt="p")
        )
        await store.append_events(
            [
                Event(id, seq, NOW + timedelta(seconds=seq), 1, "text", f"line {seq} é",
                      {"n": seq, "z": [1, {"b": 2, "a": 1}]} if seq % 2 else {})
                for seq in range(1, 40 * (n + 1))
            ]
        )  # fmt: skip
    await store.heartbeat(["01X1"], "nobody", NOW)
    await store.record_delivery({"delivery": "d1", "event": "push", "started": ["01X0"]})
    await store.record_delivery({"delivery": "d2", "event": "issues", "started": []})
    await store.record_audit({"at": NOW.isoformat(), "actor": "k1", "action": "run",
                              "execution_id": "01X0"})  # fmt: skip
    await store.put_state("schedule:nightly:0", {"last": NOW.isoformat()})
    await store.put_state("cooldown:claude:work", {"until": 123.5})
    await store.claim("delivery:github:abc", "tok", 3600)
    await store.close()


async def contents(url: str) -> dict[str, object]:
    store = opened(url)
    await store.open()
    try:
        items, _ = await store.list_executions(limit=100)
        return {
            "executions": [(e.id, e.status, e.prompt, e.finished_at) for e in items],
            "events": {e.id: await store.read_events(e.id) for e in items},
            "deliveries": [
                {k: v for k, v in d.items() if k != "received_at"}
                for d in await store.list_deliveries()
            ],
            "audit": [
                (a["actor"], a["action"], a["execution_id"]) for a in await store.list_audit()
            ],
            "state": await store.list_state(),
            "claims": sorted((k, o) for k, (o, _) in (await store.list_claims()).items()),
        }
    finally:
        await store.close()


def test_copy_sqlite_to_postgresql_and_back(tmp_path: Path, pg_url: str) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'old.db'}"
    anyio.run(fill, sqlite_url)
    code, out = cli("db", "copy", "--from", sqlite_url, "--to", pg_url)
    assert code == 0, out
    assert "executions: 3 copied" in out and "events: 3/3 executions, 237 copied" in out
    assert "verified: 3 execution(s), 237 event(s)" in out
    original = anyio.run(contents, sqlite_url)
    assert anyio.run(contents, pg_url) == original
    back = f"sqlite:///{tmp_path / 'back.db'}"
    code, out = cli("db", "copy", "--from", pg_url, "--to", back)
    assert code == 0, out
    assert anyio.run(contents, back) == original


def test_copy_resumes_without_doubling_and_detects_a_difference(
    tmp_path: Path, pg_url: str
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'old.db'}"
    anyio.run(fill, sqlite_url)

    async def half_done() -> None:  # what an interrupted copy leaves
        source, target = opened(sqlite_url), opened(pg_url)
        await source.open()
        await target.open()
        await target.save_execution((await source.list_executions(limit=1))[0][0])
        await target.append_events(await source.read_events("01X2", limit=10))
        await target.record_delivery((await source.list_deliveries())[-1])
        await source.close()
        await target.close()

    anyio.run(half_done)
    code, out = cli("db", "copy", "--from", sqlite_url, "--to", pg_url)
    assert code == 0, out
    assert "10 already there" in out and "deliveries: 1 copied of 2" in out
    assert anyio.run(contents, pg_url) == anyio.run(contents, sqlite_url)
    code, out = cli("db", "copy", "--from", sqlite_url, "--to", pg_url)  # again: nothing new
    assert code == 0 and "deliveries: 0 copied of 2" in out
    raw_sql(pg_url, "UPDATE events SET text = 'doctored' WHERE execution_id = ? AND seq = 5",
            ("01X1",))  # fmt: skip
    code, out = cli("db", "copy", "--from", sqlite_url, "--to", pg_url)
    assert code == 1 and "checksum of the events differs" in out and "NOT verified" in out


def test_copy_refuses_a_missing_source(tmp_path: Path, pg_url: str) -> None:
    code, _ = cli("db", "copy", "--from", f"sqlite:///{tmp_path / 'none.db'}", "--to", pg_url)
    assert code == 2 and not (tmp_path / "none.db").exists()


def test_upgrade_applies_the_migrations_once(tmp_path: Path, pg_url: str) -> None:
    config = tmp_path / "agented.toml"
    config.write_text(f'[agented]\ndatabase = "{pg_url}"\n')
    code, out = cli("db", "upgrade", "--config", str(config))
    latest = len(MIGRATIONS)
    assert code == 0 and f"{latest} migration(s) applied, schema version {latest}" in out, out
    code, out = cli("db", "upgrade", "--config", str(config))
    assert code == 0 and f"0 migration(s) applied, schema version {latest}" in out
    config.write_text(f'[agented]\ndatabase = "sqlite:///{tmp_path / "a.db"}"\n')
    code, out = cli("db", "upgrade", "--config", str(config))
    assert code == 0 and "up to date, schema version " in out


def test_an_unreachable_server_is_one_line_and_exit_2_in_every_command(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "agented.toml"
    config.write_text(
        f'[agented]\ndatabase = "postgresql://root:sekret@127.0.0.1:{port}/agented"\n'
        '[bots.hello]\ncommand = ["echo", "hi"]\non = [{ manual = true }]\n'
    )
    env = {**os.environ, "AGENTED_API_KEYS": "k"}
    for args in (["run", "hello"], ["serve", "--port", "0"], ["executions"], ["db", "upgrade"]):
        result = subprocess.run(
            [AGENTED, *args, "-c", str(config)],
            capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
        )  # fmt: skip
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert f"cannot reach PostgreSQL at 127.0.0.1:{port}/agented" in lines[0]
        assert "sekret" not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr
