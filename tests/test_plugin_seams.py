"""Hooks the GitHub plugin needed from the core: opened, agent env, secrets, config problems,
and entry points naming a class (one instance per Agented)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Mapping
from typing import Any

import anyio
import pytest

from agented_core import Bot, ErrorKind, Problem, Status, hookimpl
from agented_core.plugins import Plugins
from conftest import OpenAgented

pytestmark = pytest.mark.anyio


def echo_bot(text: str) -> Bot:
    from agented_core.models import ManualTrigger

    return Bot(
        name="echo",
        provider="shell",
        command=("sh", "-c", text),
        triggers=(ManualTrigger(),),
    )


class Seams:
    def __init__(self, env: Mapping[str, str] | None = None, fail: bool = False) -> None:
        self.env = env
        self.fail = fail
        self.opened: Any = None
        self.background = anyio.Event()
        self.cancelled = False

    @hookimpl
    def agented_opened(self, agented: Any) -> Any:
        self.opened = agented

        async def loop() -> None:
            self.background.set()
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                self.cancelled = True
                raise

        return loop()

    @hookimpl
    async def agented_agent_env(self, bot: Bot, execution: Any) -> Mapping[str, str] | None:
        if self.fail:
            raise RuntimeError("no token today")
        return self.env

    @hookimpl
    def agented_secrets(self) -> Iterable[str]:
        return ["held-by-the-plugin-42"]

    @hookimpl
    def agented_config_problems(self, config: Any) -> Iterable[Problem]:
        return [Problem("a plugin's own warning", warning=True)]


async def test_opened_gets_the_facade_and_its_background_task_ends_at_close(
    open_agented: OpenAgented,
) -> None:
    seams = Seams()
    async with open_agented([echo_bot("true")], plugins=[seams]) as ag:
        assert seams.opened is ag
        with anyio.fail_after(5):
            await seams.background.wait()
    assert seams.cancelled


async def test_agent_env_reaches_the_child_redacted_with_the_plugins_secrets(
    open_agented: OpenAgented,
) -> None:
    seams = Seams(env={"PLAIN_NAME": "value-from-plugin-1"})
    bot = echo_bot('echo "$PLAIN_NAME held-by-the-plugin-42 visible"')
    async with open_agented([bot], plugins=[seams]) as ag:
        execution = await ag.run("echo")
        done = await ag.wait(execution.id, timeout=20)
        events = await ag.store.read_events(done.id)
    texts = " ".join(e.text or "" for e in events)
    assert done.status is Status.SUCCEEDED
    assert "[redacted] [redacted] visible" in texts
    assert "value-from-plugin-1" not in texts and "held-by-the-plugin-42" not in texts


async def test_a_failing_agent_env_fails_the_attempt_before_it_starts(
    open_agented: OpenAgented,
) -> None:
    bot = echo_bot("echo ran")
    async with open_agented([bot], plugins=[Seams(fail=True)]) as ag:
        execution = await ag.run("echo")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.FAILED and done.error_kind is ErrorKind.LAUNCH
    assert "no token today" in (done.error or "") and "Seams" in (done.error or "")


def test_config_problems_join_validation() -> None:
    from agented_core.config import Config
    from agented_core.validation import validate

    problems = validate(Config(), Plugins([Seams()], entry_points=False))
    assert [p.message for p in problems] == ["a plugin's own warning"]


class Stateful:
    made = 0

    def __init__(self) -> None:
        Stateful.made += 1


def test_an_entry_point_naming_a_class_gets_one_instance_per_plugins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class EntryPoint:
        name = "stateful"
        dist = None

        def load(self) -> type[Stateful]:
            return Stateful

    monkeypatch.setattr(
        importlib.metadata, "entry_points", lambda group: [EntryPoint()] if group else []
    )
    first, second = Plugins(), Plugins()
    one = first.manager.get_plugin("stateful")
    two = second.manager.get_plugin("stateful")
    assert isinstance(one, Stateful) and isinstance(two, Stateful) and one is not two


class Files:
    def __init__(self, files: list[str] | None) -> None:
        self.files = files
        self.asked = 0

    @hookimpl
    async def agented_changed_files(self, context: Mapping[str, Any]) -> list[str] | None:
        self.asked += 1
        return self.files


@pytest.mark.parametrize(
    ("files", "started"), [(["src/x.py"], True), (["docs/x.md"], False), (None, False)]
)
async def test_paths_of_a_pull_request_come_from_the_plugin_once(
    open_agented: OpenAgented,
    monkeypatch: pytest.MonkeyPatch,
    files: list[str] | None,
    started: bool,
) -> None:
    import json

    from test_deliveries import WEBHOOKS, github_headers, review_bot

    monkeypatch.setenv("GITHUB_WEBHOOK_SECRETS", "s3cret-webhook")
    bots = [review_bot(paths="src/**"), evolve_name(review_bot(paths="lib/**"), "other")]
    plugin = Files(files)
    body = (WEBHOOKS / "pull_request.opened.json").read_bytes()
    async with open_agented(bots, plugins=[plugin]) as ag:
        result = await ag.deliveries.github(body, github_headers(body, "pull_request", "p-1"))
    assert plugin.asked == 1
    assert bool(result.execution_ids) is started
    if files is None:
        assert "changed files are unknown" in json.dumps(result.skipped)


def evolve_name(bot: Bot, name: str) -> Bot:
    from attrs import evolve

    return evolve(bot, name=name)


async def test_the_http_dry_run_asks_for_the_changed_files(open_agented: OpenAgented) -> None:
    import httpx

    from agented_http import Settings, create_app
    from test_deliveries import WEBHOOKS, review_bot

    plugin = Files(["src/x.py"])
    body = (WEBHOOKS / "pull_request.opened.json").read_bytes()
    async with open_agented([review_bot(paths="src/**")], plugins=[plugin]) as ag:
        app = create_app(ag, Settings(api_keys=("k" * 24,)))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.post(
                "/webhooks/github/dry-run",
                content=body,
                headers={
                    "X-API-Key": "k" * 24,
                    "X-GitHub-Event": "pull_request",
                    "Content-Type": "application/json",
                },
            )
    assert answer.status_code == 200, answer.text
    assert [m["bot"] for m in answer.json()["matches"]] == ["review"]
    assert plugin.asked == 1
