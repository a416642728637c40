"""The SQLite schema as append-only migrations. Never edit a released step; add a new one.

Each step is a function of a ``sqlite_utils.Database``; the ``schema_version`` table records how
many have run. Seed data does not live here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Migration = Callable[[Any], None]


def _m001_core(db: Any) -> None:
    db.execute(
        """
        CREATE TABLE executions (
            id TEXT PRIMARY KEY,
            bot TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            finished_at TEXT,
            owner TEXT,
            heartbeat_at TEXT,
            retry_at TEXT,
            control TEXT,
            data TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX executions_bot ON executions (bot, id)")
    db.execute("CREATE INDEX executions_status ON executions (status, id)")
    db.execute(
        """
        CREATE TABLE events (
            execution_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            time REAL NOT NULL,
            attempt INTEGER NOT NULL,
            kind TEXT NOT NULL,
            text TEXT,
            data TEXT,
            PRIMARY KEY (execution_id, seq)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE claims (
            key TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            expires REAL NOT NULL
        )
        """
    )
    db.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        """
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            received_at TEXT NOT NULL,
            data TEXT NOT NULL
        )
        """
    )


def _m002_pending_controls(db: Any) -> None:
    # the owner loop asks "any control for my executions?" every tick; with thousands of queued
    # executions an IN list over the primary key cost milliseconds, this index answers at once
    db.execute(
        "CREATE INDEX executions_pending_control ON executions (id) WHERE control IS NOT NULL"
    )


def _m003_audit(db: Any) -> None:
    # who (a key's id, never the key) did what to which execution; read newest first
    db.execute(
        """
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            execution_id TEXT,
            data TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX audit_execution ON audit (execution_id, id)")


MIGRATIONS: list[Migration] = [_m001_core, _m002_pending_controls, _m003_audit]
"""The steps in order; the schema version is how many have been applied."""
