"""Processes sharing a store: a host killed mid-run, and a CLI next to another process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from agented_core import Agented, Status
from agented_core.process import group_alive
from agented_core.store.sqlite import SQLiteStore
from conftest import FAKE_CLI, alive

pytestmark = pytest.mark.anyio

AGENTED = str(Path(sys.executable).parent / "agented")


def config(tmp_path: Path) -> Path:
    path = tmp_path / "agented.toml"
    path.write_text(
        f"""
[agented]
database = "sqlite:///agented.db"

[bots.long]
command = ["{FAKE_CLI}", "pid-file", "{tmp_path / "pid"}"]
on = [{{ manual = true }}]
"""
    )
    return path


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
        async with Agented.open(config=cfg, entry_points=False, stale_after=0.0) as ag:
            items, _ = await ag.list()
            execution = items[0]
            events = [e async for e in ag.events(execution.id)]
        assert execution.status is Status.INTERRUPTED
        assert "stopped while it was running" in (execution.error or "")
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


async def test_recycled_pid_is_never_killed(tmp_path: Path) -> None:
    """A stale record whose pgid now belongs to an unrelated process leaves that process alone."""
    cfg = config(tmp_path)
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        async with Agented.open(config=cfg, entry_points=False) as ag:
            execution = await ag.run("long")
            await wait_until(lambda: _has_pid(tmp_path))
            await ag.cancel(execution.id)
            await ag.wait(execution.id, timeout=20)
        store = SQLiteStore(str(tmp_path / "agented.db"))
        await store.open()
        record = await store.get_execution(execution.id)
        assert record is not None
        # forge a dead owner whose "process group" is the bystander's, started at another time
        record.status = Status.RUNNING
        record.owner = "elsewhere:1:1:" + record.owner.rsplit(":", 1)[1]
        record.pgid = bystander.pid
        record.process_start = 1
        record.heartbeat_at = None
        record.created_at = record.created_at.replace(year=2000)
        await store.save_execution(record)
        await store.close()
        async with Agented.open(config=cfg, entry_points=False) as ag:
            recovered = await ag.get(execution.id)
        assert recovered.status is Status.INTERRUPTED
        assert bystander.poll() is None and alive(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


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
