"""Plugins: entry points, plugins passed in Python, broken and clashing plugins."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

import pytest

from agented_core import Command, CommandRequest, Provider, Status, hookimpl
from agented_core.errors import PluginError
from agented_core.plugins import Plugins
from conftest import FAKE_CLI, OpenAgented

pytestmark = pytest.mark.anyio


class EchoProvider(Provider):
    name: ClassVar[str] = "echo"

    def build_command(self, request: CommandRequest) -> Command:
        return Command(argv=(FAKE_CLI, "say", f"echo: {request.prompt}"), env=request.env)


class EchoPlugin:
    @hookimpl
    def agented_providers(self) -> list[Provider]:
        return [EchoProvider()]


class ClashingPlugin:
    @hookimpl
    def agented_providers(self) -> list[Provider]:
        class Shell(EchoProvider):
            name: ClassVar[str] = "shell"

        return [Shell()]


def make_distribution(site: Path, name: str, entry_points: str, modules: dict[str, str]) -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[agented]\n{entry_points}\n")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    yield path
    for module in list(sys.modules):
        if module.startswith("agtest_"):
            del sys.modules[module]


def test_builtins_are_there_without_entry_points() -> None:
    plugins = Plugins(entry_points=False)
    assert list(plugins.providers) == ["shell"]
    assert "sqlite" in plugins.backends()
    assert plugins.errors == []


def test_a_plugin_passed_in_python_adds_its_provider() -> None:
    plugins = Plugins([EchoPlugin()], entry_points=False)
    assert set(plugins.providers) == {"shell", "echo"}


def test_duplicate_provider_is_an_error_naming_both() -> None:
    plugins = Plugins([ClashingPlugin()], entry_points=False)
    assert len(plugins.errors) == 1
    message = str(plugins.errors[0])
    assert "provider 'shell' is registered twice" in message
    assert "agented-builtins" in message and "ClashingPlugin" in message
    assert plugins.provider("shell").__class__.__name__ == "ShellProvider"


def test_entry_points_load_and_a_broken_one_is_named(site: Path) -> None:
    make_distribution(
        site,
        "agtest-good",
        "good = agtest_good",
        {
            "agtest_good": (
                "from typing import ClassVar\n"
                "from agented_core import Provider, hookimpl\n"
                "class P(Provider):\n"
                "    name: ClassVar[str] = 'goodcli'\n"
                "@hookimpl\n"
                "def agented_providers():\n"
                "    return [P()]\n"
            )
        },
    )
    make_distribution(
        site,
        "agtest-broken",
        "broken = agtest_broken",
        {"agtest_broken": "import no_such_module\n"},
    )
    plugins = Plugins()
    assert "goodcli" in plugins.providers
    assert plugins.sources["good"] == "agtest-good 1.0"
    broken = [str(e) for e in plugins.errors if "broken" in str(e)]
    assert len(broken) == 1
    assert "agtest-broken" in broken[0] and "No module named 'no_such_module'" in broken[0]


def test_unknown_provider_lookup() -> None:
    with pytest.raises(PluginError, match="unknown provider 'nope' \\(known: shell\\)"):
        Plugins(entry_points=False).provider("nope")


async def test_plugin_provider_runs_through_the_run_path(open_agented: OpenAgented) -> None:
    from agented_core import Bot, ManualTrigger

    bot = Bot(name="e", provider="echo", prompt="hi there", triggers=(ManualTrigger(),))
    async with open_agented([bot], plugins=[EchoPlugin()]) as ag:
        execution = await ag.run("e")
        events = [e async for e in ag.events(execution.id)]
        done = await ag.wait(execution.id)
    assert done.status is Status.SUCCEEDED
    assert "echo: hi there" in [e.text for e in events]
    assert done.command == (FAKE_CLI, "say", "echo: <prompt>")


async def test_lifecycle_hooks_are_called_once(open_agented: OpenAgented) -> None:
    from conftest import shell_bot

    seen: list[tuple[str, str]] = []

    class Watcher:
        @hookimpl
        def agented_execution_started(self, execution):  # type: ignore[no-untyped-def]
            seen.append(("started", execution.status.value))

        @hookimpl
        async def agented_execution_finished(self, execution):  # type: ignore[no-untyped-def]
            seen.append(("finished", execution.status.value))

        @hookimpl
        def agented_prompt_context(self, bot, context):  # type: ignore[no-untyped-def]
            return {"extra": {"greeting": "howdy"}}

        @hookimpl
        def agented_context_keys(self, bot):  # type: ignore[no-untyped-def]
            return ["extra"]

    from agented_core import Bot, ManualTrigger

    bot = Bot(
        name="w",
        command=(FAKE_CLI, "echo-stdin"),
        prompt="{extra.greeting}",
        triggers=(ManualTrigger(),),
    )
    async with open_agented([bot, shell_bot("x", "say", "y")], plugins=[Watcher()]) as ag:
        execution = await ag.run("w")
        events = [e async for e in ag.events(execution.id)]
        await ag.wait(execution.id)
    assert seen == [("started", "running"), ("finished", "succeeded")]
    assert "howdy" in [e.text for e in events]
