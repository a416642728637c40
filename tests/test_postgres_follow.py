"""LISTEN/NOTIFY: followers of a run in another process are woken as its events are stored.

The fallback read is pushed out of reach (an hour), so only a notification can deliver them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from agented_postgres import PostgresStore, events

from agented_core import Agented, Execution, Status
from agented_core.store import Store
from agented_core.store.testing import StoreContract
from conftest import shell_bot
from pg_support import fresh_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
def pg_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(events, "FOLLOW_FALLBACK", 3600.0)
    with fresh_schema() as url:
        yield url


class TestNotifiedFollow(StoreContract):
    """The contract's follow check, with nothing but NOTIFY to wake the follower."""

    @pytest.fixture
    def store_factory(self, pg_url: str) -> Callable[[], Store]:
        return lambda: PostgresStore(pg_url)


for _name in list(vars(StoreContract)):
    if _name.startswith("test_") and "follow" not in _name:
        setattr(TestNotifiedFollow, _name, None)  # only the follow check runs here


async def test_a_run_of_another_process_is_followed_through_notifications(
    pg_url: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    bot = shell_bot("steps", "until", str(gate))
    plugins = [__import__("agented_postgres")]
    async with (
        Agented.open(pg_url, bots=[bot], plugins=plugins, entry_points=False) as runner,
        Agented.open(
            pg_url, bots=[bot], plugins=plugins, entry_points=False, recover=False, wake=False
        ) as watcher,
    ):
        assert runner.store.wakes_followers()
        watcher.event_log.idle_check = 3600.0  # no look at the store but when woken
        watcher.event_log.poll_interval = 3600.0
        execution = await runner.run("steps")
        seen = []
        waited: list[Execution] = []

        async def wait() -> None:  # woken by the notification of the final event, not polling
            waited.append(await watcher.wait(execution.id))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                async for event in watcher.events(execution.id):
                    seen.append(event)
                    if sum("step " in (e.text or "") for e in seen) == 5:
                        gate.touch()
        assert waited[0].status is Status.SUCCEEDED
        done = await runner.wait(execution.id, timeout=30)
        stored = await runner.store.read_events(execution.id)
    assert done.status is Status.SUCCEEDED
    assert [e.seq for e in seen] == [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert seen[-1].data["status"] == "succeeded"


async def test_a_cancel_from_another_process_reaches_the_owner_through_notify(
    pg_url: str,
) -> None:
    bot = shell_bot("sleeper", "sleep", "60")
    plugins = [__import__("agented_postgres")]
    async with (
        # the owner never polls its mailbox: only the notification can bring the request
        Agented.open(
            pg_url, bots=[bot], plugins=plugins, entry_points=False, control_interval=3600.0
        ) as owner,
        Agented.open(
            pg_url, bots=[bot], plugins=plugins, entry_points=False, recover=False, wake=False
        ) as other,
    ):
        assert owner.store.wakes_owners()
        execution = await owner.run("sleeper")
        with anyio.fail_after(20):
            async for event in other.events(execution.id):
                if event.data.get("status") == "running":
                    break
        await other.cancel(execution.id)
        done = await owner.wait(execution.id, timeout=20)
    assert done.status is Status.CANCELLED
