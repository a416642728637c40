"""Contract tests: the genuine Codex CLI, run by agented against the fake OpenAI Responses API.

Each account has its own ``CODEX_HOME`` whose ``config.toml`` defines the custom model
provider ``fake`` (codex cannot redirect its built-in ``openai`` provider); its key comes from
the host through ``env_from``. Bots cap codex's own retries with ``options.max_retries``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from contract import bot_factory
from realcli_support import (
    big_prompt,
    cli_bin,
    gone,
    kinds,
    live_pids_with,
    open_agented,
    run,
    stored,
)

from agented_core import Account, Bot, Status
from agented_core.config import Price
from fakeapi import Error, FakeModelAPI, Reply, Text, ToolUse, Usage, text, tool
from fakeapi.openai_responses import OpenAIResponses

pytestmark = [pytest.mark.realcli, pytest.mark.anyio, pytest.mark.timeout(120)]

API_KEY = "sk-proj-realcli-SECRET-7c1d2e"
HOST_ONLY = "host-only-SECRET-value-5a8b"
MODEL = "gpt-5.5"
PRICES = {MODEL: Price(input=1.25, output=10.0, cache_read=0.125)}


@pytest.fixture(scope="session")
def codex_bin() -> str:
    return cli_bin("codex")


@pytest.fixture
def api() -> FakeModelAPI:
    with FakeModelAPI([OpenAIResponses()]) as fake:
        yield fake


def codex_home(folder: Path, base_url: str) -> Path:
    """A CODEX_HOME whose config.toml points the provider ``fake`` at ``base_url``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(
        f'model = "{MODEL}"\n'
        "[model_providers.fake]\n"
        'name = "Fake"\n'
        f'base_url = "{base_url}/v1"\n'
        'env_key = "FAKE_API_KEY"\n'
    )
    return folder


@pytest.fixture
def accounts(tmp_path: Path, api: FakeModelAPI) -> dict[str, Account]:
    home = codex_home(tmp_path / "codex-work", api.url)
    return {
        "work": Account(
            "work", "codex", env={"CODEX_HOME": str(home)}, env_from={"FAKE_API_KEY": "KEY"}
        )
    }


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def make_bot(codex_bin: str, tmp_path: Path, workdir: Path) -> Callable[..., Bot]:
    options = {"model_provider": "fake", "max_retries": 1}
    return bot_factory("codex", codex_bin, tmp_path / "home", workdir, MODEL, options=options)


HOST = {"KEY": API_KEY, "AGENTED_HOST_SECRET": HOST_ONLY}


async def test_text_tokens_cost_and_session(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.push(text("hello from fake", usage=Usage(12, 5, cache_read_tokens=4)))
    async with open_agented(
        tmp_path, [make_bot()], accounts, HOST, provider="codex", prices=PRICES
    ) as ag:
        done, events = await run(ag, "codex-bot")
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "hello from fake"
    assert [e.text for e in kinds(events, "text")] == ["hello from fake"]
    usage = kinds(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (12, 5, 4)
    expected = (12 * 1.25 + 5 * 10.0 + 4 * 0.125) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected)
    assert done.usage.cost_usd == pytest.approx(expected)
    result = kinds(events, "result")[-1].data
    assert result["ok"] is True and result["turns"] == 1
    session = kinds(events, "session")[0].data
    assert session["session_id"] == done.session_id and session["model"] == MODEL
    (request,) = api.model_requests()
    assert request.json["model"] == MODEL and request.json["stream"] is True
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert HOST_ONLY not in request.text
    assert API_KEY not in stored(events, done)
    # agented closed stdin after the prompt: codex did not wait for more input
    assert done.command[-1] == "-" and "say hi" not in done.command


async def test_a_300kb_prompt_goes_in_whole_on_stdin(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    prompt = big_prompt()
    api.push(text("read it"))
    async with open_agented(
        tmp_path, [make_bot(prompt=prompt)], accounts, HOST, provider="codex"
    ) as ag:
        done, _ = await run(ag, "codex-bot")
    assert done.status is Status.SUCCEEDED, done.error
    (request,) = api.model_requests()
    assert prompt in request.text.replace("\\n", "\n")
    assert all(len(arg) < 1000 for arg in done.command)


async def test_a_command_round_trip(
    tmp_path: Path,
    api: FakeModelAPI,
    make_bot: Callable[..., Bot],
    accounts: dict[str, Account],
    workdir: Path,
) -> None:
    (workdir / "notes.txt").write_text("tool-output-6142\n")
    api.push(
        tool("exec_command", {"cmd": "cat notes.txt"}, usage=Usage(12, 4)),
        Reply((Text("the notes say tool-output-6142"),), Usage(30, 6)),
    )
    async with open_agented(tmp_path, [make_bot()], accounts, HOST, provider="codex") as ag:
        done, events = await run(ag, "codex-bot")
    assert done.status is Status.SUCCEEDED, done.error
    (call,) = kinds(events, "tool_call")
    assert (
        call.data["name"] == "command_execution"
        and "cat notes.txt" in call.data["input"]["command"]
    )
    (result,) = kinds(events, "tool_result")
    assert result.data["id"] == call.data["id"] and result.data["ok"] is True
    assert result.data["exit_code"] == 0 and "tool-output-6142" in result.data["output"]
    _, second = api.model_requests()
    outputs = [i for i in second.json["input"] if i.get("type") == "function_call_output"]
    assert outputs and "tool-output-6142" in outputs[-1]["output"]
    usage = kinds(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"]) == (42, 10)
    assert call.seq < result.seq


async def test_a_failing_command_is_a_failed_tool_result(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.push(tool("exec_command", {"cmd": "exit 3"}), text("it failed"))
    async with open_agented(tmp_path, [make_bot()], accounts, HOST, provider="codex") as ag:
        done, events = await run(ag, "codex-bot")
    assert done.status is Status.SUCCEEDED, done.error
    (result,) = kinds(events, "tool_result")
    assert result.data["ok"] is False and result.data["exit_code"] == 3


async def test_a_file_change(
    tmp_path: Path,
    api: FakeModelAPI,
    make_bot: Callable[..., Bot],
    accounts: dict[str, Account],
    workdir: Path,
) -> None:
    patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello from codex\n*** End Patch\n"
    api.push(Reply((ToolUse("apply_patch", {}, freeform=patch),)), text("patched"))
    bot = make_bot(options={"sandbox": "workspace-write"})
    async with open_agented(tmp_path, [bot], accounts, HOST, provider="codex") as ag:
        done, events = await run(ag, "codex-bot")
    assert done.status is Status.SUCCEEDED, done.error
    (change,) = kinds(events, "file_change")
    assert change.data["path"] == str(workdir / "hello.txt") and change.data["change"] == "add"
    assert (workdir / "hello.txt").read_text() == "hello from codex\n"


async def test_429_is_a_rate_limit_after_codexs_own_capped_retry(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.always(Error(429, retry_after=1))
    async with open_agented(tmp_path, [make_bot()], accounts, HOST, provider="codex") as ag:
        done, events = await run(ag, "codex-bot")
    retries = kinds(events, "retry")
    assert [r.data["attempt"] for r in retries] == [1]  # max_retries 1: one retry, no more
    assert retries[0].data["status"] == 429 and retries[0].data["max_retries"] == 1
    limits = [e.data for e in kinds(events, "rate_limit")]
    assert limits[0]["kind"] == "rate" and limits[0]["status"] == 429
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "rate"
    assert "429" in (done.error or "")
    first, second = api.model_requests()
    assert second.time - first.time >= 0.9  # codex obeyed retry-after: 1


async def test_a_used_up_plan_is_a_quota_with_its_reset_time(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    reset = int(time.time()) + 2 * 3600
    body = {
        "error": {
            "type": "usage_limit_reached",
            "message": "The usage limit has been reached",
            "plan_type": "plus",
            "resets_at": reset,
            "resets_in_seconds": 7200,
        }
    }
    api.always(Error(429, body=body))
    # codex writes the reset as a clock time of the child's zone: Tokyo, not the host's UTC
    bot = make_bot(max_attempts=2, env={"TZ": "Asia/Tokyo"})
    async with open_agented(tmp_path, [bot], accounts, HOST, provider="codex") as ag:
        done, events = await run(ag, "codex-bot")
    (limit,) = [e.data for e in kinds(events, "rate_limit") if e.data["kind"] == "quota"][:1]
    stated = datetime.fromtimestamp(reset, ZoneInfo("Asia/Tokyo")).replace(second=0)
    assert limit["reset_at"] == stated.astimezone(UTC).isoformat()
    assert done.status is Status.WAITING
    assert done.retry_at == datetime.fromisoformat(limit["reset_at"])
    assert [a.error_kind.value for a in done.attempts if a.error_kind] == ["quota"]
    assert len(api.model_requests()) == 1


async def test_401_is_auth_and_never_retried(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.always(Error(401))
    async with open_agented(
        tmp_path, [make_bot(max_attempts=3)], accounts, HOST, provider="codex"
    ) as ag:
        done, events = await run(ag, "codex-bot")
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "auth"
    assert "Incorrect API key" in (done.error or "")
    assert not kinds(events, "rate_limit")
    assert done.attempt == 1
    assert len(api.model_requests()) == 2  # codex itself retries a 401 once (max_retries 1)


async def test_a_cut_stream_is_a_network_failure(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    words = " ".join(f"word{i}" for i in range(80))
    api.always(Reply((Text(words),), text_chunks=8, cut_after=6))
    started = time.monotonic()
    async with open_agented(tmp_path, [make_bot()], accounts, HOST, provider="codex") as ag:
        done, events = await run(ag, "codex-bot")
    assert time.monotonic() - started < 30
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "network"
    assert "stream disconnected" in (done.error or "")
    assert kinds(events, "result")[-1].data["ok"] is False


async def test_a_dead_server_is_ended_by_the_idle_watchdog(
    tmp_path: Path, make_bot: Callable[..., Bot]
) -> None:
    # nothing listens there: codex waits for the network forever, saying so now and then
    home = codex_home(tmp_path / "codex-dead", "http://127.0.0.1:9")
    accounts = {
        "work": Account(
            "work", "codex", env={"CODEX_HOME": str(home)}, env_from={"FAKE_API_KEY": "KEY"}
        )
    }
    bot = make_bot(idle_timeout=3.0)
    started = time.monotonic()
    async with open_agented(tmp_path, [bot], accounts, HOST, provider="codex") as ag:
        done, events = await run(ag, "codex-bot")
    assert time.monotonic() - started < 30
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "idle"
    waits = [e for e in kinds(events, "retry") if e.data.get("waiting_for_network")]
    assert waits and "Connection failed" in waits[0].data["reason"]
    assert kinds(events, "error")[-1].data["kind"] == "network"
    assert await gone(f"CODEX_HOME={home}")


async def test_timeout_ends_a_stalled_stream_and_every_process(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.always(Reply((Text("never finished"),), stall_after=3))
    bot = make_bot(timeout=4.0)
    async with open_agented(tmp_path, [bot], accounts, HOST, provider="codex") as ag:
        done, events = await run(ag, "codex-bot")
    assert done.status is Status.TIMED_OUT
    assert events[-1].data["status"] == "timed_out"
    assert await gone(f"CODEX_HOME={accounts['work'].env['CODEX_HOME']}")
    assert not live_pids_with(f"CODEX_HOME={accounts['work'].env['CODEX_HOME']}")


async def test_a_later_attempt_resumes_the_thread(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.push(
        tool("exec_command", {"cmd": "echo first"}, usage=Usage(12, 4)),
        Reply((Text("cut " * 20),), text_chunks=4, cut_after=3),  # a network failure
        text("resumed and done", usage=Usage(30, 6)),
    )
    bot = make_bot(max_attempts=2, options={"resume": True, "max_retries": 0})
    async with open_agented(tmp_path, [bot], accounts, HOST, provider="codex") as ag:
        done, events = await run(ag, "codex-bot", through_retries=True)
    assert done.status is Status.SUCCEEDED, done.error
    assert done.attempt == 2
    assert "resume" in done.command and done.session_id in done.command
    sessions = {e.data["session_id"] for e in kinds(events, "session")}
    assert sessions == {done.session_id}
    # the resumed request carries the first attempt's conversation
    last = api.model_requests()[-1]
    assert "echo first" in json.dumps(last.json["input"])
    # the first attempt's tokens (never reported by a failed turn) are counted once
    assert (done.usage.input_tokens, done.usage.output_tokens) == (42, 10)
