"""The audit log: who did what to which execution, newest first by id."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from agented_core.store import AuditLog

from .pool import Connection, Database


class PostgresAudit(AuditLog):
    """The :class:`AuditLog` part over the ``audit`` table."""

    _db: Database

    async def record_audit(self, entry: dict[str, Any]) -> None:
        data = dict(entry)
        at = str(data.pop("at", None) or datetime.now(UTC).isoformat())
        actor, action = str(data.pop("actor")), str(data.pop("action"))
        execution_id = data.pop("execution_id", None)
        text = json.dumps(data, default=str).replace("\\u0000", "\\ufffd")

        async def record(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO audit (at, actor, action, execution_id, data)"
                " VALUES (%s, %s, %s, %s, %s::jsonb)",
                (at, actor, action, execution_id, text),
            )

        await self._db.run(record)

    async def list_audit(
        self, *, execution_id: str | None = None, limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        where: list[str] = []
        args: list[Any] = []
        if execution_id is not None:
            where.append("execution_id = %s")
            args.append(execution_id)
        if before is not None:
            where.append("id < %s")
            args.append(before)
        query = "SELECT id, at, actor, action, execution_id, data::text FROM audit"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY id DESC LIMIT %s"

        async def fetch(conn: Connection) -> list[Any]:
            cur = await conn.execute(query.encode(), [*args, limit])
            return await cur.fetchall()

        return [
            {"id": i, "at": at, "actor": actor, "action": action, "execution_id": eid,
             **json.loads(data)}
            for i, at, actor, action, eid, data in await self._db.run(fetch)
        ]  # fmt: skip
