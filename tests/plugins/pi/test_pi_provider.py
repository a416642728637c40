"""The pi provider: its command, checks, and a whole run through agented with a stand-in
executable that prints a real transcript."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import agented_pi
import pytest
from agented_pi import PiProvider

from agented_core import Account, Bot, CommandRequest, ManualTrigger, Status
from agented_core.plugins import Plugins
from conftest import OpenAgented
from plugin_support import pinned_version

HERE = Path(__file__).parent
FAKE_AGENT = str(HERE.parent / "fake_agent.py")
TRANSCRIPTS = HERE.parent.parent / "fixtures" / "pi"


def request(bot: Bot, prompt: str = "do it", **kwargs: Any) -> CommandRequest:
    kwargs.setdefault("env", {"PATH": "/usr/bin", "HOME": "/home/bot"})
    kwargs.setdefault("cwd", "/work")
    kwargs.setdefault("context", {})
    return CommandRequest(bot=bot, prompt=prompt, **kwargs)


def bot(**fields: Any) -> Bot:
    fields.setdefault("prompt", "do it")
    return Bot(name="b", provider="pi", **fields)


def test_the_command_reads_the_prompt_from_stdin() -> None:
    prompt = "review this\n" * 1000
    command = PiProvider().build_command(request(bot(model="anthropic/claude-sonnet-5"), prompt))
    assert command.argv == ("pi", "--mode", "json", "-p", "--model", "anthropic/claude-sonnet-5")
    assert command.stdin == prompt.encode() and command.env["PI_OFFLINE"] == "1"


def test_options_become_flags() -> None:
    b = bot(
        allowed_tools=("read", "grep"),
        options={
            "provider": "openai", "thinking": "high", "system_prompt": "be brief",
            "extensions": ["/x/ext.ts"], "no_skills": True, "context_files": False,
            "session_dir": "/s", "ephemeral": True, "offline": False,
        },
    )  # fmt: skip
    command = PiProvider().build_command(request(b))
    assert command.argv[1:] == (
        "--mode", "json", "-p", "--provider", "openai", "--thinking", "high",
        "--system-prompt", "be brief", "--session-dir", "/s", "--tools", "read,grep",
        "--extension", "/x/ext.ts", "--no-skills", "--no-context-files", "--no-session",
    )  # fmt: skip
    assert "PI_OFFLINE" not in command.env


def test_resume_only_a_saved_session(tmp_path: Path) -> None:
    folder = tmp_path / "agent" / "sessions" / "--work--"
    folder.mkdir(parents=True)
    (folder / "2026-07-01_01a23c74-29d8-7123-9da8-3491f6d9a4bf.jsonl").write_text("{}\n")
    env = {"PATH": "/usr/bin", "PI_CODING_AGENT_DIR": str(tmp_path / "agent")}
    b = bot(account="a", options={"resume": True})
    sid = "01a23c74-29d8-7123-9da8-3491f6d9a4bf"
    account = Account("a", "pi")
    later = request(b, env=env, attempt=2, session_id=sid, session_account="a", account=account)
    assert PiProvider().arguments(later)[-2:] == ["--session", sid]
    other = request(b, env=env, attempt=2, session_id="0000", session_account="a", account=account)
    assert "--session" not in PiProvider().arguments(other)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"mcp_config": '{"mcpServers": {}}'}, "mcp_config: pi has no MCP client"),
        ({"disallowed_tools": ("bash",)}, "disallowed_tools"),
        ({"options": {"thinking": "lots"}}, "thinking"),
        ({"options": {"no_tools": True}, "allowed_tools": ("read",)}, "options.no_tools"),
        ({"options": {"resume": True, "ephemeral": True}}, "options.resume"),
    ],
)
def test_check_bot_names_the_problem(fields: dict[str, Any], problem: str) -> None:
    problems = PiProvider().check_bot(bot(**fields))
    assert any(problem in p for p in problems), problems


def test_the_entry_point_registers_the_provider_and_pins_its_version() -> None:
    assert isinstance(Plugins().provider("pi"), PiProvider)
    plugins = Plugins([agented_pi.PiPlugin("/opt/pi")], entry_points=False)
    assert plugins.provider("pi").build_command(request(bot())).argv[0] == "/opt/pi"
    assert pinned_version("pi") == agented_pi.TESTED_VERSION
    assert (TRANSCRIPTS / f"pi-{agented_pi.TESTED_VERSION}-success.jsonl").exists()


def stand_in(name: str, tmp_path: Path, case: str) -> Bot:
    return Bot(
        name=name,
        provider="pi",
        prompt="Review it",
        model="fake/fake-model",
        workdir=str(tmp_path),
        options={"executable": FAKE_AGENT},
        env={
            "FAKE_AGENT_RECORD": str(tmp_path / f"{name}.json"),
            "FAKE_AGENT_TRANSCRIPT": str(TRANSCRIPTS / f"pi-0.73.1-{case}.jsonl"),
        },
        triggers=(ManualTrigger(),),
        max_attempts=1,
    )


@pytest.mark.anyio
async def test_a_run_end_to_end(open_agented: OpenAgented, tmp_path: Path) -> None:
    async with open_agented(
        [stand_in("ok", tmp_path, "tool-round-trip")], plugins=[agented_pi]
    ) as ag:
        done = await ag.wait((await ag.run("ok")).id, timeout=20)
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "done" and done.usage.input_tokens == 42
    assert done.usage.cost_usd == pytest.approx((42 + 10 * 2) / 1e6)
    assert json.loads((tmp_path / "ok.json").read_text())["stdin_bytes"] == len(b"Review it")


@pytest.mark.anyio
async def test_a_429_fails_as_rate_though_pi_exits_0(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    bots = [stand_in("limited", tmp_path, "rate-limited-429")]
    async with open_agented(bots, plugins=[agented_pi]) as ag:
        done = await ag.wait((await ag.run("limited")).id, timeout=20)
    assert done.status is Status.FAILED and done.exit_code == 0
    assert done.error_kind is not None and done.error_kind.value == "rate"
