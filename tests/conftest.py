"""Shared test helpers: the fake CLI, temporary SQLite stores, and an Agented factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from agented_core import Agented, Bot, ManualTrigger

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
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'agented.db'}"


OpenAgented = Callable[..., Any]


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
