"""Graceful shutdown of a host on SIGTERM: no new runs, a grace period, then interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from agented_core import Agented, Status
from agented_core.run._process import group_alive
from conftest import FAKE_CLI

pytestmark = pytest.mark.anyio

HOST = str(Path(__file__).parent / "fixtures" / "host.py")


def write_config(tmp_path: Path, command: str) -> Path:
    path = tmp_path / "agented.toml"
    path.write_text(
        f"""
[agented]
database = "sqlite:///agented.db"
shutdown_grace = "0.5s"
kill_grace = "0.5s"

[bots.job]
command = [{command}]
on = [{{ manual = true }}]
"""
    )
    return path


def kill_group_of(pid_file: Path) -> None:
    """SIGKILL the process group whose leader's pid is in ``pid_file``, if it is still there."""
    try:
        os.killpg(int(pid_file.read_text()), signal.SIGKILL)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        pass


async def run_host_until_ready(config: Path, ready: Path) -> tuple[subprocess.Popen[str], str]:
    host = subprocess.Popen(
        [sys.executable, HOST, str(config), "job"], stdout=subprocess.PIPE, text=True
    )
    assert host.stdout is not None
    execution_id = host.stdout.readline().strip()
    with anyio.fail_after(20):
        while not ready.exists():
            await anyio.sleep(0.02)
    return host, execution_id


async def test_sigterm_interrupts_a_run_that_outlives_the_grace(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    config = write_config(tmp_path, f'"{FAKE_CLI}", "pid-file", "{pid_file}"')
    host, execution_id = await run_host_until_ready(config, pid_file)
    try:
        host.send_signal(signal.SIGTERM)
        out, _ = host.communicate(timeout=30)
        assert host.returncode == 0
        assert out.split() == ["shutting", "down", "closed"]
        child = int(pid_file.read_text())
        assert not group_alive(child)
        async with Agented.open(config=config, entry_points=False) as ag:
            done = await ag.get(execution_id)
            events = [e async for e in ag.events(execution_id)]
        assert done.status is Status.INTERRUPTED
        assert done.error == "the host shut down"
        assert events[-1].data["status"] == "interrupted"
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
        kill_group_of(pid_file)  # a failed test leaves no orphan behind


async def test_sigterm_lets_a_run_finish_within_the_grace(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    script = "import pathlib, sys, time; pathlib.Path(sys.argv[1]).touch(); time.sleep(0.2); print('finished')"
    config = write_config(tmp_path, f'"python3", "-c", "{script}", "{marker}"')
    host, execution_id = await run_host_until_ready(config, marker)
    host.send_signal(signal.SIGTERM)
    host.communicate(timeout=30)
    async with Agented.open(config=config, entry_points=False) as ag:
        done = await ag.get(execution_id)
    assert done.status is Status.SUCCEEDED
