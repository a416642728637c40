"""Shared test helpers: the fake CLI, temporary stores, and an Agented factory.

``db_url`` is a new SQLite file, or a new schema of the PostgreSQL server that
``AGENTED_TEST_DATABASE`` names (see ``pg_support``): the run-path, supervision, limits,
triggers and HTTP tests then run against PostgreSQL, its backend registered as a built-in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from agented_core import Agented, Bot, ManualTrigger, hookimpl
from agented_core.store import StoreFactory
from pg_support import fresh_schema, selected

HERE = Path(__file__).parent
FAKE_CLI = str(HERE / "fixtures" / "bin" / "fake-cli")
FIXTURES_DIR = HERE / "fixtures"  # every fixture lives inside the repository (SOURCES.md)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def shell_bot(name: str, *args: str, **fields: Any) -> Bot:
    """A shell bot running the fake CLI with ``args``, runnable by hand."""
    fields.setdefault("triggers", (ManualTrigger(params=fields.pop("params", ())),))
    return Bot(name=name, provider="shell", command=(FAKE_CLI, *args), **fields)


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """The store of the test: a new SQLite file, or a new PostgreSQL schema when selected."""
    if selected() is None:
        yield f"sqlite:///{tmp_path / 'agented.db'}"
        return
    with fresh_schema() as url:
        yield url


@pytest.fixture(autouse=True)
def _postgres_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``AGENTED_TEST_DATABASE`` set, ``postgresql://`` works without entry points too
    (most tests open Agented with ``entry_points=False``)."""
    if selected() is None:
        return
    from agented_postgres import PostgresStore

    from agented_core import plugins

    builtin = plugins._Builtins.agented_backends

    @hookimpl
    def agented_backends(self: plugins._Builtins) -> Mapping[str, StoreFactory]:
        factory = PostgresStore.from_url
        return {**builtin(self), "postgresql": factory, "postgres": factory}

    monkeypatch.setattr(plugins._Builtins, "agented_backends", agented_backends)


OpenAgented = Callable[..., Any]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store several processes share in a scale-out test: a SQLite file, or a fresh
    PostgreSQL schema (a skip without the server; a failure under ``CI=true``)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'agented.db'}"
        return
    with fresh_schema() as url:
        yield url


def alive(pid: int) -> bool:
    """True while ``pid`` is a live process (not gone, not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.fixture
def open_agented(db_url: str) -> OpenAgented:
    """``async with open_agented(bots) as ag``: an Agented on a temporary SQLite file."""

    @asynccontextmanager
    async def factory(bots: Iterable[Bot], **kwargs: Any) -> AsyncIterator[Agented]:
        kwargs.setdefault("entry_points", False)
        async with Agented.open(kwargs.pop("database", db_url), bots=bots, **kwargs) as ag:
            yield ag

    return factory
