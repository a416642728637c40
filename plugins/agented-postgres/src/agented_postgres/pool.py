"""The connection pool, the URL's own parameters, and retrying through a lost connection.

``postgresql://user[:password]@host:port/dbname?pool_size=10&schema=agented`` : the parameters
of agented (``pool_size``, ``schema``, ``retry_seconds``, ``synchronous_commit``) are taken out
of the URL; every other one (``sslmode``, ``connect_timeout`` ...) goes to libpq as it is
(``options`` too, with agented's settings added to it).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import psycopg
import psycopg_pool

from agented_core import StoreError

T = TypeVar("T")
Connection = psycopg.AsyncConnection[Any]
log = logging.getLogger("agented.store.postgres")

DEFAULT_POOL_SIZE = 10
DEFAULT_CONNECT_TIMEOUT = 10
DEFAULT_RETRY_SECONDS = 120.0
"""How long a call waits for a lost server to come back before it fails."""
BACKOFF_FIRST, BACKOFF_MAX = 0.05, 2.0
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Settings:
    """What a ``postgresql://`` URL says: the libpq conninfo and agented's own parameters."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise StoreError(f"not a PostgreSQL URL: {redact(url)} (expected postgresql://...)")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.pool_size = _number(query.pop("pool_size", None), DEFAULT_POOL_SIZE, url, "pool_size")
        self.retry_seconds = float(
            _number(
                query.pop("retry_seconds", None), int(DEFAULT_RETRY_SECONDS), url, "retry_seconds"
            )
        )
        self.synchronous_commit = query.pop("synchronous_commit", None) or None
        if self.synchronous_commit not in (None, "on", "off", "local"):
            raise StoreError(
                f"synchronous_commit in {redact(url)} is on, off or local, not "
                f"{self.synchronous_commit!r}"
            )
        self.options = query.pop("options", "")
        self.schema = query.pop("schema", None) or None
        if self.schema is not None and not _SCHEMA_NAME.match(self.schema):
            raise StoreError(
                f"schema {self.schema!r} in {redact(url)}: use lower-case letters, digits and _"
            )
        query.setdefault("connect_timeout", str(DEFAULT_CONNECT_TIMEOUT))
        self.conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), ""))
        self.display = redact(url)
        self.where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of every connection: UTC times, the schema on the search path."""
        options = f"{self.options} -c TimeZone=UTC".strip()
        if self.schema:
            options += f" -c search_path={self.schema}"
        if self.synchronous_commit:
            options += f" -c synchronous_commit={self.synchronous_commit}"
        return {"autocommit": True, "options": options}


def redact(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def _number(raw: str | None, default: int, url: str, name: str) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise StoreError(f"{name} in {redact(url)} takes a whole number of at least 1")
    return value


RECONNECT_TIMEOUT = 5.0
"""Seconds one reconnection attempt of the pool (with its backoff) goes on before a new one."""


def is_transient(exc: BaseException) -> bool:
    """True for a lost or refused connection (worth waiting for), not a bad statement."""
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return True
    if isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return True
    return isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) in (
        None,  # no answer from the server at all: the connection is gone
        "08000", "08003", "08006", "08001", "08004", "57P01", "57P02", "57P03",
    )  # fmt: skip


class Database:
    """A pool of connections to one database, opened by :meth:`open`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: psycopg_pool.AsyncConnectionPool[Connection] | None = None
        self._down_since: float | None = None

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self._pool is not None

    async def connect(self) -> Connection:
        """A connection of its own (migrations, LISTEN), outside the pool."""
        return await psycopg.AsyncConnection.connect(
            self.settings.conninfo, **self.settings.connect_kwargs()
        )

    async def open(self, prepare: Callable[[Connection], Awaitable[None]]) -> None:
        """Connect once (``prepare`` runs the migrations on it), then open the pool.

        A server that cannot be reached is a :class:`StoreError` of one line.
        """
        try:
            conn = await self.connect()
        except psycopg.Error as exc:
            raise self.unreachable(exc) from None
        try:
            await prepare(conn)
        finally:
            await conn.close()
        pool: psycopg_pool.AsyncConnectionPool[Connection] = psycopg_pool.AsyncConnectionPool(
            self.settings.conninfo,
            kwargs=self.settings.connect_kwargs(),
            min_size=1,
            max_size=self.settings.pool_size,
            open=False,
            name="agented",
            # the pool backs off between reconnection attempts without bound (1, 2, 4 ... s):
            # once the server is back it could wait a minute more. An attempt gives up after
            # a few seconds instead, and the next call starts a fresh one at 1 s.
            reconnect_timeout=RECONNECT_TIMEOUT,
        )
        try:
            await pool.open(wait=True, timeout=DEFAULT_CONNECT_TIMEOUT)
        except psycopg_pool.PoolTimeout as exc:
            await pool.close()
            raise self.unreachable(exc) from None
        self._pool = pool

    def unreachable(self, exc: BaseException) -> StoreError:
        """The one line telling that the server cannot be reached, and what to do."""
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        first = first.replace(self.settings.conninfo, self.settings.display)
        return StoreError(
            f"cannot reach PostgreSQL at {self.settings.where} ({first}): check that the server "
            "runs and the URL in [agented] database is right; nothing was changed"
        )

    async def close(self) -> None:
        """Close every connection. Safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        if self._pool is None:
            raise StoreError("the store is not open")
        async with self._pool.connection(timeout=DEFAULT_CONNECT_TIMEOUT) as conn:
            yield conn

    async def run(
        self,
        fn: Callable[[Connection], Awaitable[T]],
        *,
        transaction: bool = False,
        retry: bool = True,
    ) -> T:
        """``fn(conn)`` on a pooled connection (in a transaction if asked), retried with backoff
        while the server cannot be reached, for up to ``retry_seconds`` (unless ``retry`` is
        false: a readiness check reports at once)."""
        delay, started = BACKOFF_FIRST, time.monotonic()
        while True:
            try:
                async with self._connection() as conn:
                    if transaction:
                        async with conn.transaction():
                            result = await fn(conn)
                    else:
                        result = await fn(conn)
            except Exception as exc:
                if not retry or not is_transient(exc) or self._pool is None:
                    raise
                now = time.monotonic()
                if self._down_since is None:
                    self._down_since = now
                    log.warning("PostgreSQL at %s: %s; retrying", self.settings.where, exc)
                if now - started > self.settings.retry_seconds:
                    raise StoreError(
                        f"PostgreSQL at {self.settings.where} unreachable for "
                        f"{self.settings.retry_seconds:g} s: {exc}"
                    ) from exc
                await anyio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            if self._down_since is not None:
                log.warning("PostgreSQL at %s is back", self.settings.where)
                self._down_since = None
            return result
