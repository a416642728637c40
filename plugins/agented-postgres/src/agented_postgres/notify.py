"""LISTEN/NOTIFY: wake-ups between processes sharing the database.

A writer calls ``pg_notify(channel, ...)`` in the transaction that stores something (events of
an execution, a control request); PostgreSQL delivers it at commit to every connection that
listens on the channel. A notification can be lost (a listener reconnecting), so a waiter also
wakes after a timeout and reads the store again: polling stays only as the fallback.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import psycopg
from psycopg import sql

from .pool import Connection, Database

log = logging.getLogger("agented.store.postgres")


def channel(schema: str | None, kind: str, key: str) -> str:
    """The channel of one thing (``kind`` ``events`` or ``control`` of an execution id).

    Hashed: a channel name is an identifier of at most 63 bytes, and ids may be anything.
    """
    digest = hashlib.blake2b(f"{schema or ''}\0{kind}\0{key}".encode(), digest_size=12)
    return f"agented_{kind}_{digest.hexdigest()}"


class Listener:
    """A connection of its own listening on one channel; :meth:`wait` until notified."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self._conn: Connection | None = None

    async def _listen(self) -> Connection | None:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            conn = await self.db.connect()
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.name)))
        except psycopg.Error as exc:
            log.debug("cannot listen on %s (polling instead): %s", self.name, exc)
            return None
        self._conn = conn
        return conn

    async def start(self) -> None:
        """Listen from now on (before the first read, so no wake-up falls in between)."""
        await self._listen()

    async def wait(self, timeout: float) -> None:
        """Until a notification on the channel, or ``timeout`` seconds (the fallback)."""
        conn = await self._listen()
        if conn is None:
            await anyio.sleep(timeout)
            return
        try:
            async for _ in conn.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error:  # the connection went: the caller reads again, then we reconnect
            await self.close()

    async def close(self) -> None:
        """Stop listening. Safe to call twice."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


@asynccontextmanager
async def listening(db: Database, name: str) -> AsyncIterator[Listener]:
    """A :class:`Listener` on ``name``, listening already, closed at the end."""
    listener = Listener(db, name)
    await listener.start()
    try:
        yield listener
    finally:
        with anyio.CancelScope(shield=True):
            await listener.close()
