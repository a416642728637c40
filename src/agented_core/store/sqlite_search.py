"""The SQLite store's search index: rows of several events each, and the check of their events.

A row of the FTS5 index (``events_search``, migrations 005 and 006) holds the text of up to
``SEARCH_ROW_EVENTS`` consecutive events of one execution, one per line; its rowid is
``(execution number << 32) | its last seq`` and ``events_search_rows`` gives its first seq.
The index answers which rows hold every word of a query; each event of those rows is then
checked on its own (:class:`EventCheck`), so a match is always one event's, never words spread
over several events of a row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from .search import Term, indexable, matches
from .sqlite_schema import SEARCH_ROW_CHARS, SEARCH_ROW_EVENTS, SEARCH_SHIFT

MASK = (1 << SEARCH_SHIFT) - 1
SEPARATOR = "\n"
"""Between two events' texts in a row: no word runs across it."""

IndexRow = tuple[int, int, str]
"""A row of the index: its rowid, its first seq, its text."""


def index_rows(events: Iterable[tuple[int, int, str | None]]) -> list[IndexRow]:
    """The index rows of new events given as (execution number, seq, text), in that order.

    A row takes consecutive seqs only, so the events from its first seq to its last are
    exactly its own, now and later (seqs are unique in an execution): a deletion finds its
    text again from them. A repeated (number, seq) keeps its first text, as the insert does.
    Rows without any text are left out.
    """
    out: list[IndexRow] = []
    number = low = last = -1
    texts: list[str] = []
    size = count = 0

    def close() -> None:
        if texts:
            text = indexable(SEPARATOR.join(texts))
            out.append(((number << SEARCH_SHIFT) | last, low, text))

    for n, seq, text in events:
        if n == number and seq == last:
            continue  # a repeat within the batch
        if n != number or seq != last + 1 or count >= SEARCH_ROW_EVENTS or size >= SEARCH_ROW_CHARS:
            close()
            number, low, texts, size, count = n, seq, [], 0, 0
        last = seq
        count += 1
        if text:
            texts.append(text)
            size += len(text)
    close()
    return out


def write_rows(conn: sqlite3.Connection, rows: Sequence[IndexRow]) -> None:
    """Add ``rows`` to the index (in the caller's transaction)."""
    if rows:
        conn.executemany(
            "INSERT INTO events_search (rowid, text) VALUES (?, ?)", [(r[0], r[2]) for r in rows]
        )
        conn.executemany(
            "INSERT INTO events_search_rows (id, low) VALUES (?, ?)", [(r[0], r[1]) for r in rows]
        )


def unindex(conn: sqlite3.Connection, execution_ids: Sequence[str]) -> None:
    """Take the rows of ``execution_ids``' events out of the index (in the caller's
    transaction, before their events are deleted): a contentless index forgets a row only
    when given the text it indexed, read back from the events."""
    marks = ",".join("?" * len(execution_ids))
    numbers = [
        r[0]
        for r in conn.execute(
            f"SELECT n FROM search_executions WHERE execution_id IN ({marks})", list(execution_ids)
        )
    ]
    found = conn.execute(
        "SELECT r.id, e.text FROM search_executions s"
        f" JOIN events_search_rows r ON r.id BETWEEN s.n << {SEARCH_SHIFT}"
        f" AND (s.n << {SEARCH_SHIFT}) | {MASK}"
        " JOIN events e ON e.execution_id = s.execution_id"
        f" AND e.seq BETWEEN r.low AND r.id & {MASK}"
        f" WHERE s.execution_id IN ({marks}) AND e.text IS NOT NULL AND e.text != ''"
        " ORDER BY r.id, e.seq",
        list(execution_ids),
    )
    rows: dict[int, list[str]] = {}
    for rowid, text in found:
        rows.setdefault(rowid, []).append(text)
    conn.executemany(
        "INSERT INTO events_search (events_search, rowid, text) VALUES ('delete', ?, ?)",
        [(rowid, indexable(SEPARATOR.join(texts))) for rowid, texts in rows.items()],
    )
    conn.executemany(
        "DELETE FROM events_search_rows WHERE id BETWEEN ? AND ?",
        [(n << SEARCH_SHIFT, (n << SEARCH_SHIFT) | MASK) for n in numbers],
    )


class EventCheck:
    """Which events of a row the index found match a query as the index would have matched
    each on its own, and hold every phrase in order (``matches``) when ``exact`` is false.

    On ASCII text with an ASCII query Python's matching is the index's, and is used alone.
    Other text is put, event by event, in a scratch index tokenized as the store's (Python's
    folding and the index's agree on Latin letters, not on every script) and asked the query.
    """

    def __init__(self, terms: Sequence[Term], expression: str, exact: bool) -> None:
        self.terms = list(terms)
        self.expression = expression
        self.exact = exact
        self.ascii = all(w.isascii() for t in terms for w in (t.raw or t.words))
        # every word is in the folded text of an event holding it (for ASCII: its lower case)
        self.needles = [w for t in terms for w in t.words]
        self._scratch: sqlite3.Connection | None = None

    def __call__(self, text: str) -> bool:
        """Whether the event of ``text`` matches."""
        if self.ascii and text.isascii():
            lowered = text.lower()
            if not all(w in lowered for w in self.needles):
                return False
            return matches(self.terms, text)
        if not self._indexed(text):
            return False
        return self.exact or matches(self.terms, text)

    def _indexed(self, text: str) -> bool:
        conn = self._scratch
        if conn is None:
            conn = self._scratch = sqlite3.connect(":memory:", check_same_thread=False)
            conn.execute(
                "CREATE VIRTUAL TABLE t USING fts5(text, content='', columnsize=0, detail=none,"
                " tokenize='unicode61 remove_diacritics 2')"
            )
        conn.execute("INSERT INTO t (t) VALUES ('delete-all')")
        conn.execute("INSERT INTO t (rowid, text) VALUES (1, ?)", (indexable(text),))
        found: Any = conn.execute("SELECT 1 FROM t WHERE t MATCH ?", (self.expression,)).fetchone()
        return found is not None

    def close(self) -> None:
        """Close the scratch index, if one was made."""
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None
