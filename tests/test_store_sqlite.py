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
from agented_core.store.search import matches, parse_query
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
    conn.execute("DROP TRIGGER executions_search_delete")
    conn.execute("DROP TABLE events_search_rows")
    conn.execute("DROP TABLE events_search_words")
    conn.execute("DROP TABLE events_search")
    conn.execute("DROP TABLE search_executions")
    conn.execute(  # stored before search existed: indexed by the migration
        "INSERT INTO events (execution_id, seq, time, attempt, kind, text)"
        " VALUES ('e1', 1, 0, 1, 'stderr', 'fatal: repository not found')"
    )
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
    [match] = await again.search_events("repository not found")
    assert match.execution_id == "e1" and [e.seq for e in match.events] == [1]
    await again.close()


async def test_a_version_4_index_with_positions_is_rebuilt_without(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SQLiteStore(str(path))
    await store.open()
    await store.save_execution(execution("e1"))
    await store.close()
    conn = sqlite3.connect(path)  # back to version 4: the index kept positions
    conn.execute("DROP TABLE events_search_rows")
    conn.execute("DROP TABLE events_search_words")
    conn.execute("DROP TABLE events_search")
    conn.execute(
        "CREATE VIRTUAL TABLE events_search USING fts5(text, content='', columnsize=0,"
        " tokenize='unicode61 remove_diacritics 2')"
    )
    conn.execute("INSERT INTO search_executions (execution_id) VALUES ('e1')")
    conn.executemany(
        "INSERT INTO events (execution_id, seq, time, attempt, kind, text) VALUES ('e1', ?, 0, 1,"
        " 'text', ?)",
        [(1, "the connection was refused"), (2, "connection refused by the host"), (3, "ok")],
    )
    conn.executemany(
        "INSERT INTO events_search (rowid, text) SELECT (1 << 32) | seq, text FROM events"
        " WHERE seq = ?",
        [(1,), (2,), (3,)],
    )
    conn.execute("UPDATE schema_version SET version = 4")
    conn.commit()
    conn.close()
    again = SQLiteStore(str(path))
    await again.open()
    assert again.schema_version() == len(MIGRATIONS)
    sql = again.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events_search'")
    assert "detail=none" in sql.fetchone()[0]
    [both] = await again.search_events("refused connection")
    assert [e.seq for e in both.events] == [1, 2]
    [phrase] = await again.search_events('"connection refused"')  # order checked by Python
    assert [e.seq for e in phrase.events] == [2]
    assert await again.search_events('"refused connection"') == []
    [prefix] = await again.search_events("conn* REF*")  # a prefix: the words it stands for
    assert [e.seq for e in prefix.events] == [1, 2]
    assert await again.search_events("zq*") == []  # it stands for none
    many = " ".join(f"pq{n}" for n in range(70))  # more words than are OR-ed: the prefix itself
    await again.append_events([Event("e1", 4, datetime.now(UTC), 1, "text", many, {})])
    [wide] = await again.search_events("PQ*")
    assert [e.seq for e in wide.events] == [4]
    now = datetime.now(UTC)
    nul = [
        Event("e1", 5, now, 1, "text", "nul\x00byte", {}),
        Event("e1", 6, now, 1, "usage", None, {}),
    ]
    await again.append_events(nul)  # a NUL: indexed from Python, as a space
    await again.append_events([*nul, Event("e1", 7, now, 1, "text", "byte again", {})])  # a repeat
    [both] = await again.search_events("byte")
    assert [e.seq for e in both.events] == [5, 7]
    await again.delete_events(["e1"])  # the index is told of what it loses
    assert await again.search_events("refused") == []
    left = "SELECT rowid FROM events_search WHERE events_search MATCH 'refused OR byte OR pq1'"
    assert again.conn.execute(left).fetchall() == []
    await again.close()


async def test_a_version_5_index_of_one_event_a_row_is_carried_over(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SQLiteStore(str(path))
    await store.open()
    await store.close()
    conn = sqlite3.connect(path)  # back to version 5: a row of the index an event
    conn.execute("DROP TABLE events_search_rows")
    conn.execute("INSERT INTO search_executions (execution_id) VALUES ('e1')")
    said = ["the connection was refused", "", "connection refused by the host", "ok"]
    conn.executemany(
        "INSERT INTO events (execution_id, seq, time, attempt, kind, text) VALUES ('e1', ?, 0, 1,"
        " 'text', ?)",
        list(enumerate(said, 1)),
    )
    conn.executemany(
        "INSERT INTO events_search (rowid, text) VALUES ((1 << 32) | ?, ?)",
        [(seq, text) for seq, text in enumerate(said, 1) if text],
    )
    conn.execute("UPDATE schema_version SET version = 5")
    conn.commit()
    conn.close()
    again = SQLiteStore(str(path))
    await again.open()
    assert again.schema_version() == len(MIGRATIONS)
    later = [Event("e1", n, NOW, 1, "text", f"refused again {n}", {}) for n in range(5, 25)]
    await again.append_events(later)  # rows of several events, next to the carried ones
    [both] = await again.search_events('"connection refused"', per_execution=5)
    assert [e.seq for e in both.events] == [3]
    [refused] = await again.search_events("refused", per_execution=30)
    assert [e.seq for e in refused.events] == [1, 3, *range(5, 25)]
    rows = again.conn.execute("SELECT count(*) FROM events_search_rows").fetchone()[0]
    assert rows == 3 + 3  # the three carried over, then 20 events in rows of 8
    await again.delete_events(["e1"])
    left = "SELECT rowid FROM events_search WHERE events_search MATCH 'refused OR connection OR ok'"
    assert again.conn.execute(left).fetchall() == []
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


SAID = ["error", "connection", "refused", "café", "deploy", "deployment", "ß", "push", ""]
texts = st.lists(st.sampled_from(SAID), max_size=5).map(" ".join) | st.none()
# (execution, seq, text): seqs mostly consecutive, with repeats, gaps and batches out of order
batches = st.lists(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(1, 80), texts), max_size=60),
    min_size=1,
    max_size=5,
)
searched = st.sampled_from(
    ["connection", "connection refused", '"connection refused"', "deploy*", "cafe", "push ß"]
)


@settings(max_examples=60, deadline=None)
@given(batches=batches, query=searched, per=st.integers(1, 40))
def test_search_finds_each_matching_event_of_rows_of_several(
    batches: list[list[tuple[str, int, str | None]]], query: str, per: int
) -> None:
    """Whatever batches the events came in, a search finds the latest matching events of each
    execution as Python's matching does one event at a time, and a deletion leaves nothing of
    an execution's rows in the index."""
    stored: dict[str, dict[int, str | None]] = {}
    for batch in batches:
        for key, seq, text in sorted(batch, key=lambda e: e[1] // 7):  # runs, out of order
            stored.setdefault(key, {}).setdefault(seq, text)
    terms = parse_query(query)
    newest_first = list(reversed(stored))  # numbered as first stored
    expected = [
        (key, [s for s in sorted(stored[key]) if matches(terms, stored[key][s])][-per:])
        for key in newest_first
    ]
    expected = [(key, seqs) for key, seqs in expected if seqs]

    async def check() -> None:
        store = SQLiteStore(":memory:")
        await store.open()
        try:
            for batch in batches:
                ordered = sorted(batch, key=lambda e: e[1] // 7)
                await store.append_events(
                    [Event(k, s, NOW, 1, "text", t, {}) for k, s, t in ordered]
                )
            got = await store.search_events(query, limit=10, per_execution=per)
            assert [(m.execution_id, [e.seq for e in m.events]) for m in got] == expected
            await store.delete_events(["a"])
            left = store.conn.execute(
                "SELECT rowid FROM events_search WHERE events_search MATCH ?",
                (" OR ".join(f'"{w}"' for w in SAID if w),),
            ).fetchall()
            number = store.conn.execute(
                "SELECT n FROM search_executions WHERE execution_id = 'b'"
            ).fetchone()
            others = {number[0]} if number else set()
            others |= {
                r[0]
                for r in store.conn.execute(
                    "SELECT n FROM search_executions WHERE execution_id = 'c'"
                )
            }
            assert {rowid >> 32 for (rowid,) in left} <= others  # nothing of a's
        finally:
            await store.close()

    anyio.run(check)
