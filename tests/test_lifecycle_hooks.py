"""Lifecycle hooks: delivery received, queued, started, progress, finished; credentials.

Real runs of the fake CLI through a real SQLite store; a failing hook is recorded as an
``error`` event (or on the delivery log entry) and never changes an outcome.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agented_core import Bot, GitHubTrigger, Status, hookimpl
from agented_core.models import Execution, Progress
from agented_core.plugins import Plugins
from agented_core.run._progress import progress_reports, wants_progress
from conftest import FAKE_CLI, FIXTURES_DIR, OpenAgented, shell_bot
from test_deliveries import github_headers

pytestmark = pytest.mark.anyio

WEBHOOKS = FIXTURES_DIR / "webhooks"


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRETS", "s3cret-webhook")


class Recorder:
    """Records every lifecycle call: (hook, execution status, extra)."""

    def __init__(self, done_file: Path | None = None, after: int = 3) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.progress: list[tuple[float, Progress]] = []
        self.deliveries: list[tuple[Any, Mapping[str, Any] | None]] = []
        self.done_file, self.after = done_file, after

    @hookimpl
    def agented_delivery_received(self, delivery: Any, context: Mapping[str, Any] | None) -> None:
        self.deliveries.append((delivery, context))

    @hookimpl
    async def agented_execution_queued(self, execution: Execution) -> None:
        self.calls.append(("queued", execution.status.value, None))

    @hookimpl
    def agented_execution_started(self, execution: Execution) -> None:
        self.calls.append(("started", execution.status.value, None))

    @hookimpl
    def agented_execution_progress(self, execution: Execution, progress: Progress) -> None:
        self.calls.append(("progress", execution.status.value, progress))
        self.progress.append((time.monotonic(), progress))
        if self.done_file is not None and len(self.progress) >= self.after:
            self.done_file.touch()

    @hookimpl
    async def agented_execution_finished(self, execution: Execution) -> None:
        self.calls.append(("finished", execution.status.value, None))


class Failing:
    """Raises in every lifecycle hook."""

    @hookimpl
    def agented_delivery_received(self, delivery: Any, context: Any) -> None:
        raise RuntimeError("delivery hook broke")

    @hookimpl
    def agented_execution_queued(self, execution: Execution) -> None:
        raise RuntimeError("queued hook broke")

    @hookimpl
    async def agented_execution_started(self, execution: Execution) -> None:
        raise RuntimeError("started hook broke")

    @hookimpl
    def agented_execution_progress(self, execution: Execution, progress: Progress) -> None:
        raise ValueError("progress hook broke")

    @hookimpl
    def agented_execution_finished(self, execution: Execution) -> None:
        raise RuntimeError("finished hook broke")


def until_bot(done: Path) -> Bot:
    return shell_bot("steps", "until", str(done), options={"format": "events"})


async def test_queued_started_progress_finished_in_order(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    done = tmp_path / "enough"
    recorder = Recorder(done, after=3)
    async with open_agented([until_bot(done)], plugins=[recorder], progress_interval=0.2) as ag:
        execution = await ag.wait((await ag.run("steps")).id, timeout=30)
    assert execution.status is Status.SUCCEEDED
    names = [name for name, _, _ in recorder.calls]
    assert names[:2] == ["queued", "started"] and names[-1] == "finished"
    assert set(names[2:-1]) == {"progress"} and len(names[2:-1]) >= 3
    assert [status for _, status, _ in recorder.calls[:2]] == ["queued", "running"]
    assert recorder.calls[-1][1] == "succeeded"
    # at most once per interval, each with growing running totals
    times = [t for t, _ in recorder.progress]
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(times))
    totals = [p for _, p in recorder.progress]
    assert all(p.attempt == 1 for p in totals)
    for before, after in itertools.pairwise(totals):
        assert after.events > before.events
        assert after.tool_calls > before.tool_calls
        assert after.usage.input_tokens > before.usage.input_tokens
    last = totals[-1]
    assert last.tool_calls >= 1 and last.usage.input_tokens == 10 * last.tool_calls
    assert last.usage.cost_usd == pytest.approx(0.01 * last.tool_calls)


async def test_a_quiet_run_gets_no_progress(
    open_agented: OpenAgented,
) -> None:
    recorder = Recorder()
    bot = shell_bot("quiet", "silent", "0.5")
    async with open_agented([bot], plugins=[recorder], progress_interval=0.05) as ag:
        execution = await ag.wait((await ag.run("quiet")).id, timeout=20)
    assert execution.status is Status.SUCCEEDED
    assert [name for name, _, _ in recorder.calls] == ["queued", "started", "finished"]


async def test_failing_hooks_are_recorded_and_change_no_outcome(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    done = tmp_path / "enough"
    recorder = Recorder(done, after=2)
    # the failing plugin first: the recorder after it is still called
    async with open_agented(
        [until_bot(done)], plugins=[Failing(), recorder], progress_interval=0.1
    ) as ag:
        execution = await ag.wait((await ag.run("steps")).id, timeout=30)
        streamed = [e async for e in ag.events(execution.id)]
        # the finished hook runs after the terminal status, so its failure is stored after it:
        # a stream ends at the terminal status, the stored list has it
        events = await ag.event_log.read(execution.id)
        stored = await ag.store.get_execution(execution.id)
    assert stored is not None
    assert streamed == events[:-1] and streamed[-1].data["status"] == "succeeded"
    assert execution.status is Status.SUCCEEDED and stored.status is Status.SUCCEEDED
    assert execution.error is None and execution.error_kind is None
    failed = [e for e in events if e.kind == "error" and e.data.get("kind") == "plugin"]
    hooks = [e.data["hook"] for e in failed]
    assert hooks[:2] == ["agented_execution_queued", "agented_execution_started"]
    assert hooks[-1] == "agented_execution_finished"
    progress = hooks[2:-1]
    assert progress and set(progress) == {"agented_execution_progress"}
    assert failed[-1].data == {
        "kind": "plugin",
        "hook": "agented_execution_finished",
        "plugin": "Failing",
        "message": "RuntimeError: finished hook broke",
    }
    assert "finished hook broke" in (failed[-1].text or "")
    # the recorder saw every hook although the failing plugin raised first
    assert [n for n, _, _ in recorder.calls][-1] == "finished"
    # the stored execution's last seq covers the recorded failures
    assert stored.last_seq == events[-1].seq


async def test_the_delivery_hook_sees_what_started_and_why_not(
    open_agented: OpenAgented,
) -> None:
    body = (WEBHOOKS / "pull_request.opened.json").read_bytes()
    recorder = Recorder()
    review = Bot(
        name="review",
        command=(FAKE_CLI, "say", "{pr.title}"),
        triggers=(GitHubTrigger(event="pull_request", actions=("opened",)),),
    )
    closer = Bot(
        name="closer",
        command=(FAKE_CLI, "say", "x"),
        triggers=(GitHubTrigger(event="pull_request", actions=("closed",)),),
    )
    async with open_agented([review, closer], plugins=[recorder]) as ag:
        first = await ag.deliveries.github(body, github_headers(body, "pull_request", "h-1"))
        again = await ag.deliveries.github(body, github_headers(body, "pull_request", "h-1"))
        await ag.wait(first.execution_ids[0], timeout=20)
        log = await ag.store.list_deliveries()
    (seen, context), (dup, dup_context) = recorder.deliveries
    assert seen == first and len(seen.execution_ids) == 1
    assert [s["bot"] for s in seen.skipped] == ["closer"]
    assert context is not None and context["event"] == "pull_request"
    assert dup == again and dup.duplicate and dup_context is None
    assert all("hook_errors" not in entry for entry in log)


async def test_a_failing_delivery_hook_is_on_the_log_entry_and_the_run_still_starts(
    open_agented: OpenAgented,
) -> None:
    body = (WEBHOOKS / "pull_request.opened.json").read_bytes()
    review = Bot(
        name="review",
        command=(FAKE_CLI, "say", "hi"),
        triggers=(GitHubTrigger(event="pull_request"),),
    )
    async with open_agented([review], plugins=[Failing()]) as ag:
        result = await ag.deliveries.github(body, github_headers(body, "pull_request", "h-2"))
        execution = await ag.wait(result.execution_ids[0], timeout=20)
        (entry,) = await ag.store.list_deliveries()
    assert execution.status is Status.SUCCEEDED
    assert entry["execution_ids"] == list(result.execution_ids)
    assert entry["hook_errors"] == [
        {
            "kind": "plugin",
            "hook": "agented_delivery_received",
            "plugin": "Failing",
            "message": "RuntimeError: delivery hook broke",
        }
    ]


async def test_progress_reports_start_only_for_a_plugin_and_pass_the_bodys_error() -> None:
    assert not wants_progress(Plugins(entry_points=False))
    plugins = Plugins([Recorder()], entry_points=False)
    assert wants_progress(plugins)
    state: Any = SimpleNamespace(execution=SimpleNamespace(id="x"), printed=0)
    log: Any = SimpleNamespace(last_seq=lambda execution_id: 0)

    async def record(failures: list[Any]) -> None:
        raise AssertionError("nothing to record")

    with pytest.raises(KeyError):  # as it is, not inside an exception group
        async with progress_reports(plugins, log, state, 0.01, record):
            raise KeyError("the run broke")


def test_workspace_credentials_come_from_the_first_plugin_giving_some() -> None:
    class Passes:
        @hookimpl
        def agented_workspace_credentials(self, url: str) -> None:
            return None

    class Gives:
        @hookimpl
        def agented_workspace_credentials(self, url: str) -> dict[str, str] | None:
            if url.startswith("https://github.com/"):
                return {"username": "x-access-token", "password": "t0ken"}
            return None

    plugins = Plugins([Gives(), Passes()], entry_points=False)
    assert plugins.workspace_credentials("https://github.com/o/r.git") == {
        "username": "x-access-token",
        "password": "t0ken",
    }
    assert plugins.workspace_credentials("https://gitlab.com/o/r.git") is None
    assert Plugins(entry_points=False).workspace_credentials("https://github.com/o/r") is None
