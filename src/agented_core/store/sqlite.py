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
from pathlib import Path
from typing import Any, TypeVar

import anyio.lowlevel
import sqlite_utils

from ..converter import from_json, to_json
from ..errors import StoreError
from ..models import Event, Execution, Status
from .base import Store
from .serial import SerialThread
from .sqlite_schema import MIGRATIONS

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


class SQLiteStore(Store):
    """A store in one SQLite file."""

    def __init__(self, path: str, url: str | None = None) -> None:
        self.path = path
        self.url = url or f"sqlite:///{path}"
        self._conn: sqlite3.Connection | None = None
        self._thread = SerialThread()
        self._quick_calls = 0

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
                    conn.execute(f"DELETE FROM events WHERE execution_id IN ({qs})", part)
                    conn.execute(f"DELETE FROM executions WHERE id IN ({qs})", part)
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
                conn.executemany(
                    "INSERT OR IGNORE INTO events (execution_id, seq, time, attempt, kind, text,"
                    " data) VALUES (?,?,?,?,?,?,?)",
                    rows,
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self._call(write)

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
        return [
            Event(
                execution_id=execution_id,
                seq=r[0],
                time=datetime.fromtimestamp(r[1], UTC),
                attempt=r[2],
                kind=r[3],
                text=r[4],
                data=json.loads(r[5]) if r[5] else {},
            )
            for r in rows
        ]

    async def delete_events(self, execution_ids: Sequence[str]) -> None:
        ids = list(execution_ids)

        def delete() -> None:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for chunk in range(0, len(ids), 500):
                    part = ids[chunk : chunk + 500]
                    qs = ",".join("?" * len(part))
                    conn.execute(f"DELETE FROM events WHERE execution_id IN ({qs})", part)
                conn.execute("COMMIT")
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

    async def record_delivery(self, delivery: dict[str, Any]) -> None:
        stamp = _iso(datetime.now(UTC))
        text = json.dumps(delivery, default=str)
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
