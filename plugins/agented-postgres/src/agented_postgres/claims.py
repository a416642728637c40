"""Claims as ``INSERT ... ON CONFLICT ... WHERE expired`` on the server's clock, and small JSONB
state whose atomic update holds the row's lock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from psycopg.types.json import Jsonb

from agented_core.store import ClaimStore, SpendLedger

from .batch import Batched
from .pool import Connection, Database

_ADD_SPEND = (
    "INSERT INTO state (key, value) SELECT k, to_jsonb(%s::float8) FROM unnest(%s::text[]) k"
    " ON CONFLICT (key) DO UPDATE SET value = to_jsonb(%s::float8 + CASE"
    " WHEN jsonb_typeof(state.value) = 'number' THEN (state.value)::float8 ELSE 0 END)"
)

_LAST = "\U0010ffff"
"""After every key that starts with a prefix, in the keys' C collation (code point order)."""

# the server's clock, so hosts whose clocks differ agree on when a claim expires
_TAKE_IF_FREE = (
    " ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires = excluded.expires"
    " WHERE claims.expires <= clock_timestamp() OR claims.owner = excluded.owner"
)
_CLAIM = (
    "INSERT INTO claims (key, owner, expires)"
    " VALUES (%s, %s, clock_timestamp() + make_interval(secs => %s))"
    + _TAKE_IF_FREE
    + " RETURNING 1"
)
# in key order, so two batches lock their rows in the same order and never deadlock
_CLAIM_MANY = (
    "INSERT INTO claims (key, owner, expires)"
    " SELECT k, o, clock_timestamp() + make_interval(secs => t)"
    " FROM unnest(%b::text[], %b::text[], %b::float8[]) AS c(k, o, t) ORDER BY k"
    + _TAKE_IF_FREE
    + " RETURNING key"
)


class PostgresClaims(ClaimStore, SpendLedger):
    """The :class:`ClaimStore` part over the ``claims`` and ``state`` tables, and the spend
    totals in that state (under the keys the default :class:`SpendLedger` uses)."""

    _db: Database

    @cached_property
    def _claims(self) -> Batched[tuple[str, str, float], bool]:
        async def one(claim: tuple[str, str, float]) -> bool:
            async def take(conn: Connection) -> bool:
                cur = await conn.execute(_CLAIM, claim)
                return await cur.fetchone() is not None

            return await self._db.run(take)

        async def many(claims: Sequence[tuple[str, str, float]]) -> list[bool]:
            keys, owners, ttls = (list(column) for column in zip(*claims, strict=True))

            async def take(conn: Connection) -> set[str]:
                cur = await conn.execute(_CLAIM_MANY, (keys, owners, ttls))
                return {row[0] for row in await cur.fetchall()}

            won = await self._db.run(take)
            return [key in won for key in keys]

        return Batched(one, many, key=lambda claim: claim[0])

    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        # concurrent claims (of distinct keys) share one statement: batch.py
        return await self._claims((key, owner, float(ttl)))

    async def release(self, key: str, owner: str) -> None:
        async def release(conn: Connection) -> None:
            await conn.execute("DELETE FROM claims WHERE key = %s AND owner = %s", (key, owner))

        await self._db.run(release)

    async def get_state(self, key: str) -> Any:
        async def get(conn: Connection) -> Any:
            cur = await conn.execute("SELECT value FROM state WHERE key = %s", (key,))
            return await cur.fetchone()

        row = await self._db.run(get)
        return row[0] if row else None

    async def put_state(self, key: str, value: Any) -> None:
        async def put(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO state (key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, Jsonb(value)),
            )

        await self._db.run(put)

    async def update_state(self, key: str, fn: Callable[[Any], Any]) -> Any:
        async def update(conn: Connection) -> Any:
            # the row exists, then is locked: a second updater waits for this transaction
            await conn.execute(
                "INSERT INTO state (key, value) VALUES (%s, 'null') ON CONFLICT DO NOTHING",
                (key,),
            )
            cur = await conn.execute("SELECT value FROM state WHERE key = %s FOR UPDATE", (key,))
            row = await cur.fetchone()
            value = fn(row[0] if row else None)
            cur = await conn.execute(
                "UPDATE state SET value = %s WHERE key = %s RETURNING value", (Jsonb(value), key)
            )
            stored = await cur.fetchone()
            return stored[0] if stored else None

        return await self._db.run(update, transaction=True)

    async def list_state(self, prefix: str = "") -> dict[str, Any]:
        async def fetch(conn: Connection) -> list[Any]:
            cur = await conn.execute(
                "SELECT key, value FROM state WHERE key >= %s AND key < %s ORDER BY key",
                (prefix, prefix + _LAST),
            )
            return await cur.fetchall()

        return {key: value for key, value in await self._db.run(fetch)}

    async def list_claims(self, prefix: str = "") -> dict[str, tuple[str, float]]:
        async def fetch(conn: Connection) -> list[Any]:
            cur = await conn.execute(
                "SELECT key, owner, EXTRACT(EPOCH FROM expires - clock_timestamp())::float8"
                " FROM claims WHERE key >= %s AND key < %s AND expires > clock_timestamp()"
                " ORDER BY key",
                (prefix, prefix + _LAST),
            )
            return await cur.fetchall()

        return {key: (owner, float(left)) for key, owner, left in await self._db.run(fetch)}

    async def delete_expired_claims(self, limit: int = 10_000) -> int:
        async def delete(conn: Connection) -> int:
            # expired on the server's clock, as claim() decides; a claim renewed meanwhile is
            # checked again by the DELETE and kept
            cur = await conn.execute(
                "DELETE FROM claims WHERE key IN (SELECT key FROM claims"
                " WHERE expires <= clock_timestamp() LIMIT %s) AND expires <= clock_timestamp()",
                (limit,),
            )
            return cur.rowcount

        return await self._db.run(delete)

    async def add_spend(self, keys: Sequence[str], amount: float) -> None:
        """One statement adding to every key: atomic across processes, one round trip."""
        # sorted, so two adders lock the rows in the same order and never deadlock
        names = sorted({f"spend:{key}" for key in keys})
        if not names:
            return

        async def add(conn: Connection) -> None:
            await conn.execute(_ADD_SPEND, (float(amount), names, float(amount)))

        await self._db.run(add)

    async def get_spend(self, keys: Sequence[str]) -> dict[str, float]:
        names = [f"spend:{key}" for key in keys]

        async def fetch(conn: Connection) -> list[Any]:
            cur = await conn.execute("SELECT key, value FROM state WHERE key = ANY(%s)", (names,))
            return await cur.fetchall()

        got = {key: value for key, value in await self._db.run(fetch)}
        return {
            key: float(v) if isinstance(v := got.get(f"spend:{key}"), int | float) else 0.0
            for key in keys
        }
