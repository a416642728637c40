"""The SQLite schema as append-only migrations. Never edit a released step; add a new one.

Each step is a function of a ``sqlite_utils.Database``; the ``schema_version`` table records how
many have run. Seed data does not live here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .search import indexable

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


SEARCH_SHIFT = 32
"""An event's row in the search index is ``(execution number << 32) | seq``."""


def _m004_search(db: Any) -> None:
    # full-text search over event text. A contentless FTS5 table (the text stays in events
    # only, so indexing writes just the index); its rowid packs the execution's number and the
    # seq, so newest-first is rowid order and one execution is a rowid range. The number is
    # given once per execution (events is WITHOUT ROWID: no rowid to point at). The store
    # writes the rows in the transaction that stores the events (one statement a batch: a
    # per-row trigger into FTS5 cost several times more), and tells the index of deleted ones.
    db.execute(
        "CREATE TABLE search_executions (n INTEGER PRIMARY KEY, execution_id TEXT NOT NULL UNIQUE)"
    )
    db.execute(
        "CREATE VIRTUAL TABLE events_search USING fts5(text, content='', columnsize=0,"
        " tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute(
        """
        CREATE TRIGGER executions_search_delete AFTER DELETE ON executions
        BEGIN
            DELETE FROM search_executions WHERE execution_id = old.id;
        END
        """
    )
    # events stored before this step: numbered in id order, then indexed
    db.execute(
        "INSERT INTO search_executions (execution_id)"
        " SELECT DISTINCT execution_id FROM events ORDER BY execution_id"
    )
    _reindex(db)


def _reindex(db: Any) -> None:
    """Index every stored event with text (the execution numbers given already)."""
    found = db.execute(
        "SELECT (s.n << 32) | e.seq, e.text FROM events e"
        " JOIN search_executions s ON s.execution_id = e.execution_id"
        " WHERE e.text IS NOT NULL AND e.text != ''"
    )
    while rows := found.fetchmany(10_000):
        db.conn.executemany(
            "INSERT INTO events_search (rowid, text) VALUES (?, ?)",
            [(rowid, indexable(text)) for rowid, text in rows],
        )


def _m005_search_detail_none(db: Any) -> None:
    # the index keeps which events hold each word, not where in them (detail=none): about
    # half the cost of indexing an event. Words are matched by the index; a phrase's words
    # by the index, then their order by Python on the few events holding them all; a prefix
    # by the few words it stands for, when they are few.
    db.execute("DROP TABLE events_search")
    db.execute(
        "CREATE VIRTUAL TABLE events_search USING fts5(text, content='', columnsize=0,"
        " detail=none, tokenize='unicode61 remove_diacritics 2')"
    )
    # its words, for a prefix's words (a range of them)
    db.execute("CREATE VIRTUAL TABLE events_search_words USING fts5vocab(events_search, 'row')")
    _reindex(db)


SEARCH_ROW_EVENTS = 8
"""At most this many events share one row of the search index (one execution's, consecutive)."""

SEARCH_ROW_CHARS = 8_192
"""A row of the search index takes no further event once its text is this long."""


def _m006_search_rows(db: Any) -> None:
    # a row of the index holds the text of up to SEARCH_ROW_EVENTS consecutive events of one
    # execution, joined by a newline (a word found once a row, not once an event: about a
    # third of the cost of indexing). Its rowid is ``(number << 32) | last seq``; this table
    # gives its first seq, so a search reads the row's events back and checks each one, and a
    # deletion can give the index the text it indexed. The rows indexed so far hold one event
    # each: they are carried over as they are.
    db.execute("CREATE TABLE events_search_rows (id INTEGER PRIMARY KEY, low INTEGER NOT NULL)")
    db.execute(
        "INSERT INTO events_search_rows (id, low) SELECT (s.n << 32) | e.seq, e.seq FROM events e"
        " JOIN search_executions s ON s.execution_id = e.execution_id"
        " WHERE e.text IS NOT NULL AND e.text != ''"
    )


MIGRATIONS: list[Migration] = [
    _m001_core,
    _m002_pending_controls,
    _m003_audit,
    _m004_search,
    _m005_search_detail_none,
    _m006_search_rows,
]
"""The steps in order; the schema version is how many have been applied."""
