"""The claude provider: its command, environment, option checks, classification, and a whole
run through agented with a stand-in executable that prints a real transcript."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import agented_claude
import pytest
from agented_claude import ClaudeProvider

from agented_core import (
    Account,
    Bot,
    CommandRequest,
    Config,
    ErrorKind,
    ManualTrigger,
    Outcome,
    Param,
    Status,
)
from agented_core.config import AgentedSettings
from agented_core.plugins import Plugins
from agented_core.run._process import RUN_TAG
from conftest import OpenAgented
from plugin_support import pinned_version

HERE = Path(__file__).parent
FAKE_CLAUDE = str(HERE / "fake_claude.py")
TRANSCRIPTS = HERE.parent.parent / "fixtures" / "claude"


def request(bot: Bot, prompt: str = "do it", **kwargs: Any) -> CommandRequest:
    kwargs.setdefault("env", {"PATH": "/usr/bin", "HOME": "/home/bot"})
    return CommandRequest(bot=bot, prompt=prompt, context={}, cwd="/work", **kwargs)


def bot(**fields: Any) -> Bot:
    fields.setdefault("prompt", "do it")
    return Bot(name="b", provider="claude", **fields)


# the command
def test_the_basic_command_and_the_prompt_on_stdin() -> None:
    prompt = "review this\n" * 1000
    command = ClaudeProvider().build_command(request(bot(model="sonnet"), prompt))
    assert command.argv == (
        "claude", "-p", "--output-format", "stream-json", "--verbose", "--model", "sonnet",
    )  # fmt: skip
    assert command.stdin == prompt.encode()
    assert command.cwd == "/work"
    assert command.recorded(prompt) == command.argv  # nothing to hide: the prompt is not in argv


def test_bot_fields_and_options_become_flags_in_order() -> None:
    b = bot(
        model="opus",
        allowed_tools=["Read", "Bash(git diff:*)"],
        disallowed_tools=["WebSearch"],
        mcp_config='{"mcpServers": {}}',
        max_cost_usd=2.5,
        extra_args=["--betas", "x"],
        options={
            "permission_mode": "acceptEdits",
            "max_turns": 30,
            "append_system_prompt": "Be brief.",
            "system_prompt": "You review code.",
            "fallback_model": "haiku",
            "effort": "high",
            "tools": ["Read", "Bash"],
            "strict_mcp_config": True,
            "add_dirs": ["/a", "/b"],
            "settings": "/etc/claude.json",
            "session_persistence": False,
            "partial_messages": True,
        },
    )
    argv = list(ClaudeProvider().build_command(request(b)).argv)
    # the variadic tool lists come first and "-p" ends them
    assert argv[:9] == [
        "claude", "--allowedTools", "Read", "Bash(git diff:*)", "--disallowedTools", "WebSearch",
        "--tools", "Read,Bash", "-p",
    ]  # fmt: skip
    pairs = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    assert pairs["--model"] == "opus"
    assert pairs["--permission-mode"] == "acceptEdits"
    assert pairs["--max-turns"] == "30"
    assert pairs["--max-budget-usd"] == "2.5"
    assert pairs["--append-system-prompt"] == "Be brief."
    assert pairs["--system-prompt"] == "You review code."
    assert pairs["--fallback-model"] == "haiku"
    assert pairs["--effort"] == "high"
    assert pairs["--mcp-config"] == '{"mcpServers": {}}'
    assert pairs["--settings"] == "/etc/claude.json"
    assert argv.count("--add-dir") == 2
    assert "--strict-mcp-config" in argv and "--no-session-persistence" in argv
    assert "--include-partial-messages" in argv
    assert argv[-2:] == ["--betas", "x"]


def test_budget_is_written_plainly() -> None:
    argv = ClaudeProvider().build_command(request(bot(max_cost_usd=0.1 + 0.2))).argv
    assert argv[argv.index("--max-budget-usd") + 1] == "0.3"


def test_resume_only_on_a_later_attempt_with_a_session_and_the_option() -> None:
    provider = ClaudeProvider()
    on = bot(options={"resume": True})
    assert "--resume" not in provider.build_command(request(on, session_id="s1")).argv
    later = provider.build_command(request(on, session_id="s1", attempt=2)).argv
    assert later[later.index("--resume") + 1] == "s1"
    off = bot()
    assert "--resume" not in provider.build_command(request(off, session_id="s1", attempt=2)).argv


def test_the_environment_is_the_requests_plus_the_providers_own() -> None:
    account = Account("work", "claude", env={"CLAUDE_CONFIG_DIR": "/cfg/work"})
    base = {"PATH": "/usr/bin", "CLAUDE_CONFIG_DIR": "/cfg/work", "ANTHROPIC_API_KEY": "sk-x"}
    command = ClaudeProvider().build_command(request(bot(), env=base, account=account))
    env = dict(command.env)
    assert env.pop(RUN_TAG)
    assert env == {**base, "CLAUDE_CODE_MAX_RETRIES": "1", "DISABLE_AUTOUPDATER": "1"}


def test_max_retries_from_the_option_then_the_bot_env() -> None:
    provider = ClaudeProvider()
    with_option = request(bot(options={"max_retries": 0}), env={"CLAUDE_CODE_MAX_RETRIES": "5"})
    assert provider.build_command(with_option).env["CLAUDE_CODE_MAX_RETRIES"] == "0"
    from_env = request(bot(), env={"CLAUDE_CODE_MAX_RETRIES": "5", "DISABLE_AUTOUPDATER": "0"})
    env = provider.build_command(from_env).env
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "5" and env["DISABLE_AUTOUPDATER"] == "0"


def test_the_executable_from_the_option_the_constructor_or_the_default() -> None:
    assert ClaudeProvider().build_command(request(bot())).argv[0] == "claude"
    assert ClaudeProvider("/opt/claude").build_command(request(bot())).argv[0] == "/opt/claude"
    chosen = bot(options={"executable": "/x/claude"})
    assert ClaudeProvider("/opt/claude").build_command(request(chosen)).argv[0] == "/x/claude"


# checks
@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"prompt": None}, "prompt: the claude provider needs a 'prompt'"),
        ({"command": ["echo"]}, "command: the claude provider does not run a 'command'"),
        ({"options": {"permision_mode": "plan"}}, "options.permision_mode: unknown option"),
        ({"options": {"permission_mode": "yolo"}}, "options.permission_mode: expected one of"),
        ({"options": {"max_turns": "5"}}, "options.max_turns: expected int"),
        ({"options": {"max_turns": 0}}, "options.max_turns: expected at least 1"),
        ({"options": {"max_retries": -1}}, "options.max_retries: expected 0 or more"),
        ({"options": {"tools": ["Read", 3]}}, "options.tools: expected a list of non-empty"),
        ({"options": {"resume": True, "session_persistence": False}}, "options.resume: needs"),
        ({"allowed_tools": ["--dangerous"]}, "allowed_tools: tool names must be non-empty"),
        ({"max_cost_usd": 0.0}, "max_cost_usd: must be more than 0"),
    ],
)
def test_check_bot_names_the_problem(fields: dict[str, Any], problem: str) -> None:
    problems = ClaudeProvider().check_bot(bot(**fields))
    assert any(p.startswith(problem) for p in problems), problems


def test_a_good_bot_has_no_problems() -> None:
    good = bot(options={"permission_mode": "plan", "max_turns": 3, "tools": [], "resume": True})
    assert ClaudeProvider().check_bot(good) == []


# classification
@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (Outcome(exit_code=0, result_ok=True), None),
        (Outcome(exit_code=0, result_ok=None), ErrorKind.PROVIDER),  # no result: not a success
        (Outcome(exit_code=1, result_ok=False, errors=("Invalid API key",), error_kinds=("auth",)), ErrorKind.AUTH),
        (Outcome(exit_code=1, result_ok=False, rate_limits=({"kind": "quota", "reset_at": "2026-11-26T13:33:20+00:00"},)), ErrorKind.QUOTA),
        (Outcome(exit_code=1, result_ok=False, errors=("API Error: 529 Overloaded",)), ErrorKind.OVERLOADED),
        (Outcome(exit_code=1, result_ok=None, stderr="Error: connect ECONNREFUSED 127.0.0.1:9"), ErrorKind.NETWORK),
        (Outcome(exit_code=1, result_ok=False, errors=("claude stopped at the maximum number of turns",), error_kinds=("provider",)), ErrorKind.PROVIDER),
    ],
)  # fmt: skip
def test_classify(outcome: Outcome, kind: ErrorKind | None) -> None:
    assert ClaudeProvider().classify(outcome) is kind


# registration
def test_the_entry_point_registers_the_provider() -> None:
    plugins = Plugins()
    assert isinstance(plugins.provider("claude"), ClaudeProvider)
    assert plugins.provider_owner("claude") == "claude"
    assert plugins.versions()["claude"].startswith("agented-claude ")


def test_the_plugin_object_runs_a_given_executable() -> None:
    plugins = Plugins([agented_claude.ClaudePlugin("/opt/claude")], entry_points=False)
    command = plugins.provider("claude").build_command(request(bot()))
    assert command.argv[0] == "/opt/claude"


def test_the_pinned_version_is_the_tested_one() -> None:

    assert pinned_version("claude") == agented_claude.TESTED_VERSION
    assert (TRANSCRIPTS / f"claude-{agented_claude.TESTED_VERSION}-success.jsonl").exists()


# a whole run, fast: a stand-in executable prints a real transcript
def session_of(transcript: str) -> str:
    first = (TRANSCRIPTS / f"claude-2.1.197-{transcript}.jsonl").read_text().splitlines()[0]
    return str(json.loads(first)["session_id"])


def stand_in(name: str, tmp_path: Path, transcript: str | None, **fields: Any) -> Bot:
    env = {"FAKE_CLAUDE_RECORD": str(tmp_path / "record.json"), **fields.pop("env", {})}
    if transcript:
        env["FAKE_CLAUDE_TRANSCRIPT"] = str(TRANSCRIPTS / f"claude-2.1.197-{transcript}.jsonl")
    fields.setdefault("max_attempts", 1)
    return Bot(
        name=name,
        provider="claude",
        prompt=fields.pop("prompt", "Review {params.pr}"),
        options={"executable": FAKE_CLAUDE, **fields.pop("options", {})},
        env=env,
        triggers=(ManualTrigger(params=(Param("pr", default="#1"),)),),
        **fields,
    )


@pytest.mark.anyio
async def test_a_run_end_to_end(open_agented: OpenAgented, tmp_path: Path) -> None:
    b = stand_in("ok", tmp_path, "success", model="sonnet")
    async with open_agented([b], plugins=[agented_claude]) as ag:
        execution = await ag.run("ok", params={"pr": "#7"})
        done = await ag.wait(execution.id, timeout=20)
        events = [e async for e in ag.events(execution.id)]
    assert done.status is Status.SUCCEEDED
    assert done.result == "hello from fake"
    assert done.session_id == session_of("success")
    assert done.usage.input_tokens == 12 and done.usage.cost_usd == pytest.approx(0.00012435)
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["stdin_bytes"] == len(b"Review #7")
    assert record["argv"][1:] == list(done.command[1:])
    assert "Review #7" not in json.dumps(done.command)
    kinds = [e.kind for e in events]
    assert kinds[:3] == ["status", "status", "session"] and kinds[-2:] == ["result", "status"]


@pytest.mark.anyio
async def test_each_account_reaches_only_its_own_child(db_url: str, tmp_path: Path) -> None:
    from agented_core import Agented

    accounts = {
        "a": Account("a", "claude", env={"CLAUDE_CONFIG_DIR": "/cfg/a"}, env_from={"ANTHROPIC_API_KEY": "KEY_A"}),
        "b": Account("b", "claude", env={"CLAUDE_CONFIG_DIR": "/cfg/b"}, env_from={"ANTHROPIC_API_KEY": "KEY_B"}),
    }  # fmt: skip
    bots = [
        stand_in("bot-a", tmp_path / "a", "success", account="a"),
        stand_in("bot-b", tmp_path / "b", "success", account="b"),
    ]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    config = Config(settings=AgentedSettings(database=db_url), accounts=accounts)
    host = {
        "PATH": "/usr/bin:/bin",
        "KEY_A": "sk-ant-aaaaaaaa",
        "KEY_B": "sk-ant-bbbbbbbb",
        "OTHER_SECRET": "zzzzzzzz",
    }
    async with Agented.open(
        config=config, bots=bots, plugins=[agented_claude], entry_points=False, host_env=host
    ) as ag:
        runs = [await ag.run("bot-a"), await ag.run("bot-b")]
        done = [await ag.wait(r.id, timeout=20) for r in runs]
    assert [d.status for d in done] == [Status.SUCCEEDED, Status.SUCCEEDED]
    for name in ("a", "b"):
        env = json.loads((tmp_path / name / "record.json").read_text())["env"]
        assert env["CLAUDE_CONFIG_DIR"] == f"/cfg/{name}"
        assert env["ANTHROPIC_API_KEY"] == f"sk-ant-{name * 8}"
        assert "OTHER_SECRET" not in env and "KEY_A" not in env and "KEY_B" not in env


@pytest.mark.anyio
async def test_a_cli_that_dies_without_a_result_fails_with_its_words(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    b = stand_in(
        "dies",
        tmp_path,
        None,
        env={"FAKE_CLAUDE_EXIT": "1", "FAKE_CLAUDE_STDERR": "Error: Invalid API key"},
    )
    async with open_agented([b], plugins=[agented_claude]) as ag:
        execution = await ag.run("dies")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.FAILED
    assert done.error_kind is ErrorKind.AUTH
    assert done.error == "claude exited with code 1 without a result: Error: Invalid API key"


@pytest.mark.anyio
async def test_exit_0_without_a_result_is_not_a_success(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    async with open_agented([stand_in("quiet", tmp_path, None)], plugins=[agented_claude]) as ag:
        execution = await ag.run("quiet")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.FAILED and done.error_kind is ErrorKind.PROVIDER
    assert "without a result" in (done.error or "")


@pytest.mark.anyio
async def test_a_subscription_limit_ends_the_attempt_and_waits_for_the_reset(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    b = stand_in("limited", tmp_path, "subscription-limit-429", max_attempts=2)
    # the transcript's reset is 2026-11-26T13:33:20Z: run the clock as if it were a day before
    offset = datetime.now(UTC) - datetime(2026, 11, 25, 13, 33, 20, tzinfo=UTC)
    clock = lambda: datetime.now(UTC) - offset  # noqa: E731
    async with open_agented([b], plugins=[agented_claude], clock=clock) as ag:
        execution = await ag.run("limited")
        with pytest.raises(TimeoutError):  # it waits: not terminal
            await ag.wait(execution.id, timeout=3)
        current = await ag.get(execution.id)
    assert current.status is Status.WAITING
    assert (
        current.retry_at is not None and current.retry_at.isoformat() == "2026-11-26T13:33:20+00:00"
    )
