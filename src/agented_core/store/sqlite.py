"""The built-in SQLite backend (``sqlite:///path.db``), through sqlite-utils.

WAL journal, a busy timeout so a CLI and a server can share one file, append-only migrations
with a version table, events written in one transaction per batch. Calls run one at a time:
small ones on the event loop while the store's thread is idle (never waiting for a lock there),
the rest, and any that find the lock taken, in that thread (see ``_quick``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

import anyio.lowlevel
import sqlite_utils

from ..converter import from_json, to_json
from ..errors import StoreError
from ..models import TERMINAL_STATUSES, Event, Execution, Status
from .base import Store
from .received import entry_json
from .search import SearchMatch, Term, fts5_words_query, parse_query
from .serial import SerialThread
from .sqlite_schema import MIGRATIONS, SEARCH_SHIFT
from .sqlite_search import MASK, EventCheck, IndexRow, index_rows, unindex, write_rows

T = TypeVar("T")
log = logging.getLogger("agented.store")

BUSY_TIMEOUT_MS = 10_000
WAL_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default
CHECKPOINT_EVERY = 200  # quick calls between two checkpoints made in the thread


def sqlite_path(url: str, base_dir: Path | None = None) -> str:
    """The file path (or ``:memory:``) of a ``sqlite:///`` URL.

    ``sqlite:///rel.db`` is relative to ``base_dir`` (the config's folder), ``sqlite:////abs.db``
    absolute, ``sqlite:///:memory:`` in memory.
    """
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise StoreError(f"not a SQLite URL: {url!r} (expected sqlite:///path.db)")
    rest = url[len(prefix) :]
    if not rest:
        raise StoreError(f"no file in SQLite URL {url!r}")
    if rest == ":memory:":
        return rest
    path = Path(rest).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return str(path)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


_TERMINAL_SQL = ",".join(sorted(f"'{s.value}'" for s in TERMINAL_STATUSES))


PREFIX_WORDS = 64
"""A prefix standing for at most this many indexed words is searched as those words."""


class SQLiteStore(Store):
    """A store in one SQLite file."""

    index_search = True
    """Index event text for :meth:`search_events` as events are stored. Off only to measure
    what indexing costs (``bench/search.py``): events stored with it off are never found."""

    def __init__(self, path: str, url: str | None = None) -> None:
        self.path = path
        self.url = url or f"sqlite:///{path}"
        self._conn: sqlite3.Connection | None = None
        self._thread = SerialThread()
        self._quick_calls = 0
        self._numbers: dict[str, int] = {}  # execution id -> its number in the search index

    @classmethod
    def from_url(cls, url: str, *, base_dir: Path | None = None) -> SQLiteStore:
        """The store of a ``sqlite:///`` URL."""
        return cls(sqlite_path(url, base_dir), url)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the store is not open")
        return self._conn

    async def _call(self, fn: Callable[[], T]) -> T:
        """``fn()`` in the store's thread, where it may wait for a lock up to the busy timeout."""
        return await self._thread.run(partial(self._patiently, fn))

    async def _quick(self, fn: Callable[[], T]) -> T:
        """``fn()`` (a statement or two) right here when the store's thread is idle.

        A trip to the thread costs more than such a statement, and under load each trip also
        waits for the GIL, so request latency was made of trips. Here the busy timeout is 0:
        a write lock held by another process fails at once instead of blocking the event loop,
        and the call goes to the thread, where it waits for the lock. WAL checkpoints, which
        write pages and sync, are made in the thread too.
        """
        await anyio.lowlevel.checkpoint_if_cancelled()
        if self._thread.idle:
            self._quick_calls += 1
            if self._quick_calls >= CHECKPOINT_EVERY:
                # this call goes to the thread, the checkpoint after it on the same trip: an
                # outcome once committed is never replaced by a cancel or a checkpoint error
                self._quick_calls = 0
                return await self._call(partial(self._then_checkpoint, fn))
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # absent on module errors
                if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise
        return await self._call(fn)

    def _patiently(self, fn: Callable[[], T]) -> T:
        conn = self._conn
        if conn is None:  # opening or closing
            return fn()
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        try:
            return fn()
        finally:
            if self._conn is not None:
                self._impatient(self._conn)

    @staticmethod
    def _impatient(conn: sqlite3.Connection) -> None:
        """Settings for calls made on the event loop: never wait for a lock, never checkpoint."""
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("PRAGMA wal_autocheckpoint = 0")

    def _then_checkpoint(self, fn: Callable[[], T]) -> T:
        result = fn()
        try:
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the next one will try again; the call itself succeeded
            log.warning("checkpoint of %s failed: %s", self.path, exc)
        return result

    async def open(self) -> None:
        if self._conn is not None:
            return
        await self._call(self._open_sync)

    def _open_sync(self) -> None:
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if not parent.is_dir():
                raise StoreError(f"folder of the database does not exist: {parent}")
        try:
            conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10
            )
        except sqlite3.Error as exc:
            raise self._open_error(exc) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
            self._impatient(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise self._open_error(exc) from exc
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _open_error(self, exc: sqlite3.Error) -> StoreError:
        """One line naming the file, what is wrong and what to do."""
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return StoreError(
                f"database {self.path} is locked by another connection (waited "
                f"{BUSY_TIMEOUT_MS // 1000} s): end the process holding it in a transaction, "
                "then try again; nothing was changed"
            )
        if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
            return StoreError(
                f"database {self.path} is not a SQLite database or is damaged ({exc}): restore "
                "it from a backup or move it aside (a new one is made); nothing was changed"
            )
        return StoreError(f"cannot open SQLite database {self.path}: {exc}")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        db = sqlite_utils.Database(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"database {self.path} has schema version {version}, newer than this "
                    f"agented knows ({len(MIGRATIONS)}); upgrade agented"
                )
            for step in MIGRATIONS[version:]:
                step(db)
            conn.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # BEGIN itself may be what failed (a lock)
                conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._call(conn.close)

    async def ping(self) -> None:
        await self._quick(lambda: self.conn.execute("SELECT 1").fetchone())

    def schema_version(self) -> int:
        """The number of migrations applied to this database."""
        row = self.conn.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    # executions
    async def save_execution(self, execution: Execution) -> None:
        e = execution
        row = (
            e.id,
            e.bot,
            e.status.value,
            _iso(e.created_at) or _iso(datetime.now(UTC)),
            _iso(e.finished_at),
            e.owner,
            _iso(e.heartbeat_at),
            _iso(e.retry_at),
            to_json(e),
        )
        await self._quick(
            lambda: self.conn.execute(
                "INSERT INTO executions (id, bot, status, created_at, finished_at, owner,"
                " heartbeat_at, retry_at, data) VALUES (?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET bot=excluded.bot, status=excluded.status,"
                " finished_at=excluded.finished_at, owner=excluded.owner,"
                " heartbeat_at=excluded.heartbeat_at, retry_at=excluded.retry_at,"
                " data=excluded.data",
                row,
            )
        )

    def _load(self, data: str, heartbeat: str | None) -> Execution:
        execution = from_json(data, Execution)
        if heartbeat:
            execution.heartbeat_at = datetime.fromisoformat(heartbeat)
        return execution

    async def get_execution(self, execution_id: str) -> Execution | None:
        row = await self._quick(
            lambda: self.conn.execute(
                "SELECT data, heartbeat_at FROM executions WHERE id = ?", (execution_id,)
            ).fetchone()
        )
        return self._load(row[0], row[1]) if row else None

    async def list_executions(
        self,
        *,
        bot: str | None = None,
        status: Iterable[Status] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Execution], str | None]:
        where: list[str] = []
        args: list[Any] = []
        if bot:
            where.append("bot = ?")
            args.append(bot)
        statuses = [s.value for s in status or ()]
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        if cursor:
            where.append("id < ?")
            args.append(cursor)
        sql = "SELECT data, heartbeat_at FROM executions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit + 1)
        rows = await self._call(lambda: self.conn.execute(sql, args).fetchall())
        items = [self._load(r[0], r[1]) for r in rows[:limit]]
        next_cursor = items[-1].id if len(rows) > limit and items else None
        return items, next_cursor

    async def ids_with_prefix(
        self,
        prefix: str,
        limit: int,
        *,
        bot: str | None = None,
        status: Iterable[Status] | None = None,
        before: str | None = None,
    ) -> list[str]:
        # a range over the primary key rather than LIKE, which is case-blind and skips the index
        sql = "SELECT id FROM executions WHERE id >= ? AND id < ?"
        args: list[Any] = [prefix, prefix + "\U0010ffff"]
        if bot:
            sql += " AND bot = ?"
            args.append(bot)
        statuses = [s.value for s in status or ()]
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args.extend(statuses)
        if before:
            sql += " AND id < ?"
            args.append(before)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        rows = await self._quick(lambda: self.conn.execute(sql, args).fetchall())
        return [row[0] for row in rows]

    async def find_executions(
        self, statuses: Iterable[Status], *, owner: str | None = None
    ) -> list[Execution]:
        values = [s.value for s in statuses]
        sql = (
            "SELECT data, heartbeat_at FROM executions"
            f" WHERE status IN ({','.join('?' * len(values))})"
        )
        args: list[Any] = list(values)
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        sql += " ORDER BY id"
        rows = await self._call(lambda: self.conn.execute(sql, args).fetchall())
        return [self._load(r[0], r[1]) for r in rows]

    async def owners(self, statuses: Iterable[Status]) -> dict[str | None, datetime | None]:
        values = [s.value for s in statuses]
        # ISO times of one offset sort as text (a whole second, without its fraction, too)
        sql = (
            "SELECT owner, MIN(COALESCE(heartbeat_at, created_at)) FROM executions"
            f" WHERE status IN ({','.join('?' * len(values))}) GROUP BY owner"
        )
        rows = await self._call(lambda: self.conn.execute(sql, values).fetchall())
        return {r[0]: datetime.fromisoformat(r[1]) if r[1] else None for r in rows}

    async def heartbeat(self, execution_ids: Sequence[str], owner: str, at: datetime) -> None:
        if not execution_ids:
            return
        stamp = _iso(at)
        ids = list(execution_ids)
        await self._call(
            lambda: self.conn.execute(
                f"UPDATE executions SET heartbeat_at = ? WHERE owner = ?"
                f" AND id IN ({','.join('?' * len(ids))})",
                [stamp, owner, *ids],
            )
        )

    async def renew_leases(
        self, execution_ids: Sequence[str], owner: str, at: datetime
    ) -> set[str]:
        if not execution_ids:
            return set()
        stamp = _iso(at)
        ids = list(execution_ids)
        rows = await self._call(
            lambda: self.conn.execute(
                f"UPDATE executions SET heartbeat_at = ? WHERE owner = ?"
                f" AND status NOT IN ({_TERMINAL_SQL})"
                f" AND id IN ({','.join('?' * len(ids))}) RETURNING id",
                [stamp, owner, *ids],
            ).fetchall()
        )
        return {r[0] for r in rows}

    async def take_execution(self, execution_id: str, owner: str, at: datetime) -> bool:
        stamp = _iso(at)

        def take() -> bool:
            # owner and heartbeat in the row and in its data, in one statement: one taker wins
            cur = self.conn.execute(
                "UPDATE executions SET owner = ?, heartbeat_at = ?,"
                " data = json_set(data, '$.owner', ?, '$.heartbeat_at', ?)"
                " WHERE id = ? AND status = 'queued' AND owner IS NULL",
                (owner, stamp, owner, stamp, execution_id),
            )
            return cur.rowcount == 1

        return await self._quick(take)

    async def save_owned(self, execution: Execution) -> bool:
        e = execution
        row = (
            e.id,
            e.bot,
            e.status.value,
            _iso(e.created_at) or _iso(datetime.now(UTC)),
            _iso(e.finished_at),
            e.owner,
            _iso(e.heartbeat_at),
            _iso(e.retry_at),
            to_json(e),
            e.owner,
            e.attempt,
        )

        def save() -> bool:
            cur = self.conn.execute(
                "INSERT INTO executions (id, bot, status, created_at, finished_at, owner,"
                " heartbeat_at, retry_at, data) VALUES (?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET bot=excluded.bot, status=excluded.status,"
                " finished_at=excluded.finished_at, owner=excluded.owner,"
                " heartbeat_at=excluded.heartbeat_at, retry_at=excluded.retry_at,"
                " data=excluded.data"
                " WHERE executions.owner IS ?"
                f" AND executions.status NOT IN ({_TERMINAL_SQL})"
                " AND COALESCE(json_extract(executions.data, '$.attempt'), 0) <= ?",
                row,
            )
            return cur.rowcount == 1

        return await self._quick(save)

    async def request_control(self, execution_id: str, action: str) -> None:
        await self._quick(
            lambda: self.conn.execute(
                "UPDATE executions SET control = ? WHERE id = ?", (action, execution_id)
            )
        )

    async def take_controls(self, execution_ids: Sequence[str]) -> dict[str, str]:
        if not execution_ids:
            return {}
        wanted = set(execution_ids)

        def take() -> dict[str, str]:
            conn = self.conn
            sql = "SELECT id, control FROM executions WHERE control IS NOT NULL"
            if not any(r[0] in wanted for r in conn.execute(sql)):
                return {}  # the usual answer, without taking the write lock
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = {r[0]: r[1] for r in conn.execute(sql) if r[0] in wanted}
                conn.executemany(
                    "UPDATE executions SET control = NULL WHERE id = ?", [(i,) for i in found]
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return found

        return await self._quick(take)

    async def delete_executions(self, finished_before: datetime) -> int:
        stamp = _iso(finished_before)
        terminal = [s.value for s in Status if s.terminal]

        def delete() -> int:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                marks = ",".join("?" * len(terminal))
                ids = [
                    r[0]
                    for r in conn.execute(
                        f"SELECT id FROM executions WHERE finished_at < ? AND status IN ({marks})",
                        [stamp, *terminal],
                    )
                ]
                for chunk in range(0, len(ids), 500):
                    part = ids[chunk : chunk + 500]
                    qs = ",".join("?" * len(part))
                    unindex(conn, part)
                    conn.execute(f"DELETE FROM events WHERE execution_id IN ({qs})", part)
                    conn.execute(f"DELETE FROM executions WHERE id IN ({qs})", part)
                for execution_id in ids:
                    self._numbers.pop(execution_id, None)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return len(ids)

        return await self._call(delete)

    # events
    async def append_events(self, events: Sequence[Event]) -> None:
        if not events:
            return
        rows = [
            (
                e.execution_id,
                e.seq,
                e.time.timestamp(),
                e.attempt,
                e.kind,
                e.text,
                json.dumps(e.data, ensure_ascii=False, separators=(",", ":")) if e.data else None,
            )
            for e in events
        ]

        def write() -> None:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                kept = _fenced(conn, rows)
                indexed = self._search_rows(conn, kept) if self.index_search else []
                conn.executemany(
                    "INSERT OR IGNORE INTO events (execution_id, seq, time, attempt, kind, text,"
                    " data) VALUES (?,?,?,?,?,?,?)",
                    kept,
                )
                write_rows(conn, indexed)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self._call(write)

    def _search_rows(self, conn: sqlite3.Connection, rows: list[Any]) -> list[IndexRow]:
        """The index rows of the events of ``rows`` not stored yet (a repeat is ignored by the
        insert, so it must not be indexed twice), each of up to ``SEARCH_ROW_EVENTS`` of them."""
        spans: dict[str, tuple[int, int]] = {}
        for row in rows:
            low, high = spans.get(row[0], (row[1], row[1]))
            spans[row[0]] = (min(low, row[1]), max(high, row[1]))
        numbers: dict[str, int] = {}
        stored: set[tuple[str, int]] = set()
        for execution_id, (low, high) in spans.items():
            number = self._numbers.get(execution_id)
            if number is None:
                conn.execute(
                    "INSERT OR IGNORE INTO search_executions (execution_id) VALUES (?)",
                    (execution_id,),
                )
                number = conn.execute(
                    "SELECT n FROM search_executions WHERE execution_id = ?", (execution_id,)
                ).fetchone()[0]
            numbers[execution_id] = number
            stored.update(
                (execution_id, r[0])
                for r in conn.execute(
                    "SELECT seq FROM events WHERE execution_id = ? AND seq BETWEEN ? AND ?",
                    (execution_id, low, high),
                )
            )
        # only once the rows are certain to be written (the caller commits right after)
        self._numbers.update(numbers)
        new = [(numbers[r[0]], r[1], r[5]) for r in rows if (r[0], r[1]) not in stored]
        # sorted by number and seq; a stable sort keeps a repeat's first text first
        new.sort(key=itemgetter(0, 1))
        return index_rows(new)

    async def read_events(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        sql = (
            "SELECT seq, time, attempt, kind, text, data FROM events"
            " WHERE execution_id = ? AND seq > ? ORDER BY seq"
        )
        args: list[Any] = [execution_id, after]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        rows = await self._call(lambda: self.conn.execute(sql, args).fetchall())
        return [self._event(execution_id, r) for r in rows]

    @staticmethod
    def _event(execution_id: str, r: Any) -> Event:
        """An event from a row (seq, time, attempt, kind, text, data)."""
        return Event(
            execution_id=execution_id,
            seq=r[0],
            time=datetime.fromtimestamp(r[1], UTC),
            attempt=r[2],
            kind=r[3],
            text=r[4],
            data=json.loads(r[5]) if r[5] else {},
        )

    async def delete_events(self, execution_ids: Sequence[str]) -> None:
        ids = list(execution_ids)

        def delete() -> None:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for chunk in range(0, len(ids), 500):
                    part = ids[chunk : chunk + 500]
                    qs = ",".join("?" * len(part))
                    unindex(conn, part)
                    conn.execute(f"DELETE FROM events WHERE execution_id IN ({qs})", part)
                    conn.execute(
                        f"DELETE FROM search_executions WHERE execution_id IN ({qs})", part
                    )
                conn.execute("COMMIT")
                for execution_id in ids:
                    self._numbers.pop(execution_id, None)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        if ids:
            await self._call(delete)

    async def last_seq(self, execution_id: str) -> int:
        row = await self._quick(
            lambda: self.conn.execute(
                "SELECT MAX(seq) FROM events WHERE execution_id = ?", (execution_id,)
            ).fetchone()
        )
        return int(row[0]) if row and row[0] is not None else 0

    async def search_events(
        self, query: str, *, limit: int = 20, per_execution: int = 3, before: str | None = None
    ) -> list[SearchMatch]:
        terms = parse_query(query)
        if not terms or limit < 1:
            return []
        per = max(1, per_execution)

        def search() -> list[SearchMatch]:
            conn = self.conn
            expansions = self._expansions(conn, terms)
            if expansions is None:
                return []
            expression, exact = fts5_words_query(terms, expansions)
            bound: int | None = None
            if before is not None:
                row = conn.execute(
                    "SELECT n FROM search_executions WHERE execution_id = ?", (before,)
                ).fetchone()
                if row is None:
                    return []
                bound = row[0] << SEARCH_SHIFT
            try:
                return self._search(conn, terms, expression, exact, limit, per, bound)
            except sqlite3.OperationalError as error:
                # a word Python takes whole that the index's older Unicode tables split in
                # two makes a phrase, which this index refuses: filter by the plain ASCII
                # words only, and check every event found
                if "phrase" not in str(error):
                    raise
                safe = [
                    t
                    for t in terms
                    if len(t.raw or t.words) == 1 and all(w.isascii() for w in t.raw or t.words)
                ]
                if not safe:
                    return []
                fallback, _ = fts5_words_query(safe)
                return self._search(conn, terms, fallback, False, limit, per, bound)

        return await self._call(search)

    @staticmethod
    def _expansions(conn: sqlite3.Connection, terms: list[Term]) -> dict[int, list[str]] | None:
        """The indexed words each prefix term stands for, by term, when they are at most
        ``PREFIX_WORDS`` (more: the index is asked for the prefix itself); None when a prefix
        stands for no word at all (nothing can match). Plain ASCII prefixes only: others are
        folded by the index in ways Python's folding may not match."""
        out: dict[int, list[str]] = {}
        for number, term in enumerate(terms):
            head = term.words[-1]
            if not term.prefix or not head.isascii() or not (term.raw or term.words)[-1].isascii():
                continue
            found = [
                r[0]
                for r in conn.execute(
                    "SELECT term FROM events_search_words WHERE term >= ? AND term < ? LIMIT ?",
                    (head, head + "\U0010ffff", PREFIX_WORDS + 1),
                )
            ]
            if not found:
                return None
            if len(found) <= PREFIX_WORDS:
                out[number] = found
        return out

    def _search(
        self,
        conn: sqlite3.Connection,
        terms: list[Term],
        expression: str,
        exact: bool,
        limit: int,
        per: int,
        bound: int | None,
    ) -> list[SearchMatch]:
        """The matches of ``search_events``: the index's rows newest first, each row's events
        (latest first) checked one by one (:class:`EventCheck`)."""
        window = max(2 * limit * per, 50)
        groups: dict[int, list[int]] = {}  # execution number -> its latest matching seqs
        ids: dict[int, str | None] = {}
        check = EventCheck(terms, expression, exact)

        def execution_of(number: int) -> str | None:
            if number not in ids:
                row = conn.execute(
                    "SELECT execution_id FROM search_executions WHERE n = ?", (number,)
                ).fetchone()
                ids[number] = row[0] if row else None
            return ids[number]

        def events_of(rowids: list[int]) -> dict[int, list[tuple[int, str]]]:
            """The events with text of each of ``rowids``' rows, latest first (one statement
            a window of rows: one a row cost more than checking their events)."""
            out: dict[int, list[tuple[int, str]]] = {}
            for rowid, seq, text in conn.execute(
                "SELECT r.id, e.seq, e.text FROM events_search_rows r"
                f" JOIN search_executions s ON s.n = r.id >> {SEARCH_SHIFT}"
                " JOIN events e ON e.execution_id = s.execution_id"
                f" AND e.seq BETWEEN r.low AND r.id & {MASK}"
                " WHERE r.id IN (SELECT value FROM json_each(?))"
                " AND e.text IS NOT NULL AND e.text != '' ORDER BY r.id DESC, e.seq DESC",
                (json.dumps(rowids),),
            ):
                out.setdefault(rowid, []).append((seq, text))
            return out

        # rowid order is newest execution first, latest seqs first: a window of rows at a
        # time, each execution keeping its first ``per`` matches; once the window's last
        # execution has them, the next window starts below it, so an execution with a
        # million matches costs what one with three does (and a query expands its prefixes
        # once or twice, not once an execution)
        try:
            while True:
                sql = "SELECT rowid FROM events_search WHERE events_search MATCH ?"
                args: list[Any] = [expression]
                if bound is not None:
                    sql += " AND rowid < ?"
                    args.append(bound)
                sql += " ORDER BY rowid DESC LIMIT ?"
                args.append(window)
                rows = [r[0] for r in conn.execute(sql, args)]
                pending = rows
                while pending:
                    # each execution's next row at a time: the first often has its matches
                    turn: list[int] = []
                    later: list[int] = []
                    for rowid in pending:
                        number = rowid >> SEARCH_SHIFT
                        if len(groups.get(number, ())) >= per:
                            continue
                        if turn and turn[-1] >> SEARCH_SHIFT == number:
                            later.append(rowid)
                        else:
                            turn.append(rowid)
                    texts = events_of(turn) if turn else {}
                    for rowid in turn:
                        number = rowid >> SEARCH_SHIFT
                        seqs = groups.get(number, [])
                        for seq, text in texts.get(rowid, ()):
                            if len(seqs) >= per:
                                break
                            if check(text):
                                seqs.append(seq)
                        if seqs:
                            groups[number] = seqs
                    pending = later
                if len(rows) < window or len(groups) > limit:
                    break
                last = rows[-1] >> SEARCH_SHIFT
                full = len(groups.get(last, ())) >= per
                if len(groups) == limit and (full or last not in groups):
                    break  # the executions above ``last`` are complete, and so is ``last``
                bound = last << SEARCH_SHIFT if full else rows[-1]
        finally:
            check.close()
        found = [(n, sorted(groups[n])) for n in sorted(groups, reverse=True)[:limit]]
        out: list[SearchMatch] = []
        for number, seqs in found:
            execution_id = execution_of(number)
            if execution_id is None:  # deleted meanwhile
                continue
            marks = ",".join("?" * len(seqs))
            events = [
                self._event(execution_id, r)
                for r in conn.execute(
                    "SELECT seq, time, attempt, kind, text, data FROM events"
                    f" WHERE execution_id = ? AND seq IN ({marks}) ORDER BY seq",
                    [execution_id, *seqs],
                )
            ]
            if events:
                out.append(SearchMatch(execution_id, tuple(events)))
        return out

    # spend, kept in the state table under the keys the default implementation uses
    async def add_spend(self, keys: Sequence[str], amount: float) -> None:
        rows = [(f"spend:{key}", json.dumps(float(amount))) for key in keys]

        def add() -> None:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE"
                    " SET value = CAST(state.value AS REAL) + CAST(excluded.value AS REAL)",
                    rows,
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        if rows:
            await self._quick(add)

    async def get_spend(self, keys: Sequence[str]) -> dict[str, float]:
        wanted = list(keys)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = await self._quick(
            lambda: self.conn.execute(
                f"SELECT key, value FROM state WHERE key IN ({marks})",
                [f"spend:{k}" for k in wanted],
            ).fetchall()
        )
        found = {r[0][len("spend:") :]: float(json.loads(str(r[1]))) for r in rows}
        return {key: found.get(key, 0.0) for key in wanted}

    # claims and state
    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        def take() -> bool:
            now = time.time()
            cur = self.conn.execute(
                "INSERT INTO claims (key, owner, expires) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET owner = excluded.owner,"
                " expires = excluded.expires WHERE claims.expires <= ? OR claims.owner = ?",
                (key, owner, now + ttl, now, owner),
            )
            return cur.rowcount == 1

        return await self._quick(take)

    async def release(self, key: str, owner: str) -> None:
        await self._quick(
            lambda: self.conn.execute(
                "DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner)
            )
        )

    async def get_state(self, key: str) -> Any:
        row = await self._quick(
            lambda: self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        )
        return json.loads(row[0]) if row else None

    async def put_state(self, key: str, value: Any) -> None:
        text = json.dumps(value)
        await self._quick(
            lambda: self.conn.execute(
                "INSERT INTO state (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, text),
            )
        )

    async def update_state(self, key: str, fn: Callable[[Any], Any]) -> Any:
        def update() -> Any:
            conn = self.conn
            # the write lock first, so no other writer reads the value between our read and write
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
                value = fn(json.loads(row[0]) if row else None)
                text = json.dumps(value)
                conn.execute(
                    "INSERT INTO state (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, text),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # BEGIN itself may be what failed (a lock)
                    conn.execute("ROLLBACK")
                raise
            return json.loads(text)

        return await self._quick(update)

    async def list_claims(self, prefix: str = "") -> dict[str, tuple[str, float]]:
        now = time.time()
        rows = await self._call(
            lambda: self.conn.execute(
                "SELECT key, owner, expires FROM claims WHERE key >= ? AND key < ?"
                " AND expires > ? ORDER BY key",
                (prefix, prefix + "\U0010ffff", now),
            ).fetchall()
        )
        return {key: (owner, expires - now) for key, owner, expires in rows}

    async def delete_expired_claims(self, limit: int = 10_000) -> int:
        now = time.time()
        cur = await self._call(
            lambda: self.conn.execute(
                "DELETE FROM claims WHERE rowid IN"
                " (SELECT rowid FROM claims WHERE expires <= ? LIMIT ?)",
                (now, limit),
            )
        )
        return int(cur.rowcount)

    async def list_state(self, prefix: str = "") -> dict[str, Any]:
        rows = await self._call(
            lambda: self.conn.execute(
                "SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key",
                (prefix, prefix + "\U0010ffff"),
            ).fetchall()
        )
        return {key: json.loads(value) for key, value in rows}

    async def record_delivery(self, delivery: dict[str, Any]) -> None:
        stamp = _iso(datetime.now(UTC))
        text = entry_json(delivery)
        await self._quick(
            lambda: self.conn.execute(
                "INSERT INTO deliveries (received_at, data) VALUES (?, ?)", (stamp, text)
            )
        )

    async def list_deliveries(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self._call(
            lambda: self.conn.execute(
                "SELECT received_at, data FROM deliveries ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        )
        out = []
        for received_at, data in rows:
            item = json.loads(data)
            item.setdefault("received_at", received_at)
            out.append(item)
        return out

    async def record_audit(self, entry: dict[str, Any]) -> None:
        data = dict(entry)
        at = str(data.pop("at", None) or _iso(datetime.now(UTC)))
        actor, action = str(data.pop("actor")), str(data.pop("action"))
        execution_id = data.pop("execution_id", None)
        text = json.dumps(data, default=str)
        await self._quick(
            lambda: self.conn.execute(
                "INSERT INTO audit (at, actor, action, execution_id, data) VALUES (?, ?, ?, ?, ?)",
                (at, actor, action, execution_id, text),
            )
        )

    async def list_audit(
        self, *, execution_id: str | None = None, limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        where: list[str] = []
        args: list[object] = []
        if execution_id is not None:
            where.append("execution_id = ?")
            args.append(execution_id)
        if before is not None:
            where.append("id < ?")
            args.append(before)
        sql = "SELECT id, at, actor, action, execution_id, data FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = await self._call(lambda: self.conn.execute(sql, (*args, limit)).fetchall())
        return [
            {"id": i, "at": at, "actor": actor, "action": action, "execution_id": eid,
             **json.loads(data)}
            for i, at, actor, action, eid, data in rows
        ]  # fmt: skip


def _fenced(conn: sqlite3.Connection, rows: list[Any]) -> list[Any]:
    """The event rows (execution id, seq, time, attempt, ...) not of an attempt older than
    their execution's stored one: a process whose run was taken over and run again elsewhere
    writes nothing more of it. Read under the write lock, so no takeover slips in between."""
    ids = sorted({row[0] for row in rows})
    stored: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stored.update(
            conn.execute(
                "SELECT id, COALESCE(json_extract(data, '$.attempt'), 0) FROM executions"
                f" WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
        )
    if all(row[3] >= stored.get(row[0], 0) for row in rows):
        return rows
    return [row for row in rows if row[3] >= stored.get(row[0], 0)]
