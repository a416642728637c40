"""The codex provider: its command, options, checks, classification, and whole runs through
agented with a stand-in executable that prints a real transcript."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import agented_codex
import pytest
from agented_codex import CodexProvider, toml_value

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
from agented_core.run._process import RUN_TAG
from conftest import FIXTURES_DIR, OpenAgented
from plugin_support import pinned_version

HERE = Path(__file__).parent
FAKE_AGENT = str(HERE.parent / "fake_agent.py")
TRANSCRIPTS = HERE.parent.parent / "fixtures" / "codex"
STREAMS = FIXTURES_DIR / "streams"


def request(bot: Bot, prompt: str = "do it", **kwargs: Any) -> CommandRequest:
    kwargs.setdefault("env", {"PATH": "/usr/bin", "HOME": "/home/bot"})
    kwargs.setdefault("cwd", "/work")
    return CommandRequest(bot=bot, prompt=prompt, context={}, **kwargs)


def bot(**fields: Any) -> Bot:
    fields.setdefault("prompt", "do it")
    return Bot(name="b", provider="codex", **fields)


# the command
def test_the_basic_command_reads_the_prompt_from_stdin(tmp_path: Path) -> None:
    prompt = "review this\n" * 1000
    command = CodexProvider().build_command(
        request(bot(model="gpt-5.5"), prompt, cwd=str(tmp_path))
    )
    assert command.argv == (
        "codex", "exec", "--json", "--skip-git-repo-check", "--model", "gpt-5.5",
        "-c", 'approval_policy="never"', "-",
    )  # fmt: skip
    assert command.stdin == prompt.encode()  # written, then stdin is closed
    assert command.cwd == str(tmp_path)
    assert command.recorded(prompt) == command.argv


def test_inside_a_git_repository_the_check_stays(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub").mkdir()
    argv = CodexProvider().build_command(request(bot(), cwd=str(tmp_path / "sub"))).argv
    assert "--skip-git-repo-check" not in argv
    forced = bot(options={"skip_git_repo_check": True})
    assert (
        "--skip-git-repo-check"
        in CodexProvider().build_command(request(forced, cwd=str(tmp_path))).argv
    )


def test_options_become_flags_and_overrides(tmp_path: Path) -> None:
    b = bot(
        model="gpt-5.5",
        mcp_config='{"mcpServers": {"gh": {"command": "gh-mcp", "args": ["--stdio"], "env": {"X": "1"}},'
        ' "docs": {"type": "http", "url": "https://example.com/mcp"}}}',
        extra_args=["--color", "never"],
        options={
            "sandbox": "workspace-write",
            "approval_policy": "on-failure",
            "profile": "ci",
            "model_provider": "fake",
            "max_retries": 2,
            "reasoning_effort": "high",
            "config": {"shell_environment_policy.inherit": "core", "features.web_search": True},
            "add_dirs": ["/a", "/b"],
            "ephemeral": True,
            "output_schema": "/schema.json",
        },
    )
    argv = list(CodexProvider().build_command(request(b, cwd=str(tmp_path))).argv)
    pairs = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    assert pairs["--sandbox"] == "workspace-write" and pairs["--profile"] == "ci"
    assert pairs["--output-schema"] == "/schema.json" and argv.count("--add-dir") == 2
    overrides = [argv[i + 1] for i, a in enumerate(argv) if a == "-c"]
    assert overrides == [
        'approval_policy="on-failure"',
        'model_provider="fake"',
        "model_providers.fake.request_max_retries=2",
        "model_providers.fake.stream_max_retries=2",
        'model_reasoning_effort="high"',
        'mcp_servers.gh={command = "gh-mcp", args = ["--stdio"], env = {X = "1"}}',
        'mcp_servers.docs={url = "https://example.com/mcp"}',
        'shell_environment_policy.inherit="core"',
        "features.web_search=true",
    ]
    assert "--ephemeral" in argv
    assert argv[-3:] == ["--color", "never", "-"]  # extra args, then the prompt from stdin


def test_bypassing_the_sandbox_sets_no_approval_policy() -> None:
    argv = CodexProvider().build_command(request(bot(options={"bypass_sandbox": True}))).argv
    assert "--dangerously-bypass-approvals-and-sandbox" in argv
    assert not any(a.startswith("approval_policy") for a in argv)


def test_toml_values() -> None:
    assert toml_value('say "hi"\n') == '"say \\"hi\\"\\n"'
    assert toml_value({"a b": [1, 2.5, False]}) == '{"a b" = [1, 2.5, false]}'
    with pytest.raises(PluginError):
        toml_value(object())


def test_resume_only_with_the_option_a_session_file_and_the_same_account(tmp_path: Path) -> None:
    home = tmp_path / "codex-home"
    session = "01a2144b-ed3d-7f30-9c8d-51a01e415995"
    account = Account("work", "codex", env={"CODEX_HOME": str(home)})
    env = {"HOME": "/home/bot", "CODEX_HOME": str(home)}
    on = bot(options={"resume": True, "sandbox": "workspace-write"})

    def argv(**kwargs: Any) -> tuple[str, ...]:
        kwargs.setdefault("session_id", session)
        kwargs.setdefault("attempt", 2)
        kwargs.setdefault("account", account)
        kwargs.setdefault("session_account", "work")
        return CodexProvider().build_command(request(on, env=env, **kwargs)).argv

    assert "resume" not in argv()  # no session file: a new thread
    folder = home / "sessions" / "2026" / "11" / "25"
    folder.mkdir(parents=True)
    (folder / f"rollout-2026-11-25T20-00-49-{session}.jsonl").write_text("{}\n")
    resumed = argv()
    assert resumed[:4] == ("codex", "exec", "resume", "--json")
    assert resumed[-2:] == (session, "-") and "--sandbox" not in resumed
    assert 'sandbox_mode="workspace-write"' in resumed
    assert "resume" not in argv(attempt=1)
    assert "resume" not in argv(session_account="other")
    off = CodexProvider().build_command(request(bot(), env=env, session_id=session, attempt=2))
    assert "resume" not in off.argv


def test_the_environment_is_the_requests_plus_the_run_tag() -> None:
    account = Account("work", "codex", env={"CODEX_HOME": "/cfg/work"})
    base = {"PATH": "/usr/bin", "CODEX_HOME": "/cfg/work", "CODEX_API_KEY": "sk-x"}
    env = dict(CodexProvider().build_command(request(bot(), env=base, account=account)).env)
    assert env.pop(RUN_TAG) and env == base


def test_an_unreadable_mcp_config_is_a_clear_error() -> None:
    with pytest.raises(PluginError, match="mcp_config: cannot read"):
        CodexProvider().build_command(request(bot(mcp_config="/nonexistent/mcp.json")))


# checks
@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"prompt": None}, "prompt: the codex provider needs a 'prompt'"),
        ({"options": {"sandbox": "yolo"}}, "options.sandbox: expected one of"),
        ({"options": {"approval_policy": "always"}}, "options.approval_policy: expected one of"),
        ({"options": {"max_retries": 1}}, "options.max_retries: codex sets retries only"),
        ({"options": {"max_retries": 1, "model_provider": "openai"}}, "options.max_retries: codex"),
        (
            {"options": {"max_retries": -1, "model_provider": "x"}},
            "options.max_retries: expected 0",
        ),
        ({"options": {"config": {"bad key": 1}}}, "options.config: 'bad key' is not"),
        ({"options": {"resume": True, "ephemeral": True}}, "options.resume: needs session files"),
        ({"allowed_tools": ["Bash"]}, "allowed_tools: codex has no tool lists"),
        ({"mcp_config": "{not json"}, "mcp_config: not valid JSON"),
        ({"options": {"add_dirs": [""]}}, "options.add_dirs: expected a list"),
    ],
)
def test_check_bot_names_the_problem(fields: dict[str, Any], problem: str) -> None:
    problems = CodexProvider().check_bot(bot(**fields))
    assert any(p.startswith(problem) for p in problems), problems


def test_a_good_bot_has_no_problems() -> None:
    good = bot(options={"sandbox": "read-only", "model_provider": "fake", "max_retries": 0})
    assert CodexProvider().check_bot(good) == []


def test_only_a_priced_model_can_be_priced() -> None:
    prices = {"gpt-5.5": Price(input=1.25, output=10.0)}
    assert CodexProvider().can_price(bot(model="gpt-5.5"), prices)
    assert not CodexProvider().can_price(bot(model="gpt-6"), prices)
    assert not CodexProvider().can_price(bot(), prices)


# classification
@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (Outcome(exit_code=0, result_ok=True), None),
        (Outcome(exit_code=0, result_ok=None), ErrorKind.PROVIDER),  # no turn.completed
        (Outcome(exit_code=1, result_ok=False, errors=("unexpected status 401 Unauthorized: Incorrect API key provided",), error_kinds=("auth",)), ErrorKind.AUTH),
        (Outcome(exit_code=1, result_ok=False, errors=("exceeded retry limit, last status: 429 Too Many Requests",)), ErrorKind.RATE),
        (Outcome(exit_code=1, result_ok=False, errors=("Quota exceeded. Check your plan and billing details.",)), ErrorKind.QUOTA),
        (Outcome(exit_code=1, result_ok=False, errors=("stream disconnected before completion: error decoding response body",)), ErrorKind.NETWORK),
    ],
)  # fmt: skip
def test_classify(outcome: Outcome, kind: ErrorKind | None) -> None:
    assert CodexProvider().classify(outcome) is kind


# registration
def test_the_entry_point_registers_the_provider() -> None:
    plugins = Plugins()
    assert isinstance(plugins.provider("codex"), CodexProvider)
    assert plugins.provider_owner("codex") == "codex"
    assert plugins.versions()["codex"].startswith("agented-codex ")


def test_the_plugin_object_runs_a_given_executable() -> None:
    plugins = Plugins([agented_codex.CodexPlugin("/opt/codex")], entry_points=False)
    assert plugins.provider("codex").build_command(request(bot())).argv[0] == "/opt/codex"


def test_the_pinned_version_is_the_tested_one() -> None:
    assert pinned_version("codex") == agented_codex.TESTED_VERSION
    assert (TRANSCRIPTS / f"codex-{agented_codex.TESTED_VERSION}-success.jsonl").exists()


# whole runs, fast: a stand-in executable prints a real transcript
def stand_in(name: str, tmp_path: Path, transcript: Path | None, **fields: Any) -> Bot:
    env = {"FAKE_AGENT_RECORD": str(tmp_path / f"{name}.json"), **fields.pop("env", {})}
    if transcript is not None:
        env["FAKE_AGENT_TRANSCRIPT"] = str(transcript)
    fields.setdefault("max_attempts", 1)
    fields.setdefault("model", "gpt-5.5")
    return Bot(
        name=name,
        provider="codex",
        prompt=fields.pop("prompt", "Review {params.pr}"),
        workdir=str(tmp_path),
        options={"executable": FAKE_AGENT, **fields.pop("options", {})},
        env=env,
        triggers=(ManualTrigger(params=(Param("pr", default="#1"),)),),
        **fields,
    )


@pytest.mark.anyio
async def test_a_run_end_to_end_with_its_cost(open_agented: OpenAgented, tmp_path: Path) -> None:
    from agented_core import Config
    from agented_core.config import AgentedSettings

    b = stand_in("ok", tmp_path, TRANSCRIPTS / "codex-0.169.0-success.jsonl")
    config = Config(
        settings=AgentedSettings(database=f"sqlite:///{tmp_path / 'db.sqlite'}"),
        prices={"gpt-5.5": Price(input=1.25, output=10.0, cache_read=0.125)},
    )
    async with open_agented([b], plugins=[agented_codex], config=config, database=None) as ag:
        execution = await ag.run("ok", params={"pr": "#7"})
        done = await ag.wait(execution.id, timeout=20)
        events = [e async for e in ag.events(execution.id)]
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "hello from fake"
    assert (done.usage.input_tokens, done.usage.cache_read_tokens) == (12, 4)
    assert done.usage.cost_usd == pytest.approx((12 * 1.25 + 5 * 10 + 4 * 0.125) / 1e6)
    record = json.loads((tmp_path / "ok.json").read_text())
    assert record["stdin_bytes"] == len(b"Review #7")  # all of it: stdin was closed after it
    assert record["argv"][-1] == "-"
    kinds = [e.kind for e in events]
    assert kinds[:3] == ["status", "status", "session"] and kinds[-2:] == ["result", "status"]


@pytest.mark.anyio
async def test_a_used_up_plan_ends_the_attempt_and_waits_for_the_reset(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    b = stand_in(
        "limited",
        tmp_path,
        TRANSCRIPTS / "codex-0.169.0-usage-limit-429.jsonl",
        max_attempts=2,
        env={"FAKE_AGENT_HANG": "1", "TZ": "UTC"},  # it would wait: agented ends it at once
    )
    offset = datetime.now(UTC) - datetime(2026, 11, 25, 13, 33, tzinfo=UTC)
    clock = lambda: datetime.now(UTC) - offset  # noqa: E731  (a day before the reset)
    async with open_agented([b], plugins=[agented_codex], clock=clock) as ag:
        execution = await ag.run("limited")
        with pytest.raises(TimeoutError):
            await ag.wait(execution.id, timeout=3)
        current = await ag.get(execution.id)
    assert current.status is Status.WAITING
    assert current.retry_at == datetime(2026, 11, 26, 13, 33, tzinfo=UTC)
    assert [a.error_kind for a in current.attempts] == [ErrorKind.QUOTA]


@pytest.mark.anyio
async def test_a_cli_waiting_for_the_network_is_ended_by_the_idle_watchdog(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    b = stand_in(
        "offline",
        tmp_path,
        STREAMS / "codex-0.169.0-server-down.jsonl",
        idle_timeout=1.0,
        env={"FAKE_AGENT_HANG": "1"},
    )
    async with open_agented([b], plugins=[agented_codex]) as ag:
        execution = await ag.run("offline")
        done = await ag.wait(execution.id, timeout=20)
        events = [e async for e in ag.events(execution.id)]
    assert done.status is Status.FAILED and done.error_kind is ErrorKind.IDLE
    errors = [e for e in events if e.kind == "error"]
    assert errors and errors[-1].data["kind"] == "network"
    assert "waiting for the network" in errors[-1].data["message"]


@pytest.mark.anyio
async def test_a_cli_that_exits_without_its_turn_fails_with_its_words(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    stderr = tmp_path / "stderr.txt"
    stderr.write_text("Error loading config.toml: unknown variant `bogus`\n")
    b = stand_in(
        "broken", tmp_path, None, env={"FAKE_AGENT_EXIT": "1", "FAKE_AGENT_STDERR": str(stderr)}
    )
    async with open_agented([b], plugins=[agented_codex]) as ag:
        execution = await ag.run("broken")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.FAILED and done.error_kind is ErrorKind.LAUNCH
    assert "unknown variant" in (done.error or "")


def test_the_stand_in_waits_for_the_end_of_stdin(tmp_path: Path) -> None:
    """What the closed stdin protects against: a CLI reading stdin never ends on an open pipe."""
    child = subprocess.Popen(
        [sys.executable, FAKE_AGENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(timeout=0.5)
    assert child.stdin is not None
    child.stdin.close()
    assert child.wait(timeout=10) == 0
