"""A fallback entry's own model reaches its provider; an entry of another provider never gets
the bot's model (a model name is meant for one provider). Real TOML, real subprocesses, SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import attrs
import pytest

from agented_core import Agented, Status, hookimpl
from agented_core.config import load_config
from agented_core.converter import from_json, to_json
from agented_core.models import ChainEntry, Command, Execution
from agented_core.providers import Provider, ShellProvider
from agented_core.providers.base import CommandRequest
from conftest import FAKE_CLI

pytestmark = pytest.mark.anyio


class ModelShell(ShellProvider):
    """A shell provider that hands the model to its CLI the way the agent plugins read it."""

    name: ClassVar[str] = "modelled"

    def build_command(self, request: CommandRequest) -> Command:
        command = super().build_command(request)
        model = request.model or request.bot.model  # as the claude/codex/gemini plugins do
        return attrs.evolve(command, env={**command.env, "FAKE_LABEL": f"model={model}"})


class ModelPlugin:
    @hookimpl
    def agented_providers(self) -> list[Provider]:
        return [ModelShell()]


def write_config(tmp_path: Path, fallback: str) -> Path:
    path = tmp_path / "agented.toml"
    path.write_text(
        f"""
[agented]
database = "sqlite:///agented.db"

[accounts.work]
provider = "shell"
env = {{ FAKE_OUTCOME = "quota", FAKE_RESET = "2099-01-01T00:00:00+00:00" }}

[bots.review]
provider = "shell"
account = "work"
model = "sonnet"
command = ["{FAKE_CLI}", "outcome"]
options = {{ format = "events" }}
fallback = {fallback}
on = [{{ manual = true }}]
"""
    )
    return path


async def run_review(config_path: Path) -> tuple[Execution, list[str]]:
    config = load_config(config_path)
    async with Agented.open(config=config, plugins=[ModelPlugin()], entry_points=False) as ag:
        execution = await ag.run("review")
        done = await ag.wait(execution.id, timeout=30)
        texts = [e.text or "" async for e in ag.events(execution.id)]
    assert done.status is Status.SUCCEEDED, (done.error, texts)
    return done, [t for t in texts if t.startswith("model=") or " model=" in t]


async def test_a_table_entry_runs_with_its_own_model(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[{ provider = "modelled", model = "gpt-5.5" }]')
    config = load_config(path)
    assert config.bots["review"].fallback == (ChainEntry("modelled", None, "gpt-5.5"),)
    done, labels = await run_review(path)
    assert (done.provider, done.model) == ("modelled", "gpt-5.5")
    assert [(a.provider, a.model) for a in done.attempts] == [
        ("shell", "sonnet"),
        ("modelled", "gpt-5.5"),
    ]
    assert labels and all("model=gpt-5.5" in t for t in labels), labels
    # the record keeps the model through the store's JSON
    again = from_json(to_json(done), Execution)
    assert [a.model for a in again.attempts] == ["sonnet", "gpt-5.5"]


async def test_an_entry_of_another_provider_does_not_inherit_the_model(tmp_path: Path) -> None:
    done, labels = await run_review(write_config(tmp_path, '["modelled"]'))
    assert done.model is None
    assert labels and all("model=None" in t for t in labels), labels


async def test_an_entry_of_the_same_provider_keeps_the_bots_model(tmp_path: Path) -> None:
    path = write_config(tmp_path, '["shell"]')
    config = load_config(path)
    bot = config.bots["review"]
    assert bot.model_for(bot.fallback[0]) == "sonnet"
    assert bot.model_for(ChainEntry("modelled")) is None
    assert bot.model_for(ChainEntry("modelled", model="m")) == "m"


def test_a_fallback_cli_provider_ignores_the_bots_executable_option() -> None:
    from agented_core.models import Bot
    from agented_core.providers import CLIProvider

    class First(CLIProvider):
        name: ClassVar[str] = "first"
        executable: ClassVar[str | None] = "first-cli"

    class Second(CLIProvider):
        name: ClassVar[str] = "second"
        executable: ClassVar[str | None] = "second-cli"

    bot = Bot(name="b", provider="first", options={"executable": "/opt/first/bin/cli"})
    assert First().cli_executable(bot) == "/opt/first/bin/cli"
    assert Second().cli_executable(bot) == "second-cli"  # the option is the first provider's
