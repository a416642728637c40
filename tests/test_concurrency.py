"""Limits and concurrency groups: queue (FIFO), cancel-in-progress, skip."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from agented_core import Concurrency, Status
from agented_core.config import AgentedSettings, Config
from agented_core.models import ConcurrencyPolicy
from conftest import OpenAgented, shell_bot

pytestmark = pytest.mark.anyio


def gate_bot(name: str, gate: Path, **fields):
    """A bot whose runs print 'in', then wait until ``gate`` exists, then print 'out'."""
    script = (
        "import os, sys, time\n"
        "print('in', flush=True)\n"
        "while not os.path.exists(sys.argv[1]):\n"
        "    time.sleep(0.01)\n"
        "print('out', flush=True)\n"
    )
    from agented_core import Bot, ManualTrigger, Param

    params = fields.pop("params", (Param("pr", default=""),))
    return Bot(
        name=name,
        command=("python3", "-c", script, str(gate)),
        triggers=(ManualTrigger(params=params),),
        **fields,
    )


async def statuses(ag, ids):
    return [(await ag.get(i)).status for i in ids]


async def wait_status(ag, execution_id, status, timeout=20):
    with anyio.fail_after(timeout):
        while (await ag.get(execution_id)).status is not status:
            await anyio.sleep(0.02)


async def test_global_limit_queues_first_in_first_out(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    config = Config(settings=AgentedSettings(max_concurrent_runs=1))
    async with open_agented([gate_bot("g", gate)], config=config) as ag:
        ids = [(await ag.run("g", params={"pr": str(n)})).id for n in range(4)]
        await wait_status(ag, ids[0], Status.RUNNING)
        assert await statuses(ag, ids[1:]) == [Status.QUEUED] * 3
        gate.touch()
        done = [await ag.wait(i, timeout=30) for i in ids]
    assert [d.status for d in done] == [Status.SUCCEEDED] * 4
    starts = [d.started_at for d in done]
    assert starts == sorted(starts)


async def test_per_bot_limit(open_agented: OpenAgented, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    bots = [gate_bot("limited", gate, concurrency=Concurrency(limit=2)), gate_bot("free", gate)]
    async with open_agented(bots) as ag:
        limited = [(await ag.run("limited")).id for _ in range(3)]
        free = [(await ag.run("free")).id for _ in range(2)]
        await wait_status(ag, limited[1], Status.RUNNING)
        for i in free:
            await wait_status(ag, i, Status.RUNNING)
        assert (await ag.get(limited[2])).status is Status.QUEUED
        gate.touch()
        for i in limited + free:
            assert (await ag.wait(i, timeout=30)).status is Status.SUCCEEDED


async def test_group_queue_serializes_only_equal_keys(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    bot = gate_bot("review", gate, concurrency=Concurrency(group="pr-{params.pr}"))
    async with open_agented([bot]) as ag:
        a1 = (await ag.run("review", params={"pr": "1"})).id
        a2 = (await ag.run("review", params={"pr": "1"})).id
        b1 = (await ag.run("review", params={"pr": "2"})).id
        await wait_status(ag, a1, Status.RUNNING)
        await wait_status(ag, b1, Status.RUNNING)
        assert (await ag.get(a2)).status is Status.QUEUED
        gate.touch()
        for i in (a1, a2, b1):
            assert (await ag.wait(i, timeout=30)).status is Status.SUCCEEDED


async def test_cancel_in_progress_supersedes_the_older_run(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    bot = gate_bot(
        "review",
        gate,
        concurrency=Concurrency(
            group="pr-{params.pr}", policy=ConcurrencyPolicy.CANCEL_IN_PROGRESS
        ),
    )
    async with open_agented([bot]) as ag:
        old = (await ag.run("review", params={"pr": "7"})).id
        await wait_status(ag, old, Status.RUNNING)
        queued_old = (await ag.run("review", params={"pr": "7"})).id
        new = (await ag.run("review", params={"pr": "7"})).id
        first = await ag.wait(old, timeout=30)
        second = await ag.wait(queued_old, timeout=30)
        await wait_status(ag, new, Status.RUNNING)
        gate.touch()
        last = await ag.wait(new, timeout=30)
    assert first.status is Status.CANCELLED and first.error == "superseded by a newer run"
    assert second.status is Status.CANCELLED
    assert "superseded" in (second.error or "")
    assert last.status is Status.SUCCEEDED


async def test_skip_policy(open_agented: OpenAgented, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    bot = gate_bot(
        "nightly", gate, concurrency=Concurrency(group="all", policy=ConcurrencyPolicy.SKIP)
    )
    async with open_agented([bot]) as ag:
        first = (await ag.run("nightly")).id
        second = (await ag.run("nightly")).id
        skipped = await ag.wait(second, timeout=30)
        gate.touch()
        done = await ag.wait(first, timeout=30)
        events = [e async for e in ag.events(second)]
    assert skipped.status is Status.SKIPPED
    assert "concurrency group 'all' is full" in (skipped.error or "")
    assert [e.text for e in events] == ["queued", "skipped"]
    assert done.status is Status.SUCCEEDED


async def test_cancel_while_queued(open_agented: OpenAgented, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    config = Config(settings=AgentedSettings(max_concurrent_runs=1))
    async with open_agented([gate_bot("g", gate)], config=config) as ag:
        running = (await ag.run("g")).id
        waiting = (await ag.run("g")).id
        await wait_status(ag, running, Status.RUNNING)
        await ag.cancel(waiting)
        cancelled = await ag.wait(waiting, timeout=10)
        gate.touch()
        await ag.wait(running, timeout=30)
    assert cancelled.status is Status.CANCELLED
    assert cancelled.started_at is None


async def test_paused_time_does_not_count_toward_the_timeout(open_agented: OpenAgented) -> None:
    # margin for a slow start on a loaded machine: 0.6 s of work, 3 s allowed, 3.3 s paused
    bot = shell_bot("p", "sleep", "0.6", timeout=3.0)
    async with open_agented([bot]) as ag:
        execution = await ag.run("p")
        async for event in ag.events(execution.id):
            if event.text == "started":
                break
        await ag.pause(execution.id)
        await anyio.sleep(3.3)  # paused past the whole timeout
        await ag.resume(execution.id)
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.SUCCEEDED


async def test_paused_too_long_is_cancelled(open_agented: OpenAgented) -> None:
    config = Config(settings=AgentedSettings(max_pause=0.3))
    async with open_agented([shell_bot("p", "sleep", "30")], config=config) as ag:
        execution = await ag.run("p")
        async for event in ag.events(execution.id):
            if event.text == "started":
                break
        await ag.pause(execution.id)
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.CANCELLED
    assert "paused for longer" in (done.error or "")


async def test_cancel_right_after_run_is_not_lost(open_agented: OpenAgented) -> None:
    async with open_agented([shell_bot("s", "sleep", "30")]) as ag:
        execution = await ag.run("s")
        await ag.cancel(execution.id)  # before the run's task has even started
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.CANCELLED
    assert done.started_at is None


async def test_a_cancel_during_the_skipped_write_leaves_it_skipped(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    """A cancel that comes while the run's final status is being saved (here, from another
    process through the store, before any process of the run started) does not cut that save:
    the store has the status the run ended with, not ``queued`` for good."""
    gate = tmp_path / "gate"
    bot = gate_bot(
        "nightly", gate, concurrency=Concurrency(group="all", policy=ConcurrencyPolicy.SKIP)
    )
    async with open_agented([bot]) as ag:
        save_owned = ag.store.save_owned
        second_id: list[str] = []

        async def cancelled_while_saving(execution) -> bool:
            if execution.id in second_id and execution.status is Status.SKIPPED:
                ag.supervisor.control(execution.id, "cancel")  # as a stored request is applied
                await anyio.lowlevel.checkpoint()  # the save's round trip
            return await save_owned(execution)

        ag.store.save_owned = cancelled_while_saving  # type: ignore[method-assign]
        first = (await ag.run("nightly")).id
        await wait_status(ag, first, Status.RUNNING)
        second = await ag.run("nightly")
        second_id.append(second.id)
        done = ag.supervisor.done(second.id)
        assert done is not None
        with anyio.fail_after(20):
            await done.wait()
        stored = await ag.store.get_execution(second.id)
        gate.touch()
        await ag.wait(first, timeout=30)
    assert stored is not None and stored.status is Status.SKIPPED


async def test_shutdown_during_the_final_write_lets_it_finish(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    """Shutdown cancels the runs it waited for; one that is saving its final status then
    finishes that save (rather than being left ``running`` in the store)."""
    bot = shell_bot("quick", "say", "hello")
    saving = anyio.Event()
    async with open_agented([bot], shutdown_grace=0) as ag:
        save_owned = ag.store.save_owned

        async def save_during_shutdown(execution) -> bool:
            if execution.status is Status.SUCCEEDED and not saving.is_set():
                scope = ag.supervisor.live[execution.id].scope
                saving.set()
                while not scope.cancel_called:  # until shutdown cancels the run
                    await anyio.lowlevel.checkpoint()
                await anyio.lowlevel.checkpoint()  # the save's round trip
            return await save_owned(execution)

        ag.store.save_owned = save_during_shutdown  # type: ignore[method-assign]
        execution = await ag.run("quick")
        with anyio.fail_after(20):
            await saving.wait()
    async with open_agented([bot], recover=False, wake=False) as ag:
        stored = await ag.get(execution.id)
        events = [e async for e in ag.events(execution.id)]
    assert stored.status is Status.SUCCEEDED
    assert [e.text for e in events if e.kind == "status"] == ["queued", "running", "succeeded"]


async def test_a_cancel_while_taking_slots_leaves_no_slot_held(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    """A run waiting here for its slots that is cancelled while it claims one gives that
    slot back, rather than holding it (from every process) until its lease runs out."""
    gate = tmp_path / "gate"
    config = Config(settings=AgentedSettings(max_concurrent_runs=1))
    bot = gate_bot("g", gate, concurrency=Concurrency(limit=2))
    # wake=False: this process takes nothing from the shared queue, its runs wait here
    async with open_agented([bot], config=config, wake=False, concurrency=2) as ag:
        running = (await ag.run("g")).id
        await wait_status(ag, running, Status.RUNNING)
        claim = ag.store.claim
        cut: list[str] = []

        async def cancelled_while_claiming(key: str, owner: str, ttl: float) -> bool:
            got = await claim(key, owner, ttl)
            execution_id = owner.rpartition("|")[2]
            if got and key.startswith("slot:bot:") and execution_id in ag.supervisor:
                if execution_id != running and not cut:
                    cut.append(execution_id)
                    ag.supervisor.control(execution_id, "cancel")
                    await anyio.lowlevel.checkpoint()  # the claim's answer on its way back
            return got

        ag.store.claim = cancelled_while_claiming  # type: ignore[method-assign]
        waiting = (await ag.run("g")).id
        done = ag.supervisor.done(waiting)
        assert done is not None
        with anyio.fail_after(20):
            await done.wait()
        held = await ag.store.list_claims("slot:")
        gate.touch()
        await ag.wait(running, timeout=30)
    assert cut == [waiting]
    assert [o for o, _ in held.values() if o.endswith(waiting)] == [], held


async def test_a_cancel_of_a_shared_queued_run_given_up_by_its_caller_still_ends_it(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    """Cancelling a run of the shared queue takes it from the queue, then ends it; a caller
    that gives up in between (a client gone, a timeout) does not leave it taken by this
    process and ``queued`` for good (no process would start or end it)."""
    gate = tmp_path / "gate"
    config = Config(settings=AgentedSettings(max_concurrent_runs=1))
    async with open_agented([gate_bot("g", gate)], config=config) as ag:
        running = (await ag.run("g")).id
        await wait_status(ag, running, Status.RUNNING)
        queued = (await ag.run("g")).id  # no slot free: in the shared queue
        before = await ag.store.get_execution(queued)
        assert before is not None and before.owner is None
        take = ag.store.take_execution
        with anyio.CancelScope() as caller:

            async def taken_then_given_up(execution_id, owner, at) -> bool:
                got = await take(execution_id, owner, at)
                caller.cancel()  # the caller gives up right after the take
                await anyio.lowlevel.checkpoint()
                return got

            ag.store.take_execution = taken_then_given_up  # type: ignore[method-assign]
            await ag.cancel(queued)
        ag.store.take_execution = take  # type: ignore[method-assign]
        stored = await ag.store.get_execution(queued)
        gate.touch()
        await ag.wait(running, timeout=30)
    assert caller.cancel_called
    assert stored is not None and stored.status is Status.CANCELLED
