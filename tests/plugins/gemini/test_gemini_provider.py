"""The gemini provider: its command, its settings folder, checks, classification, and whole
runs through agented with a stand-in executable that prints a real transcript."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import agented_gemini
import pytest
from agented_gemini import GeminiProvider
from agented_gemini._provider import BLOCKING_STDOUT, MAX_STDIN

from agented_core import (
    Account,
    Bot,
    CommandRequest,
    ErrorKind,
    ManualTrigger,
    Outcome,
    Param,
    PluginError,
    Status,
)
from agented_core.config import Price
from agented_core.plugins import Plugins
from conftest import OpenAgented
from plugin_support import pinned_version

HERE = Path(__file__).parent
FAKE_AGENT = str(HERE.parent / "fake_agent.py")
TRANSCRIPTS = HERE.parent.parent / "fixtures" / "gemini"


def request(bot: Bot, prompt: str = "do it", **kwargs: Any) -> CommandRequest:
    kwargs.setdefault("env", {"PATH": "/usr/bin", "HOME": "/home/bot"})
    kwargs.setdefault("cwd", "/work")
    return CommandRequest(bot=bot, prompt=prompt, context={}, **kwargs)


def bot(**fields: Any) -> Bot:
    fields.setdefault("prompt", "do it")
    return Bot(name="b", provider="gemini", **fields)


def keyed(tmp_path: Path, **more: str) -> dict[str, str]:
    """An environment with a key and no folder of its own: the plugin keeps one."""
    return {"PATH": "/usr/bin", "HOME": str(tmp_path), "GEMINI_API_KEY": "AIza-x", **more}


# the command
def test_the_basic_command_reads_the_prompt_from_stdin() -> None:
    prompt = "review this\n" * 1000
    command = GeminiProvider().build_command(request(bot(model="gemini-2.5-flash"), prompt))
    assert command.argv == (
        "gemini", "--output-format", "stream-json", "-p", "", "--skip-trust",
        "--model", "gemini-2.5-flash",
    )  # fmt: skip
    assert command.stdin == prompt.encode()
    assert command.recorded(prompt) == command.argv
    assert str(BLOCKING_STDOUT) in command.env["NODE_OPTIONS"]
    assert BLOCKING_STDOUT.is_file()


def test_a_prompt_over_8_mib_is_a_clear_error() -> None:
    with pytest.raises(PluginError, match="reads at most 8388608 bytes"):
        GeminiProvider().build_command(request(bot(), "x" * (MAX_STDIN + 1)))
    GeminiProvider().build_command(request(bot(), "x" * MAX_STDIN))


def test_options_become_flags() -> None:
    b = bot(
        extra_args=["--debug"],
        options={
            "approval_mode": "yolo",
            "sandbox": True,
            "trust_workspace": False,
            "include_directories": ["/a", "/b"],
            "extensions": ["ext1"],
            "allowed_mcp_server_names": ["gh"],
        },
    )
    argv = list(GeminiProvider().build_command(request(b)).argv)
    assert argv[argv.index("--approval-mode") + 1] == "yolo"
    assert "--sandbox" in argv and "--skip-trust" not in argv
    assert [a for a in argv if a.startswith("--include-directories=")] == [
        "--include-directories=/a", "--include-directories=/b",
    ]  # fmt: skip
    assert "--extensions=ext1" in argv and "--allowed-mcp-server-names=gh" in argv
    assert argv[-1] == "--debug"


def test_node_options_are_kept() -> None:
    env = {"HOME": "/home/bot", "NODE_OPTIONS": "--max-old-space-size=4096"}
    options = GeminiProvider().build_command(request(bot(), env=env)).env["NODE_OPTIONS"]
    assert options.startswith("--max-old-space-size=4096 --require=")


def test_a_keyed_account_runs_in_a_folder_of_agenteds_with_its_settings(tmp_path: Path) -> None:
    b = bot(
        allowed_tools=["run_shell_command(git)"],
        disallowed_tools=["web_fetch"],
        mcp_config='{"mcpServers": {"gh": {"command": "gh-mcp", "args": ["--stdio"]},'
        ' "docs": {"type": "sse", "url": "https://example.com/sse"}}}',
        options={"max_attempts": 3, "settings": {"privacy": {"usageStatisticsEnabled": False}}},
    )
    account = Account("work", "gemini")
    command = GeminiProvider().build_command(request(b, env=keyed(tmp_path), account=account))
    home = tmp_path / ".local" / "state" / "agented" / "gemini" / "work" / "b"
    assert command.env["GEMINI_CLI_HOME"] == str(home)
    settings = json.loads((home / ".gemini" / "settings.json").read_text())
    assert settings == {
        "general": {
            "maxAttempts": 3,
            "enableAutoUpdate": False,
            "enableAutoUpdateNotification": False,
        },
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "tools": {"allowed": ["run_shell_command(git)"], "exclude": ["web_fetch"]},
        "mcpServers": {
            "gh": {"command": "gh-mcp", "args": ["--stdio"]},
            "docs": {"url": "https://example.com/sse"},
        },
        "privacy": {"usageStatisticsEnabled": False},
    }
    assert (home / ".gemini" / "settings.json").stat().st_mode & 0o077 == 0


def test_the_default_cap_and_vertex(tmp_path: Path) -> None:
    env = keyed(tmp_path, GOOGLE_GENAI_USE_VERTEXAI="true", XDG_STATE_HOME=str(tmp_path / "s"))
    command = GeminiProvider().build_command(request(bot(), env=env))
    settings = json.loads(
        (Path(command.env["GEMINI_CLI_HOME"]) / ".gemini" / "settings.json").read_text()
    )
    assert settings["general"]["maxAttempts"] == agented_gemini.DEFAULT_MAX_ATTEMPTS
    assert "security" not in settings  # vertex: the CLI picks its auth from the environment
    assert command.env["GEMINI_CLI_HOME"].startswith(str(tmp_path / "s"))


def test_an_account_with_its_own_folder_keeps_its_settings(tmp_path: Path) -> None:
    env = keyed(tmp_path, GEMINI_CLI_HOME=str(tmp_path / "own"))
    command = GeminiProvider().build_command(request(bot(), env=env))
    assert command.env["GEMINI_CLI_HOME"] == str(tmp_path / "own")
    assert not (tmp_path / "own").exists()  # nothing written there
    with pytest.raises(PluginError, match="max_attempts, mcp_config: gemini takes these"):
        GeminiProvider().build_command(
            request(bot(options={"max_attempts": 1}, mcp_config="{}"), env=env)
        )
    own_login = {"PATH": "/usr/bin", "HOME": str(tmp_path)}  # no key: the CLI's own login
    assert (
        "GEMINI_CLI_HOME" not in GeminiProvider().build_command(request(bot(), env=own_login)).env
    )


def test_resume_only_with_a_saved_session_on_the_same_account(tmp_path: Path) -> None:
    session = "4790aa8e-39b2-4cd7-b438-fe823d22218f"
    account = Account("work", "gemini")
    env = keyed(tmp_path)
    on = bot(options={"resume": True})

    def argv(**kwargs: Any) -> tuple[str, ...]:
        kwargs.setdefault("session_id", session)
        kwargs.setdefault("attempt", 2)
        kwargs.setdefault("account", account)
        kwargs.setdefault("session_account", "work")
        return GeminiProvider().build_command(request(on, env=env, **kwargs)).argv

    assert "--resume" not in argv()
    home = tmp_path / ".local" / "state" / "agented" / "gemini" / "work" / "b"
    chats = home / ".gemini" / "tmp" / "work" / "chats"
    chats.mkdir(parents=True)
    (chats / "session-2026-11-25T20-19-4790aa8e.jsonl").write_text("{}\n")
    resumed = argv()
    assert resumed[resumed.index("--resume") + 1] == session
    assert "--resume" not in argv(attempt=1) and "--resume" not in argv(session_account="x")


# checks
@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"prompt": None}, "prompt: the gemini provider needs a 'prompt'"),
        ({"options": {"approval_mode": "auto"}}, "options.approval_mode: expected one of"),
        ({"options": {"max_attempts": 11}}, "options.max_attempts: expected 1 to 10"),
        ({"options": {"auth_type": "gateway"}}, "options.auth_type: expected one of"),
        ({"options": {"extensions": [1]}}, "options.extensions: expected a list"),
        ({"mcp_config": '{"mcpServers": {"x": {}}}'}, "mcp_config: server 'x' needs"),
    ],
)
def test_check_bot_names_the_problem(fields: dict[str, Any], problem: str) -> None:
    problems = GeminiProvider().check_bot(bot(**fields))
    assert any(p.startswith(problem) for p in problems), problems


def test_only_a_fixed_priced_model_can_be_priced() -> None:
    prices = {"gemini-2.5-flash": Price(input=0.3, output=2.5)}
    assert GeminiProvider().can_price(bot(model="gemini-2.5-flash"), prices)
    assert not GeminiProvider().can_price(bot(model="auto"), prices)
    assert not GeminiProvider().can_price(bot(model="flash"), prices)
    assert not GeminiProvider().can_price(bot(), prices)


# classification: gemini exits with the HTTP status modulo 256
@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (Outcome(exit_code=0, result_ok=True), None),
        (Outcome(exit_code=0, result_ok=None), ErrorKind.PROVIDER),
        (Outcome(exit_code=0, result_ok=False, errors=("Model stream ended without a finish reason.",), error_kinds=("network",)), ErrorKind.NETWORK),
        (Outcome(exit_code=173, result_ok=False), ErrorKind.RATE),
        (Outcome(exit_code=145, result_ok=False), ErrorKind.AUTH),
        (Outcome(exit_code=41, result_ok=None, stderr="Invalid auth method selected."), ErrorKind.AUTH),
        (Outcome(exit_code=173, result_ok=False, rate_limits=({"kind": "quota"},)), ErrorKind.QUOTA),
    ],
)  # fmt: skip
def test_classify(outcome: Outcome, kind: ErrorKind | None) -> None:
    assert GeminiProvider().classify(outcome) is kind


# registration
def test_the_entry_point_registers_the_provider() -> None:
    plugins = Plugins()
    assert isinstance(plugins.provider("gemini"), GeminiProvider)
    assert plugins.versions()["gemini"].startswith("agented-gemini ")


def test_the_plugin_object_runs_a_given_executable() -> None:
    plugins = Plugins([agented_gemini.GeminiPlugin("/opt/gemini")], entry_points=False)
    assert plugins.provider("gemini").build_command(request(bot())).argv[0] == "/opt/gemini"


def test_the_pinned_version_is_the_tested_one() -> None:
    assert pinned_version("gemini") == agented_gemini.TESTED_VERSION
    assert (TRANSCRIPTS / f"gemini-{agented_gemini.TESTED_VERSION}-success.jsonl").exists()


# whole runs, fast
def stand_in(name: str, tmp_path: Path, case: str, **fields: Any) -> Bot:
    env = {
        "FAKE_AGENT_RECORD": str(tmp_path / f"{name}.json"),
        "FAKE_AGENT_TRANSCRIPT": str(TRANSCRIPTS / f"gemini-0.61.0-{case}.jsonl"),
        "FAKE_AGENT_STDERR": str(TRANSCRIPTS / f"gemini-0.61.0-{case}.stderr.txt"),
        "HOME": str(tmp_path),
        **fields.pop("env", {}),
    }
    fields.setdefault("max_attempts", 1)
    fields.setdefault("model", "gemini-2.5-flash")
    return Bot(
        name=name,
        provider="gemini",
        prompt="Review {params.pr}",
        workdir=str(tmp_path),
        options={"executable": FAKE_AGENT, **fields.pop("options", {})},
        env=env,
        triggers=(ManualTrigger(params=(Param("pr", default="#1"),)),),
        **fields,
    )


@pytest.mark.anyio
async def test_a_run_end_to_end(open_agented: OpenAgented, tmp_path: Path) -> None:
    b = stand_in("ok", tmp_path, "success", env={"GEMINI_API_KEY": "AIza-x"})
    async with open_agented([b], plugins=[agented_gemini]) as ag:
        execution = await ag.run("ok", params={"pr": "#7"})
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "hello from fake" and done.usage.input_tokens == 12
    assert done.usage.cost_usd is None  # no [prices] entry: no cost
    record = json.loads((tmp_path / "ok.json").read_text())
    assert record["stdin_bytes"] == len(b"Review #7")
    assert record["env"]["GEMINI_CLI_HOME"].endswith("/agented/gemini/default/ok")


@pytest.mark.anyio
async def test_an_auth_failure(open_agented: OpenAgented, tmp_path: Path) -> None:
    b = stand_in("denied", tmp_path, "unauthorized-401", env={"FAKE_AGENT_EXIT": "145"})
    async with open_agented([b], plugins=[agented_gemini]) as ag:
        execution = await ag.run("denied")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.FAILED and done.error_kind is ErrorKind.AUTH
    assert "API key not valid" in (done.error or "")
