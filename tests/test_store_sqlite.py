"""The SQLite backend: migrations, WAL, events, claims, state, pruning."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core.errors import StoreError
from agented_core.models import Event, Execution, Status, TriggerKind
from agented_core.store.sqlite import SQLiteStore, sqlite_path
from agented_core.store.sqlite_schema import MIGRATIONS

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def execution(id: str, status: Status = Status.QUEUED, **fields) -> Execution:
    return Execution(
        id=id, bot="b", trigger=TriggerKind.API, status=status, created_at=NOW, **fields
    )


def test_urls(tmp_path: Path) -> None:
    assert sqlite_path("sqlite:///:memory:") == ":memory:"
    assert sqlite_path("sqlite:///rel/x.db", tmp_path) == str(tmp_path / "rel/x.db")
    assert sqlite_path("sqlite:////abs/x.db", tmp_path) == "/abs/x.db"
    for bad in ["postgresql://x", "sqlite:///", "sqlite://x.db"]:
        with pytest.raises(StoreError):
            sqlite_path(bad)


async def test_schema_versioned_wal_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SQLiteStore(str(path))
    await store.open()
    assert store.schema_version() == len(MIGRATIONS)
    await store.save_execution(execution("e1"))
    await store.close()
    await store.close()  # twice is fine
    again = SQLiteStore(str(path))
    await again.open()  # migrations do not run twice
    assert (await again.get_execution("e1")) is not None
    await again.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(len(MIGRATIONS),)]
    conn.close()


async def test_an_older_schema_is_migrated_forward(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SQLiteStore(str(path))
    await store.open()
    await store.save_execution(execution("e1"))
    await store.request_control("e1", "cancel")
    await store.close()
    conn = sqlite3.connect(path)  # back to the first released schema
    conn.execute("DROP INDEX executions_pending_control")
    conn.execute("DROP TABLE audit")
    conn.execute("UPDATE schema_version SET version = 1")
    conn.commit()
    conn.close()
    again = SQLiteStore(str(path))
    await again.open()
    assert again.schema_version() == len(MIGRATIONS)
    assert await again.take_controls(["e1", "e2"]) == {"e1": "cancel"}
    assert await again.take_controls(["e1"]) == {}
    plan = again.conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM executions WHERE control IS NOT NULL"
    ).fetchall()
    assert "executions_pending_control" in str(plan)
    await again.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SQLiteStore(str(path))
    await store.open()
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 999")
    conn.commit()
    conn.close()
    newer = SQLiteStore(str(path))
    for _ in range(2):  # a failed open leaves no half-open store behind
        with pytest.raises(StoreError, match="newer than this agented knows"):
            await newer.open()


async def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="folder of the database does not exist"):
        await SQLiteStore(str(tmp_path / "no" / "a.db")).open()


async def test_events_append_is_idempotent_and_ordered() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    events = [Event("e", n, NOW, 1, "text", str(n), {"n": n} if n % 2 else {}) for n in range(1, 6)]
    await store.append_events(events[2:])
    await store.append_events(events)  # overlap is ignored
    got = await store.read_events("e")
    assert [(e.seq, e.text, e.data) for e in got] == [(e.seq, e.text, e.data) for e in events]
    assert [e.seq for e in await store.read_events("e", after=3)] == [4, 5]
    assert [e.seq for e in await store.read_events("e", after=1, limit=2)] == [2, 3]
    assert await store.last_seq("e") == 5
    assert await store.last_seq("other") == 0
    await store.close()


async def test_claims_expire_and_belong_to_their_owner() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    assert await store.claim("k", "a", ttl=0.2)
    assert not await store.claim("k", "b", ttl=10)
    assert await store.claim("k", "a", ttl=0.2)  # the owner renews
    time.sleep(0.25)
    assert await store.claim("k", "b", ttl=10)  # expired: someone else may take it
    await store.release("k", "a")  # not a's anymore: no effect
    assert not await store.claim("k", "a", ttl=10)
    await store.release("k", "b")
    assert await store.claim("k", "a", ttl=10)
    await store.close()


async def test_state_deliveries_and_controls() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    assert await store.get_state("x") is None
    await store.put_state("x", {"last": "2026-01-01"})
    await store.put_state("x", {"last": "2026-01-02"})
    assert await store.get_state("x") == {"last": "2026-01-02"}
    await store.record_delivery({"delivery": "d1", "started": []})
    await store.record_delivery({"delivery": "d2", "started": ["e"]})
    assert [d["delivery"] for d in await store.list_deliveries()] == ["d2", "d1"]
    await store.save_execution(execution("e", Status.RUNNING))
    await store.request_control("e", "cancel")
    assert await store.take_controls(["e"]) == {"e": "cancel"}
    assert await store.take_controls(["e"]) == {}
    await store.close()


async def test_prune_deletes_only_old_finished_executions() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    old = execution("old", Status.SUCCEEDED, finished_at=NOW - timedelta(days=40))
    recent = execution("recent", Status.FAILED, finished_at=NOW - timedelta(days=1))
    running = execution("running", Status.RUNNING)
    for e in (old, recent, running):
        await store.save_execution(e)
        await store.append_events([Event(e.id, 1, NOW, 1, "status", "x")])
    assert await store.delete_executions(NOW - timedelta(days=30)) == 1
    assert await store.get_execution("old") is None
    assert await store.read_events("old") == []
    assert await store.get_execution("recent") is not None
    assert await store.get_execution("running") is not None
    await store.close()


async def test_ids_with_prefix_are_found_newest_first(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "agented.db"))
    await store.open()
    for id in ("01AA", "01AB", "01B0", "02AA"):
        await store.save_execution(execution(id))
    assert await store.ids_with_prefix("01A", 10) == ["01AB", "01AA"]
    assert await store.ids_with_prefix("01", 2) == ["01B0", "01AB"]
    assert await store.ids_with_prefix("02AA", 10) == ["02AA"]
    assert await store.ids_with_prefix("01a", 10) == []  # case matters here; the CLI retries
    assert await store.ids_with_prefix("03", 10) == []
    await store.save_execution(execution("01AC", Status.FAILED))
    assert await store.ids_with_prefix("01A", 10, status=[Status.FAILED]) == ["01AC"]
    assert await store.ids_with_prefix("01A", 10, before="01AC") == ["01AB", "01AA"]
    assert await store.ids_with_prefix("01A", 10, bot="other") == []
    assert await store.ids_with_prefix("01A", 10, bot="b", status=[Status.QUEUED]) == [
        "01AB",
        "01AA",
    ]
    await store.close()


@settings(max_examples=60, deadline=None)
@given(
    ids=st.sets(st.text("0AZz\u00e9", min_size=1, max_size=4), max_size=8),
    prefix=st.text("0AZz\u00e9", max_size=3),
)
def test_ids_with_prefix_is_startswith(ids: set[str], prefix: str) -> None:
    async def check() -> list[str]:
        store = SQLiteStore(":memory:")
        await store.open()
        try:
            for id in ids:
                await store.save_execution(execution(id))
            return await store.ids_with_prefix(prefix, 100)
        finally:
            await store.close()

    expected = sorted((id for id in ids if id.startswith(prefix)), reverse=True)
    assert anyio.run(check) == expected
