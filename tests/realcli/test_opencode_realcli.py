"""Contract tests: the genuine opencode, run by agented against the fake chat-completions API.

Each account has its own ``opencode.json`` (``OPENCODE_CONFIG``: an OpenAI-compatible provider
``fake`` pointing here, one model with a price and one without) and its own data folder
(``XDG_DATA_HOME``: sessions, logs); its key comes from the host through ``env_from``.
opencode retries a retryable error up to 5 times by itself (no setting changes that), so the
tests that make it fail do so with short ``retry-after`` waits.
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
from fakeapi.openai_chat import OpenAIChat

pytestmark = [pytest.mark.realcli, pytest.mark.anyio, pytest.mark.timeout(120)]

API_KEY = "sk-oc-realcli-SECRET-48d1aa"
HOST_ONLY = "host-only-SECRET-value-66e0"
MODEL = "fake/fake-model"
COST = {"input": 1.0, "output": 2.0, "cache_read": 0.1}  # USD per million, in opencode.json


@pytest.fixture(scope="session")
def opencode_bin() -> str:
    return cli_bin("opencode")


@pytest.fixture
def api() -> FakeModelAPI:
    with FakeModelAPI([OpenAIChat()]) as fake:
        yield fake


def opencode_account(name: str, folder: Path, base_url: str, key_var: str = "KEY") -> Account:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            "fake": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Fake",
                "options": {"baseURL": f"{base_url}/v1", "apiKey": "{env:FAKE_API_KEY}"},
                "models": {
                    "fake-model": {"name": "Fake Model", "cost": COST},
                    "unpriced-model": {"name": "Unpriced Model"},
                },
            }
        },
    }
    (folder / "opencode.json").write_text(json.dumps(config))
    return Account(
        name,
        "opencode",
        env={
            "OPENCODE_CONFIG": str(folder / "opencode.json"),
            "XDG_DATA_HOME": str(folder / "data"),
        },
        env_from={"FAKE_API_KEY": key_var},
    )


@pytest.fixture
def accounts(tmp_path: Path, api: FakeModelAPI) -> dict[str, Account]:
    return {"work": opencode_account("work", tmp_path / "oc-work", api.url)}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def make_bot(opencode_bin: str, tmp_path: Path, workdir: Path) -> Callable[..., Bot]:
    def factory(name: str = "opencode-bot", **fields: Any) -> Bot:
        options = {"executable": opencode_bin, **fields.pop("options", {})}
        env = {"HOME": str(tmp_path / "home"), **fields.pop("env", {})}
        fields.setdefault("prompt", "say hi")
        fields.setdefault("account", "work")
        fields.setdefault("max_attempts", 1)
        fields.setdefault("timeout", 60.0)
        fields.setdefault("model", MODEL)
        return Bot(
            name=name,
            provider="opencode",
            workdir=str(workdir),
            options=options,
            env=env,
            triggers=(ManualTrigger(),),
            **fields,
        )

    return factory


HOST = {"KEY": API_KEY, "AGENTED_HOST_SECRET": HOST_ONLY}


async def test_text_tokens_and_the_cost_opencode_reports(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.push(
        Reply(
            (Thinking("let me think"), Text("hello from fake")), Usage(12, 5, cache_read_tokens=4)
        )
    )
    async with open_agented(tmp_path, [make_bot()], accounts, HOST, provider="opencode") as ag:
        done, events = await run(ag, "opencode-bot")
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "hello from fake"
    assert [e.text for e in kinds(events, "text")] == ["hello from fake"]
    assert [e.text for e in kinds(events, "thinking")] == ["let me think"]
    usage = kinds(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (12, 5, 4)
    expected = (12 * COST["input"] + 5 * COST["output"] + 4 * COST["cache_read"]) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected)  # opencode's own figure
    session = kinds(events, "session")[0].data
    assert session["session_id"] == done.session_id and session["session_id"].startswith("ses_")
    (request,) = api.model_requests()  # --title: no title request first
    assert request.json["model"] == "fake-model" and request.json["stream"] is True
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert HOST_ONLY not in request.text
    assert API_KEY not in stored(events, done)
    assert "say hi" not in done.command


async def test_a_step_opencode_cannot_price_is_priced_from_the_prices_table(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.push(text("cheap", usage=Usage(1000, 100)))
    bots = [make_bot(model="fake/unpriced-model")]
    prices = {"unpriced-model": Price(input=3.0, output=15.0)}
    async with open_agented(
        tmp_path, bots, accounts, HOST, provider="opencode", prices=prices
    ) as ag:
        done, _ = await run(ag, "opencode-bot")
    assert done.status is Status.SUCCEEDED, done.error
    assert done.usage.cost_usd == pytest.approx((1000 * 3.0 + 100 * 15.0) / 1e6)


async def test_without_any_price_there_is_no_cost(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.push(text("free?", usage=Usage(1000, 100)))
    async with open_agented(
        tmp_path, [make_bot(model="fake/unpriced-model")], accounts, HOST, provider="opencode"
    ) as ag:
        done, _ = await run(ag, "opencode-bot")
    assert done.status is Status.SUCCEEDED, done.error
    assert done.usage.input_tokens == 1000 and done.usage.cost_usd is None  # not a wrong 0


async def test_a_300kb_prompt_goes_in_whole_on_stdin(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    prompt = big_prompt()
    api.push(text("read it"))
    async with open_agented(
        tmp_path, [make_bot(prompt=prompt)], accounts, HOST, provider="opencode"
    ) as ag:
        done, _ = await run(ag, "opencode-bot")
    assert done.status is Status.SUCCEEDED, done.error
    (request,) = api.model_requests()
    users = [m for m in request.json["messages"] if m["role"] == "user"]
    assert prompt in json.dumps(users, ensure_ascii=False).replace("\\n", "\n")
    assert all(len(arg) < 1000 for arg in done.command)


async def test_a_tool_round_trip(
    tmp_path: Path,
    api: FakeModelAPI,
    make_bot: Callable[..., Bot],
    accounts: dict[str, Account],
    workdir: Path,
) -> None:
    (workdir / "notes.txt").write_text("tool-output-6142\n")
    api.push(
        tool("bash", {"command": "cat notes.txt", "description": "read"}, usage=Usage(12, 4)),
        Reply((Text("the notes say tool-output-6142"),), Usage(30, 6)),
    )
    async with open_agented(tmp_path, [make_bot()], accounts, HOST, provider="opencode") as ag:
        done, events = await run(ag, "opencode-bot")
    assert done.status is Status.SUCCEEDED, done.error
    (call,) = kinds(events, "tool_call")
    assert call.data["name"] == "bash" and call.data["input"]["command"] == "cat notes.txt"
    (result,) = kinds(events, "tool_result")
    assert result.data["id"] == call.data["id"] and result.data["ok"] is True
    assert "tool-output-6142" in result.data["output"] and result.data["exit_code"] == 0
    _, second = api.model_requests()
    assert "tool-output-6142" in json.dumps(second.json["messages"][-1])
    usage = kinds(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"]) == (42, 10)
    assert kinds(events, "result")[-1].data["turns"] == 2


async def test_429_is_classified_from_its_error_event(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.always(Error(429, retry_after=0.5))
    async with open_agented(tmp_path, [make_bot()], accounts, HOST, provider="opencode") as ag:
        done, events = await run(ag, "opencode-bot")
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "rate"
    (failure,) = kinds(events, "error")
    assert failure.data["status"] == 429 and failure.data["retryable"] is True
    limits = [e.data for e in kinds(events, "rate_limit")]
    assert limits[0]["kind"] == "rate" and limits[0]["retry_after"] == 0.5
    # its own retries, visible on stderr through --print-logs: 6 requests, 6 failed attempts
    assert len(api.model_requests()) == 6
    assert [e.data["attempt"] for e in kinds(events, "retry")] == [1, 2, 3, 4, 5, 6]


async def test_401_is_auth_and_never_retried(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.always(Error(401))
    async with open_agented(
        tmp_path, [make_bot(max_attempts=3)], accounts, HOST, provider="opencode"
    ) as ag:
        done, events = await run(ag, "opencode-bot")
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "auth"
    assert "Incorrect API key" in (done.error or "")
    (failure,) = kinds(events, "error")
    assert failure.data["status"] == 401 and failure.data["retryable"] is False
    assert not kinds(events, "rate_limit") and done.attempt == 1
    assert len(api.model_requests()) == 1


async def test_a_cut_stream_opencode_retries_and_recovers_from(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    words = " ".join(f"word{i}" for i in range(80))
    api.push(Reply((Text(words),), text_chunks=8, cut_after=4), text("whole answer"))
    async with open_agented(tmp_path, [make_bot()], accounts, HOST, provider="opencode") as ag:
        done, events = await run(ag, "opencode-bot")
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "whole answer"
    assert [e.text for e in kinds(events, "text")] == ["whole answer"]  # nothing of the cut one
    assert len(api.model_requests()) == 2  # a retry it logs nothing about when it recovers


async def test_a_dead_server_is_ended_by_the_idle_watchdog(
    tmp_path: Path, make_bot: Callable[..., Bot]
) -> None:
    accounts = {"work": opencode_account("work", tmp_path / "oc-dead", "http://127.0.0.1:9")}
    started = time.monotonic()
    async with open_agented(
        tmp_path, [make_bot(idle_timeout=5.0)], accounts, HOST, provider="opencode"
    ) as ag:
        done, events = await run(ag, "opencode-bot")
    assert time.monotonic() - started < 45
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "idle"
    retries = kinds(events, "retry")
    assert retries and "Unable to connect" in retries[0].data["reason"]


async def test_timeout_ends_a_stalled_stream_and_every_process(
    tmp_path: Path, api: FakeModelAPI, make_bot: Callable[..., Bot], accounts: dict[str, Account]
) -> None:
    api.always(Reply((Text("never finished"),), stall_after=1))
    async with open_agented(
        tmp_path, [make_bot(timeout=6.0)], accounts, HOST, provider="opencode"
    ) as ag:
        done, events = await run(ag, "opencode-bot")
    assert done.status is Status.TIMED_OUT
    assert events[-1].data["status"] == "timed_out"
    assert await gone(f"OPENCODE_CONFIG={accounts['work'].env['OPENCODE_CONFIG']}")
