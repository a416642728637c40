"""The store's thread: calls in arrival order, several per trip, cancels, and the quick path."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agented_core.models import Event, Execution, Status, TriggerKind
from agented_core.store import serial
from agented_core.store.serial import SerialThread
from agented_core.store.sqlite import CHECKPOINT_EVERY, SQLiteStore

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Boom(Exception):
    pass


async def _interleaving(seed: int, callers: int) -> None:
    rng = random.Random(seed)
    worker = SerialThread()
    ran: list[int] = []
    outcomes: dict[int, object] = {}
    arrival: list[int] = []

    def work(index: int, fails: bool) -> int:
        ran.append(index)
        if fails:
            raise Boom(index)
        return index * 10

    async def caller(index: int) -> None:
        for _ in range(rng.randint(0, 3)):
            await anyio.lowlevel.checkpoint()
        fails = rng.random() < 0.2
        patience = rng.choice([None, 0, 0.0005, 0.002])
        with anyio.CancelScope() as scope:
            if patience is not None:
                scope.deadline = anyio.current_time() + patience
            arrival.append(index)  # no checkpoint between this and the call joining the queue
            try:
                outcomes[index] = await worker.run(lambda: work(index, fails))
            except Boom as exc:
                outcomes[index] = exc

    async with anyio.create_task_group() as tg:
        for index in range(callers):
            tg.start_soon(caller, index)

    assert worker.idle
    assert len(ran) == len(set(ran))
    assert ran == [i for i in arrival if i in set(ran)], "calls ran out of arrival order"
    for index, outcome in outcomes.items():
        assert index in ran  # a caller that got an answer had its call run
        if isinstance(outcome, Boom):
            assert outcome.args == (index,)
        else:
            assert outcome == index * 10


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), callers=st.integers(1, 40))
def test_calls_run_once_in_arrival_order_with_their_own_outcome(seed: int, callers: int) -> None:
    anyio.run(_interleaving, seed, callers)


async def test_calls_arriving_during_a_trip_share_the_next_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trips: list[int] = []
    run_all = serial._run_all

    def counting(calls: list) -> None:  # type: ignore[type-arg]
        trips.append(len(calls))
        run_all(calls)

    monkeypatch.setattr(serial, "_run_all", counting)
    worker = SerialThread()
    release = threading.Event()
    results: list[int] = []

    async def one(n: int) -> None:
        results.append(await worker.run(lambda: n))

    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run, lambda: release.wait(10))
        await anyio.lowlevel.checkpoint()
        for n in range(30):
            tg.start_soon(one, n)
        with anyio.fail_after(10):
            while len(worker._queue) < 30:
                await anyio.lowlevel.checkpoint()
        release.set()
    assert trips == [1, 30]
    assert results == list(range(30))


async def test_a_call_cancelled_before_its_trip_never_runs() -> None:
    worker = SerialThread()
    release = threading.Event()
    ran: list[str] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run, lambda: release.wait(10))
        await anyio.lowlevel.checkpoint()
        with anyio.CancelScope() as scope:
            scope.cancel()
            await worker.run(lambda: ran.append("cancelled"))
        tg.start_soon(worker.run, lambda: ran.append("after"))
        release.set()
    assert ran == ["after"]
    assert worker.idle


# the quick path of the SQLite store
def _execution(n: int, size: int = 25_000) -> Execution:
    return Execution(
        id=f"E{n:05d}",
        bot="b",
        trigger=TriggerKind.API,
        status=Status.QUEUED,
        created_at=NOW,
        context={"payload": "x" * size},
    )


HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


async def test_a_lock_held_by_another_process_never_blocks_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SQLiteStore(str(path))
    await store.open()
    # a call through the thread first: the loop's settings must be back afterwards
    await store.append_events([Event("E1", 1, NOW, 1, "text", "hi", {})])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        ticks = 0
        claimed: list[bool] = []

        async def claim() -> None:
            claimed.append(await store.claim("k", "me", 60))

        async with anyio.create_task_group() as tg:
            tg.start_soon(claim)
            with anyio.fail_after(5):
                while ticks < 50:  # the loop runs on while the claim waits for the lock
                    await anyio.sleep(0.001)
                    ticks += 1
            assert claimed == []
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
        assert claimed == [True]
        assert holder.wait(10) == 0
    finally:
        holder.kill()
        holder.wait()
        await store.close()


async def test_quick_writes_keep_the_wal_bounded(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SQLiteStore(str(path))
    await store.open()
    for n in range(1000):  # about 25 MB of rows; the WAL would hold all of it unchecked
        await store.save_execution(_execution(n))
    wal = Path(f"{path}-wal").stat().st_size
    await store.close()
    assert wal < 12_000_000, wal


async def test_a_call_due_for_a_checkpoint_keeps_its_outcome(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "a.db"))
    await store.open()
    await store.save_execution(_execution(1, size=10))
    await store.request_control("E00001", "cancel")
    store._quick_calls = CHECKPOINT_EVERY - 1
    with anyio.CancelScope() as scope:
        scope.cancel()
        await store.take_controls(["E00001"])  # cancelled before it ran: nothing taken
    assert await store.take_controls(["E00001"]) == {"E00001": "cancel"}
    await store.request_control("E00001", "pause")
    store._quick_calls = CHECKPOINT_EVERY - 1
    assert await store.take_controls(["E00001"]) == {"E00001": "pause"}  # with the checkpoint
    assert store._quick_calls == 0
    await store.close()


async def test_store_calls_never_wait_behind_the_hosts_threads(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "a.db"))
    await store.open()
    release = threading.Event()
    async with anyio.create_task_group() as tg:
        for _ in range(45):  # more than anyio's shared pool has tokens
            tg.start_soon(anyio.to_thread.run_sync, release.wait, 30)
        await anyio.lowlevel.checkpoint()
        try:
            with anyio.fail_after(5):
                assert await store.read_events("E1") == []  # a call made in the thread
        finally:
            release.set()
    await store.close()


async def test_an_error_of_the_sqlite3_module_itself_passes_through(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "a.db"))
    await store.open()
    store.conn.execute("INSERT INTO state (key, value) VALUES ('k', CAST(x'ff' AS TEXT))")
    with pytest.raises(sqlite3.OperationalError, match="decode"):
        await store.get_state("k")
    await store.close()
