"""Stopping runs: timeout, cancel, idle, budget, a result then a hang, pause and resume.

Every test checks that the whole process group is gone afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from agented_core import Agented, ErrorKind, Status
from agented_core.run._process import group_alive
from conftest import OpenAgented, alive, shell_bot

pytestmark = pytest.mark.anyio


async def wait_for(predicate, timeout: float = 10.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


async def first_event(ag: Agented, execution_id: str, kind: str, text: str | None = None):
    async for event in ag.events(execution_id):
        if event.kind == kind and (text is None or event.text == text):
            return event
    raise AssertionError(f"no {kind} event")


async def test_timeout_kills_the_whole_group(open_agented: OpenAgented, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    bot = shell_bot("slow", "pid-file", str(pid_file), timeout=0.5)
    async with open_agented([bot]) as ag:
        execution = await ag.run("slow")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.TIMED_OUT
    assert done.error == "timed out"
    pid = int(pid_file.read_text())
    assert not alive(pid)
    assert not group_alive(pid)


async def test_grandchild_holding_stdout_is_killed(open_agented: OpenAgented) -> None:
    async with open_agented([shell_bot("gc", "grandchild")]) as ag:
        execution = await ag.run("gc")
        event = await first_event(ag, execution.id, "text")
        grandchild = int(event.text.split()[1])
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.SUCCEEDED
    assert not alive(grandchild)


async def test_a_process_that_left_the_group_is_ended_after_a_normal_exit(
    open_agented: OpenAgented,
) -> None:
    async with open_agented([shell_bot("esc", "escape")]) as ag:
        execution = await ag.run("esc")
        event = await first_event(ag, execution.id, "text")
        escaped = int(event.text.split()[1])
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.SUCCEEDED
    assert not alive(escaped)


async def test_cancel_ends_the_run_and_its_group(open_agented: OpenAgented, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    async with open_agented([shell_bot("loop", "pid-file", str(pid_file))]) as ag:
        execution = await ag.run("loop")
        await first_event(ag, execution.id, "text", "ready")
        pid = int(pid_file.read_text())
        assert alive(pid)
        await ag.cancel(execution.id)
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.CANCELLED
    assert not alive(pid)
    assert not group_alive(pid)


async def test_sigterm_ignored_means_sigkill_after_grace(open_agented: OpenAgented) -> None:
    from agented_core.config import AgentedSettings, Config

    config = Config(settings=AgentedSettings(kill_grace=0.3))
    async with open_agented(
        # 1.5 s: room for the fake CLI to start and print "ready" on a loaded machine
        [shell_bot("stubborn", "ignore-term", timeout=1.5)],
        config=config,
    ) as ag:
        execution = await ag.run("stubborn")
        await first_event(ag, execution.id, "text", "ready")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.TIMED_OUT


async def test_idle_watchdog_ends_a_silent_cli(open_agented: OpenAgented) -> None:
    bot = shell_bot("mute", "silent", "3600", idle_timeout=0.4, timeout=60)
    async with open_agented([bot]) as ag:
        execution = await ag.run("mute")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.FAILED
    assert done.error_kind is ErrorKind.IDLE


async def test_result_then_hang_keeps_the_results_outcome(open_agented: OpenAgented) -> None:
    from agented_core.run._runner import Limits

    bot = shell_bot("hang", "result-hang", options={"format": "events"}, timeout=60)
    async with open_agented([bot]) as ag:
        ag.executor._limits = lambda b: Limits(result_grace=0.3, kill_grace=1)  # type: ignore[method-assign]
        execution = await ag.run("hang")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.SUCCEEDED
    assert done.result == "all done"


async def test_budget_stops_the_run(open_agented: OpenAgented) -> None:
    bot = shell_bot(
        "spender", "usage", "50", "0.1", "100", options={"format": "events"}, max_cost_usd=0.35
    )
    async with open_agented([bot]) as ag:
        execution = await ag.run("spender")
        events = [e async for e in ag.events(execution.id)]
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.BUDGET_EXCEEDED
    usage = [e for e in events if e.kind == "usage"]
    assert 4 <= len(usage) < 50
    assert done.usage.cost_usd is not None and done.usage.cost_usd > 0.35
    assert "budget" in (done.error or "")


async def test_token_budget(open_agented: OpenAgented) -> None:
    bot = shell_bot(
        "tokens", "usage", "50", "0", "1000", options={"format": "events"}, max_tokens=2500
    )
    async with open_agented([bot]) as ag:
        execution = await ag.run("tokens")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.BUDGET_EXCEEDED
    assert done.usage.input_tokens == 3000


async def test_pause_and_resume(open_agented: OpenAgented) -> None:
    bot = shell_bot("py", "sleep", "0.8", timeout=60)
    async with open_agented([bot]) as ag:
        execution = await ag.run("py")
        await first_event(ag, execution.id, "text", "started")
        await ag.pause(execution.id)
        await wait_for(lambda: ag.supervisor.live[execution.id].execution.status is Status.PAUSED)
        pgid = ag.supervisor.live[execution.id].execution.pgid

        def stopped() -> bool:
            with open(f"/proc/{pgid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "T"

        await wait_for(stopped)
        await anyio.sleep(1.0)  # longer than the sleep: a paused child must not finish
        assert ag.supervisor.live[execution.id].execution.status is Status.PAUSED
        await ag.resume(execution.id)
        done = await ag.wait(execution.id, timeout=20)
        events = [e async for e in ag.events(execution.id)]
    assert done.status is Status.SUCCEEDED
    statuses = [e.text for e in events if e.kind == "status"]
    assert statuses == ["queued", "running", "paused", "running", "succeeded"]


async def test_binary_garbage_and_a_huge_line_stay_bounded(open_agented: OpenAgented) -> None:
    async with open_agented([shell_bot("junk", "garbage", "50")]) as ag:
        execution = await ag.run("junk")
        done = await ag.wait(execution.id, timeout=60)
        events = [e async for e in ag.events(execution.id)]
    assert done.status is Status.SUCCEEDED
    texts = [e for e in events if e.kind in ("text", "raw")]
    assert texts[-1].text == "done"
    big = [e for e in texts if len(e.text or "") >= 1024 * 1024]
    assert len(big) >= 50  # the 50 MB line came in 1 MiB parts
    assert all(len(e.text or "") <= 1024 * 1024 for e in texts)
    assert sum(1 for e in texts if e.data.get("continued")) >= 49
    assert any("\ufffd" in (e.text or "") for e in texts[:3])  # bad bytes replaced, not fatal


async def test_child_env_is_allowlisted_and_secrets_are_redacted(
    open_agented: OpenAgented, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agented_core import Account
    from agented_core.config import Config

    monkeypatch.setenv("HOST_DB_PASSWORD", "hunter2-host-secret")
    monkeypatch.setenv("WORK_KEY", "sk-work-0123456789")
    account = Account(name="work", provider="shell", env_from={"AGENT_KEY": "WORK_KEY"})
    config = Config(accounts={"work": account})
    bot = shell_bot("envy", "env", "HOST_DB_PASSWORD", "AGENT_KEY", "PATH", account="work")
    async with open_agented([bot], config=config) as ag:
        execution = await ag.run("envy")
        events = [e async for e in ag.events(execution.id)]
    texts = [e.text for e in events if e.kind == "text"]
    assert "HOST_DB_PASSWORD unset" in texts
    assert "AGENT_KEY=[redacted]" in texts
    assert any(t.startswith("PATH=") for t in texts)
    assert "sk-work-0123456789" not in repr(events)
    assert os.environ["WORK_KEY"] == "sk-work-0123456789"


async def test_each_attempt_records_its_exit_code(open_agented: OpenAgented) -> None:
    bots = [shell_bot("ok", "say", "hi"), shell_bot("bad", "exit", "3", "no", max_attempts=1)]
    async with open_agented(bots) as ag:
        ok = await ag.wait((await ag.run("ok")).id, timeout=20)
        bad = await ag.wait((await ag.run("bad")).id, timeout=20)
        stored = await ag.store.get_execution(ok.id)
    assert ok.status is Status.SUCCEEDED and bad.status is Status.FAILED
    assert [a.exit_code for a in ok.attempts] == [0] == [ok.exit_code]
    assert stored is not None and stored.attempts[0].exit_code == 0
    assert [a.exit_code for a in bad.attempts] == [3]


async def test_the_run_tag_is_stored_before_the_process_runs(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    from agented_core.run._process import RUN_TAG, environ_value

    pid_file = tmp_path / "pid"
    async with open_agented([shell_bot("tagged", "pid-file", str(pid_file))]) as ag:
        execution = await ag.run("tagged")
        # the file exists a moment before the pid is in it
        await wait_for(lambda: pid_file.exists() and pid_file.read_text().strip().isdigit())
        await wait_for(lambda: ag.supervisor.live[execution.id].execution.status is Status.RUNNING)
        stored = await ag.store.get_execution(execution.id)
        assert stored is not None and stored.run_tag
        assert environ_value(int(pid_file.read_text()), RUN_TAG) == stored.run_tag
        assert stored.pgid == int(pid_file.read_text())
        await ag.cancel(execution.id)
        await ag.wait(execution.id, timeout=20)


async def test_a_pause_racing_the_end_of_the_run_changes_nothing_after_it(
    open_agented: OpenAgented,
) -> None:
    """A pause whose status write is still checking the lease when the run ends (here: a
    cancel right after it) writes nothing once the run has ended: the status stays the final
    one, no event follows it, and the host does not fail."""
    bot = shell_bot("s", "sleep", "30", timeout=60)
    async with open_agented([bot]) as ag:
        execution = await ag.run("s")
        await first_event(ag, execution.id, "text", "started")
        renew = ag.store.renew_leases
        checked, release = anyio.Event(), anyio.Event()

        async def late_for_the_pause(ids, owner, at):
            held = await renew(ids, owner, at)
            if "_set_status_soon" in (anyio.get_current_task().name or "") and not checked.is_set():
                checked.set()
                await release.wait()  # the pause's lease check comes back late
            return held

        ag.store.renew_leases = late_for_the_pause  # type: ignore[method-assign]
        done = ag.supervisor.done(execution.id)
        assert done is not None
        await ag.pause(execution.id)
        with anyio.fail_after(10):
            await checked.wait()
        await ag.cancel(execution.id)
        with anyio.fail_after(20):
            await done.wait()
        release.set()
        ended = await ag.wait(execution.id, timeout=20)
        events = [e async for e in ag.events(execution.id)]
        stored = await ag.store.get_execution(execution.id)
    assert ended.status is Status.CANCELLED
    assert stored is not None and stored.status is Status.CANCELLED
    assert [e.text for e in events if e.kind == "status"] == ["queued", "running", "cancelled"]


async def test_a_stop_while_the_start_is_being_recorded_ends_the_group_at_once() -> None:
    """The group is recorded (``on_start``) before its output is read; when that record is
    held up (a store that does not answer), a stop asked meanwhile still ends the group."""
    from agented_core.models import Command
    from agented_core.run._runner import Limits, ProcessRun, StopReason
    from conftest import FAKE_CLI

    recording, release = anyio.Event(), anyio.Event()

    async def on_start(pid: int) -> None:
        recording.set()
        await release.wait()  # the store does not answer

    run = ProcessRun(
        Command(argv=(FAKE_CLI, "sleep", "60")),
        Limits(kill_grace=2.0),
        on_stdout=lambda line, continued: None,
        on_stderr=lambda line, continued: None,
        on_start=on_start,
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(run.run)
        with anyio.fail_after(10):
            await recording.wait()
        assert run.pid is not None and group_alive(run.pid)
        run.stop(StopReason.CANCEL, "lost the lease")
        with anyio.fail_after(10):
            while group_alive(run.pid):
                await anyio.sleep(0.02)
        release.set()
