"""The queue shared by every process on a store: runs nobody owns yet, taken by one process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agented_core import Agented, Status
from conftest import shell_bot

pytestmark = pytest.mark.anyio


async def test_a_run_with_no_room_here_is_queued_for_anyone_and_taken_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    bot = shell_bot("hi", "say", "hello")
    async with Agented.open(url, bots=[bot], entry_points=False, concurrency=0) as submitter:
        execution = await submitter.run("hi")
        queued = await submitter.store.get_execution(execution.id)
        assert queued is not None and queued.status is Status.QUEUED and queued.owner is None
        async with Agented.open(url, bots=[bot], entry_points=False, wake_interval=0.05) as taker:
            done = await taker.wait(execution.id, timeout=20)
            assert done.status is Status.SUCCEEDED and done.owner == taker.owner
            statuses = [
                e.data["status"] for e in await taker.event_log.read(execution.id)
                if e.kind == "status"
            ]  # fmt: skip
    assert statuses == ["queued", "running", "succeeded"]  # taking it adds no status


async def test_cancelling_a_run_in_the_shared_queue_ends_it_where_it_waits(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    bot = shell_bot("hi", "say", "hello")
    async with Agented.open(url, bots=[bot], entry_points=False, concurrency=0) as submitter:
        execution = await submitter.run("hi")
        cancelled = await submitter.cancel(execution.id)
        assert cancelled.status is Status.CANCELLED
        async with Agented.open(url, bots=[bot], entry_points=False, wake_interval=0.05) as taker:
            assert await taker.ownership.take_queued() == []
            stored = await taker.get(execution.id)
    assert stored.status is Status.CANCELLED and stored.attempt == 0
    assert stored.error == "cancelled while queued"


async def test_a_run_queued_by_a_process_that_died_goes_back_to_the_queue(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    bot = shell_bot("hi", "say", "hello")
    async with Agented.open(url, bots=[bot], entry_points=False, concurrency=0) as submitter:
        execution = await submitter.run("hi")
        # as if a process that died had taken it: owned, queued, never started
        stored = await submitter.store.get_execution(execution.id)
        assert stored is not None
        stored.owner = "gone-host:1:1:boot:ns"
        await submitter.store.save_execution(stored)
        async with Agented.open(
            url, bots=[bot], entry_points=False, wake_interval=0.05, stale_after=0.2
        ) as taker:
            done = await taker.wait(execution.id, timeout=20)
    assert done.status is Status.SUCCEEDED and done.attempt == 1
    assert done.owner == taker.owner


async def test_a_run_of_a_silent_host_is_retried_here_once_its_lease_ran_out(
    tmp_path: Path,
) -> None:
    from agented_core.clock import utcnow
    from agented_core.store.testing import execution as make_execution

    url = f"sqlite:///{tmp_path / 'a.db'}"
    bot = shell_bot("hi", "say", "hello", retry_interrupted=True, max_attempts=2)
    async with Agented.open(url, bots=[bot], entry_points=False, concurrency=0) as submitter:
        # running on another host, which stopped beating (a lease can't be proved dead sooner)
        elsewhere = make_execution(
            "01SILENTHOST", Status.RUNNING, bot="hi", owner="other-host:7:7:boot:ns", attempt=1
        )
        elsewhere.heartbeat_at = utcnow()
        await submitter.store.save_execution(elsewhere)
    async with Agented.open(
        url, bots=[bot], entry_points=False, wake_interval=0.05, stale_after=1.0,
        sweep_interval=0.1,
    ) as ag:  # fmt: skip
        cut = await ag.store.get_execution("01SILENTHOST")
        assert cut is not None and cut.status is Status.RUNNING  # its lease still holds
        done = await ag.wait("01SILENTHOST", timeout=20)
    assert done.status is Status.SUCCEEDED and done.attempt == 2 and done.owner == ag.owner
    assert [a.decision for a in done.attempts] == ["queued again", "done"]
    assert done.finished_at is not None and done.finished_at - elsewhere.heartbeat_at > timedelta(
        seconds=1
    )


async def test_a_cancel_request_taken_after_its_run_left_for_the_queue_is_kept(
    tmp_path: Path,
) -> None:
    """The owner takes the control requests of the runs it had a moment ago; one whose run
    left meanwhile (handed back to the queue) keeps its cancel for whoever takes the run."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    bot = shell_bot("s", "sleep", "30")
    async with Agented.open(url, bots=[bot], entry_points=False, concurrency=0) as submitter:
        execution = await submitter.run("s")  # in the shared queue, nobody's
        # as if it had run here and been handed back: a cancel was asked of its owner then
        await submitter.store.request_control(execution.id, "cancel")
        await submitter.ownership.apply_controls([execution.id])  # the ids of a moment ago
        async with Agented.open(url, bots=[bot], entry_points=False, wake_interval=0.05) as taker:
            done = await taker.wait(execution.id, timeout=20)
    assert done.status is Status.CANCELLED


async def test_a_queue_behind_a_full_limit_is_not_loaded_and_its_oldest_run_goes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agented_core import Concurrency

    url = f"sqlite:///{tmp_path / 'a.db'}"
    limited = shell_bot("limited", "say", "hello", concurrency=Concurrency(limit=1))
    other = shell_bot("other", "say", "hello")
    async with Agented.open(
        url, bots=[limited, other], entry_points=False, concurrency=0
    ) as submitter:
        first, second, third = [await submitter.run("limited") for _ in range(3)]
        unlimited = await submitter.run("other")
    async with Agented.open(url, bots=[limited, other], entry_points=False, wake=False) as ag:
        # the bot's only slot, held by a live run of another process
        assert await ag.store.claim("slot:bot:limited:0", "elsewhere|01RUN", 60.0)
        looked: list[str] = []  # executions loaded and slots tried
        store = ag.store
        get_execution, find_executions, claim = (
            store.get_execution,
            store.find_executions,
            store.claim,
        )

        async def getting(execution_id: str) -> object:
            looked.append(execution_id)
            return await get_execution(execution_id)

        async def finding(statuses: list[Status], **options: object) -> object:
            found = await find_executions(statuses, **options)  # type: ignore[arg-type]
            looked.extend(execution.id for execution in found)
            return found

        async def claiming(key: str, owner: str, ttl: float) -> bool:
            looked.append(key)
            return await claim(key, owner, ttl)

        monkeypatch.setattr(store, "get_execution", getting)
        monkeypatch.setattr(store, "find_executions", finding)
        monkeypatch.setattr(store, "claim", claiming)
        assert await ag.ownership.take_queued() == [unlimited.id]  # another bot's run fits
        assert not {first.id, second.id, third.id, "slot:bot:limited:0"} & set(looked)
        assert await ag.ownership.take_queued() == []
        await ag.store.release("slot:bot:limited:0", "elsewhere|01RUN")
        assert await ag.ownership.take_queued() == [first.id]  # one slot: the oldest
        assert (await ag.wait(first.id, timeout=20)).status is Status.SUCCEEDED
        assert (await ag.wait(unlimited.id, timeout=20)).status is Status.SUCCEEDED
        assert (await ag.get(second.id)).status is Status.QUEUED


async def test_runs_behind_a_limit_just_found_full_go_to_the_queue_without_a_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst behind a full limit: the first run tries the slot and finds it held; the next
    ones go straight to the shared queue (no doomed claim each, all on the one key), and the
    queue still starts them, oldest first, once the slot comes free."""
    from agented_core import Concurrency
    from agented_core.run import _slots

    monkeypatch.setattr(_slots, "SEEN_FULL_FOR", 3600.0)  # the burst is never "a while ago"
    url = f"sqlite:///{tmp_path / 'a.db'}"
    limited = shell_bot("limited", "say", "hello", concurrency=Concurrency(limit=1))
    async with Agented.open(url, bots=[limited], entry_points=False, wake_interval=3600) as ag:
        assert await ag.store.claim("slot:bot:limited:0", "elsewhere|01RUN", 60.0)
        tried: list[str] = []
        claim = ag.store.claim

        async def claiming(key: str, owner: str, ttl: float) -> bool:
            tried.append(key)
            return await claim(key, owner, ttl)

        monkeypatch.setattr(ag.store, "claim", claiming)
        first = await ag.run("limited")
        assert tried.count("slot:bot:limited:0") == 1
        later = [await ag.run("limited") for _ in range(3)]
        assert tried.count("slot:bot:limited:0") == 1  # not tried again for the burst
        for execution in (first, *later):
            assert (await ag.get(execution.id)).status is Status.QUEUED
        await ag.store.release("slot:bot:limited:0", "elsewhere|01RUN")
        await ag.ownership.wake_others()  # as the process giving the slot back does
        done = [await ag.wait(e.id, timeout=30) for e in (first, *later)]
    assert [d.status for d in done] == [Status.SUCCEEDED] * 4
    assert [d.started_at for d in done] == sorted(d.started_at for d in done)  # type: ignore[type-var]
