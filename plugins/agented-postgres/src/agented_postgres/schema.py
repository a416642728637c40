"""The PostgreSQL schema as append-only migrations. Never edit a released step; add a new one.

Migrations run in one transaction under an advisory lock, so processes starting together never
race: the first applies them, the others wait and then find nothing to do. The
``agented_schema_version`` table records how many steps have run.
"""

from __future__ import annotations

import zlib
from typing import Any

from psycopg import sql

from agented_core import StoreError

from .pool import Connection

# ids are ULIDs compared byte by byte (as in SQLite): the C collation keeps the primary key's
# order and prefix ranges exact, whatever the database's locale
MIGRATIONS: list[str] = [
    """
    CREATE TABLE executions (
        id TEXT COLLATE "C" PRIMARY KEY,
        bot TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        owner TEXT,
        heartbeat_at TIMESTAMPTZ,
        retry_at TIMESTAMPTZ,
        control TEXT,
        data JSONB NOT NULL
    );
    CREATE INDEX executions_bot ON executions (bot, id);
    CREATE INDEX executions_status ON executions (status, id);
    CREATE INDEX executions_finished ON executions (finished_at) WHERE finished_at IS NOT NULL;
    CREATE INDEX executions_pending_control ON executions (id) WHERE control IS NOT NULL;
    CREATE TABLE events (
        execution_id TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL,
        time TIMESTAMPTZ NOT NULL,
        attempt INTEGER NOT NULL,
        kind TEXT NOT NULL,
        text TEXT,
        data JSONB,
        PRIMARY KEY (execution_id, seq)
    );
    CREATE TABLE claims (
        key TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE state (key TEXT PRIMARY KEY, value JSONB NOT NULL);
    CREATE TABLE deliveries (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        received_at TIMESTAMPTZ NOT NULL,
        data JSONB NOT NULL
    );
    CREATE TABLE audit (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        execution_id TEXT COLLATE "C",
        data JSONB NOT NULL
    );
    CREATE INDEX audit_execution ON audit (execution_id, id);
    """,
    # full-text search: the vector is written with each event (search.py); events stored
    # before this step get PostgreSQL's own parse of their text, close to it
    """
    ALTER TABLE events ADD COLUMN search TSVECTOR;
    UPDATE events SET search = to_tsvector('simple', text) WHERE text <> '';
    CREATE INDEX events_search ON events USING GIN (search);
    """,
    # lz4 instead of pglz for the large documents (a delivery's payload and an execution's
    # context are tens of kB each; pglz was a fifth of the server's CPU per webhook delivery),
    # where the server has it (PostgreSQL 14 and later, built with lz4; else pglz as before).
    # New values only: nothing is rewritten.
    """
    DO $$
    BEGIN
        EXECUTE 'ALTER TABLE executions ALTER COLUMN data SET COMPRESSION lz4';
        EXECUTE 'ALTER TABLE deliveries ALTER COLUMN data SET COMPRESSION lz4';
        EXECUTE 'ALTER TABLE events ALTER COLUMN data SET COMPRESSION lz4';
    EXCEPTION WHEN feature_not_supported OR syntax_error THEN
        NULL;
    END
    $$;
    """,
    # claims and state keys in the C collation, as ids are: a prefix list (the slots and wake
    # leases looked at on every wake-up, among a delivery's dedup claims) is a range of the
    # primary key instead of a scan of the table, and its order is SQLite's
    """
    ALTER TABLE claims ALTER COLUMN key TYPE TEXT COLLATE "C";
    ALTER TABLE state ALTER COLUMN key TYPE TEXT COLLATE "C";
    """,
    # events are stored without their search vectors and indexed behind them (indexer.py):
    # this lists the ones still waiting (a text without words gets the empty vector)
    """
    CREATE INDEX events_unsearched ON events (execution_id, seq)
        WHERE search IS NULL AND text <> '';
    """,
]
"""The steps in order; the schema version is how many have been applied."""


def lock_key(schema: str | None) -> int:
    """The advisory lock of one agented schema (a signed 64-bit number)."""
    return zlib.crc32(f"agented-migrations:{schema or ''}".encode()) - 2**31


async def migrate(conn: Connection, schema: str | None, where: str) -> int:
    """Bring the schema up to date; the number of steps applied now."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema),))
        if schema:
            await conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            )
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS agented_schema_version (version INTEGER NOT NULL)"
        )
        row = await (await conn.execute("SELECT version FROM agented_schema_version")).fetchone()
        version = int(row[0]) if row else 0
        if row is None:
            await conn.execute("INSERT INTO agented_schema_version (version) VALUES (0)")
        if version > len(MIGRATIONS):
            raise StoreError(
                f"database {where} has agented schema version {version}, newer than this "
                f"agented-postgres knows ({len(MIGRATIONS)}); upgrade agented-postgres"
            )
        for step in MIGRATIONS[version:]:
            await conn.execute(step.encode())
        await conn.execute("UPDATE agented_schema_version SET version = %s", (len(MIGRATIONS),))
    return len(MIGRATIONS) - version


async def schema_version(conn: Connection) -> int:
    """The number of migrations applied (0 on a database agented never opened)."""
    try:
        cur = await conn.execute("SELECT version FROM agented_schema_version")
    except Exception:  # no table yet
        await conn.rollback()
        return 0
    row: Any = await cur.fetchone()
    return int(row[0]) if row else 0
