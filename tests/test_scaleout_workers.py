"""Several ``agented worker`` processes on one store and one Redis: claims, limits, leases.

Real worker processes, a real SQLite file shared by all of them and by the test (which submits
runs through an agented of its own that runs nothing), a real Redis as the broker.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from agented_core import Agented, Execution, Status
from agented_core.run._owners import Owner
from agented_core.run._process import group_alive
from scaleout_support import (
    most_at_once,
    need_redis,
    processes,
    records,
    redis_url,
    start_worker,
    write_config,
)

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def submitter(config: Path) -> AsyncIterator[Agented]:
    """An agented of the test's own that runs nothing: every run goes to the shared queue."""
    async with Agented.open(config=config, concurrency=0, wake=False, recover=False) as ag:
        yield ag


async def wait_all(ag: Agented, ids: list[str], timeout: float) -> list[Execution]:
    with anyio.fail_after(timeout):
        return [await ag.wait(i) for i in ids]


async def test_two_workers_share_fifty_runs_under_one_global_limit(
    tmp_path: Path, database: str
) -> None:
    need_redis()
    config = write_config(tmp_path, broker=redis_url(), max_runs=4, seconds=0.15, database=database)
    with processes() as procs:
        one = await start_worker(procs, config)
        two = await start_worker(procs, config)
        async with submitter(config) as ag:
            ids = [(await ag.run("job")).id for _ in range(50)]
            done = await wait_all(ag, ids, timeout=60)
    assert {e.status for e in done} == {Status.SUCCEEDED}
    assert all(e.attempt == 1 for e in done)
    ran = records(tmp_path)
    assert sorted(ran) == sorted(f"{i}.1" for i in ids)  # each once, none twice
    spans = [(r["start"], r["end"]) for r in ran.values()]
    assert most_at_once(spans) <= 4
    owners = {Owner.parse(e.owner).pid for e in done if Owner.parse(e.owner)}  # type: ignore[union-attr]
    assert owners == {one.pid, two.pid}  # both took some


async def test_a_killed_worker_s_run_is_retried_on_the_other(tmp_path: Path, database: str) -> None:
    need_redis()
    config = write_config(
        tmp_path,
        database=database,
        broker=redis_url(),
        lease="1.5s",
        seconds=3.0,
        bot="retry_interrupted = true\nmax_attempts = 2",
    )
    with processes() as procs:
        first = await start_worker(procs, config)
        async with submitter(config) as ag:
            execution = await ag.run("job")
            with anyio.fail_after(20):
                while not (tmp_path / "records" / f"{execution.id}.1").exists():
                    await anyio.sleep(0.02)
            second = await start_worker(procs, config)
            owner = Owner.parse((await ag.get(execution.id)).owner)
            assert owner is not None and owner.pid == first.pid
            first.kill()
            killed_at = anyio.current_time()
            with anyio.fail_after(20):
                while (await ag.get(execution.id)).attempt < 2:
                    await anyio.sleep(0.05)
            taken_over_after = anyio.current_time() - killed_at
            done = await wait_all(ag, [execution.id], timeout=20)
    assert taken_over_after < 1.5 + 1.0  # within the lease (and a beat)
    final = done[0]
    assert final.status is Status.SUCCEEDED and final.attempt == 2
    assert Owner.parse(final.owner).pid == second.pid  # type: ignore[union-attr]
    assert [a.decision for a in final.attempts] == ["queued again", "done"]
    ran = records(tmp_path)
    cut = ran[f"{execution.id}.1"]
    assert "end" not in cut  # the first child was ended, not left to finish
    assert not group_alive(int(cut["pid"]))
    assert "end" in ran[f"{execution.id}.2"]


async def test_without_retry_interrupted_a_killed_worker_s_run_ends_interrupted(
    tmp_path: Path,
) -> None:
    need_redis()
    config = write_config(tmp_path, broker=redis_url(), lease="1.5s", seconds=3.0)
    with processes() as procs:
        first = await start_worker(procs, config)
        await start_worker(procs, config)
        async with submitter(config) as ag:
            execution = await ag.run("job")
            with anyio.fail_after(20):
                while not (tmp_path / "records" / f"{execution.id}.1").exists():
                    await anyio.sleep(0.02)
            holder = Owner.parse((await ag.get(execution.id)).owner)
            assert holder is not None
            victim = first if holder.pid == first.pid else procs[1]
            os.kill(victim.pid, signal.SIGKILL)
            victim.popen.wait()
            done = await wait_all(ag, [execution.id], timeout=10)
    assert done[0].status is Status.INTERRUPTED and done[0].attempt == 1
    pid = int(records(tmp_path)[f"{execution.id}.1"]["pid"])
    assert not group_alive(pid)


async def test_a_run_longer_than_many_leases_is_never_taken_over_while_its_owner_lives(
    tmp_path: Path,
) -> None:
    need_redis()
    config = write_config(
        tmp_path,
        broker=redis_url(),
        lease="0.8s",
        heartbeat="0.2s",
        seconds=4.0,
        bot="retry_interrupted = true",
    )
    with processes() as procs:
        await start_worker(procs, config)
        await start_worker(procs, config)
        async with submitter(config) as ag:
            execution = await ag.run("job")
            done = await wait_all(ag, [execution.id], timeout=30)
    assert done[0].status is Status.SUCCEEDED and done[0].attempt == 1
    assert sorted(records(tmp_path)) == [f"{execution.id}.1"]


async def test_sigterm_lets_runs_finish_then_queues_the_rest_for_another_worker(
    tmp_path: Path,
) -> None:
    need_redis()
    # shutdown_grace is 1 s: the 4 s run outlives it; retry_interrupted sends it elsewhere
    config = write_config(tmp_path, broker=redis_url(), seconds=4.0, bot="retry_interrupted = true")
    with processes() as procs:
        first = await start_worker(procs, config, "--log-format", "json")
        async with submitter(config) as ag:
            execution = await ag.run("job")
            with anyio.fail_after(20):
                while not (tmp_path / "records" / f"{execution.id}.1").exists():
                    await anyio.sleep(0.02)
            assert await anyio.to_thread.run_sync(first.terminate) == 0
            logged = [json.loads(line) for line in first.stderr_text().splitlines() if line]
            assert any("signal" in str(record.get("message")) for record in logged)
            stopped = await ag.get(execution.id)
            assert stopped.status is Status.QUEUED and stopped.owner is None
            await start_worker(procs, config)
            done = await wait_all(ag, [execution.id], timeout=30)
    assert done[0].status is Status.SUCCEEDED and done[0].attempt == 2
