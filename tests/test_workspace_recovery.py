"""A host killed with SIGKILL mid-run leaves a worktree; the next process's recovery removes it.

The run's execution is interrupted (as in ``test_recovery.py``), then its worktree is deleted
and the mirror prunes its record of it, so a crash leaks no disk. The mirror itself stays, and
the next run takes it without cloning again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from agented_core import Agented, Status
from conftest import FAKE_CLI, alive
from git_support import Remote, git

pytestmark = pytest.mark.anyio

AGENTED = str(Path(sys.executable).parent / "agented")


def config(tmp_path: Path, remote: Remote) -> Path:
    path = tmp_path / "agented.toml"
    path.write_text(
        f"""
[agented]
database = "sqlite:///agented.db"
kill_grace = "1s"

[github]
workspaces_dir = "ws"

[bots.long]
command = ["{FAKE_CLI}", "pid-file", "{tmp_path / "pid"}"]
checkout = {{ repo = "{remote.url}", ref = "main" }}
on = [{{ manual = true }}]

[bots.quick]
command = ["true"]
checkout = {{ repo = "{remote.url}", ref = "main" }}
on = [{{ manual = true }}]
"""
    )
    return path


async def wait_until(check, timeout: float = 30.0):
    with anyio.fail_after(timeout):
        while not (value := check()):
            await anyio.sleep(0.05)
        return value


async def test_the_worktree_of_a_killed_host_goes_with_the_next_recovery(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    remote.push(remote.commit(), "refs/heads/main")
    cfg = config(tmp_path, remote)
    runs = tmp_path / "ws" / "runs"
    host = subprocess.Popen(
        [AGENTED, "run", "long", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    child = 0
    try:
        await wait_until(lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text())
        child = int((tmp_path / "pid").read_text())
        [worktree] = list(runs.iterdir())
        mirror = next((tmp_path / "ws" / "mirrors").glob("*.git"))
        assert git("rev-parse", "HEAD", cwd=worktree) == git("rev-parse", "main", cwd=mirror)
        host.kill()  # SIGKILL: no cleanup at all
        host.wait()
        assert worktree.is_dir()
        async with Agented.open(config=cfg, entry_points=False) as ag:
            items, _ = await ag.list()
            assert items[0].status is Status.INTERRUPTED
            assert not worktree.exists()  # removed by the recovery on opening
            listed = git("worktree", "list", "--porcelain", cwd=mirror)
            assert listed.count("worktree ") == 1  # the mirror itself: the run's was pruned
            # the next run uses the mirror as it is: no new clone
            quick = await ag.wait((await ag.run("quick")).id, timeout=20)
            fetched = [
                e.data["fetched"] async for e in ag.events(quick.id) if e.kind == "workspace"
            ]
        assert quick.status is Status.SUCCEEDED
        assert fetched == [True]  # a branch is fetched again (it may have moved), into ...
        # ... the same mirror
        assert [m.name for m in (tmp_path / "ws" / "mirrors").glob("*.git")] == [mirror.name]
        assert not alive(child)
    finally:
        if host.poll() is None:
            host.kill()
        if child:
            try:
                os.killpg(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
