"""The event log: seq without gaps, stored-to-live switch without gap or duplicate, slow readers."""

from __future__ import annotations

import random

import anyio
import anyio.lowlevel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agented_core.broker import LocalBroker
from agented_core.events._log import EventLog, status_event
from agented_core.events._redaction import Redactor
from agented_core.models import EventDraft, Status
from agented_core.store.sqlite import SQLiteStore

EXEC = "01EXECUTION"


def followers(log: EventLog) -> int:
    assert isinstance(log.broker, LocalBroker)
    return log.broker.followers(EXEC)


async def _scenario(
    seed: int, total: int, readers: int, buffer: int, batch: int, page: int
) -> None:
    rng = random.Random(seed)
    store = SQLiteStore(":memory:")
    await store.open()
    log = EventLog(
        store, batch_size=batch, flush_interval=0.001, subscriber_buffer=buffer, read_page=page
    )
    results: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(log.run)
        log.open(EXEC, 0)

        async def reader(index: int) -> None:
            await anyio.sleep(rng.random() * 0.02)
            after = rng.randint(0, max(0, (log.last_seq(EXEC) or 0)))
            starts[index] = after
            slow = rng.random() < 0.5
            seen: list[int] = []
            async for event in log.follow(EXEC, after=after):
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
                    await anyio.sleep(0.003)
            log.append(EXEC, 1, [status_event(Status.SUCCEEDED, 1)])
            await log.close(EXEC)
        tg.cancel_scope.cancel()
    stored = await store.read_events(EXEC)
    await store.close()
    assert [e.seq for e in stored] == list(range(1, total + 1))
    for index, seen in results.items():
        assert seen == list(range(starts[index] + 1, total + 1)), (index, starts[index])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    total=st.integers(1, 3000),
    readers=st.integers(1, 6),
    buffer=st.sampled_from([1, 4, 64, 4096]),
    batch=st.sampled_from([1, 7, 100, 1000]),
    page=st.sampled_from([1, 3, 50, 2000]),
)
def test_every_reader_sees_each_event_once_in_order(
    seed: int, total: int, readers: int, buffer: int, batch: int, page: int
) -> None:
    anyio.run(_scenario, seed, total, readers, buffer, batch, page)


def test_a_reader_keeps_up_with_a_writer_that_appends_a_chunk_per_turn() -> None:
    # a CLI's 256 KiB read is ~500 lines appended in one loop turn; a reader that took one event
    # per turn fell behind, overflowed its buffer and had to catch up from the store
    async def main() -> None:
        store = SQLiteStore(":memory:")
        await store.open()
        log = EventLog(store, subscriber_buffer=2048)
        seen: list[int] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(log.run)
            log.open(EXEC, 0)
            log.append(EXEC, 1, [EventDraft("text", "first")])

            async def reader() -> None:
                async for event in log.follow(EXEC):
                    seen.append(event.seq)

            tg.start_soon(reader)
            with anyio.fail_after(10):
                while not seen:  # subscribed, and past its first read of the store
                    await anyio.sleep(0.001)
            for _ in range(100):
                log.append(EXEC, 1, [EventDraft("text", "x")] * 500)
                await anyio.lowlevel.checkpoint()
                assert followers(log), f"reader dropped at seq {seen[-1]}"
            log.append(EXEC, 1, [status_event(Status.SUCCEEDED, 1)])
            await log.close(EXEC)
            with anyio.fail_after(10):
                while not seen or seen[-1] != 50_002:
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
        await store.close()
        assert seen == list(range(1, 50_003))

    anyio.run(main)


def test_a_reader_far_behind_catches_up_a_page_at_a_time() -> None:
    async def main() -> None:
        store = SQLiteStore(":memory:")
        await store.open()
        limits: list[int | None] = []
        read_events = store.read_events

        async def spy(execution_id: str, *, after: int = 0, limit: int | None = None) -> list:
            limits.append(limit)
            return await read_events(execution_id, after=after, limit=limit)

        store.read_events = spy  # type: ignore[method-assign]
        log = EventLog(store, read_page=300)
        async with anyio.create_task_group() as tg:
            tg.start_soon(log.run)
            log.open(EXEC, 0)
            log.append(EXEC, 1, [EventDraft("text", str(n)) for n in range(10_000)])
            await log.flush()
            log.append(EXEC, 1, [EventDraft("text", "unwritten")] * 50)
            stream = log.follow(EXEC).__aiter__()
            first = [(await stream.__anext__()).seq for _ in range(10_050)]
            assert first == list(range(1, 10_051))
            assert limits and all(limit is not None and limit <= 300 for limit in limits)
            log.append(EXEC, 1, [status_event(Status.SUCCEEDED, 1)])
            await log.close(EXEC)
            rest = [e.seq async for e in stream]
            assert rest == [10_051]
            tg.cancel_scope.cancel()
        await store.close()

    anyio.run(main)


def test_a_stuck_reader_never_slows_the_writer() -> None:
    async def main() -> None:
        store = SQLiteStore(":memory:")
        await store.open()
        log = EventLog(store, subscriber_buffer=8)
        async with anyio.create_task_group() as tg:
            tg.start_soon(log.run)
            log.open(EXEC, 0)
            log.append(EXEC, 1, [EventDraft("text", "first")])
            stream = log.follow(EXEC).__aiter__()
            first = await stream.__anext__()  # subscribed, then never reads again
            assert first.seq == 1
            for n in range(20_000):  # would block forever if the writer waited for the reader
                log.append(EXEC, 1, [EventDraft("text", str(n))])
            assert log.last_seq(EXEC) == 20_001
            assert not followers(log)  # dropped, not buffered without bound
            log.append(EXEC, 1, [status_event(Status.SUCCEEDED, 1)])
            await log.close(EXEC)
            rest = [e.seq async for e in stream]
            assert rest == list(range(2, 20_003))
            tg.cancel_scope.cancel()
        await store.close()

    anyio.run(main)


def test_secrets_are_redacted_before_storing_and_streaming() -> None:
    async def main() -> None:
        store = SQLiteStore(":memory:")
        await store.open()
        log = EventLog(store)
        async with anyio.create_task_group() as tg:
            tg.start_soon(log.run)
            log.open(EXEC, 0, Redactor(["sk-live-abcdef123"]))
            made = log.append(
                EXEC,
                1,
                [
                    EventDraft(
                        "tool_call", "key sk-live-abcdef123", {"input": ["sk-live-abcdef123"]}
                    )
                ],
            )
            await log.close(EXEC)
            tg.cancel_scope.cancel()
        stored = await store.read_events(EXEC)
        await store.close()
        for event in (made[0], stored[0]):
            assert event.text == "key [redacted]"
            assert event.data == {"input": ["[redacted]"]}

    anyio.run(main)
