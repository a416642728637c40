"""The PostgreSQL server of the tests, and a fresh schema of it for each test.

``AGENTED_TEST_DATABASE`` (e.g. ``postgresql://root@127.0.0.1:5432/test``) names the server the
core tests run against instead of SQLite (the ``db_url`` fixture); the plugin's own tests use it
too, or the local server when it is unset. Each test gets a schema of its own (``?schema=``),
dropped after, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from services import POSTGRES_HOST, POSTGRES_PORT, answers, unavailable

ENV = "AGENTED_TEST_DATABASE"
DEFAULT = f"postgresql://root@{POSTGRES_HOST}:{POSTGRES_PORT}/test"


def selected() -> str | None:
    """The server the core tests are asked to run against, or ``None`` (SQLite)."""
    return os.environ.get(ENV) or None


def server() -> str:
    """The server's URL (the selected one, else the local default); unavailable if it is down."""
    url = selected() or DEFAULT
    parts = urlsplit(url)
    host, port = parts.hostname or POSTGRES_HOST, parts.port or 5432
    if not answers(host, port):
        unavailable(f"no PostgreSQL server answers at {host}:{port} ({ENV}={url})")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install -e plugins/agented-postgres)")
    return url


def with_schema(url: str, schema: str) -> str:
    """``url`` with agented's ``schema`` parameter."""
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


@contextmanager
def fresh_schema(url: str | None = None) -> Iterator[str]:
    """A store URL on a new empty schema of the server, dropped (with its rows) afterwards."""
    import psycopg

    base = url or server()
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}".encode())
    try:
        yield with_schema(base, name)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(b"SET lock_timeout = '10s'")
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE".encode())


def raw_sql(url: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run ``query`` (``?`` placeholders) straight on the store of ``url``, SQLite or
    PostgreSQL, behind agented's back; the rows it returns (none for a statement)."""
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return list(db.execute(query, params).fetchall())
    import psycopg

    base, _, schema = url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        if schema:
            conn.execute(f"SET search_path = {schema}".encode())
        cur = conn.execute(query.replace("?", "%s").encode(), params)
        return list(cur.fetchall()) if cur.description else []
