"""The one run path, end to end with real subprocesses and a real store (SQLite, or PostgreSQL)."""

from __future__ import annotations

import pytest

from agented_core import Agented, Bot, ErrorKind, Execution, ManualTrigger, Status
from agented_core.plugins import Plugins
from conftest import FAKE_CLI, OpenAgented, shell_bot

pytestmark = pytest.mark.anyio


async def collect(ag: Agented, execution_id: str, after: int = 0) -> list:
    return [event async for event in ag.events(execution_id, after=after)]


async def test_shell_bot_runs_and_persists_every_event(
    open_agented: OpenAgented, db_url: str
) -> None:
    bot = shell_bot("hi", "say", "one", "{params.word}", params=["word"])
    async with open_agented([bot]) as ag:
        execution = await ag.run("hi", params={"word": "two"})
        assert execution.status is Status.QUEUED
        events = await collect(ag, execution.id)
        done = await ag.wait(execution.id, timeout=10)
    assert done.status is Status.SUCCEEDED
    assert done.exit_code == 0
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [(e.kind, e.text) for e in events] == [
        ("status", "queued"),
        ("status", "running"),
        ("text", "one"),
        ("text", "two"),
        ("status", "succeeded"),
    ]
    # everything is in the store after the process is gone
    store = Plugins(entry_points=False).open_store(db_url)
    await store.open()
    try:
        stored = await store.read_events(execution.id)
        record = await store.get_execution(execution.id)
    finally:
        await store.close()
    assert [(e.seq, e.kind, e.text) for e in stored] == [(e.seq, e.kind, e.text) for e in events]
    assert record is not None and record.status is Status.SUCCEEDED
    assert record.started_at is not None and record.finished_at is not None
    assert record.started_at <= record.finished_at


async def test_stderr_lines_are_stderr_events(open_agented: OpenAgented) -> None:
    async with open_agented([shell_bot("err", "stderr", "careful now")]) as ag:
        execution = await ag.run("err")
        events = await collect(ag, execution.id)
    assert ("stderr", "careful now") in [(e.kind, e.text) for e in events]


async def test_prompt_goes_on_stdin_and_is_never_in_the_recorded_command(
    open_agented: OpenAgented,
) -> None:
    bot = Bot(
        name="p",
        command=(FAKE_CLI, "echo-stdin"),
        prompt="Review {params.what} please",
        triggers=(ManualTrigger(params=("what",)),),
    )
    async with open_agented([bot]) as ag:
        execution = await ag.run("p", params={"what": "PR 7"})
        events = await collect(ag, execution.id)
        done = await ag.wait(execution.id)
    texts = [e.text for e in events if e.kind == "text"]
    assert texts[0] == "Review PR 7 please"
    assert done.prompt == "Review PR 7 please"
    assert "Review PR 7 please" not in " ".join(done.command)


async def test_prompt_as_argument_is_recorded_as_placeholder(open_agented: OpenAgented) -> None:
    bot = Bot(
        name="arg",
        command=(FAKE_CLI, "say", "{params.msg}"),
        prompt="{params.msg}",
        triggers=(ManualTrigger(params=("msg",)),),
    )
    async with open_agented([bot]) as ag:
        execution = await ag.run("arg", params={"msg": "secret plan"})
        done = await ag.wait(execution.id)
    assert done.command == (FAKE_CLI, "say", "<prompt>")


async def test_missing_cli_fails_with_launch_error(open_agented: OpenAgented) -> None:
    bot = Bot(name="ghost", command=("no-such-agent-cli", "-p"), triggers=(ManualTrigger(),))
    async with open_agented([bot]) as ag:
        execution = await ag.run("ghost")
        done = await ag.wait(execution.id, timeout=10)
        events = await collect(ag, execution.id)
    assert done.status is Status.FAILED
    assert done.error_kind is ErrorKind.LAUNCH
    assert "no-such-agent-cli" in (done.error or "")
    assert "not found" in (done.error or "")
    assert events[-1].data["status"] == "failed"
    assert events[-1].data["reason"] == done.error


async def test_nonzero_exit_fails_with_stderr_in_the_reason(open_agented: OpenAgented) -> None:
    async with open_agented([shell_bot("bad", "exit", "3", "boom: disk full")]) as ag:
        execution = await ag.run("bad")
        done = await ag.wait(execution.id, timeout=10)
    assert done.status is Status.FAILED
    assert done.exit_code == 3
    assert done.error_kind is ErrorKind.PROVIDER
    assert "boom: disk full" in (done.error or "")


async def test_unknown_param_is_refused_and_writes_nothing(open_agented: OpenAgented) -> None:
    from agented_core import ConfigError

    async with open_agented([shell_bot("hi", "say", "x", params=["word"])]) as ag:
        with pytest.raises(ConfigError, match="unknown parameter"):
            await ag.run("hi", params={"wrod": "typo"})
        items, _ = await ag.list()
    assert items == []


async def test_missing_workdir_fails_before_starting(open_agented: OpenAgented, tmp_path) -> None:
    bot = shell_bot("wd", "say", "x", workdir=str(tmp_path / "repo-{params.n}"), params=["n"])
    async with open_agented([bot]) as ag:
        execution = await ag.run("wd", params={"n": "9"})
        done = await ag.wait(execution.id, timeout=10)
    assert done.status is Status.FAILED
    assert done.error_kind is ErrorKind.LAUNCH
    assert "workdir does not exist" in (done.error or "")


async def test_workdir_is_the_childs_cwd(open_agented: OpenAgented, tmp_path) -> None:
    (tmp_path / "repo").mkdir()
    bot = Bot(
        name="cwd",
        command=("python3", "-c", "import os; print(os.getcwd())"),
        workdir=str(tmp_path / "repo"),
        triggers=(ManualTrigger(),),
    )
    async with open_agented([bot]) as ag:
        execution = await ag.run("cwd")
        events = await collect(ag, execution.id)
    assert str(tmp_path / "repo") in [e.text for e in events]


async def test_list_get_and_cursor(open_agented: OpenAgented) -> None:
    async with open_agented([shell_bot("a", "say", "x"), shell_bot("b", "say", "y")]) as ag:
        ids = []
        for name in ["a", "b", "a", "a"]:
            execution = await ag.run(name)
            await ag.wait(execution.id)
            ids.append(execution.id)
        page1, cursor = await ag.list(bot="a", limit=2)
        page2, end = await ag.list(bot="a", limit=2, cursor=cursor)
        succeeded, _ = await ag.list(status=Status.SUCCEEDED)
        got = await ag.get(ids[1])
    assert [e.id for e in page1] == [ids[3], ids[2]]
    assert [e.id for e in page2] == [ids[0]]
    assert end is None
    assert len(succeeded) == 4
    assert got.bot == "b"


async def test_events_can_be_read_again_after_the_run(open_agented: OpenAgented) -> None:
    async with open_agented([shell_bot("hi", "say", "a", "b", "c")]) as ag:
        execution = await ag.run("hi")
        await ag.wait(execution.id)
        first = await collect(ag, execution.id)
        tail = await collect(ag, execution.id, after=3)
    assert [e.seq for e in tail] == [e.seq for e in first if e.seq > 3]


async def test_a_terminal_status_reaches_the_store_after_every_event(
    open_agented: OpenAgented,
) -> None:
    """A follower in another process that sees the terminal status finds every event."""
    async with open_agented([shell_bot("many", "say", *(f"line {i}" for i in range(300)))]) as ag:
        save, save_owned = ag.store.save_execution, ag.store.save_owned
        found: list[tuple[int, int]] = []

        async def check(execution: Execution) -> None:
            if execution.status.terminal:
                stored = await ag.store.read_events(execution.id, after=0, limit=10_000)
                found.append((stored[-1].seq if stored else 0, execution.last_seq))

        async def checked_save(execution: Execution) -> None:
            await check(execution)
            await save(execution)

        async def checked_save_owned(execution: Execution) -> bool:
            await check(execution)  # the owner's saves are fenced ones
            return await save_owned(execution)

        ag.store.save_execution = checked_save  # type: ignore[method-assign]
        ag.store.save_owned = checked_save_owned  # type: ignore[method-assign]
        execution = await ag.run("many")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.SUCCEEDED
    assert found and all(seq == last for seq, last in found), found


async def test_a_final_status_whose_save_failed_once_is_saved_again(
    open_agented: OpenAgented,
) -> None:
    """The save of a run's final status fails (the store out of reach for a moment): it is
    saved once more as the run's task ends, rather than the store keeping ``running`` (and
    ``wait`` waiting) for good."""
    from agented_core import StoreError

    async with open_agented([shell_bot("hi", "say", "hello")]) as ag:
        save_owned = ag.store.save_owned
        failed: list[str] = []

        async def fails_once(execution: Execution) -> bool:
            if execution.status.terminal and not failed:
                failed.append(execution.id)
                raise StoreError("the store is out of reach")
            return await save_owned(execution)

        ag.store.save_owned = fails_once  # type: ignore[method-assign]
        execution = await ag.run("hi")
        done = await ag.wait(execution.id, timeout=20)
        stored = await ag.store.get_execution(execution.id)
        events = await collect(ag, execution.id)
    assert failed == [execution.id]
    assert done.status is Status.SUCCEEDED
    assert stored is not None and stored.status is Status.SUCCEEDED
    assert [e.text for e in events if e.kind == "status"] == ["queued", "running", "succeeded"]
