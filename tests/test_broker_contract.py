"""The broker contract suite against the in-process broker, and the broker in agented's paths.

The suite also runs against a *shared* in-process broker (instances reaching each other through
a hub, as a Redis broker's instances would through Redis): that exercises the event log's path
for followers of an execution appended by another process (gaps filled from the store).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from agented_core import Agented, Status
from agented_core.broker import WAKE, Broker, LocalBroker
from agented_core.broker.testing import BrokerContract
from agented_core.errors import PluginError
from agented_core.events._log import EventLog, status_event
from agented_core.hookspecs import hookimpl
from agented_core.plugins import Plugins
from agented_core.store.sqlite import SQLiteStore
from conftest import shell_bot
from http_support import wait_until


class HubBroker(LocalBroker):
    """An in-process broker whose instances share followers and listeners: "processes"."""

    shared = True

    def __init__(self, hub: LocalBroker) -> None:
        super().__init__()
        self._followers = hub._followers
        self._listeners = hub._listeners
        self.opened = self.closed = False

    async def open(self) -> None:
        self.opened = True

    async def close(self) -> None:
        self.closed = True
        await super().close()


class TestLocalBroker(BrokerContract):
    @pytest.fixture
    def make_broker(self) -> Callable[[], Broker]:
        return LocalBroker


class TestSharedBroker(BrokerContract):
    @pytest.fixture
    def make_broker(self) -> Callable[[], Broker]:
        hub = LocalBroker()
        return lambda: HubBroker(hub)


def test_a_follower_the_broker_left_a_gap_for_gets_it_from_the_store(tmp_path: Path) -> None:
    """A shared broker without history: an event published while the follower was away."""

    async def main() -> None:
        hub = LocalBroker()
        writer_store = SQLiteStore(str(tmp_path / "a.db"))
        await writer_store.open()
        reader_store = SQLiteStore(str(tmp_path / "a.db"))
        await reader_store.open()
        # no flusher task: the writer's events reach the store only when it flushes here
        writer = EventLog(writer_store, broker=HubBroker(hub))
        reader = EventLog(reader_store, broker=HubBroker(hub), poll_interval=0.3, idle_check=0.05)
        seen: list[int] = []
        async with anyio.create_task_group() as tg:
            writer.open("01X", 0)
            writer.emit("01X", 1, "text", "one")
            await writer.flush()

            async def follow() -> None:
                async for event in reader.follow("01X"):
                    seen.append(event.seq)

            tg.start_soon(follow)
            await wait_until(lambda: seen == [1] and hub.followers("01X") == 1)
            await wait_until(lambda: hub.followers("01X") == 0)  # idle: back to the store
            writer.emit("01X", 1, "text", "two")  # neither stored nor seen by the follower
            await wait_until(lambda: hub.followers("01X") == 1)
            writer.emit("01X", 1, "text", "three")  # live, after a gap
            await writer.flush()
            writer.append("01X", 1, [status_event(Status.SUCCEEDED, 1)])
            await writer.close("01X")
            await wait_until(lambda: len(seen) >= 4)
            tg.cancel_scope.cancel()
        await writer_store.close()
        await reader_store.close()
        assert seen == [1, 2, 3, 4]

    anyio.run(main)


# choosing a broker
def test_the_in_process_broker_is_the_default_and_local_names_it() -> None:
    plugins = Plugins(entry_points=False)
    assert type(plugins.open_broker(None)) is LocalBroker
    assert type(plugins.open_broker("local://")) is LocalBroker


def test_an_unknown_broker_scheme_names_the_known_ones() -> None:
    with pytest.raises(PluginError, match=r"no broker for 'redis://h:6379/0' .*local://"):
        Plugins(entry_points=False).open_broker("redis://h:6379/0")


class HubPlugin:
    def __init__(self) -> None:
        self.hub = LocalBroker()
        self.made: list[HubBroker] = []

    @hookimpl
    def agented_brokers(self) -> dict[str, Callable[..., Broker]]:
        def make(url: str) -> Broker:
            assert url == "hub://here"
            self.made.append(HubBroker(self.hub))
            return self.made[-1]

        return {"hub": make}


@pytest.mark.anyio
async def test_the_configured_broker_is_opened_used_and_closed(tmp_path: Path) -> None:
    config = tmp_path / "agented.toml"
    config.write_text(f'[agented]\ndatabase = "sqlite:///{tmp_path}/a.db"\nbroker = "hub://here"\n')
    plugin = HubPlugin()
    async with Agented.open(config=config, plugins=[plugin], entry_points=False) as ag:
        assert plugin.made and ag.event_log.broker is plugin.made[0]
        assert plugin.made[0].opened and not plugin.made[0].closed
    assert plugin.made[0].closed


@pytest.mark.anyio
async def test_an_unknown_configured_broker_fails_before_the_store_opens(tmp_path: Path) -> None:
    config = tmp_path / "agented.toml"
    config.write_text(f'[agented]\ndatabase = "sqlite:///{tmp_path}/a.db"\nbroker = "nope://x"\n')
    with pytest.raises(PluginError, match="no broker for 'nope://x'"):
        async with Agented.open(config=config, entry_points=False):
            pass
    assert not (tmp_path / "a.db").exists()


# the ownership wake-up path
@pytest.mark.anyio
async def test_a_control_request_reaches_its_owner_at_once_through_the_broker(
    db_url: str,
) -> None:
    # the owner polls the store for controls once a minute: only the broker can be this fast
    hub = LocalBroker()
    bot = shell_bot("sleeper", "sleep", "30")
    async with Agented.open(
        db_url, bots=[bot], entry_points=False, broker=HubBroker(hub), control_interval=60.0
    ) as owner:
        execution = await owner.run("sleeper")
        await wait_until(lambda: _status(owner, execution.id, Status.RUNNING), timeout=10)
        async with Agented.open(
            db_url, bots=[bot], entry_points=False, broker=HubBroker(hub), recover=False
        ) as other:
            assert execution.id not in other.supervisor
            await other.cancel(execution.id)
            done = await owner.wait(execution.id, timeout=10)
            assert done.status is Status.CANCELLED


async def _status(ag: Agented, execution_id: str, status: Status) -> bool:
    return (await ag.get(execution_id)).status is status


@pytest.mark.anyio
async def test_a_wake_up_through_the_broker_makes_the_wake_loop_look_at_once(
    db_url: str,
) -> None:
    async with Agented.open(db_url, entry_points=False, wake_interval=60.0) as ag:
        looked = anyio.Event()

        async def wake_due() -> list[str]:
            looked.set()
            return []

        ag.ownership.wake_due = wake_due  # type: ignore[method-assign]
        broker = ag.event_log.broker
        with anyio.fail_after(10):
            while not looked.is_set():  # the listener may not be subscribed yet
                await broker.notify(WAKE, "")
                with anyio.move_on_after(0.05):
                    await looked.wait()
