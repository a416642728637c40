"""Contract tests: the genuine Claude Code CLI, run by agented against the fake model API.

Each test scripts the fake Anthropic API, runs a real bot through :class:`Agented` (the plugin
found through its entry point, the pinned CLI from the npm cache, an isolated ``HOME``) and
checks the execution and its stored events against what the fake API scripted.

Run with ``nox -s realcli`` or ``pytest -m realcli tests/realcli``. Without node/npm the tests
are skipped with the reason (a failure under ``CI=true``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import clis
import pytest
from contract import bot_factory
from realcli_support import kinds, run, stored

from agented_core import (
    Account,
    Agented,
    Bot,
    ChainEntry,
    Config,
    Status,
)
from agented_core.config import AgentedSettings
from fakeapi import Error, FakeModelAPI, Reply, Text, Usage, text, tool, unified_limit_headers

pytestmark = [pytest.mark.realcli, pytest.mark.anyio, pytest.mark.timeout(120)]

API_KEY = "sk-ant-realcli-SECRET-4f2a9c"
OAUTH_TOKEN = "sk-ant-oat01-realcli-SECRET-77d1e0"
HOST_ONLY = "host-only-SECRET-value-93b1"
SONNET = {"input": 3e-6, "output": 15e-6, "cache_read": 0.3e-6, "cache_write": 3.75e-6}


@pytest.fixture(scope="session")
def claude_bin() -> str:
    try:
        return str(clis.ensure("claude"))
    except clis.Unavailable as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"realcli cannot run under CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture
def api() -> FakeModelAPI:
    with FakeModelAPI() as fake:
        yield fake


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def make_bot(claude_bin: str, api: FakeModelAPI, home: Path, workdir: Path) -> Callable[..., Bot]:
    env = {"ANTHROPIC_BASE_URL": api.url}
    return bot_factory("claude", claude_bin, home, workdir, "sonnet", env=env)


ACCOUNTS = {
    "work": Account("work", "claude", env_from={"ANTHROPIC_API_KEY": "REALCLI_KEY"}),
    "subscription": Account(
        "subscription", "claude", env_from={"CLAUDE_CODE_OAUTH_TOKEN": "REALCLI_OAUTH"}
    ),
}


@asynccontextmanager
async def agented(
    tmp_path: Path, bots: list[Bot], accounts: dict[str, Account] | None = None
) -> AsyncIterator[Agented]:
    config = Config(
        settings=AgentedSettings(database=f"sqlite:///{tmp_path / 'agented.db'}", kill_grace=2.0),
        accounts=accounts or ACCOUNTS,
    )
    host_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "REALCLI_KEY": API_KEY,
        "REALCLI_OAUTH": OAUTH_TOKEN,
        "AGENTED_HOST_SECRET": HOST_ONLY,
    }
    async with Agented.open(
        config=config, bots=bots, entry_points=True, host_env=host_env, wake_interval=0.2
    ) as ag:
        assert ag.plugins.provider_owner("claude") == "claude"  # from the entry point
        yield ag


# success: text, tokens, cost, session
async def test_text_tokens_cost_and_session(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    api.push(
        Reply((Text("hello from fake"),), Usage(12, 5, cache_read_tokens=7, cache_write_tokens=3))
    )
    async with agented(tmp_path, [make_bot()]) as ag:
        done, events = await run(ag, "claude-bot")
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "hello from fake"
    assert [e.text for e in kinds(events, "text")] == ["hello from fake"]
    usage = kinds(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"]) == (12, 5)
    assert (usage["cache_read_tokens"], usage["cache_write_tokens"]) == (7, 3)
    expected = (
        12 * SONNET["input"]
        + 5 * SONNET["output"]
        + 7 * SONNET["cache_read"]
        + 3 * SONNET["cache_write"]
    )
    assert usage["cost_usd"] == pytest.approx(expected)
    assert done.usage.cost_usd == pytest.approx(expected) and done.usage.input_tokens == 12
    result = kinds(events, "result")[-1].data
    assert result["ok"] is True and result["turns"] == 1 and result["text"] == "hello from fake"
    # the session: the id Claude sent to the API is the one the execution keeps for a resume
    (request,) = api.model_requests()
    session = kinds(events, "session")[0].data
    assert session["session_id"] == request.headers["x-claude-code-session-id"]
    assert done.session_id == session["session_id"]
    assert session["model"] and "Bash" in session["tools"]
    assert request.json["model"].startswith("claude-sonnet")
    assert request.json["stream"] is True
    # the account's key reached the CLI; the host's own variables did not
    assert request.headers["x-api-key"] == API_KEY
    assert HOST_ONLY not in request.text
    assert events[-1].kind == "status" and events[-1].data["status"] == "succeeded"


async def test_a_300kb_prompt_goes_in_whole_on_stdin(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    body = "".join(f"line {i:06d} of a long prompt\n" for i in range(11_000))
    prompt = f"BEGIN-PROMPT\n{body}END-PROMPT"
    assert len(prompt.encode()) > 300_000
    api.push(text("read it"))
    async with agented(tmp_path, [make_bot(prompt=prompt)]) as ag:
        done, _ = await run(ag, "claude-bot")
    assert done.status is Status.SUCCEEDED, done.error
    (request,) = api.model_requests()
    sent = "".join(
        part.get("text", "")
        for message in request.json["messages"]
        if message["role"] == "user"
        for part in (message["content"] if isinstance(message["content"], list) else [])
    )
    assert prompt in sent
    assert done.prompt == prompt
    assert all(len(arg) < 1000 for arg in done.command)
    assert "BEGIN-PROMPT" not in " ".join(done.command)


# tools
async def test_tool_call_round_trip(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], workdir: Path
) -> None:
    (workdir / "notes.txt").write_text("tool-output-6142\n")
    api.push(
        tool("Bash", {"command": "cat notes.txt", "description": "read notes"}, usage=Usage(12, 4)),
        Reply((Text("the notes say tool-output-6142"),), Usage(30, 6)),
    )
    bot = make_bot(allowed_tools=["Bash(cat:*)", "Read"])
    async with agented(tmp_path, [bot]) as ag:
        done, events = await run(ag, "claude-bot")
    assert done.status is Status.SUCCEEDED, done.error
    (call,) = kinds(events, "tool_call")
    assert call.data["name"] == "Bash" and call.data["input"]["command"] == "cat notes.txt"
    (result,) = kinds(events, "tool_result")
    assert result.data["id"] == call.data["id"] and result.data["ok"] is True
    assert "tool-output-6142" in result.data["output"]
    # the tool's output went back to the model in the second request
    _, second = api.model_requests()
    returned = [
        part
        for message in second.json["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
        if part.get("type") == "tool_result"
    ]
    assert returned and returned[-1]["tool_use_id"] == call.data["id"]
    assert "tool-output-6142" in json.dumps(returned[-1]["content"])
    assert done.result == "the notes say tool-output-6142"
    usage = kinds(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"]) == (12 + 30, 4 + 6)
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and call.seq < result.seq


# limits and errors
async def test_subscription_429_is_a_quota_with_its_reset_time(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    reset = int(time.time()) + 3 * 3600
    api.always(Error(429, retry_after=5, headers=unified_limit_headers(reset)))
    bot = make_bot(account="subscription", max_attempts=2)
    async with agented(tmp_path, [bot]) as ag:
        done, events = await run(ag, "claude-bot")
    reset_at = datetime.fromtimestamp(reset, UTC)
    limits = [e.data for e in kinds(events, "rate_limit")]
    assert limits and limits[0]["kind"] == "quota"
    assert limits[0]["reset_at"] == reset_at.isoformat()
    assert limits[0]["account"] == "subscription" and limits[0]["window"] == "five_hour"
    # no retry inside the CLI: one request, then agented waits for the reset
    assert len(api.model_requests()) == 1
    assert api.model_requests()[0].headers["authorization"] == f"Bearer {OAUTH_TOKEN}"
    assert done.status is Status.WAITING
    assert done.retry_at == reset_at
    assert [a.error_kind.value for a in done.attempts if a.error_kind] == ["quota"]
    assert not kinds(events, "error") or kinds(events, "error")[0].data["kind"] == "quota"


async def test_a_limited_account_then_a_working_one(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    """Issue 7 with the genuine CLI: a used-up subscription, then the API-key account."""
    reset = int(time.time()) + 2 * 3600

    def subscription(request: Any) -> bool:
        return request.headers.get("authorization") == f"Bearer {OAUTH_TOKEN}"

    api.always(Error(429, retry_after=5, headers=unified_limit_headers(reset)), when=subscription)
    api.always(text("done on the work account"))
    bot = make_bot(account="subscription", fallback=(ChainEntry("claude", "work"),), max_attempts=3)
    async with agented(tmp_path, [bot]) as ag:
        done, events = await run(ag, "claude-bot")
        cooldown = await ag.store.get_state("cooldown:claude:subscription")
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "done on the work account"
    assert [(a.account, a.error_kind.value if a.error_kind else None) for a in done.attempts] == [
        ("subscription", "quota"),
        ("work", None),
    ]
    reset_at = datetime.fromtimestamp(reset, UTC)
    assert done.attempts[0].reset_at == reset_at
    assert cooldown["until"] == reset_at.isoformat()
    decisions = [e.data["action"] for e in kinds(events, "rate_limit")]
    assert decisions[-1] == "switch"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_api_key_429_is_a_rate_limit_then_agented_retries(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    api.push(Error(429, retry_after=1), Error(429, retry_after=1), text("after the limit"))
    bot = make_bot(max_attempts=2)  # the CLI retries once itself (max_retries 1)
    async with agented(tmp_path, [bot]) as ag:
        execution = await ag.run("claude-bot")
        done = await ag.wait(execution.id, timeout=60)
        events = [e async for e in ag.events(execution.id) if e.seq <= done.last_seq]
    retries = kinds(events, "retry")
    assert retries and retries[0].data["status"] == 429 and retries[0].data["delay_ms"] == 1000
    limits = [e.data for e in kinds(events, "rate_limit")]
    assert limits[0]["kind"] == "rate" and limits[0]["retry_after"] == 1.0
    assert done.status is Status.SUCCEEDED, done.error
    assert done.attempt == 2 and done.result == "after the limit"
    assert done.attempts and done.attempts[0].error_kind is not None
    assert done.attempts[0].error_kind.value == "rate"
    assert len(api.model_requests()) == 3


async def test_401_is_auth_not_a_rate_limit(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    api.always(Error(401))
    bot = make_bot(max_attempts=3, options={"max_retries": 0})
    async with agented(tmp_path, [bot]) as ag:
        done, events = await run(ag, "claude-bot")
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "auth"
    assert "Invalid API key" in (done.error or "")
    assert not kinds(events, "rate_limit")
    assert done.attempt == 1  # auth is never retried
    assert len(api.model_requests()) == 1


async def test_529_is_overloaded(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    api.always(Error(529))
    async with agented(tmp_path, [make_bot(options={"max_retries": 0})]) as ag:
        done, events = await run(ag, "claude-bot")
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "overloaded"
    limits = kinds(events, "rate_limit")
    assert limits[0].data["kind"] == "overloaded" and limits[0].data["matched"]
    assert {e.data["kind"] for e in limits} == {"overloaded"}  # then agented's own decision


async def test_a_cut_stream_fails_instead_of_hanging(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    # every answer (the stream, and the CLI's non-streaming fallback) breaks off midway
    api.always(Reply((Text("partial " * 40),), text_chunks=8, cut_after=4))
    started = time.monotonic()
    async with agented(tmp_path, [make_bot(options={"max_retries": 0})]) as ag:
        done, events = await run(ag, "claude-bot")
    assert time.monotonic() - started < 45
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "network"
    assert kinds(events, "result")[-1].data["ok"] is False


async def test_a_cut_stream_the_cli_recovers_from(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    # one cut stream: Claude Code repeats the request without streaming and carries on
    api.push(Reply((Text("partial " * 40),), text_chunks=8, cut_after=4), text("whole answer"))
    async with agented(tmp_path, [make_bot()]) as ag:
        done, _ = await run(ag, "claude-bot")
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "whole answer"
    assert [r.json.get("stream") for r in api.model_requests()] == [True, None]


# supervision
@pytest.mark.parametrize("partial", [False, True])
async def test_a_slow_stream_and_the_idle_watchdog(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], partial: bool
) -> None:
    # ~6 s of answer, 0.3 s between events: silent for the CLI's stdout unless partial. The
    # idle timeout leaves the CLI 3 s to start (node under the load of kilo's tests beside
    # these took more than 1.5 s) and is still half the silence without partial messages
    api.push(Reply((Text("slowly " * 20),), text_chunks=20, chunk_delay=0.3))
    bot = make_bot(idle_timeout=3.0, options={"partial_messages": partial})
    async with agented(tmp_path, [bot]) as ag:
        done, events = await run(ag, "claude-bot")
    if partial:
        assert done.status is Status.SUCCEEDED, done.error
        assert done.result == "slowly " * 20
        assert [e.text for e in kinds(events, "text")] == ["slowly " * 20]  # no deltas stored
    else:
        assert done.status is Status.FAILED
        assert done.error_kind is not None and done.error_kind.value == "idle"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def _live_pids_with(home: Path) -> list[int]:
    """Live processes whose environment has ``HOME=<home>`` (the CLI and what it started)."""
    marker = f"HOME={home}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ and state not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found


async def test_timeout_kills_the_cli_and_everything_it_started(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], home: Path
) -> None:
    pid_file = tmp_path / "tool.pid"
    command = f"sleep 300 & echo $! > {pid_file}; echo started"
    api.push(
        tool("Bash", {"command": command, "description": "start a background job"}),
        Reply((Text("never finished"),), stall_after=1),  # the next answer hangs
    )
    bot = make_bot(timeout=6.0, allowed_tools=["Bash"])
    async with agented(tmp_path, [bot]) as ag:
        done, events = await run(ag, "claude-bot")
    assert len(api.model_requests()) == 2, "the tool ran and the CLI asked again"
    assert kinds(events, "tool_result") and kinds(events, "tool_result")[0].data["ok"]
    assert done.status is Status.TIMED_OUT
    assert events[-1].data["status"] == "timed_out"
    tool_pid = int(pid_file.read_text())  # `sleep 300 &`: orphaned, in a session of its own
    with anyio.fail_after(5):
        while _live_pids_with(home):
            await anyio.sleep(0.05)
    assert tool_pid not in _live_pids_with(home) and not _alive(tool_pid)


async def test_no_secret_in_the_stored_events(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    # the model echoes the key, and a tool prints the environment's secrets
    api.push(
        tool("Bash", {"command": "echo key=$ANTHROPIC_API_KEY", "description": "env"}),
        text(f"your key is {API_KEY}"),
    )
    bot = make_bot(allowed_tools=["Bash"])
    async with agented(tmp_path, [bot]) as ag:
        done, events = await run(ag, "claude-bot")
    assert done.status is Status.SUCCEEDED, done.error
    everything = stored(events, done)
    assert API_KEY not in json.dumps([[e.kind, e.text, e.data] for e in events])
    assert "[redacted]" in (kinds(events, "tool_result")[0].data["output"])
    assert HOST_ONLY not in everything
    assert API_KEY not in json.dumps(done.command)


async def test_no_secret_in_the_execution_record(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    api.push(text(f"your key is {API_KEY}"))
    async with agented(tmp_path, [make_bot()]) as ag:
        done, events = await run(ag, "claude-bot")
    assert done.status is Status.SUCCEEDED, done.error
    assert API_KEY not in stored(events, done)


async def test_accounts_reach_only_their_own_child(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    dirs = {name: tmp_path / f"config-{name}" for name in ("a", "b")}
    accounts = {
        name: Account(
            name,
            "claude",
            env={"CLAUDE_CONFIG_DIR": str(folder)},
            env_from={"ANTHROPIC_API_KEY": f"KEY_{name.upper()}"},
        )
        for name, folder in dirs.items()
    }
    api.always(text("ok"))
    bots = [make_bot("bot-a", account="a"), make_bot("bot-b", account="b")]
    config = Config(
        settings=AgentedSettings(database=f"sqlite:///{tmp_path / 'agented.db'}"), accounts=accounts
    )
    host_env = {
        "PATH": os.environ["PATH"],
        "KEY_A": "sk-ant-key-of-account-a",
        "KEY_B": "sk-ant-key-of-account-b",
    }
    before = dict(os.environ)
    async with Agented.open(config=config, bots=bots, host_env=host_env) as ag:
        first, second = await ag.run("bot-a"), await ag.run("bot-b")
        done = [await ag.wait(e.id, timeout=60) for e in (first, second)]
    assert all(d.status is Status.SUCCEEDED for d in done), [d.error for d in done]
    keys = sorted(r.headers["x-api-key"] for r in api.model_requests())
    assert keys == ["sk-ant-key-of-account-a", "sk-ant-key-of-account-b"]
    sessions = {d.account: d.session_id for d in done}
    for name, folder in dirs.items():  # each CLI kept its session in its account's folder
        assert folder.is_dir() and any(sessions[name] in p.name for p in folder.rglob("*.jsonl"))
    assert dict(os.environ) == before


async def test_budget_and_options_reach_the_cli(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    # one expensive turn: 100k input tokens of sonnet cost $0.30, over the $0.20 budget
    api.always(
        tool("Bash", {"command": "echo again", "description": "x"}, usage=Usage(100_000, 10))
    )
    bot = make_bot(
        max_cost_usd=0.2,
        disallowed_tools=["WebSearch", "WebFetch"],
        options={"append_system_prompt": "APPENDED-BY-AGENTED", "max_turns": 5},
    )
    async with agented(tmp_path, [bot]) as ag:
        done, events = await run(ag, "claude-bot")
    (request,) = api.model_requests()
    names = {t["name"] for t in request.json["tools"]}
    assert "Bash" in names and not names & {"WebSearch", "WebFetch"}
    assert "APPENDED-BY-AGENTED" in json.dumps(request.json["system"])
    assert "--max-budget-usd" in done.command and "0.2" in done.command
    assert done.status is Status.BUDGET_EXCEEDED
    assert done.usage.cost_usd == pytest.approx(100_000 * SONNET["input"] + 10 * SONNET["output"])
    assert kinds(events, "result")[-1].data["subtype"] == "error_max_budget_usd"


# headroom before the wall
async def test_a_warned_account_is_passed_over_while_another_has_headroom(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot]
) -> None:
    """The unified headers of an allowed request close to its limit: Claude Code reports them
    in a ``rate_limit_event``, agented records the account's headroom, and the next run of the
    chain starts on the account that has more."""
    reset = int(time.time()) + 2 * 3600
    headers = unified_limit_headers(reset, status="allowed_warning")
    headers["anthropic-ratelimit-unified-5h-utilization"] = "0.93"

    def subscription(request: Any) -> bool:
        return request.headers.get("authorization") == f"Bearer {OAUTH_TOKEN}"

    api.always(
        Reply((Text("on the subscription"),), Usage(10, 3), headers=headers), when=subscription
    )
    api.always(Reply((Text("on the work account"),), Usage(10, 3)))
    bot = make_bot(account="subscription", fallback=(ChainEntry("claude", "work"),))
    async with agented(tmp_path, [bot]) as ag:
        first, events = await run(ag, "claude-bot")
        room = await ag.account_headroom()
        second, _ = await run(ag, "claude-bot")
    assert first.status is Status.SUCCEEDED and first.account == "subscription", first.error
    assert kinds(events, "headroom"), [e.kind for e in events]
    subscription_room = room["subscription"]
    assert subscription_room is not None and subscription_room["status"] == "allowed_warning"
    assert subscription_room["low"] is True and room["work"] is None
    assert second.status is Status.SUCCEEDED and second.account == "work"
    assert first.attempts[0].headroom is not None
