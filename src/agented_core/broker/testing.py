"""The contract suite every :class:`Broker` passes.

Subclass :class:`BrokerContract` in a test module and override the ``make_broker`` fixture with
a callable returning a new, unopened broker::

    class TestRedisBroker(BrokerContract):
        @pytest.fixture
        def make_broker(self) -> Callable[[], Broker]:
            return lambda: RedisBroker.from_url("redis://127.0.0.1:6379/15")

A broker that is :attr:`~Broker.shared` is tested as several processes would use it: each
"process" gets a broker of its own from ``make_broker`` (they must reach each other); an
in-process one is used through one instance. Each test runs in its own event loop. The module
needs pytest and hypothesis (test dependencies), so only test code imports it.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..events._log import EventLog, status_event
from ..models import Event, EventDraft, EventKind, Status
from ..store.sqlite import SQLiteStore
from ._base import Broker

EXEC = "01CONTRACTEXECUTION"
TIMEOUT = 10.0


def make_events(first: int, last: int, execution_id: str = EXEC) -> list[Event]:
    """Events ``first..last`` of ``execution_id`` (``text`` events; what they say is their seq)."""
    from ..clock import utcnow

    now = utcnow()
    return [
        Event(execution_id, seq, now, 1, EventKind.TEXT, str(seq), {})
        for seq in range(first, last + 1)
    ]


async def collect(events: AsyncIterator[Event], *, until: int) -> list[int]:
    """The seqs from ``events`` until one is ``until`` or above, or the iterator ends."""
    seen: list[int] = []
    async for event in events:
        seen.append(event.seq)
        if event.seq >= until:
            break
    return seen


class BrokerContract:
    """The behaviour every broker has; override :meth:`make_broker`."""

    @pytest.fixture
    def make_broker(self) -> Callable[[], Broker]:
        """A callable returning a new, unopened broker (override it)."""
        raise NotImplementedError("override the make_broker fixture")

    @asynccontextmanager
    async def peers(self, make: Callable[[], Broker], count: int) -> AsyncIterator[list[Broker]]:
        """``count`` opened brokers standing for as many processes (one instance if not shared)."""
        async with AsyncExitStack() as stack:
            first = make()
            await first.open()
            stack.push_async_callback(first.close)
            brokers = [first]
            for _ in range(count - 1):
                if not first.shared:
                    brokers.append(first)
                    continue
                other = make()
                await other.open()
                stack.push_async_callback(other.close)
                brokers.append(other)
            yield brokers

    def run(self, test: Callable[[], Awaitable[None]]) -> None:
        """Run ``test`` in an event loop of its own, bounded by :data:`TIMEOUT`."""

        async def bounded() -> None:
            with anyio.fail_after(TIMEOUT):
                await test()

        anyio.run(bounded)

    # live events
    def test_a_follower_gets_what_is_published_in_order_once(
        self, make_broker: Callable[[], Broker]
    ) -> None:
        async def test() -> None:
            async with (
                self.peers(make_broker, 2) as (writer, reader),
                reader.follow(EXEC, 0) as events,
            ):
                await anyio.sleep(0.05)  # a remote subscription may settle after entering
                for first in range(1, 1000, 100):
                    writer.publish(EXEC, make_events(first, first + 99))
                assert await collect(events, until=1000) == list(range(1, 1001))

        self.run(test)

    def test_a_follower_gets_nothing_at_or_below_after(
        self, make_broker: Callable[[], Broker]
    ) -> None:
        async def test() -> None:
            async with (
                self.peers(make_broker, 2) as (writer, reader),
                reader.follow(EXEC, 50) as events,
            ):
                await anyio.sleep(0.05)
                writer.publish(EXEC, make_events(1, 60))
                assert await collect(events, until=60) == list(range(51, 61))

        self.run(test)

    def test_followers_of_other_executions_get_none_of_it(
        self, make_broker: Callable[[], Broker]
    ) -> None:
        async def test() -> None:
            async with (
                self.peers(make_broker, 2) as (writer, reader),
                reader.follow("01OTHER", 0) as other,
                reader.follow(EXEC, 0) as mine,
            ):
                await anyio.sleep(0.05)
                writer.publish(EXEC, make_events(1, 5))
                writer.publish("01OTHER", make_events(1, 1, "01OTHER"))
                assert await collect(mine, until=5) == [1, 2, 3, 4, 5]
                got = [(e.execution_id, e.seq) async for e in _take(other, 1)]
                assert got == [("01OTHER", 1)]

        self.run(test)

    def test_many_followers_each_get_every_event(self, make_broker: Callable[[], Broker]) -> None:
        async def test() -> None:
            async with self.peers(make_broker, 4) as brokers:
                writer, readers = brokers[0], brokers[1:]
                results: list[list[int]] = []

                async def follow(broker: Broker, ready: anyio.Event) -> None:
                    async with broker.follow(EXEC, 0) as events:
                        ready.set()
                        results.append(await collect(events, until=500))

                async with anyio.create_task_group() as tg:
                    for index in range(12):
                        ready = anyio.Event()
                        tg.start_soon(follow, readers[index % len(readers)], ready)
                        await ready.wait()
                    await anyio.sleep(0.05)
                    for first in range(1, 500, 50):
                        writer.publish(EXEC, make_events(first, first + 49))
                        await anyio.lowlevel.checkpoint()
                assert results == [list(range(1, 501))] * 12

        self.run(test)

    def test_end_ends_the_followers(self, make_broker: Callable[[], Broker]) -> None:
        async def test() -> None:
            async with (
                self.peers(make_broker, 2) as (writer, reader),
                reader.follow(EXEC, 0) as events,
            ):
                await anyio.sleep(0.05)
                writer.publish(EXEC, make_events(1, 3))
                writer.end(EXEC)
                seen = [e.seq async for e in events]  # ends, else the test times out
                assert seen == [1, 2, 3][: len(seen)]

        self.run(test)

    def test_a_follower_that_falls_behind_never_blocks_the_writer_nor_skips(
        self, make_broker: Callable[[], Broker]
    ) -> None:
        async def test() -> None:
            async with (
                self.peers(make_broker, 2) as (writer, reader),
                reader.follow(EXEC, 0) as events,
            ):
                await anyio.sleep(0.05)
                for first in range(1, 200_000, 1000):  # never read meanwhile
                    writer.publish(EXEC, make_events(first, first + 999))
                writer.end(EXEC)
                seen = [e.seq async for e in events]
                # dropped somewhere (then it ends), or given everything: never a hole
                assert seen == list(range(1, len(seen) + 1))

        self.run(test)

    def test_close_ends_followers_and_listeners(self, make_broker: Callable[[], Broker]) -> None:
        async def test() -> None:
            broker = make_broker()
            await broker.open()
            try:
                async with broker.follow(EXEC, 0) as events, broker.listen("ch") as messages:
                    await broker.close()
                    assert [e async for e in events] == []
                    assert [m async for m in messages] == []
            finally:
                await broker.close()  # a second close does nothing

        self.run(test)

    # the switch from stored to live events, through an event log
    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,  # each subclass is another broker
        ],
    )
    @given(
        seed=st.integers(0, 2**32),
        total=st.integers(1, 1500),
        readers=st.integers(1, 5),
        batch=st.sampled_from([1, 7, 100, 1000]),
        page=st.sampled_from([1, 3, 50, 2000]),
    )
    def test_followers_joining_mid_stream_see_each_event_once_in_order(
        self,
        make_broker: Callable[[], Broker],
        seed: int,
        total: int,
        readers: int,
        batch: int,
        page: int,
    ) -> None:
        async def test() -> None:
            with tempfile.TemporaryDirectory() as tmp:
                await _mid_stream(make_broker, Path(tmp), seed, total, readers, batch, page)

        self.run(test)

    # messages
    def test_listeners_get_what_is_notified_from_then_on(
        self, make_broker: Callable[[], Broker]
    ) -> None:
        async def test() -> None:
            async with self.peers(make_broker, 3) as (sender, one, two):
                await sender.notify("ch", "before anyone listens")
                async with (
                    one.listen("ch") as first,
                    two.listen("ch") as second,
                    one.listen("elsewhere") as elsewhere,
                ):
                    await anyio.sleep(0.05)
                    for n in range(20):
                        await sender.notify("ch", f"m{n}")
                    await sender.notify("elsewhere", "there")
                    expected = [f"m{n}" for n in range(20)]
                    assert [m async for m in _take(first, 20)] == expected
                    assert [m async for m in _take(second, 20)] == expected
                    assert [m async for m in _take(elsewhere, 1)] == ["there"]

        self.run(test)

    def test_a_listener_that_left_gets_nothing_and_breaks_nothing(
        self, make_broker: Callable[[], Broker]
    ) -> None:
        async def test() -> None:
            async with self.peers(make_broker, 2) as (sender, listener), listener.listen("ch"):
                pass
                await sender.notify("ch", "nobody")  # no error
                async with listener.listen("ch") as messages:
                    await anyio.sleep(0.05)
                    await sender.notify("ch", "somebody")
                    assert [m async for m in _take(messages, 1)] == ["somebody"]

        self.run(test)


async def _take(iterator: AsyncIterator[Any], count: int) -> AsyncIterator[Any]:
    """The first ``count`` items of ``iterator``."""
    if count <= 0:
        return
    taken = 0
    async for item in iterator:
        yield item
        taken += 1
        if taken >= count:
            return


async def _mid_stream(
    make: Callable[[], Broker],
    tmp: Path,
    seed: int,
    total: int,
    readers: int,
    batch: int,
    page: int,
) -> None:
    """A writer appends ``total`` events while followers join at random points and seqs.

    With an in-process broker the followers use the writer's event log; with a shared one,
    each follower is another "process": an event log of its own over the same store file.
    """
    rng = random.Random(seed)
    url = str(tmp / "contract.db")
    writer_store = SQLiteStore(url)
    await writer_store.open()
    writer_broker = make()
    await writer_broker.open()
    log = EventLog(
        writer_store,
        broker=writer_broker,
        batch_size=batch,
        flush_interval=0.001,
        read_page=page,
    )
    results: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    async with AsyncExitStack() as stack:
        stack.push_async_callback(writer_store.close)
        stack.push_async_callback(writer_broker.close)
        follower_logs = [log]
        if writer_broker.shared:
            follower_logs = []
            for _ in range(readers):
                store = SQLiteStore(url)
                await store.open()
                stack.push_async_callback(store.close)
                broker = make()
                await broker.open()
                stack.push_async_callback(broker.close)
                follower_logs.append(
                    EventLog(store, broker=broker, read_page=page, poll_interval=0.01)
                )
        async with anyio.create_task_group() as tg:
            await tg.start(log.run)
            log.open(EXEC, 0)

            async def reader(index: int) -> None:
                await anyio.sleep(rng.random() * 0.02)
                after = rng.randint(0, log.last_seq(EXEC) or 0)
                starts[index] = after
                slow = rng.random() < 0.5
                seen: list[int] = []
                follower = follower_logs[index % len(follower_logs)]
                async for event in follower.follow(EXEC, after=after):
                    seen.append(event.seq)
                    if slow and rng.random() < 0.05:
                        await anyio.sleep(0.002)
                results[index] = seen

            async with anyio.create_task_group() as readers_tg:
                for index in range(readers):
                    readers_tg.start_soon(reader, index)
                for n in range(total - 1):
                    log.append(EXEC, 1, [EventDraft("text", str(n))])
                    if rng.random() < 0.1:
                        await anyio.lowlevel.checkpoint()
                    if rng.random() < 0.02:
                        await anyio.sleep(0.001)
                log.append(EXEC, 1, [status_event(Status.SUCCEEDED, 1)])
                await log.close(EXEC)
            tg.cancel_scope.cancel()
    for index, seen in results.items():
        assert seen == list(range(starts[index] + 1, total + 1)), (index, starts[index])
