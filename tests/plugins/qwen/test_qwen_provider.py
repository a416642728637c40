"""The qwen provider: its command, settings folder, checks, and a whole run through agented
with a stand-in executable that prints a real transcript."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import agented_qwen
import pytest
from agented_qwen import QwenProvider

from agented_core import Bot, CommandRequest, ManualTrigger, PluginError, Status
from agented_core.config import Price
from agented_core.plugins import Plugins
from conftest import OpenAgented
from plugin_support import pinned_version

HERE = Path(__file__).parent
FAKE_AGENT = str(HERE.parent / "fake_agent.py")
TRANSCRIPTS = HERE.parent.parent / "fixtures" / "qwen"


def request(bot: Bot, prompt: str = "do it", **kwargs: Any) -> CommandRequest:
    kwargs.setdefault("env", {"PATH": "/usr/bin", "HOME": "/home/bot", "OPENAI_API_KEY": "k"})
    kwargs.setdefault("cwd", "/work")
    kwargs.setdefault("context", {})
    return CommandRequest(bot=bot, prompt=prompt, **kwargs)


def bot(**fields: Any) -> Bot:
    fields.setdefault("prompt", "do it")
    return Bot(name="b", provider="qwen", **fields)


def test_the_command_reads_the_prompt_from_stdin_and_writes_settings(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin", "HOME": str(tmp_path), "OPENAI_API_KEY": "k"}
    prompt = "review this\n" * 1000
    command = QwenProvider().build_command(request(bot(model="qwen3-coder"), prompt, env=env))
    assert command.argv == (
        "qwen", "--output-format", "stream-json", "--model", "qwen3-coder", "--auth-type", "openai",
    )  # fmt: skip
    assert command.stdin == prompt.encode()
    home = Path(command.env["QWEN_HOME"])
    assert home == tmp_path / ".local" / "state" / "agented" / "qwen" / "default" / "b"
    settings = json.loads((home / "settings.json").read_text())
    assert settings["model"]["generationConfig"]["maxRetries"] == 0
    assert settings["memory"]["enableManagedAutoMemory"] is False


def test_options_become_flags_and_settings(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin", "HOME": str(tmp_path)}
    mcp = json.dumps({"mcpServers": {"gh": {"command": "gh-mcp", "args": ["--stdio"]},
                                      "docs": {"type": "sse", "url": "https://x/mcp"}}})  # fmt: skip
    b = bot(
        allowed_tools=("read_file",),
        disallowed_tools=("run_shell_command",),
        mcp_config=mcp,
        options={
            "auth_type": "anthropic", "approval_mode": "yolo", "max_session_turns": 5,
            "include_directories": ["/data"], "sandbox": True, "chat_recording": False,
            "max_retries": 2, "settings": {"general": {"vimMode": True}},
        },
    )  # fmt: skip
    command = QwenProvider().build_command(request(b, env=env))
    argv = command.argv
    for part in ("--auth-type", "anthropic", "--approval-mode", "yolo", "--max-session-turns",
                 "5", "--sandbox", "--include-directories=/data", "--allowed-tools=read_file",
                 "--exclude-tools=run_shell_command", "--chat-recording", "false"):  # fmt: skip
        assert part in argv
    settings = json.loads((Path(command.env["QWEN_HOME"]) / "settings.json").read_text())
    assert settings["model"]["generationConfig"]["maxRetries"] == 2
    assert (
        settings["general"]["vimMode"] is True and settings["general"]["enableAutoUpdate"] is False
    )
    assert settings["mcpServers"] == {
        "gh": {"command": "gh-mcp", "args": ["--stdio"]}, "docs": {"url": "https://x/mcp"},
    }  # fmt: skip
    assert mcp not in " ".join(argv)  # MCP headers may hold secrets: never in argv


def test_an_account_with_its_own_qwen_home_keeps_its_settings() -> None:
    env = {"PATH": "/usr/bin", "QWEN_HOME": "/accounts/q"}
    command = QwenProvider().build_command(request(bot(), env=env))
    assert command.env["QWEN_HOME"] == "/accounts/q"
    with pytest.raises(PluginError, match=r"max_retries.*QWEN_HOME of its own"):
        QwenProvider().build_command(request(bot(options={"max_retries": 1}), env=env))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"options": {"max_retries": 11}}, "options.max_retries: expected 0 to 10"),
        ({"options": {"max_session_turns": 0}}, "options.max_session_turns"),
        ({"options": {"approval_mode": "maybe"}}, "approval_mode"),
        ({"options": {"resume": True, "chat_recording": False}}, "options.resume"),
        ({"mcp_config": '{"mcpServers": {"x": {}}}'}, "mcp_config"),
        ({"prompt": None}, "prompt"),
    ],
)
def test_check_bot_names_the_problem(fields: dict[str, Any], problem: str) -> None:
    problems = QwenProvider().check_bot(bot(**fields))
    assert any(problem in p for p in problems), problems


def test_a_bot_with_a_price_can_have_a_budget() -> None:
    provider = QwenProvider()
    assert provider.can_price(bot(model="qwen3-coder"), {"qwen3-coder": Price(1, 2)})
    assert not provider.can_price(bot(model="qwen3-coder"), {})


def test_the_entry_point_registers_the_provider_and_pins_its_version() -> None:
    assert isinstance(Plugins().provider("qwen"), QwenProvider)
    plugins = Plugins([agented_qwen.QwenPlugin("/opt/qwen")], entry_points=False)
    assert plugins.provider("qwen").build_command(request(bot())).argv[0] == "/opt/qwen"
    assert pinned_version("qwen") == agented_qwen.TESTED_VERSION
    assert (TRANSCRIPTS / f"qwen-{agented_qwen.TESTED_VERSION}-success.jsonl").exists()


@pytest.mark.anyio
async def test_a_run_end_to_end(open_agented: OpenAgented, tmp_path: Path) -> None:
    b = Bot(
        name="ok",
        provider="qwen",
        prompt="Review it",
        model="fake-model",
        workdir=str(tmp_path),
        options={"executable": FAKE_AGENT},
        env={
            "HOME": str(tmp_path),
            "FAKE_AGENT_RECORD": str(tmp_path / "ok.json"),
            "FAKE_AGENT_TRANSCRIPT": str(TRANSCRIPTS / "qwen-0.24.4-tool-round-trip.jsonl"),
        },
        triggers=(ManualTrigger(),),
        max_attempts=1,
    )
    async with open_agented([b], plugins=[agented_qwen]) as ag:
        done = await ag.wait((await ag.run("ok")).id, timeout=20)
        events = [e async for e in ag.events(done.id)]
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "done" and done.usage.input_tokens == 42
    assert [e.kind for e in events if e.kind in ("tool_call", "tool_result")] == [
        "tool_call", "tool_result",
    ]  # fmt: skip
    record = json.loads((tmp_path / "ok.json").read_text())
    assert record["stdin_bytes"] == len(b"Review it")


@pytest.mark.anyio
async def test_a_429_fails_as_rate(open_agented: OpenAgented, tmp_path: Path) -> None:
    b = Bot(
        name="limited",
        provider="qwen",
        prompt="go",
        workdir=str(tmp_path),
        options={"executable": FAKE_AGENT},
        env={
            "HOME": str(tmp_path),
            "FAKE_AGENT_TRANSCRIPT": str(TRANSCRIPTS / "qwen-0.24.4-rate-limited-429.jsonl"),
            "FAKE_AGENT_EXIT": "1",
        },
        triggers=(ManualTrigger(),),
        max_attempts=1,
    )
    async with open_agented([b], plugins=[agented_qwen]) as ag:
        done = await ag.wait((await ag.run("limited")).id, timeout=20)
    assert done.status is Status.FAILED
    assert done.error_kind is not None and done.error_kind.value == "rate"
