"""The delivery log: one JSONB row per webhook delivery, newest first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from agented_core.store import DeliveryLog, entry_json

from .batch import Batched
from .pool import Connection, Database


class PostgresDeliveries(DeliveryLog):
    """The :class:`DeliveryLog` part over the ``deliveries`` table."""

    _db: Database

    @cached_property
    def _entries(self) -> Batched[tuple[datetime, str], None]:
        async def one(entry: tuple[datetime, str]) -> None:
            async def record(conn: Connection) -> None:
                await conn.execute(
                    "INSERT INTO deliveries (received_at, data) VALUES (%s, %s::jsonb)", entry
                )

            await self._db.run(record)

        async def many(entries: Sequence[tuple[datetime, str]]) -> list[None]:
            times, texts = (list(column) for column in zip(*entries, strict=True))

            async def record(conn: Connection) -> None:
                # in the order of the calls, so the ids (the log's order) follow it
                await conn.execute(
                    "INSERT INTO deliveries (received_at, data) SELECT r, d::jsonb"
                    " FROM unnest(%b::timestamptz[], %b::text[]) WITH ORDINALITY AS e(r, d, n)"
                    " ORDER BY n",
                    (times, texts),
                )

            await self._db.run(record)
            return [None] * len(entries)

        return Batched(one, many, key=id)  # every entry is a row of its own

    async def record_delivery(self, delivery: dict[str, Any]) -> None:
        text = entry_json(delivery).replace("\\u0000", "\\ufffd")
        # concurrent deliveries' entries share one statement: batch.py
        await self._entries((datetime.now(UTC), text))

    async def list_deliveries(self, limit: int = 50) -> list[dict[str, Any]]:
        async def fetch(conn: Connection) -> list[Any]:
            cur = await conn.execute(
                "SELECT received_at, data::text FROM deliveries ORDER BY id DESC LIMIT %s",
                (limit,),
            )
            return await cur.fetchall()

        out = []
        for received_at, data in await self._db.run(fetch):
            item = json.loads(data)
            item.setdefault("received_at", received_at.astimezone(UTC).isoformat())
            out.append(item)
        return out
