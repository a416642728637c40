"""The kilo provider (opencode's, with kilo's names) and its parser on transcripts of the genuine
kilo CLI."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import agented_kilo
import pytest
from agented_kilo import KiloParser, KiloProvider, database

from agented_core import (
    Account,
    Bot,
    CommandRequest,
    EventDraft,
    ManualTrigger,
    PluginError,
    Status,
)
from agented_core.plugins import Plugins
from conftest import OpenAgented
from plugin_support import drive, of, pinned_version, recorded

HERE = Path(__file__).parent
FAKE_AGENT = str(HERE.parent / "fake_agent.py")
OURS = HERE.parent.parent / "fixtures" / "kilo"
VERSION = "7.7.7"
KNOWN_KINDS = {
    "session", "text", "thinking", "tool_call", "tool_result", "usage", "result", "retry",
    "rate_limit", "error", "warning", "stderr",
}  # fmt: skip


def parse(
    lines: Sequence[str], stderr: Sequence[str] = (), exit_code: int | None = 0
) -> list[EventDraft]:
    return drive(KiloParser(model="fake/priced"), lines, stderr, exit_code)


def transcript(name: str, exit_code: int = 0) -> list[EventDraft]:
    lines, stderr = recorded(OURS, f"kilo-{VERSION}-{name}")
    return parse(lines, stderr, exit_code)


@pytest.mark.parametrize("path", sorted(OURS.glob("kilo-*.jsonl")), ids=lambda p: p.name)
def test_every_line_of_a_real_transcript_is_understood(path: Path) -> None:
    events = parse(path.read_text().splitlines(), exit_code=None)
    assert events and not of(events, "raw")
    assert {e.kind for e in events} <= KNOWN_KINDS


def test_success_with_kilos_own_cost() -> None:
    events = transcript("success")
    assert [e.text for e in of(events, "text")] == ["hello from fake"]
    usage = of(events, "usage")[-1].data
    assert usage["input_tokens"] == 12 and usage["cost_usd"] and usage["cost_usd"] > 0
    assert of(events, "result")[-1].data["ok"] is True


def test_a_tool_round_trip_and_thinking() -> None:
    events = transcript("tool-round-trip")
    (call,) = of(events, "tool_call")
    (result,) = of(events, "tool_result")
    assert call.data["name"] == "bash" and result.data["ok"] is True
    assert [e.text for e in of(transcript("thinking"), "thinking")] == ["let me think"]


def test_a_429_is_rate_with_its_retries_from_the_log() -> None:
    events = transcript("rate-limited-429", exit_code=1)
    (error,) = of(events, "error")
    assert error.data["kind"] == "rate" and error.data["status"] == 429
    assert [e.data["attempt"] for e in of(events, "retry")] == [1, 2, 3, 4, 5, 6]
    assert of(events, "rate_limit")[0].data["provider"] == "kilo"


def test_a_401_is_auth() -> None:
    (error,) = of(transcript("unauthorized-401", exit_code=1), "error")
    assert error.data["kind"] == "auth"


def request(bot: Bot, **kwargs: Any) -> CommandRequest:
    kwargs.setdefault("env", {"PATH": "/usr/bin", "HOME": "/home/bot"})
    return CommandRequest(bot=bot, prompt="do it", context={}, cwd="/work", **kwargs)


def bot(**fields: Any) -> Bot:
    return Bot(name="b", provider="kilo", prompt="do it", **fields)


def test_the_command_and_kilos_environment() -> None:
    command = KiloProvider().build_command(request(bot(model="fake/priced")))
    assert command.argv[:9] == (
        "kilo", "run", "--format", "json", "--print-logs", "--log-level", "ERROR",
        "--model", "fake/priced",
    )  # fmt: skip
    env = command.env
    assert env["KILO_DISABLE_MODELS_FETCH"] == "true" and env["KILO_DISABLE_AUTOUPDATE"] == "true"
    assert env["KILO_TELEMETRY_LEVEL"] == "off" and "OPENCODE_CONFIG_CONTENT" not in env
    assert command.stdin == b"do it"


def test_mcp_and_config_go_in_kilos_config_content() -> None:
    mcp = json.dumps({"mcpServers": {"gh": {"command": "gh-mcp"}}})
    b = bot(mcp_config=mcp, options={"config": {"share": "disabled"}, "telemetry": "error"})
    env = {"PATH": "/usr/bin", "KILO_CONFIG_CONTENT": json.dumps({"theme": "x"})}
    command = KiloProvider().build_command(request(b, env=env))
    content = json.loads(command.env["KILO_CONFIG_CONTENT"])
    assert content["mcp"]["gh"] == {"type": "local", "command": ["gh-mcp"], "enabled": True}
    assert content["share"] == "disabled" and content["theme"] == "x"
    assert command.env["KILO_TELEMETRY_LEVEL"] == "error"
    broken = {"PATH": "/usr/bin", "KILO_CONFIG_CONTENT": "{nope"}
    with pytest.raises(PluginError, match="KILO_CONFIG_CONTENT is not JSON"):
        KiloProvider().build_command(request(b, env=broken))


def test_resume_only_with_a_session_in_kilos_database(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin", "XDG_DATA_HOME": str(tmp_path)}
    path = database(env)
    assert path == tmp_path / "kilo" / "kilo.db"
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE session (id TEXT)")
        db.execute("INSERT INTO session VALUES ('ses_1')")
    b = bot(account="a", options={"resume": True})
    account = Account("a", "kilo")
    kept = request(b, env=env, attempt=2, session_id="ses_1", session_account="a", account=account)
    assert "--session" in KiloProvider().arguments(kept)
    gone = request(b, env=env, attempt=2, session_id="ses_2", session_account="a", account=account)
    assert "--session" not in KiloProvider().arguments(gone)


def test_the_entry_point_registers_the_provider_and_pins_its_version() -> None:
    assert isinstance(Plugins().provider("kilo"), KiloProvider)
    assert KiloProvider().check_bot(bot(options={"telemetry": "loud"}))
    assert pinned_version("kilo") == agented_kilo.TESTED_VERSION


@pytest.mark.anyio
async def test_a_run_end_to_end(open_agented: OpenAgented, tmp_path: Path) -> None:
    b = Bot(
        name="ok",
        provider="kilo",
        prompt="go",
        model="fake/priced",
        workdir=str(tmp_path),
        options={"executable": FAKE_AGENT},
        env={"FAKE_AGENT_TRANSCRIPT": str(OURS / f"kilo-{VERSION}-tool-round-trip.jsonl")},
        triggers=(ManualTrigger(),),
        max_attempts=1,
    )
    async with open_agented([b], plugins=[agented_kilo]) as ag:
        done = await ag.wait((await ag.run("ok")).id, timeout=20)
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "done" and done.provider == "kilo"
