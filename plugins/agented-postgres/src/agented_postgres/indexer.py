"""The search index filled behind the events: written unindexed, given their vectors later.

Building a vector and inserting it into the GIN index was half of what storing an event cost
the server, and a run's events are written while its CLI floods output. So events are stored
with ``search`` NULL (a partial index, ``events_unsearched``, lists them) and
:class:`SearchIndexer` gives them their vectors in batches once the appends pause, or at least
every :data:`MAX_LAG` seconds while they do not. A search first indexes whatever is still
waiting (:func:`index_pending` with ``wait``), so it finds every event stored before it began.
Several processes share the work: a batch locks its rows, the others skip them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import anyio

from .pool import Connection, Database
from .search import PLAIN_VECTOR, plain_text, vector_text

__all__ = [
    "BATCH",
    "CLOSE_GRACE",
    "MAX_LAG",
    "QUIET",
    "SearchIndexer",
    "count_pending",
    "index_pending",
]

log = logging.getLogger("agented.store.postgres")

BATCH = 2000
"""Events given their vectors in one transaction."""
QUIET = 0.25
"""Seconds without an append after which the waiting events are indexed."""
MAX_LAG = 5.0
"""While appends go on, one batch at least this often, so the index never stops following."""
CLOSE_GRACE = 5.0
"""Seconds closing waits for a batch being written before it cancels it."""

_WAITING = "FROM events WHERE search IS NULL AND text <> ''"  # the partial index's rows
_PENDING = "SELECT execution_id, seq, text " + _WAITING
# the indexer takes any waiting rows not locked (no sort of the whole backlog); a search waits
# for locked ones, taking them in key order so that two searches never deadlock
_TAKE = _PENDING + " LIMIT %s FOR UPDATE SKIP LOCKED"
_TAKE_WAITING = _PENDING + " ORDER BY execution_id, seq LIMIT %s FOR UPDATE"
# a text without any word gets the empty vector: indexed, so never looked at again
_FILL = (
    "UPDATE events e SET search = COALESCE(CASE WHEN r.plain THEN "
    + PLAIN_VECTOR.format("r.search")
    + " ELSE r.search::tsvector END, ''::tsvector)"
    " FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bool[])"
    " AS r(execution_id, seq, search, plain)"
    " WHERE e.execution_id = r.execution_id AND e.seq = r.seq"
)


async def index_pending(conn: Connection, *, limit: int = BATCH, wait: bool = False) -> int:
    """Give up to ``limit`` unindexed events their vectors, in one transaction; how many.

    Rows another transaction is indexing are skipped, unless ``wait``: then this waits for it
    to commit (a search must not begin before every earlier event can be found).
    """
    async with conn.transaction():
        cur = await conn.execute((_TAKE_WAITING if wait else _TAKE).encode(), (limit,))
        rows: list[Any] = await cur.fetchall()
        if not rows:
            return 0
        ids, seqs, searches, plains = [], [], [], []
        for execution_id, seq, text in rows:
            plain = text.isascii()
            ids.append(execution_id)
            seqs.append(seq)
            searches.append(plain_text(text) if plain else vector_text(text))
            plains.append(plain)
        # by the primary key, row by row: a hash join would read the whole table per batch
        # (the planner's estimate of a young table is far below what it holds)
        await conn.execute("SET LOCAL enable_hashjoin = off")
        await conn.execute("SET LOCAL enable_mergejoin = off")
        await conn.execute(_FILL, (ids, seqs, searches, plains))
    return len(rows)


async def count_pending(conn: Connection) -> int:
    """How many stored events still wait for their search vectors."""
    cur = await conn.execute(("SELECT count(*) " + _WAITING).encode())
    row = await cur.fetchone()
    return int(row[0]) if row else 0


class SearchIndexer:
    """The task of one store that indexes the events stored unindexed, off the append path.

    :meth:`appended` tells it that events were written; it waits for :data:`QUIET` seconds
    without one (at most :data:`MAX_LAG`), then indexes batch after batch until none waits
    (or appends resume). It indexes every process's events, so those a dead process left
    unindexed are done too.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._task: asyncio.Task[None] | None = None
        self._scope = anyio.CancelScope()
        self._stopping = False
        self._appended = asyncio.Event()
        self._last_append = 0.0
        self._failing = False

    def start(self) -> None:
        """Start the task (once), with a first pass over what earlier processes left."""
        if self._task is None:
            self._stopping = False
            self._scope = anyio.CancelScope()
            self._appended.set()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="agented-postgres-search-indexer"
            )

    def appended(self) -> None:
        """Events were just stored unindexed."""
        self._last_append = time.monotonic()
        self._appended.set()

    async def close(self) -> None:
        """Stop the task once its batch is written; what waits is left to the next search or
        process. A batch still running after :data:`CLOSE_GRACE` seconds is cancelled."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._appended.set()
        with anyio.move_on_after(CLOSE_GRACE):
            await asyncio.wait({task})
        if not task.done():
            # an anyio scope, not Task.cancel(): a cancel the pool absorbs is delivered again
            self._scope.cancel()
            await asyncio.wait({task})

    async def _run(self) -> None:
        with self._scope:
            while not self._stopping:
                await self._appended.wait()
                if await self._pause():
                    await self._index()

    async def _index(self) -> None:
        try:
            while await self._db.run(index_pending, retry=False) == BATCH:
                if self._appended.is_set():  # appends resumed (or closing): pause again
                    break
        except Exception as exc:  # the server away: the next append or search retries
            if not self._failing:
                log.warning("indexing events for search failed (tried again later): %s", exc)
            self._failing = True
        else:
            self._failing = False

    async def _pause(self) -> bool:
        """Wait until appends paused for QUIET seconds, or MAX_LAG after the first; False
        when the store is closing instead."""
        began = time.monotonic()
        while not self._stopping:
            self._appended.clear()
            quiet_for = time.monotonic() - self._last_append
            left = min(QUIET - quiet_for, began + MAX_LAG - time.monotonic())
            if left <= 0:
                return True
            try:
                await asyncio.wait_for(self._appended.wait(), left)
            except TimeoutError:
                pass
        return False
