"""The contract checks the chat-completions CLIs' tests share (kilo, opencode, pi, qwen).

Each ``test_<provider>_realcli.py`` keeps its own fixtures for what differs (the account's
configuration, the model name, the tool it calls) and builds its bots with ``bot_factory``;
these helpers hold the checks that read the same for every CLI, and
:class:`ChatCliContract` the tests themselves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from realcli_support import big_prompt, cli_bin, gone, kinds, open_agented, run, stored

from agented_core import Account, Bot, Event, Execution, ManualTrigger, Status
from agented_core.config import Price
from fakeapi import Error, FakeModelAPI, Reply, Text, Thinking, Usage, text, tool
from fakeapi.openai_chat import OpenAIChat

THINKING_REPLY = Reply(
    (Thinking("let me think"), Text("hello from fake")), Usage(12, 5, cache_read_tokens=4)
)
"""The reply ``check_reply`` expects: thinking, text, 12 + 5 tokens and 4 read from the cache."""

OPENCODE_COST = {"input": 1.0, "output": 2.0, "cache_read": 0.1}
"""USD per million tokens of ``fake-model`` in an opencode or kilo config."""

NOTES = "tool-output-6142"
"""What the tool round trip's ``notes.txt`` holds."""


@contextmanager
def chat_api() -> Iterator[FakeModelAPI]:
    """A fake chat-completions API on a loopback port, for the ``api`` fixture."""
    with FakeModelAPI([OpenAIChat()]) as fake:
        yield fake


def opencode_account(
    provider: str, name: str, folder: Path, base_url: str, key_var: str = "KEY"
) -> Account:
    """An account of opencode or its fork kilo: its own config file (``OPENCODE_CONFIG`` /
    ``KILO_CONFIG``: an OpenAI-compatible provider ``fake`` at ``base_url``, with the priced
    ``fake-model`` and the ``unpriced-model``) and data folder; its key from ``key_var``."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "provider": {
            "fake": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Fake",
                "options": {"baseURL": f"{base_url}/v1", "apiKey": "{env:FAKE_API_KEY}"},
                "models": {
                    "fake-model": {"name": "Fake Model", "cost": OPENCODE_COST},
                    "unpriced-model": {"name": "Unpriced Model"},
                },
            }
        },
    }
    path = folder / f"{provider}.json"
    path.write_text(json.dumps(config))
    return Account(
        name,
        provider,
        env={f"{provider.upper()}_CONFIG": str(path), "XDG_DATA_HOME": str(folder / "data")},
        env_from={"FAKE_API_KEY": key_var},
    )


def bot_factory(
    provider: str,
    executable: str,
    home: Path,
    workdir: Path,
    model: str,
    *,
    timeout: float = 60.0,
    options: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Callable[..., Bot]:
    """A factory of manual bots of ``provider`` running ``executable`` in ``workdir`` with
    ``HOME`` at ``home`` (and ``options`` / ``env`` besides): one attempt, the model, ``say
    hi``; any field can be overridden and a bot's ``options`` / ``env`` are merged over these."""
    base_options = {"executable": executable, **(options or {})}
    base_env = {"HOME": str(home), **(env or {})}

    def factory(name: str = f"{provider}-bot", **fields: Any) -> Bot:
        options = {**base_options, **fields.pop("options", {})}
        env = {**base_env, **fields.pop("env", {})}
        fields.setdefault("prompt", "say hi")
        fields.setdefault("account", "work")
        fields.setdefault("max_attempts", 1)
        fields.setdefault("timeout", timeout)
        fields.setdefault("model", model)
        return Bot(
            name=name,
            provider=provider,
            workdir=str(workdir),
            options=options,
            env=env,
            triggers=(ManualTrigger(),),
            **fields,
        )

    return factory


def check_reply(
    done: Execution,
    events: Sequence[Event],
    api: FakeModelAPI,
    *,
    model: str,
    api_key: str,
    host_only: str,
) -> dict[str, Any]:
    """The run of ``THINKING_REPLY``: its text, thinking and tokens; one request for
    ``model`` streamed with the key; no host-only value sent, no key stored, the prompt not on
    the command line. Returns the last ``usage`` event's data (its cost is the CLI's own)."""
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "hello from fake"
    assert [e.text for e in kinds(events, "text")] == ["hello from fake"]
    assert [e.text for e in kinds(events, "thinking")] == ["let me think"]
    usage = kinds(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (12, 5, 4)
    (request,) = api.model_requests()
    assert request.json["model"] == model and request.json["stream"] is True
    assert request.headers["authorization"] == f"Bearer {api_key}"
    assert host_only not in request.text
    assert api_key not in stored(events, done)
    assert "say hi" not in done.command
    return usage


def check_prompt_on_stdin(done: Execution, api: FakeModelAPI, prompt: str) -> None:
    """``prompt`` reached the model whole, and no argument of the command is long."""
    assert done.status is Status.SUCCEEDED, done.error
    (request,) = api.model_requests()
    users = [m for m in request.json["messages"] if m["role"] == "user"]
    assert prompt in json.dumps(users, ensure_ascii=False).replace("\\n", "\n")
    assert all(len(arg) < 1000 for arg in done.command)


def check_tool_round_trip(
    done: Execution, events: Sequence[Event], api: FakeModelAPI, name: str
) -> tuple[Event, Event]:
    """A call of tool ``name`` whose result holds ``NOTES`` and went back to the model, over
    two turns of 12 + 4 and 30 + 6 tokens. Returns the call and the result events."""
    assert done.status is Status.SUCCEEDED, done.error
    (call,) = kinds(events, "tool_call")
    assert call.data["name"] == name
    (result,) = kinds(events, "tool_result")
    assert result.data["id"] == call.data["id"] and result.data["ok"] is True
    assert NOTES in result.data["output"]
    _, second = api.model_requests()
    assert NOTES in json.dumps(second.json["messages"][-1])
    usage = kinds(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"]) == (42, 10)
    assert kinds(events, "result")[-1].data["turns"] == 2
    return call, result


def check_rate_failure(done: Execution, events: Sequence[Event]) -> list[dict[str, Any]]:
    """A 429 that failed the run as ``rate``, with its error event. Returns the
    ``rate_limit`` events' data."""
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "rate"
    (failure,) = kinds(events, "error")
    assert failure.data["status"] == 429
    limits = [e.data for e in kinds(events, "rate_limit")]
    assert limits and limits[0]["kind"] == "rate"
    return limits


def check_auth_failure(done: Execution, events: Sequence[Event], api: FakeModelAPI) -> None:
    """A 401 that failed the run as ``auth`` after one request, never retried."""
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "auth"
    assert "Incorrect API key" in (done.error or "")
    assert not kinds(events, "rate_limit") and done.attempt == 1
    assert len(api.model_requests()) == 1


def check_timed_out(done: Execution, events: Sequence[Event]) -> None:
    """The run ended as timed out, its last event saying so."""
    assert done.status is Status.TIMED_OUT
    assert events[-1].data["status"] == "timed_out"


class ChatCliContract:
    """The contract tests every chat-completions CLI passes, as a class to subclass.

    A ``test_<provider>_realcli.py`` subclasses it once (``class TestQwen(ChatCliContract)``),
    sets the class attributes, gives the ``accounts`` fixture (the account's configuration
    differs for each CLI) and adds what is its own by overriding the ``more_*`` hooks (called
    with what the shared test saw) or with tests of its own.
    """

    provider: ClassVar[str]
    """The provider's name: its bot is ``<provider>-bot``, its CLI ``cli_bin(provider)``."""
    model: ClassVar[str]
    """The bot's model as the CLI names it (``fake/fake-model``)."""
    request_model: ClassVar[str] = "fake-model"
    """The model as it reaches the API."""
    unpriced_model: ClassVar[str] = "fake/unpriced-model"
    """A model the CLI has no price for: its cost comes from ``[prices]`` or is unknown."""
    api_key: ClassVar[str]
    host_only: ClassVar[str]
    retry_after: ClassVar[float] = 0.2
    """The ``retry-after`` of the 429s (short: some CLIs retry by themselves)."""
    bot_timeout: ClassVar[float] = 60.0
    stall_timeout: ClassVar[float] = 6.0
    """The ``timeout`` of the run whose stream stalls."""
    wait: ClassVar[float] = 90.0
    """How long a run may take, start to end."""
    prices: ClassVar[Mapping[str, Price] | None] = None
    """The ``[prices]`` of every run (None: the CLI's own cost figures)."""

    @property
    def host(self) -> dict[str, str]:
        """The host's environment: the key, and a value no run may see."""
        return {"KEY": self.api_key, "AGENTED_HOST_SECRET": self.host_only}

    @pytest.fixture
    def api(self) -> Iterator[FakeModelAPI]:
        with chat_api() as fake:
            yield fake

    @pytest.fixture
    def workdir(self, tmp_path: Path) -> Path:
        path = tmp_path / "work"
        path.mkdir()
        return path

    @pytest.fixture
    def accounts(self, tmp_path: Path, api: FakeModelAPI) -> dict[str, Account]:
        """The accounts of the runs (``work``), configured for this CLI and ``api``."""
        raise NotImplementedError

    @pytest.fixture
    def tool_call(self, workdir: Path) -> tuple[str, dict[str, Any]]:
        """The tool the round trip calls (by the name the CLI gives it) and its input, which
        reads ``workdir/notes.txt``."""
        raise NotImplementedError

    @pytest.fixture
    def make_bot(self, tmp_path: Path, workdir: Path) -> Callable[..., Bot]:
        executable = cli_bin(self.provider)
        return bot_factory(
            self.provider,
            executable,
            tmp_path / "home",
            workdir,
            self.model,
            timeout=self.bot_timeout,
        )

    async def run_bots(
        self,
        tmp_path: Path,
        bots: list[Bot],
        accounts: Mapping[str, Account],
        *,
        prices: Mapping[str, Price] | None = None,
    ) -> tuple[Execution, list[Event]]:
        """Run the first of ``bots`` on an Agented of its own until it ends."""
        async with open_agented(
            tmp_path,
            bots,
            accounts,
            self.host,
            provider=self.provider,
            prices=self.prices if prices is None else prices,
        ) as ag:
            return await run(ag, bots[0].name, self.wait)

    def process_marker(self, tmp_path: Path, accounts: Mapping[str, Account]) -> str:
        """A string in the environment of every process of a run (to see they are gone)."""
        raise NotImplementedError

    # what a CLI adds to the shared tests
    def more_reply(
        self, done: Execution, events: list[Event], usage: dict[str, Any], tmp_path: Path
    ) -> None:
        """Checks of the ``THINKING_REPLY`` run (its cost, its session)."""

    def more_tool(self, call: Event, result: Event) -> None:
        """Checks of the tool round trip's call and result."""

    def more_rate(self, events: list[Event], api: FakeModelAPI, limits: list[Any]) -> None:
        """Checks of the 429 run (the CLI's own retries)."""

    def more_auth(self, events: list[Event]) -> None:
        """Checks of the 401 run."""

    # the shared tests
    async def test_text_thinking_tokens_and_the_cost(
        self, tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: Any
    ) -> None:
        api.push(THINKING_REPLY)
        done, events = await self.run_bots(tmp_path, [make_bot()], accounts)
        usage = check_reply(
            done,
            events,
            api,
            model=self.request_model,
            api_key=self.api_key,
            host_only=self.host_only,
        )
        self.more_reply(done, events, usage, tmp_path)

    async def test_a_model_the_cli_cannot_price_is_priced_from_the_prices_table(
        self, tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: Any
    ) -> None:
        api.push(text("cheap", usage=Usage(1000, 100)))
        prices = {self.unpriced_model.rsplit("/", 1)[-1]: Price(input=3.0, output=15.0)}
        bots = [make_bot(model=self.unpriced_model)]
        done, _ = await self.run_bots(tmp_path, bots, accounts, prices=prices)
        assert done.status is Status.SUCCEEDED, done.error
        assert done.usage.cost_usd == pytest.approx((1000 * 3.0 + 100 * 15.0) / 1e6)

    async def test_without_any_price_there_is_no_cost(
        self, tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: Any
    ) -> None:
        api.push(text("free?", usage=Usage(1000, 100)))
        bot = make_bot(model=self.unpriced_model)
        done, _ = await self.run_bots(tmp_path, [bot], accounts, prices={})
        assert done.status is Status.SUCCEEDED, done.error
        assert done.usage.input_tokens == 1000 and done.usage.cost_usd is None  # not a wrong 0

    async def test_a_300kb_prompt_goes_in_whole_on_stdin(
        self, tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: Any
    ) -> None:
        prompt = big_prompt()
        api.push(text("read it"))
        done, _ = await self.run_bots(tmp_path, [make_bot(prompt=prompt)], accounts)
        check_prompt_on_stdin(done, api, prompt)

    async def test_a_tool_round_trip(
        self,
        tmp_path: Path,
        api: FakeModelAPI,
        make_bot: Callable[..., Bot],
        accounts: Any,
        workdir: Path,
        tool_call: tuple[str, dict[str, Any]],
    ) -> None:
        (workdir / "notes.txt").write_text(f"{NOTES}\n")
        name, arguments = tool_call
        api.push(
            tool(name, arguments, usage=Usage(12, 4)),
            Reply((Text(f"the notes say {NOTES}"),), Usage(30, 6)),
        )
        done, events = await self.run_bots(tmp_path, [make_bot()], accounts)
        call, result = check_tool_round_trip(done, events, api, name)
        self.more_tool(call, result)

    async def test_429_is_a_rate_limit(
        self, tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: Any
    ) -> None:
        api.always(Error(429, retry_after=self.retry_after))
        done, events = await self.run_bots(tmp_path, [make_bot()], accounts)
        limits = check_rate_failure(done, events)
        self.more_rate(events, api, limits)

    async def test_401_is_auth_and_never_retried(
        self, tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: Any
    ) -> None:
        api.always(Error(401))
        done, events = await self.run_bots(tmp_path, [make_bot(max_attempts=3)], accounts)
        check_auth_failure(done, events, api)
        self.more_auth(events)

    async def test_timeout_ends_a_stalled_stream_and_every_process(
        self, tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: Any
    ) -> None:
        api.always(Reply((Text("never finished"),), stall_after=1))
        started = time.monotonic()
        done, events = await self.run_bots(
            tmp_path, [make_bot(timeout=self.stall_timeout)], accounts
        )
        assert time.monotonic() - started < self.stall_timeout + self.wait / 2
        check_timed_out(done, events)
        assert await gone(self.process_marker(tmp_path, accounts))
