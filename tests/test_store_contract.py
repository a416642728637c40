"""The backend contract suite (agented_core.store.testing) against SQLite and a composite."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from agented_core.store import CompositeStore, Store
from agented_core.store.sqlite import SQLiteStore
from agented_core.store.testing import StoreContract


class TestSQLite(StoreContract):
    """One file, opened by two stores as by two processes."""

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Callable[[], Store]:
        return lambda: SQLiteStore(str(tmp_path / "agented.db"))


def composite(folder: Path) -> CompositeStore:
    """Each part in a SQLite file of its own."""
    return CompositeStore(
        executions=SQLiteStore(str(folder / "executions.db")),
        events=SQLiteStore(str(folder / "events.db")),
        claims=SQLiteStore(str(folder / "claims.db")),
        deliveries=SQLiteStore(str(folder / "deliveries.db")),
    )


class TestComposite(StoreContract):
    """The parts on different files: each call reaches the part it belongs to."""

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Callable[[], Store]:
        return lambda: composite(tmp_path)


pytestmark = pytest.mark.anyio


async def test_a_composite_keeps_each_part_in_its_own_place(tmp_path: Path) -> None:
    store = composite(tmp_path)
    await store.open()
    contract = StoreContract()
    await contract.test_delete_only_old_terminal_executions_with_their_events(store)
    await store.put_state("k", 1)
    await store.record_delivery({"delivery": "d"})
    await store.close()
    await store.close()
    parts = {name: SQLiteStore(str(tmp_path / f"{name}.db")) for name in
             ("executions", "events", "claims", "deliveries")}  # fmt: skip
    for part in parts.values():
        await part.open()
    assert [e.id for e in (await parts["executions"].list_executions())[0]] == ["01D3", "01D2"]
    assert await parts["events"].get_execution("01D2") is None
    assert await parts["events"].last_seq("01D2") == 1
    assert await parts["executions"].last_seq("01D2") == 0
    assert await parts["claims"].get_state("k") == 1
    assert await parts["executions"].get_state("k") is None
    assert [d["delivery"] for d in await parts["deliveries"].list_deliveries()] == ["d"]
    for part in parts.values():
        await part.close()


class LosingStore(SQLiteStore):
    """A read-modify-write over get and put: what update_state replaced."""

    async def update_state(self, key: str, fn: Callable[[Any], Any]) -> Any:
        value = fn(await self.get_state(key))
        await anyio.lowlevel.checkpoint()  # another writer's turn, as between two processes
        await self.put_state(key, value)
        return value


async def test_the_suite_catches_a_lost_update(tmp_path: Path) -> None:
    one, two = LosingStore(str(tmp_path / "a.db")), LosingStore(str(tmp_path / "a.db"))
    await one.open()
    await two.open()
    with pytest.raises(AssertionError):
        await StoreContract().test_no_update_is_lost_between_two_stores(one, two)
    await one.close()
    await two.close()


async def test_a_part_that_fails_to_open_closes_the_ones_opened(tmp_path: Path) -> None:
    executions = SQLiteStore(str(tmp_path / "e.db"))
    store = CompositeStore(
        executions=executions,
        events=SQLiteStore(str(tmp_path / "missing" / "x.db")),
        claims=executions,
        deliveries=executions,
    )
    assert len(store.parts()) == 2
    with pytest.raises(Exception, match="does not exist"):
        await store.open()
    with pytest.raises(Exception, match="not open"):
        await executions.ping()
