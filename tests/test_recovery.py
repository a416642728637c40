"""Processes sharing a store: a host killed mid-run, and a CLI next to another process.

No run outlives its supervisor: a host killed with SIGKILL leaves runs that any other process
on the store ends at once (on this host its death is provable), processes first, whether it
recovers them on opening, notices them later, or is asked to cancel one.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import anyio
import pytest

from agented_core import Agented, Status
from agented_core.run._owners import Owner
from agented_core.run._process import RUN_TAG, group_alive, process_start_time
from agented_core.store.sqlite import SQLiteStore
from conftest import FAKE_CLI, alive

pytestmark = pytest.mark.anyio

AGENTED = str(Path(sys.executable).parent / "agented")


# a shell that starts a job in a session of its own and keeps writing: once its host is
# killed, the next write kills the shell (SIGPIPE), the group dies, the job lives on
ESCAPER = """
setsid sleep 300 < /dev/null > /dev/null 2>&1 &
echo $! > "$1.tmp" && mv "$1.tmp" "$1"
echo $$ > "$2.tmp" && mv "$2.tmp" "$2"
echo ready
while :; do echo tick; sleep 0.1; done
"""


def config(tmp_path: Path) -> Path:
    (tmp_path / "escaper.sh").write_text(ESCAPER)
    path = tmp_path / "agented.toml"
    path.write_text(
        f"""
[agented]
database = "sqlite:///agented.db"
kill_grace = "1s"

[bots.long]
command = ["{FAKE_CLI}", "pid-file", "{tmp_path / "pid"}"]
on = [{{ manual = true }}]

[bots.escaper]
command = ["sh", "{tmp_path / "escaper.sh"}", "{tmp_path / "escaped"}", "{tmp_path / "shell"}"]
on = [{{ manual = true }}]
"""
    )
    return path


def start_host(cfg: Path, bot: str) -> subprocess.Popen[bytes]:
    """A real ``agented run`` of ``bot``, to be killed with SIGKILL."""
    return subprocess.Popen(
        [AGENTED, "run", bot, "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def read_pid(path: Path) -> int:
    async def written() -> bool:
        return path.exists()

    await wait_until(written)
    return int(path.read_text())


async def gone(*pids: int) -> bool:
    return not any(alive(pid) for pid in pids)


def kill_all(*pids: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


async def stored_events(db: Path) -> list:
    store = SQLiteStore(str(db))
    await store.open()
    try:
        items, _ = await store.list_executions()
        if not items:
            return []
        return await store.read_events(items[0].id)
    finally:
        await store.close()


async def wait_until(check, timeout: float = 20.0):
    with anyio.fail_after(timeout):
        while True:
            value = await check()
            if value:
                return value
            await anyio.sleep(0.05)


async def test_host_killed_mid_run_then_restarted(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    host = subprocess.Popen(
        [AGENTED, "run", "long", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        async def ready() -> list:
            events = await stored_events(tmp_path / "agented.db")
            return events if any(e.text == "ready" for e in events) else []

        before = await wait_until(ready)
        child = int((tmp_path / "pid").read_text())
        assert alive(child)
        host.kill()  # SIGKILL: no cleanup at all
        host.wait()
        assert alive(child)  # the CLI outlived its host ...
        # at once, long before the dead host's heartbeat is stale: its death is provable
        async with Agented.open(config=cfg, entry_points=False) as ag:
            items, _ = await ag.list()
            execution = items[0]
            events = [e async for e in ag.events(execution.id)]
        assert execution.status is Status.INTERRUPTED
        assert "stopped while it was running" in (execution.error or "")
        assert [(a.number, a.decision) for a in execution.attempts] == [(1, "interrupted")]
        assert not alive(child) and not group_alive(child)  # ... until the restart ended it
        assert [(e.seq, e.text) for e in events[: len(before)]] == [(e.seq, e.text) for e in before]
        assert events[-1].data["status"] == "interrupted"
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
    finally:
        if host.poll() is None:
            host.kill()
        if (tmp_path / "pid").exists():
            try:
                os.killpg(int((tmp_path / "pid").read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


async def forge_orphan(cfg: Path, tmp_path: Path, **fields: object) -> str:
    """A run, ended, then stored again as ``running`` under a provably dead owner."""
    async with Agented.open(config=cfg, entry_points=False) as ag:
        execution = await ag.run("long")
        await wait_until(lambda: _has_pid(tmp_path))
        await ag.cancel(execution.id)
        await ag.wait(execution.id, timeout=20)
    store = SQLiteStore(str(tmp_path / "agented.db"))
    await store.open()
    try:
        record = await store.get_execution(execution.id)
        assert record is not None
        here = Owner.this_process()
        # this very pid, but with another start time: the owner is provably gone
        record.owner = str(Owner(here.host, here.pid, here.start + 1, here.boot, here.pidns))
        record.status = Status.RUNNING
        for name, value in fields.items():
            setattr(record, name, value)
        await store.save_execution(record)
    finally:
        await store.close()
    return execution.id


async def test_recycled_pid_is_never_killed(tmp_path: Path) -> None:
    """A record whose pgid now belongs to an unrelated process leaves that process alone."""
    cfg = config(tmp_path)
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        execution_id = await forge_orphan(
            cfg, tmp_path, pgid=bystander.pid, process_start=1, run_tag=uuid.uuid4().hex
        )
        async with Agented.open(config=cfg, entry_points=False) as ag:
            recovered = await ag.get(execution_id)
        assert recovered.status is Status.INTERRUPTED
        assert bystander.poll() is None and alive(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


async def test_a_tagged_process_older_than_the_run_is_never_killed(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    tag = uuid.uuid4().hex
    older = subprocess.Popen(
        ["sleep", "60"], start_new_session=True, env={**os.environ, RUN_TAG: tag}
    )
    try:
        start = process_start_time(older.pid)
        assert start is not None
        execution_id = await forge_orphan(
            cfg, tmp_path, pgid=None, process_start=start + 100, run_tag=tag
        )
        async with Agented.open(config=cfg, entry_points=False) as ag:
            recovered = await ag.get(execution_id)
        assert recovered.status is Status.INTERRUPTED
        assert older.poll() is None and alive(older.pid)
    finally:
        older.kill()
        older.wait()


async def forge_claimed(cfg: Path, tmp_path: Path, tag: str, since: int | None) -> str:
    """A run its dead owner had claimed and tagged, still ``queued``: ``running`` never
    reached the store."""
    return await forge_orphan(
        cfg,
        tmp_path,
        status=Status.QUEUED,
        attempt=1,
        attempts=[],
        finished_at=None,
        pgid=None,
        process_start=since,
        run_tag=tag,
    )


async def test_a_queued_run_whose_tagged_process_started_is_interrupted_not_queued_again(
    tmp_path: Path,
) -> None:
    """The owner died after the start but before ``running`` reached the store.

    The record still says ``queued`` (tag stored, no group yet); a live process with its tag
    proves the attempt began, so it is cut (and ended), not quietly run a second time.
    """
    cfg = config(tmp_path)
    tag = uuid.uuid4().hex
    since = process_start_time(os.getpid())
    started = subprocess.Popen(
        ["sleep", "60"], start_new_session=True, env={**os.environ, RUN_TAG: tag}
    )
    try:
        execution_id = await forge_claimed(cfg, tmp_path, tag, since)
        async with Agented.open(config=cfg, entry_points=False) as ag:
            recovered = await ag.get(execution_id)
        assert recovered.status is Status.INTERRUPTED
        assert [a.decision for a in recovered.attempts] == ["interrupted"]
        assert started.wait(timeout=20) is not None  # ended by its tag
    finally:
        if started.poll() is None:
            started.kill()
            started.wait()


async def test_a_queued_run_with_nothing_started_is_queued_again(tmp_path: Path) -> None:
    """Without a process of its tag, a claimed run of a dead owner goes back to the queue."""
    cfg = config(tmp_path)
    execution_id = await forge_claimed(
        cfg, tmp_path, uuid.uuid4().hex, process_start_time(os.getpid())
    )
    async with Agented.open(config=cfg, entry_points=False, wake=False) as ag:
        recovered = await ag.get(execution_id)
    assert recovered.status is Status.QUEUED
    assert recovered.owner is None and recovered.attempts == []


async def test_an_escaped_job_is_ended_after_its_group_died(tmp_path: Path) -> None:
    """The shell died of SIGPIPE after its host's SIGKILL; its setsid'd job is found by tag."""
    cfg = config(tmp_path)
    host = start_host(cfg, "escaper")
    escaped = shell = 0
    try:
        escaped = await read_pid(tmp_path / "escaped")
        shell = await read_pid(tmp_path / "shell")
        assert os.getsid(escaped) != os.getsid(shell)
        host.kill()
        host.wait()

        async def group_gone() -> bool:
            return not group_alive(shell)

        await wait_until(group_gone)  # nothing of the group is left ...
        assert alive(escaped)  # ... but what it started in a session of its own
        async with Agented.open(config=cfg, entry_points=False) as ag:
            items, _ = await ag.list()
        assert items[0].status is Status.INTERRUPTED
        assert not alive(escaped)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
        kill_all(escaped, shell)


async def test_a_process_sharing_the_store_recovers_a_host_that_dies_later(
    tmp_path: Path,
) -> None:
    """Recovery does not run only on opening: a later SIGKILL is noticed within seconds."""
    cfg = config(tmp_path)
    async with Agented.open(config=cfg, entry_points=False, sweep_interval=0.2) as ag:
        host = start_host(cfg, "escaper")
        escaped = shell = 0
        try:
            escaped = await read_pid(tmp_path / "escaped")
            shell = await read_pid(tmp_path / "shell")
            items, _ = await ag.list()

            async def running() -> bool:
                return (await ag.get(items[0].id)).status is Status.RUNNING

            await wait_until(running)
            await anyio.sleep(0.5)  # a few sweeps of a live owner's run ...
            assert await running()  # ... leave it alone
            host.kill()
            host.wait()

            async def interrupted() -> bool:
                return (await ag.get(items[0].id)).status is Status.INTERRUPTED

            with anyio.fail_after(5):  # not stale_after (15 s): the death is provable
                await wait_until(interrupted)
            assert await gone(escaped, shell) and not group_alive(shell)
        finally:
            if host.poll() is None:
                host.kill()
                host.wait()
            kill_all(escaped, shell)


async def test_cancel_of_an_orphan_ends_its_processes(tmp_path: Path) -> None:
    """``agented cancel`` of a run whose host was killed ends its processes, then cancels it."""
    cfg = config(tmp_path)
    host = start_host(cfg, "escaper")
    escaped = shell = 0
    try:
        escaped = await read_pid(tmp_path / "escaped")
        shell = await read_pid(tmp_path / "shell")
        host.kill()
        host.wait()
        execution_id = (await stored_executions(tmp_path / "agented.db"))[0].id
        cancelled = subprocess.run(
            [AGENTED, "cancel", execution_id, "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cancelled.returncode == 0, cancelled.stderr
        assert "status cancelled" in cancelled.stdout
        assert await gone(escaped, shell) and not group_alive(shell)
        record = (await stored_executions(tmp_path / "agented.db"))[0]
        assert record.status is Status.CANCELLED
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
        kill_all(escaped, shell)


async def stored_executions(db: Path) -> list:
    store = SQLiteStore(str(db))
    await store.open()
    try:
        items, _ = await store.list_executions()
        return items
    finally:
        await store.close()


async def test_a_live_owner_elsewhere_is_waited_for(tmp_path: Path) -> None:
    """Another host's owner is not provably gone: only its stale heartbeat makes it an orphan."""
    here = Owner.this_process()
    far = Owner(f"not-{socket.gethostname()}", here.pid, 1, here.boot, here.pidns)
    assert not far.gone()
    cfg = config(tmp_path)
    execution_id = await forge_orphan(cfg, tmp_path, owner=str(far), pgid=None)
    store = SQLiteStore(str(tmp_path / "agented.db"))
    await store.open()
    try:
        record = await store.get_execution(execution_id)
        assert record is not None
        await store.heartbeat([execution_id], str(far), record.finished_at or record.created_at)
    finally:
        await store.close()
    async with Agented.open(config=cfg, entry_points=False, stale_after=3600.0) as ag:
        assert (await ag.get(execution_id)).status is Status.RUNNING
    async with Agented.open(config=cfg, entry_points=False, stale_after=0.0) as ag:
        assert (await ag.get(execution_id)).status is Status.INTERRUPTED


async def _has_pid(tmp_path: Path) -> bool:
    return (tmp_path / "pid").exists()


async def test_second_process_follows_and_cancels_without_touching(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    host = subprocess.Popen(
        [AGENTED, "run", "long", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        await wait_until(lambda: _has_pid(tmp_path))
        async with Agented.open(config=cfg, entry_points=False) as ag:
            items, _ = await ag.list()
            execution = items[0]
            assert execution.status is Status.RUNNING  # recovery left the live run alone
            seen: list[str] = []

            async def follow() -> None:
                async for event in ag.events(execution.id):
                    seen.append(event.text or "")

            async with anyio.create_task_group() as tg:
                tg.start_soon(follow)
                await wait_until(lambda: _contains(seen, "ready"))
                await ag.cancel(execution.id)
            final = await ag.wait(execution.id, timeout=20)
        assert final.status is Status.CANCELLED
        assert seen[-1] == "cancelled"
        assert host.wait(timeout=20) == 4  # agented run's exit code for cancelled
        child = int((tmp_path / "pid").read_text())
        assert not alive(child)
    finally:
        if host.poll() is None:
            host.kill()


async def _contains(items: list[str], value: str) -> bool:
    return value in items


async def test_recovery_deletes_expired_claims_and_keeps_live_ones(tmp_path: Path) -> None:
    """A dedup claim per delivery and the leases of dead processes would pile up forever."""
    cfg = config(tmp_path)
    db = tmp_path / "agented.db"
    store = SQLiteStore(str(db))
    await store.open()
    try:
        for n in range(3):
            assert await store.claim(f"delivery:github:{n}", "gone", ttl=0.001)
        assert await store.claim("lease:kept", "alive", ttl=600)
    finally:
        await store.close()

    def keys() -> set[str]:
        with sqlite3.connect(db) as conn:
            return {key for (key,) in conn.execute("SELECT key FROM claims")}

    assert {"delivery:github:0", "lease:kept"} <= keys()  # expired rows stay until swept
    async with Agented.open(config=cfg, entry_points=False, wake=False) as ag:
        assert await ag.ownership.sweep_claims() is None  # recovery at open just swept
    left = keys()
    assert "lease:kept" in left and not any(k.startswith("delivery:") for k in left)
