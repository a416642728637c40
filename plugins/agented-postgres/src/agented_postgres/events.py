"""Events keyed by (execution id, seq): a large batch COPYed in one transaction, a small one in
one statement; followers woken by NOTIFY at its commit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC
from typing import Any

from agented_core import Event
from agented_core.store import EventStore
from agented_core.store.search import SearchMatch, parse_query

from .indexer import BATCH, SearchIndexer, count_pending, index_pending
from .notify import channel, listening
from .pool import Connection, Database
from .search import query_text

FOLLOW_FALLBACK = 2.0
"""Seconds a caught-up follower waits for a notification before it reads the store anyway."""
READ_PAGE = 1000
SMALL_BATCH = 64
"""Batches up to this size go in one INSERT statement (a webhook's few events), larger ones
by COPY."""
_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS agented_events_in (execution_id TEXT, seq BIGINT,"
    " time TIMESTAMPTZ, attempt INTEGER, kind TEXT, text TEXT, data TEXT)"
    " ON COMMIT DELETE ROWS"
)
_STAGING_TYPES = ["text", "int8", "timestamptz", "int4", "text", "text", "text"]
# stored without their search vectors: the indexer (indexer.py) adds them off this path
# the fence: no event of an attempt older than its execution's stored one (a process whose run
# was taken over and run again elsewhere writes nothing more of it), read under a share lock
# of the execution's row, so a takeover's update waits for the insert (or the insert for it)
_LOCKED = (
    "locked AS (SELECT id, COALESCE((data->>'attempt')::int, 0) AS attempt FROM executions"
    " WHERE id = ANY(%s::text[]) FOR SHARE)"
)
_INSERT_SMALL = (
    f"WITH {_LOCKED}, stored AS ("
    "INSERT INTO events (execution_id, seq, time, attempt, kind, text, data)"
    " SELECT r.execution_id, r.seq, r.time, r.attempt, r.kind, r.text, r.data::jsonb"
    " FROM unnest(%s::text[], %s::bigint[], %s::timestamptz[], %s::int[], %s::text[],"
    " %s::text[], %s::text[]) AS r(execution_id, seq, time, attempt, kind, text, data)"
    " LEFT JOIN locked l ON l.id = r.execution_id WHERE r.attempt >= COALESCE(l.attempt, 0)"
    " ON CONFLICT DO NOTHING)"
    " SELECT pg_notify(c, '') FROM unnest(%s::text[]) c"
)
_INSERT_STAGED = (
    f"WITH {_LOCKED} INSERT INTO events (execution_id, seq, time, attempt, kind, text, data)"
    " SELECT s.execution_id, s.seq, s.time, s.attempt, s.kind, s.text, s.data::jsonb"
    " FROM agented_events_in s LEFT JOIN locked l ON l.id = s.execution_id"
    " WHERE s.attempt >= COALESCE(l.attempt, 0) ON CONFLICT DO NOTHING"
)

_SEARCH = (
    "WITH hits AS (SELECT execution_id, seq,"
    " row_number() OVER (PARTITION BY execution_id ORDER BY seq DESC) AS nth,"
    " dense_rank() OVER (ORDER BY execution_id DESC) AS rank"
    " FROM events WHERE search @@ %s::tsquery AND (%s::text IS NULL OR execution_id < %s))"
    " SELECT e.execution_id, e.seq, e.time, e.attempt, e.kind, e.text, e.data"
    " FROM hits h JOIN events e USING (execution_id, seq)"
    " WHERE h.nth <= %s AND h.rank <= %s ORDER BY e.execution_id DESC, e.seq"
)


def _clean(text: str) -> str:
    # PostgreSQL text and JSONB cannot hold NUL; it becomes U+FFFD as an invalid byte would
    return text.replace("\x00", "\ufffd")


def _row(e: Event) -> tuple[Any, ...]:
    data = json.dumps(e.data, ensure_ascii=False, separators=(",", ":")) if e.data else None
    if data is not None and "\\u0000" in data:
        data = json.dumps(json.loads(data.replace("\\u0000", "\\ufffd")), ensure_ascii=False)
    text = _clean(e.text) if e.text is not None and "\x00" in e.text else e.text
    return (e.execution_id, e.seq, e.time, e.attempt, e.kind, text, data)


async def _index_waiting(conn: Connection) -> int:
    return await index_pending(conn, wait=True)


class PostgresEvents(EventStore):
    """The :class:`EventStore` part over the ``events`` table."""

    _db: Database
    _indexer: SearchIndexer
    index_search = True
    """Index stored events in the background (:class:`SearchIndexer`, started by ``open``).
    Off only to measure what that costs a run flooding its output (``bench/ingest.py
    --search``); a search still indexes what waits before it looks."""
    search_catch_up = 10
    """Batches of waiting events a search indexes before it looks: past that (a backlog of
    tens of thousands while a flood goes on) the newest of them may not be found yet."""

    def _channel(self, execution_id: str) -> str:
        return channel(self._db.settings.schema, "events", execution_id)

    async def append_events(self, events: Sequence[Event]) -> None:
        if not events:
            return
        rows = [_row(e) for e in events]
        wake = sorted({self._channel(e.execution_id) for e in events})
        ids = sorted({e.execution_id for e in events})

        if len(rows) <= SMALL_BATCH:
            columns = [list(column) for column in zip(*rows, strict=True)]

            async def insert(conn: Connection) -> None:
                # one statement, so one round trip and atomic without a transaction of its own
                await conn.execute(_INSERT_SMALL, [ids, *columns, wake])

            await self._db.run(insert)
            self._indexer.appended()
            return

        async def write(conn: Connection) -> None:
            # binary COPY (half the client's CPU of text) into a staging table of the
            # connection's own, then one INSERT that ignores the events already stored
            await conn.execute(_STAGING)
            async with conn.cursor() as cur:
                async with cur.copy("COPY agented_events_in FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(_STAGING_TYPES)
                    for row in rows:
                        await copy.write_row(row)
                await cur.execute(_INSERT_STAGED, (ids,))
                await cur.execute("SELECT pg_notify(c, '') FROM unnest(%s::text[]) c", (wake,))

        await self._db.run(write, transaction=True)
        self._indexer.appended()

    async def read_events(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        query = (
            "SELECT seq, time, attempt, kind, text, data FROM events"
            " WHERE execution_id = %s AND seq > %s ORDER BY seq"
        )
        args: list[Any] = [execution_id, after]
        if limit is not None:
            query += " LIMIT %s"
            args.append(limit)

        async def read(conn: Connection) -> list[Any]:
            cur = await conn.execute(query.encode(), args)
            return await cur.fetchall()

        return [
            Event(execution_id, r[0], r[1].astimezone(UTC), r[2], r[3], r[4], r[5] or {})
            for r in await self._db.run(read)
        ]

    async def last_seq(self, execution_id: str) -> int:
        async def last(conn: Connection) -> int:
            cur = await conn.execute(
                "SELECT MAX(seq) FROM events WHERE execution_id = %s", (execution_id,)
            )
            row = await cur.fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return await self._db.run(last)

    async def follow(self, execution_id: str, *, after: int = 0) -> AsyncIterator[Event]:
        """Stored events after ``after``, then each one as it is stored: woken by NOTIFY,
        reading again every :data:`FOLLOW_FALLBACK` seconds in case one was lost."""
        async with listening(self._db, self._channel(execution_id)) as listener:
            while True:
                events = await self.read_events(execution_id, after=after, limit=READ_PAGE)
                for event in events:
                    yield event
                    after = event.seq
                if len(events) < READ_PAGE:
                    await listener.wait(FOLLOW_FALLBACK)

    async def delete_events(self, execution_ids: Sequence[str]) -> None:
        ids = list(execution_ids)
        if not ids:
            return

        async def delete(conn: Connection) -> None:
            await conn.execute("DELETE FROM events WHERE execution_id = ANY(%s)", (ids,))

        await self._db.run(delete)

    async def search_events(
        self, query: str, *, limit: int = 20, per_execution: int = 3, before: str | None = None
    ) -> list[SearchMatch]:
        terms = parse_query(query)
        if not terms or limit < 1:
            return []
        args = [query_text(terms), before, before, max(1, per_execution), limit]
        for _ in range(self.search_catch_up):  # what was stored before this search is found
            if await self._db.run(_index_waiting) < BATCH:
                break

        async def search(conn: Connection) -> list[Any]:
            # ids are ULIDs: newest execution first, each with its latest matches
            cur = await conn.execute(_SEARCH, args)
            return await cur.fetchall()

        found: dict[str, list[Event]] = {}
        for r in await self._db.run(search):
            found.setdefault(r[0], []).append(
                Event(r[0], r[1], r[2].astimezone(UTC), r[3], r[4], r[5], r[6] or {})
            )
        return [SearchMatch(execution_id, tuple(evs)) for execution_id, evs in found.items()]

    async def unindexed_events(self) -> int:
        """How many stored events still wait for their search vectors (the indexer's lag)."""
        return await self._db.run(count_pending)

    def wakes_followers(self) -> bool:
        """True: :meth:`follow` is woken by NOTIFY at the commit of each batch."""
        return True
