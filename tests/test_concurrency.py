"""Limits and concurrency groups: queue (FIFO), cancel-in-progress, skip."""

from __future__ import annotations

from pathlib import Path

import anyio
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
