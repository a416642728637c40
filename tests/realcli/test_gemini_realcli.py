"""Contract tests: the genuine Gemini CLI, run by agented against the fake Gemini API.

An account gives its key from the host through ``env_from``; ``GOOGLE_GEMINI_BASE_URL``
points the CLI here. Such an account runs in a folder the plugin keeps (under the bot's
``HOME``) with settings it writes: ``gemini-api-key`` selected (without it a base URL makes
gemini 0.61 fail with "Invalid auth method selected."), the CLI's attempts capped. An account
with a folder of its own (``GEMINI_CLI_HOME``) keeps its own settings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from realcli_support import big_prompt, cli_bin, gone, kinds, open_agented, run, stored

from agented_core import Account, Bot, ManualTrigger, Status
from agented_core.config import Price
from fakeapi import Error, FakeModelAPI, Reply, Text, Thinking, Usage, text, tool
from fakeapi.gemini import Gemini

pytestmark = [pytest.mark.realcli, pytest.mark.anyio, pytest.mark.timeout(120)]

API_KEY = "AIza-realcli-SECRET-31f4b9"
HOST_ONLY = "host-only-SECRET-value-0c2e"
MODEL = "gemini-2.5-flash"
PRICES = {MODEL: Price(input=0.3, output=2.5, cache_read=0.03)}


@pytest.fixture(scope="session")
def gemini_bin() -> str:
    return cli_bin("gemini")


@pytest.fixture
def api() -> FakeModelAPI:
    with FakeModelAPI([Gemini()]) as fake:
        yield fake


QUIET = {"privacy": {"usageStatisticsEnabled": False}}  # no telemetry to Google


def gemini_home(folder: Path) -> Path:
    """A folder of an account's own, with its settings (the auth type named in them)."""
    (folder / ".gemini").mkdir(parents=True, exist_ok=True)
    settings = {**QUIET, "security": {"auth": {"selectedType": "gemini-api-key"}}}
    settings["general"] = {"maxAttempts": 1}
    (folder / ".gemini" / "settings.json").write_text(json.dumps(settings))
    return folder


@pytest.fixture
def accounts() -> dict[str, Account]:
    return {"work": Account("work", "gemini", env_from={"GEMINI_API_KEY": "KEY"})}


def managed(tmp_path: Path, bot: str = "gemini-bot", account: str = "work") -> Path:
    """The folder the plugin keeps for the account and the bot (under the bot's HOME)."""
    return tmp_path / "home" / ".local" / "state" / "agented" / "gemini" / account / bot


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def make_bot(
    gemini_bin: str, api: FakeModelAPI, tmp_path: Path, workdir: Path
) -> Callable[..., Bot]:
    def factory(name: str = "gemini-bot", **fields: Any) -> Bot:
        options = {"executable": gemini_bin, "settings": QUIET, **fields.pop("options", {})}
        options = {k: v for k, v in options.items() if v is not None}  # None: leave it out
        env = {
            "HOME": str(tmp_path / "home"),
            "GOOGLE_GEMINI_BASE_URL": fields.pop("base_url", api.url),
            **fields.pop("env", {}),
        }
        fields.setdefault("prompt", "say hi")
        fields.setdefault("account", "work")
        fields.setdefault("max_attempts", 1)
        fields.setdefault("timeout", 60.0)
        fields.setdefault("model", MODEL)
        return Bot(
            name=name,
            provider="gemini",
            workdir=str(workdir),
            options=options,
            env=env,
            triggers=(ManualTrigger(),),
            **fields,
        )

    return factory


HOST = {"KEY": API_KEY, "AGENTED_HOST_SECRET": HOST_ONLY}


async def test_text_tokens_cost_and_session(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.push(
        Reply(
            (Thinking("let me think"), Text("hello from fake")), Usage(12, 5, cache_read_tokens=4)
        )
    )
    async with open_agented(
        tmp_path, [make_bot()], accounts, HOST, provider="gemini", prices=PRICES
    ) as ag:
        done, events = await run(ag, "gemini-bot")
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "hello from fake"
    assert [e.text for e in kinds(events, "text")] == ["hello from fake"]
    usage = kinds(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (12, 5, 4)
    expected = (12 * 0.3 + 5 * 2.5 + 4 * 0.03) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected)
    result = kinds(events, "result")[-1].data
    assert result["ok"] is True and result["turns"] == 1
    session = kinds(events, "session")[0].data
    assert session["session_id"] == done.session_id and session["model"] == MODEL
    (request,) = api.model_requests()
    assert request.path == f"/v1beta/models/{MODEL}:streamGenerateContent"
    assert request.headers["x-goog-api-key"] == API_KEY
    assert HOST_ONLY not in request.text
    assert API_KEY not in stored(events, done)
    assert "say hi" not in done.command  # the prompt went on stdin


async def test_a_300kb_prompt_goes_in_whole_on_stdin(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    prompt = big_prompt()
    api.push(text("read it"))
    async with open_agented(
        tmp_path, [make_bot(prompt=prompt)], accounts, HOST, provider="gemini"
    ) as ag:
        done, _ = await run(ag, "gemini-bot")
    assert done.status is Status.SUCCEEDED, done.error
    (request,) = api.model_requests()
    sent = "".join(
        part.get("text", "")
        for content in request.json["contents"]
        if content["role"] == "user"
        for part in content["parts"]
    )
    assert prompt in sent
    assert all(len(arg) < 1000 for arg in done.command)


async def test_a_shell_command_round_trip(
    tmp_path: Path,
    api: FakeModelAPI,
    make_bot: Callable[..., Bot],
    accounts: dict[str, Account],
    workdir: Path,
) -> None:
    (workdir / "notes.txt").write_text("tool-output-6142\n")
    api.push(
        tool(
            "run_shell_command",
            {"command": "cat notes.txt", "description": "r"},
            usage=Usage(12, 4),
        ),
        Reply((Text("the notes say tool-output-6142"),), Usage(30, 6)),
    )
    bot = make_bot(options={"approval_mode": "yolo"})
    async with open_agented(tmp_path, [bot], accounts, HOST, provider="gemini") as ag:
        done, events = await run(ag, "gemini-bot")
    assert done.status is Status.SUCCEEDED, done.error
    (call,) = kinds(events, "tool_call")
    assert call.data["name"] == "run_shell_command"
    assert call.data["input"]["command"] == "cat notes.txt"
    (result,) = kinds(events, "tool_result")
    assert result.data["id"] == call.data["id"] and result.data["ok"] is True
    assert "tool-output-6142" in result.data["output"]
    _, second = api.model_requests()
    assert "tool-output-6142" in json.dumps(second.json["contents"][-1])
    usage = kinds(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"]) == (42, 10)
    assert kinds(events, "result")[-1].data["tool_calls"] == 1


async def test_429_capped_attempts_then_agented_retries(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.push(Error(429, retry_after=1), Error(429, retry_after=1), text("after the limit"))
    bot = make_bot(max_attempts=2)  # the plugin's default: 2 attempts inside the CLI
    async with open_agented(tmp_path, [bot], accounts, HOST, provider="gemini") as ag:
        done, events = await run(ag, "gemini-bot", through_retries=True)
    limits = [e.data for e in kinds(events, "rate_limit")]
    assert limits and limits[0]["kind"] == "rate"
    assert any(limit["retry_after"] == 1.0 for limit in limits)  # "Suggested retry after 1s"
    retries = kinds(events, "retry")
    assert retries and retries[0].data["attempt"] == 1 and retries[0].data["status"] is None
    assert done.status is Status.SUCCEEDED, done.error
    assert done.attempt == 2 and done.result == "after the limit"
    assert done.attempts[0].error_kind is not None and done.attempts[0].error_kind.value == "rate"
    assert done.attempts[0].exit_code == 173  # gemini: the status modulo 256
    assert len(api.model_requests()) == 3  # 2 in the first attempt (capped), 1 in the second


async def test_a_daily_quota_is_a_quota(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.always(Error(429, type="PerDay"))
    bot = make_bot(max_attempts=2)
    async with open_agented(tmp_path, [bot], accounts, HOST, provider="gemini") as ag:
        done, events = await run(ag, "gemini-bot")
    quota = [e.data for e in kinds(events, "rate_limit") if e.data["kind"] == "quota"]
    assert quota and quota[0]["reset_at"] is None  # gemini states no reset time
    assert done.status is Status.WAITING  # the account cools down; nothing else to try
    assert [a.error_kind.value for a in done.attempts if a.error_kind] == ["quota"]
    assert "daily quota" in (done.attempts[0].error or "")
    assert len(api.model_requests()) == 1  # a terminal quota: no retry inside the CLI


async def test_401_is_auth_and_never_retried(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.always(Error(401))
    async with open_agented(
        tmp_path, [make_bot(max_attempts=3)], accounts, HOST, provider="gemini"
    ) as ag:
        done, events = await run(ag, "gemini-bot")
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "auth"
    assert "API key not valid" in (done.error or "")
    assert done.exit_code == 145 and done.attempt == 1
    assert not kinds(events, "rate_limit")
    assert len(api.model_requests()) == 1


async def test_a_cut_stream_is_a_network_failure(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    words = " ".join(f"word{i}" for i in range(80))
    api.always(Reply((Text(words),), text_chunks=8, cut_after=4))
    bot = make_bot(options={"max_attempts": 1})
    async with open_agented(tmp_path, [bot], accounts, HOST, provider="gemini") as ag:
        done, events = await run(ag, "gemini-bot")
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "network"
    assert kinds(events, "result")[-1].data["ok"] is False


async def test_a_dead_server_fails_as_network(
    tmp_path: Path, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    bot = make_bot(base_url="http://127.0.0.1:9", options={"max_attempts": 1})
    started = time.monotonic()
    async with open_agented(tmp_path, [bot], accounts, HOST, provider="gemini") as ag:
        done, _ = await run(ag, "gemini-bot")
    assert time.monotonic() - started < 40
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "network"
    assert "fetch failed" in (done.error or "")


async def test_timeout_ends_a_stalled_stream_and_every_process(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.always(Reply((Text("never finished"),), stall_after=0))
    async with open_agented(
        tmp_path, [make_bot(timeout=6.0)], accounts, HOST, provider="gemini"
    ) as ag:
        done, events = await run(ag, "gemini-bot")
    assert done.status is Status.TIMED_OUT
    assert events[-1].data["status"] == "timed_out"
    assert await gone(f"GEMINI_CLI_HOME={managed(tmp_path)}")


async def test_the_plugin_keeps_a_folder_per_account_and_bot(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.always(text("ok"))
    async with open_agented(
        tmp_path, [make_bot(options={"max_attempts": 3})], accounts, HOST, provider="gemini"
    ) as ag:
        done, _ = await run(ag, "gemini-bot")
    assert done.status is Status.SUCCEEDED, done.error
    folder = managed(tmp_path)
    settings = json.loads((folder / ".gemini" / "settings.json").read_text())
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["general"]["maxAttempts"] == 3
    assert settings["general"]["enableAutoUpdate"] is False
    chats = list((folder / ".gemini" / "tmp").glob("*/chats/*"))
    assert any(str(done.session_id)[:8] in p.name for p in chats)


async def test_accounts_with_folders_of_their_own(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    homes = {name: gemini_home(tmp_path / f"gemini-{name}") for name in ("a", "b")}
    accounts = {
        name: Account(
            name,
            "gemini",
            env={"GEMINI_CLI_HOME": str(home)},
            env_from={"GEMINI_API_KEY": f"KEY_{name.upper()}"},
        )
        for name, home in homes.items()
    }
    api.always(text("ok"))
    bots = [
        make_bot("bot-a", account="a", options={"settings": None}),
        make_bot("bot-b", account="b", options={"settings": None}),
    ]
    host = {"KEY_A": "AIza-key-of-account-a", "KEY_B": "AIza-key-of-account-b"}
    async with open_agented(tmp_path, bots, accounts, host, provider="gemini") as ag:
        first, second = await ag.run("bot-a"), await ag.run("bot-b")
        done = [await ag.wait(e.id, timeout=60) for e in (first, second)]
    assert all(d.status is Status.SUCCEEDED for d in done), [d.error for d in done]
    keys = sorted(r.headers["x-goog-api-key"] for r in api.model_requests())
    assert keys == ["AIza-key-of-account-a", "AIza-key-of-account-b"]
    for d in done:  # each CLI kept its session in its account's folder
        chats = list((homes[str(d.account)] / ".gemini" / "tmp").glob("*/chats/*"))
        assert any(str(d.session_id)[:8] in p.name for p in chats)
