"""Executions: JSONB records with indexed columns for the lists and sweeps, the control mailbox
(``UPDATE ... RETURNING``, owners woken by NOTIFY) and the owners' heartbeats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import anyio
from psycopg import sql

from agented_core import Execution, Status, from_json, to_json
from agented_core.store import ExecutionStore

from .batch import Batched
from .notify import channel
from .pool import Connection, Database

_COLUMNS = "data::text, heartbeat_at"
_UPSERT = (
    " ON CONFLICT (id) DO UPDATE SET bot = excluded.bot, status = excluded.status,"
    " finished_at = excluded.finished_at, owner = excluded.owner,"
    " heartbeat_at = excluded.heartbeat_at, retry_at = excluded.retry_at, data = excluded.data"
)
_SAVE = (
    "INSERT INTO executions (id, bot, status, created_at, finished_at, owner, heartbeat_at,"
    " retry_at, data) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb)" + _UPSERT
)
# in id order, so two batches lock their rows in the same order and never deadlock
_SAVE_MANY = (
    "INSERT INTO executions (id, bot, status, created_at, finished_at, owner, heartbeat_at,"
    " retry_at, data) SELECT i, b, s, c, f, o, h, r, d::jsonb FROM unnest(%b::text[],"
    " %b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[], %b::text[],"
    " %b::timestamptz[], %b::timestamptz[], %b::text[]) AS e(i, b, s, c, f, o, h, r, d)"
    " ORDER BY i" + _UPSERT
)
_TERMINAL = sorted(s.value for s in Status if s.terminal)


def _load(row: Any) -> Execution:
    execution = from_json(row[0], Execution)
    if row[1] is not None:
        execution.heartbeat_at = row[1].astimezone(UTC)
    return execution


def _statuses(status: Iterable[Status] | None) -> list[str]:
    return [s.value for s in status or ()]


class PostgresExecutions(ExecutionStore):
    """The :class:`ExecutionStore` part over the ``executions`` table."""

    _db: Database

    @cached_property
    def _saves(self) -> Batched[tuple[Any, ...], None]:
        async def one(row: tuple[Any, ...]) -> None:
            async def save(conn: Connection) -> None:
                await conn.execute(_SAVE, row)

            await self._db.run(save)

        async def many(rows: Sequence[tuple[Any, ...]]) -> list[None]:
            columns = [list(column) for column in zip(*rows, strict=True)]

            async def save(conn: Connection) -> None:
                await conn.execute(_SAVE_MANY, columns)

            await self._db.run(save)
            return [None] * len(rows)

        # two saves of one execution never share a statement: the later one comes after
        return Batched(one, many, key=lambda row: row[0])

    async def save_execution(self, execution: Execution) -> None:
        e = execution
        row = (
            e.id, e.bot, e.status.value, e.created_at or datetime.now(UTC), e.finished_at,
            e.owner, e.heartbeat_at, e.retry_at, to_json(e),
        )  # fmt: skip
        # concurrent saves (of distinct executions) share one statement: batch.py
        await self._saves(row)

    async def get_execution(self, execution_id: str) -> Execution | None:
        async def get(conn: Connection) -> Any:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM executions WHERE id = %s", (execution_id,)
            )
            return await cur.fetchone()

        row = await self._db.run(get)
        return _load(row) if row else None

    async def _rows(self, query: str, args: Sequence[Any]) -> list[Any]:
        async def fetch(conn: Connection) -> list[Any]:
            cur = await conn.execute(query.encode(), args)
            return await cur.fetchall()

        return await self._db.run(fetch)

    async def list_executions(
        self,
        *,
        bot: str | None = None,
        status: Iterable[Status] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Execution], str | None]:
        where, args = _filters(bot, _statuses(status), cursor)
        rows = await self._rows(
            f"SELECT {_COLUMNS} FROM executions{where} ORDER BY id DESC LIMIT %s",
            [*args, limit + 1],
        )
        items = [_load(r) for r in rows[:limit]]
        return items, items[-1].id if len(rows) > limit and items else None

    async def ids_with_prefix(
        self,
        prefix: str,
        limit: int,
        *,
        bot: str | None = None,
        status: Iterable[Status] | None = None,
        before: str | None = None,
    ) -> list[str]:
        where, args = _filters(bot, _statuses(status), before)
        # a range over the primary key (C collation): exact case, and it uses the index
        where += (" AND" if where else " WHERE") + " id >= %s AND id < %s"
        rows = await self._rows(
            f"SELECT id FROM executions{where} ORDER BY id DESC LIMIT %s",
            [*args, prefix, prefix + "\U0010ffff", limit],
        )
        return [r[0] for r in rows]

    async def find_executions(
        self, statuses: Iterable[Status], *, owner: str | None = None
    ) -> list[Execution]:
        query = f"SELECT {_COLUMNS} FROM executions WHERE status = ANY(%s)"
        args: list[Any] = [_statuses(statuses)]
        if owner is not None:
            query += " AND owner = %s"
            args.append(owner)
        return [_load(r) for r in await self._rows(query + " ORDER BY id", args)]

    async def owners(self, statuses: Iterable[Status]) -> dict[str | None, datetime | None]:
        rows = await self._rows(
            "SELECT owner, MIN(COALESCE(heartbeat_at, created_at)) FROM executions"
            " WHERE status = ANY(%s) GROUP BY owner",
            [_statuses(statuses)],
        )
        return {r[0]: r[1].astimezone(UTC) if r[1] else None for r in rows}

    async def heartbeat(self, execution_ids: Sequence[str], owner: str, at: datetime) -> None:
        if not execution_ids:
            return
        ids = list(execution_ids)

        async def beat(conn: Connection) -> None:
            await conn.execute(
                "UPDATE executions SET heartbeat_at = %s WHERE owner = %s AND id = ANY(%s)",
                (at, owner, ids),
            )

        await self._db.run(beat)

    async def renew_leases(
        self, execution_ids: Sequence[str], owner: str, at: datetime
    ) -> set[str]:
        if not execution_ids:
            return set()
        ids = list(execution_ids)

        async def renew(conn: Connection) -> list[Any]:
            cur = await conn.execute(
                "UPDATE executions SET heartbeat_at = %s WHERE owner = %s AND id = ANY(%s)"
                " AND NOT (status = ANY(%s)) RETURNING id",
                (at, owner, ids, _TERMINAL),
            )
            return await cur.fetchall()

        return {row[0] for row in await self._db.run(renew)}

    async def take_execution(self, execution_id: str, owner: str, at: datetime) -> bool:
        async def take(conn: Connection) -> bool:
            # SKIP LOCKED: a taker never waits behind another one's lock on the row; it has
            # lost (the other one commits the owner) or finds the row taken on its next look
            cur = await conn.execute(
                "UPDATE executions SET owner = %s, heartbeat_at = %s,"
                " data = data || jsonb_build_object('owner', %s::text)"
                " WHERE id = (SELECT id FROM executions WHERE id = %s AND status = 'queued'"
                " AND owner IS NULL FOR UPDATE SKIP LOCKED) RETURNING id",
                (owner, at, owner, execution_id),
            )
            return await cur.fetchone() is not None

        return await self._db.run(take)

    async def save_owned(self, execution: Execution) -> bool:
        e = execution
        row = (
            e.id, e.bot, e.status.value, e.created_at or datetime.now(UTC), e.finished_at,
            e.owner, e.heartbeat_at, e.retry_at, to_json(e), e.owner, _TERMINAL, e.attempt,
        )  # fmt: skip

        async def save(conn: Connection) -> bool:
            cur = await conn.execute(
                "INSERT INTO executions (id, bot, status, created_at, finished_at, owner,"
                " heartbeat_at, retry_at, data) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb)"
                " ON CONFLICT (id) DO UPDATE SET bot = excluded.bot, status = excluded.status,"
                " finished_at = excluded.finished_at, owner = excluded.owner,"
                " heartbeat_at = excluded.heartbeat_at, retry_at = excluded.retry_at,"
                " data = excluded.data"
                " WHERE executions.owner IS NOT DISTINCT FROM %s"
                " AND NOT (executions.status = ANY(%s))"
                " AND COALESCE((executions.data->>'attempt')::int, 0) <= %s"
                " RETURNING 1",
                row,
            )
            return await cur.fetchone() is not None

        return await self._db.run(save)

    def _controls_channel(self) -> str:
        return channel(self._db.settings.schema, "controls", "")

    async def request_control(self, execution_id: str, action: str) -> None:
        wake = self._controls_channel()

        async def request(conn: Connection) -> None:
            # owners hear of it at commit (NOTIFY, the execution id); their poll of the mailbox
            # stays the fallback
            await conn.execute(
                "WITH asked AS (UPDATE executions SET control = %s WHERE id = %s RETURNING id)"
                " SELECT pg_notify(%s, id) FROM asked",
                (action, execution_id, wake),
            )

        await self._db.run(request)

    def wakes_owners(self) -> bool:
        """True: :meth:`listen_controls` hears each request at its commit (NOTIFY)."""
        return True

    @asynccontextmanager
    async def listen_controls(self) -> AsyncIterator[AsyncIterator[str]]:
        """The execution id of each control request stored from now on, by any process."""
        conn = await self._db.connect()
        try:
            await conn.execute(
                sql.SQL("LISTEN {}").format(sql.Identifier(self._controls_channel()))
            )
            yield _payloads(conn)
        finally:
            with anyio.CancelScope(shield=True):
                await conn.close()

    async def take_controls(self, execution_ids: Sequence[str]) -> dict[str, str]:
        if not execution_ids:
            return {}
        ids = list(execution_ids)

        async def take(conn: Connection) -> dict[str, str]:
            # the rows locked first, so each request is taken by one reader exactly once
            cur = await conn.execute(
                "UPDATE executions e SET control = NULL FROM (SELECT id, control FROM executions"
                " WHERE id = ANY(%s) AND control IS NOT NULL FOR UPDATE) old"
                " WHERE e.id = old.id RETURNING old.id, old.control",
                (ids,),
            )
            return {r[0]: r[1] for r in await cur.fetchall()}

        return await self._db.run(take)

    async def delete_executions(self, finished_before: datetime) -> int:
        terminal = [s.value for s in Status if s.terminal]

        async def delete(conn: Connection) -> int:
            cur = await conn.execute(
                "WITH doomed AS (DELETE FROM executions WHERE finished_at < %s"
                " AND status = ANY(%s) RETURNING id),"
                " gone AS (DELETE FROM events WHERE execution_id IN (SELECT id FROM doomed))"
                " SELECT count(*) FROM doomed",
                (finished_before, terminal),
            )
            row = await cur.fetchone()
            return int(row[0]) if row else 0

        return await self._db.run(delete, transaction=True)


async def _payloads(conn: Connection) -> AsyncIterator[str]:
    async for notification in conn.notifies():
        yield notification.payload


def _filters(bot: str | None, statuses: list[str], below: str | None) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if bot:
        where.append("bot = %s")
        args.append(bot)
    if statuses:
        where.append("status = ANY(%s)")
        args.append(statuses)
    if below:
        where.append("id < %s")
        args.append(below)
    return (" WHERE " + " AND ".join(where) if where else ""), args
