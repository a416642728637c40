"""A provider's ``build_command`` runs once per attempt (building may write files: gemini's
settings), through a real Agented running a fake CLI, retries included."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import anyio
import pytest

from agented_core import (
    Account,
    Agented,
    Bot,
    Command,
    CommandRequest,
    ManualTrigger,
    Status,
    hookimpl,
)
from agented_core.config import Config
from agented_core.providers import CLIProvider, EventLineParser, LineParser, Provider
from conftest import FAKE_CLI

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class CountingProvider(CLIProvider):
    """Runs ``fake-cli outcome`` (agented events on stdout) and counts its commands."""

    name: ClassVar[str] = "counting"

    def __init__(self) -> None:
        super().__init__(FAKE_CLI)
        self.built: list[int] = []

    def arguments(self, request: CommandRequest) -> list[str]:
        return ["outcome"]

    def build_command(self, request: CommandRequest) -> Command:
        self.built.append(request.attempt)
        return super().build_command(request)

    def parser(self, request: CommandRequest) -> LineParser:
        return EventLineParser()


class CountingPlugin:
    def __init__(self) -> None:
        self.provider = CountingProvider()

    @hookimpl
    def agented_providers(self) -> list[Provider]:
        return [self.provider]


async def wait_for(ag: Agented, execution_id: str, status: Status) -> None:
    with anyio.fail_after(30):
        while True:
            execution = await ag.get(execution_id)
            if execution.status is status and execution_id not in ag.supervisor:
                return
            assert not execution.status.terminal, execution.error
            await anyio.sleep(0.02)


async def test_one_command_per_attempt_across_retries(db_url: str, tmp_path: Path) -> None:
    plugin = CountingPlugin()
    clock = Clock()
    work = Account(
        name="work",
        provider="counting",
        env={
            "FAKE_OUTCOME": "overloaded",
            "FAKE_COUNTER": str(tmp_path / "n"),
            "FAKE_FAIL_TIMES": "2",
        },
    )
    bot = Bot(
        name="counted",
        provider="counting",
        account="work",
        prompt="go",
        max_attempts=3,
        timeout=60,
        triggers=(ManualTrigger(),),
    )
    async with Agented.open(
        db_url,
        config=Config(accounts={"work": work}),
        bots=[bot],
        plugins=[plugin],
        entry_points=False,
        clock=clock,
        wake_interval=3600,
        wake=False,
    ) as ag:
        execution = await ag.run("counted")
        for _ in range(2):  # two overloaded attempts, each retried after its backoff
            await wait_for(ag, execution.id, Status.WAITING)
            waiting = await ag.get(execution.id)
            assert waiting.retry_at is not None
            clock.now = waiting.retry_at
            assert await ag.wake_due() == [execution.id]
        done = await ag.wait(execution.id, timeout=30)
    assert done.status is Status.SUCCEEDED and done.attempt == 3
    assert plugin.provider.built == [1, 2, 3]
    assert (tmp_path / "n").read_text() == "3"  # and the CLI ran once per attempt


async def test_an_attempt_that_cannot_start_built_its_command_once(db_url: str) -> None:
    plugin = CountingPlugin()
    bot = Bot(
        name="counted",
        provider="counting",
        prompt="go",
        options={"executable": "/nonexistent/agented-fake"},
        max_attempts=1,
        triggers=(ManualTrigger(),),
    )
    async with Agented.open(db_url, bots=[bot], plugins=[plugin], entry_points=False) as ag:
        execution = await ag.run("counted")
        done = await ag.wait(execution.id, timeout=30)
    assert done.status is Status.FAILED
    assert plugin.provider.built == [1]
