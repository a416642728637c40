"""Processes a run started that left its process group (``setsid``) end with the run.

Claude Code's Bash tool starts every command in a session of its own, so signalling the CLI's
process group does not reach them; :func:`agented_core.run._process.kill_group` finds them through
their parents and ends them too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import anyio
import pytest

from agented_core import Bot, ManualTrigger, Status
from agented_core.run._process import (
    RUN_TAG,
    end_run,
    environ_value,
    escaped_descendants,
    group_alive,
    kill_group,
    process_start_time,
    tagged,
)
from conftest import OpenAgented, alive

pytestmark = pytest.mark.anyio

ESCAPER = textwrap.dedent(
    """
    import subprocess, sys, time
    # a child in a session of its own, itself with a child (both must end)
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys, time; "
         "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
         "print(g.pid, flush=True); time.sleep(300)"],
        start_new_session=True, stdout=subprocess.PIPE, text=True)
    grandchild = child.stdout.readline().strip()
    print(f"escaped {child.pid} {grandchild}", flush=True)
    time.sleep(300)
    """
)


ORPHANER = textwrap.dedent(
    """
    import subprocess, sys, time
    # a shell in a session of its own starts a job in the background and exits at once: the
    # job is orphaned (its parent is gone), as with Claude Code's Bash tool and `cmd &`
    out = subprocess.run(
        ["sh", "-c", "sleep 300 > /dev/null 2>&1 & echo $!"],
        start_new_session=True, capture_output=True, text=True,
    )
    print(f"orphan {out.stdout.strip()}", flush=True)
    time.sleep(300)
    """
)


async def wait_for(predicate, timeout: float = 10.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


async def test_kill_group_ends_descendants_that_left_the_group(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with out.open("w") as sink:
        leader = subprocess.Popen(
            [sys.executable, "-c", ESCAPER], stdout=sink, start_new_session=True
        )
    pids: list[int] = []
    try:
        await wait_for(lambda: out.read_text().startswith("escaped"))
        pids = [int(p) for p in out.read_text().split()[1:3]]
        assert all(alive(p) for p in pids)
        assert all(os.getpgid(p) != leader.pid for p in pids)
        assert set(pids) <= set(escaped_descendants(leader.pid))
        await kill_group(leader.pid, grace=2.0)
        assert leader.poll() == -signal.SIGTERM  # ended, by the group's SIGTERM, not waited for
        assert not group_alive(leader.pid)
        assert not any(alive(p) for p in pids)
    finally:
        _kill(leader.pid, *pids)
        leader.wait()


async def test_a_bystander_in_its_own_session_is_not_a_descendant() -> None:
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    leader = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert bystander.pid not in escaped_descendants(leader.pid)
        await kill_group(leader.pid, grace=2.0)
        assert leader.poll() == -signal.SIGTERM
        assert bystander.poll() is None and alive(bystander.pid)
    finally:
        for proc in (bystander, leader):
            proc.kill()
            proc.wait()


async def test_timeout_ends_what_the_cli_started_in_another_session(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    script = tmp_path / "escaper.py"
    script.write_text(ESCAPER)
    bot = Bot(
        name="escaper",
        provider="shell",
        command=(sys.executable, str(script)),
        timeout=1.0,
        max_attempts=1,
        triggers=(ManualTrigger(),),
    )
    async with open_agented([bot]) as ag:
        execution = await ag.run("escaper")
        pids: list[int] = []
        async for event in ag.events(execution.id):
            if event.kind == "text" and (event.text or "").startswith("escaped"):
                pids = [int(p) for p in (event.text or "").split()[1:3]]
                break
        done = await ag.wait(execution.id, timeout=20)
    try:
        assert done.status is Status.TIMED_OUT
        assert pids and not any(alive(p) for p in pids)
    finally:
        _kill(*pids)


def _kill(*pids: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


async def test_kill_group_ends_orphans_that_carry_the_run_tag(tmp_path: Path) -> None:
    out = tmp_path / "out"
    tag = f"test-{os.getpid()}-{id(out)}"
    with out.open("w") as sink:
        leader = subprocess.Popen(
            [sys.executable, "-c", ORPHANER],
            stdout=sink,
            start_new_session=True,
            env={**os.environ, RUN_TAG: tag},
        )
    orphan = 0
    try:
        await wait_for(lambda: out.read_text().startswith("orphan"))
        orphan = int(out.read_text().split()[1])
        assert alive(orphan) and orphan not in escaped_descendants(leader.pid)
        assert environ_value(orphan, RUN_TAG) == tag and orphan in tagged(tag)
        await kill_group(leader.pid, grace=2.0)
        assert leader.poll() == -signal.SIGTERM
        assert not alive(orphan)  # kill_group returned: the tagged orphan is gone too
    finally:
        _kill(leader.pid, orphan)
        leader.wait()


def test_a_cli_providers_command_carries_a_fresh_run_tag() -> None:
    from agented_core import Bot, CommandRequest
    from agented_core.providers import CLIProvider

    class Toy(CLIProvider):
        name = "toy"
        executable = "toy"

        def arguments(self, request: CommandRequest) -> list[str]:
            return []

    request = CommandRequest(
        bot=Bot(name="b", prompt="p"), prompt="p", context={}, env={}, cwd=None
    )
    first, second = Toy().build_command(request), Toy().build_command(request)
    assert first.env[RUN_TAG] and first.env[RUN_TAG] != second.env[RUN_TAG]


def tagged_sleep(tag: str, *, session: bool = True) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["sleep", "60"], start_new_session=session, env={**os.environ, RUN_TAG: tag}
    )


def start_of(pid: int) -> int:
    start = process_start_time(pid)
    assert start is not None
    return start


async def test_end_run_finds_by_tag_what_outlived_its_group(tmp_path: Path) -> None:
    """The group is gone (its leader reaped): the orphan is found by the stored tag alone."""
    tag = uuid.uuid4().hex
    out = tmp_path / "out"
    with out.open("w") as sink:
        leader = subprocess.Popen(
            [sys.executable, "-c", ORPHANER],
            stdout=sink,
            start_new_session=True,
            env={**os.environ, RUN_TAG: tag},
        )
    orphan = 0
    try:
        start = start_of(leader.pid)
        await wait_for(lambda: out.read_text().startswith("orphan"))
        orphan = int(out.read_text().split()[1])
        leader.kill()
        leader.wait()
        assert not group_alive(leader.pid) and alive(orphan)
        assert await end_run(leader.pid, start, tag, grace=2.0)
        assert not alive(orphan)
        assert not await end_run(leader.pid, start, tag, grace=2.0)  # nothing left
    finally:
        _kill(leader.pid, orphan)
        leader.wait()


async def test_end_run_ends_a_group_whose_leader_died_by_a_tagged_member() -> None:
    tag = uuid.uuid4().hex
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $!; wait"],
        stdout=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, RUN_TAG: tag},
    )
    assert leader.stdout is not None
    member = int(leader.stdout.readline())
    try:
        start = start_of(leader.pid)
        leader.kill()
        leader.wait()
        assert os.getpgid(member) == leader.pid and alive(member)
        assert await end_run(leader.pid, start, tag, grace=2.0)
        assert not group_alive(leader.pid) and not alive(member)
    finally:
        _kill(member)
        leader.stdout.close()


async def test_end_run_never_touches_a_recycled_pid_or_an_older_process() -> None:
    """A group whose leader has another start time, or a tagged process started before the run,
    is someone else's."""
    tag = uuid.uuid4().hex
    recycled = subprocess.Popen(["sleep", "60"], start_new_session=True)
    older = tagged_sleep(tag)
    try:
        assert not await end_run(recycled.pid, start_of(recycled.pid) + 1, None, grace=1.0)
        assert not await end_run(None, start_of(older.pid) + 1, tag, grace=1.0)
        assert not await end_run(recycled.pid, 1, uuid.uuid4().hex, grace=1.0)
        assert recycled.poll() is None and older.poll() is None
        assert alive(recycled.pid) and alive(older.pid)
        assert await end_run(None, start_of(older.pid), tag, grace=2.0)  # from its start on
        assert older.poll() == -signal.SIGTERM
    finally:
        for proc in (recycled, older):
            proc.kill()
            proc.wait()
