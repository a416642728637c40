"""The opencode provider: its command, environment, checks, classification, and whole runs
through agented with a stand-in executable that prints a real transcript."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import agented_opencode
import pytest
from agented_opencode import OpencodeProvider

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
TRANSCRIPTS = HERE.parent.parent / "fixtures" / "opencode"


def request(bot: Bot, prompt: str = "do it", **kwargs: Any) -> CommandRequest:
    kwargs.setdefault("env", {"PATH": "/usr/bin", "HOME": "/home/bot"})
    kwargs.setdefault("cwd", "/work")
    kwargs.setdefault("context", {"execution": {"id": "01EXEC"}})
    return CommandRequest(bot=bot, prompt=prompt, **kwargs)


def bot(**fields: Any) -> Bot:
    fields.setdefault("prompt", "do it")
    return Bot(name="b", provider="opencode", **fields)


# the command
def test_the_basic_command_reads_the_prompt_from_stdin() -> None:
    prompt = "review this\n" * 1000
    command = OpencodeProvider().build_command(
        request(bot(model="anthropic/claude-sonnet-5"), prompt)
    )
    assert command.argv == (
        "opencode", "run", "--format", "json", "--print-logs", "--log-level", "ERROR",
        "--model", "anthropic/claude-sonnet-5", "--thinking", "--title", "agented b 01EXEC",
    )  # fmt: skip
    assert command.stdin == prompt.encode()
    assert command.env["OPENCODE_DISABLE_MODELS_FETCH"] == "true"
    assert command.env["OPENCODE_DISABLE_AUTOUPDATE"] == "true"
    assert "OPENCODE_CONFIG_CONTENT" not in command.env


def test_options_become_flags() -> None:
    b = bot(
        extra_args=["--port", "0"],
        options={
            "agent": "plan",
            "variant": "high",
            "thinking": False,
            "title": "nightly",
            "auto_approve": True,
            "pure": True,
            "print_logs": False,
            "models_fetch": True,
        },
    )
    command = OpencodeProvider().build_command(request(b))
    argv = list(command.argv)
    assert argv[:4] == ["opencode", "run", "--format", "json"] and "--print-logs" not in argv
    pairs = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    assert pairs["--agent"] == "plan" and pairs["--variant"] == "high"
    assert pairs["--title"] == "nightly" and "--thinking" not in argv
    assert "--auto" in argv and "--pure" in argv and argv[-2:] == ["--port", "0"]
    assert "OPENCODE_DISABLE_MODELS_FETCH" not in command.env


def test_mcp_servers_disallowed_tools_and_config_go_in_the_config_content() -> None:
    b = bot(
        disallowed_tools=["webfetch"],
        mcp_config='{"mcpServers": {"gh": {"command": "gh-mcp", "args": ["--stdio"], "env": {"T": "1"}},'
        ' "docs": {"type": "http", "url": "https://example.com/mcp", "headers": {"A": "b"}}}}',
        options={"config": {"permission": {"bash": "allow"}, "tools": {"write": False}}},
    )
    env = {"HOME": "/home/bot", "OPENCODE_CONFIG_CONTENT": '{"provider": {"x": {}}}'}
    content = json.loads(
        OpencodeProvider().build_command(request(b, env=env)).env["OPENCODE_CONFIG_CONTENT"]
    )
    assert content == {
        "provider": {"x": {}},  # the account's own, kept
        "mcp": {
            "gh": {
                "type": "local",
                "command": ["gh-mcp", "--stdio"],
                "environment": {"T": "1"},
                "enabled": True,
            },
            "docs": {
                "type": "remote",
                "url": "https://example.com/mcp",
                "headers": {"A": "b"},
                "enabled": True,
            },
        },
        "tools": {"webfetch": False, "write": False},
        "permission": {"bash": "allow"},
    }


def test_a_broken_config_content_is_a_clear_error() -> None:
    env = {"HOME": "/home/bot", "OPENCODE_CONFIG_CONTENT": "{not json"}
    with pytest.raises(PluginError, match="OPENCODE_CONFIG_CONTENT is not JSON"):
        OpencodeProvider().build_command(request(bot(disallowed_tools=["x"]), env=env))


def test_resume_only_with_a_saved_session_on_the_same_account(tmp_path: Path) -> None:
    env = {"HOME": "/home/bot", "XDG_DATA_HOME": str(tmp_path)}
    account = Account("work", "opencode")
    on = bot(options={"resume": True})

    def argv(**kwargs: Any) -> tuple[str, ...]:
        kwargs.setdefault("session_id", "ses_abc")
        kwargs.setdefault("attempt", 2)
        kwargs.setdefault("account", account)
        kwargs.setdefault("session_account", "work")
        return OpencodeProvider().build_command(request(on, env=env, **kwargs)).argv

    assert "--session" not in argv()  # no database
    (tmp_path / "opencode").mkdir()
    with sqlite3.connect(tmp_path / "opencode" / "opencode.db") as db:
        db.execute("CREATE TABLE session (id TEXT PRIMARY KEY)")
        db.execute("INSERT INTO session VALUES ('ses_abc')")
    resumed = argv()
    assert resumed[resumed.index("--session") + 1] == "ses_abc"
    assert "--session" not in argv(session_id="ses_other")
    assert "--session" not in argv(attempt=1) and "--session" not in argv(session_account="x")


# checks
@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"prompt": None}, "prompt: the opencode provider needs a 'prompt'"),
        ({"model": "sonnet"}, "model: opencode names models as 'provider/model'"),
        ({"allowed_tools": ["bash"]}, "allowed_tools: opencode has no tool allowlist"),
        ({"options": {"log_level": "TRACE"}}, "options.log_level: expected one of"),
        ({"options": {"config": "x"}}, "options.config: expected dict"),
    ],
)
def test_check_bot_names_the_problem(fields: dict[str, Any], problem: str) -> None:
    problems = OpencodeProvider().check_bot(bot(**fields))
    assert any(p.startswith(problem) for p in problems), problems


def test_it_reports_cost_itself() -> None:
    assert OpencodeProvider().can_price(bot(model="fake/unknown"), {})


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (Outcome(exit_code=0, result_ok=True), None),
        (Outcome(exit_code=0, result_ok=None), ErrorKind.PROVIDER),
        (Outcome(exit_code=1, result_ok=False, errors=("Rate limit reached",), error_kinds=("rate",), rate_limits=({"kind": "rate", "retry_after": 3},)), ErrorKind.RATE),
        (Outcome(exit_code=1, result_ok=False, errors=("Incorrect API key provided",), error_kinds=("auth",)), ErrorKind.AUTH),
        (Outcome(exit_code=1, result_ok=False, errors=("Cannot connect to API: Unable to connect.",), error_kinds=("network",)), ErrorKind.NETWORK),
    ],
)  # fmt: skip
def test_classify(outcome: Outcome, kind: ErrorKind | None) -> None:
    assert OpencodeProvider().classify(outcome) is kind


def test_the_entry_point_registers_the_provider() -> None:
    plugins = Plugins()
    assert isinstance(plugins.provider("opencode"), OpencodeProvider)
    assert plugins.versions()["opencode"].startswith("agented-opencode ")


def test_the_plugin_object_runs_a_given_executable() -> None:
    plugins = Plugins([agented_opencode.OpencodePlugin("/opt/opencode")], entry_points=False)
    assert plugins.provider("opencode").build_command(request(bot())).argv[0] == "/opt/opencode"


def test_the_pinned_version_is_the_tested_one() -> None:
    assert pinned_version("opencode") == agented_opencode.TESTED_VERSION
    assert (TRANSCRIPTS / f"opencode-{agented_opencode.TESTED_VERSION}-success.jsonl").exists()


# whole runs, fast
def stand_in(name: str, tmp_path: Path, case: str, **fields: Any) -> Bot:
    env = {
        "FAKE_AGENT_RECORD": str(tmp_path / f"{name}.json"),
        "FAKE_AGENT_TRANSCRIPT": str(TRANSCRIPTS / f"opencode-1.18.33-{case}.jsonl"),
        "FAKE_AGENT_STDERR": str(TRANSCRIPTS / f"opencode-1.18.33-{case}.stderr.txt"),
        **fields.pop("env", {}),
    }
    fields.setdefault("max_attempts", 1)
    fields.setdefault("model", "fake/priced")
    return Bot(
        name=name,
        provider="opencode",
        prompt="Review {params.pr}",
        workdir=str(tmp_path),
        options={"executable": FAKE_AGENT, **fields.pop("options", {})},
        env=env,
        triggers=(ManualTrigger(params=(Param("pr", default="#1"),)),),
        **fields,
    )


@pytest.mark.anyio
async def test_a_run_end_to_end(open_agented: OpenAgented, tmp_path: Path) -> None:
    b = stand_in("ok", tmp_path, "tool-round-trip")
    async with open_agented([b], plugins=[agented_opencode]) as ag:
        execution = await ag.run("ok", params={"pr": "#7"})
        done = await ag.wait(execution.id, timeout=20)
        events = [e async for e in ag.events(execution.id)]
    assert done.status is Status.SUCCEEDED, done.error
    assert done.result == "done" and done.usage.cost_usd == pytest.approx(
        (12 + 4 * 2 + 30 + 6 * 2) / 1e6
    )
    record = json.loads((tmp_path / "ok.json").read_text())
    assert record["stdin_bytes"] == len(b"Review #7")
    assert [e.kind for e in events if e.kind in ("tool_call", "tool_result")] == [
        "tool_call",
        "tool_result",
    ]


@pytest.mark.anyio
async def test_a_step_without_a_price_gets_the_prices_table(tmp_path: Path) -> None:
    from agented_core import Agented, Config
    from agented_core.config import AgentedSettings

    b = stand_in("cheap", tmp_path, "unpriced", model="fake/unpriced")
    config = Config(
        settings=AgentedSettings(database=f"sqlite:///{tmp_path / 'db.sqlite'}"),
        prices={"unpriced": Price(input=3.0, output=15.0)},
    )
    async with Agented.open(
        config=config, bots=[b], plugins=[agented_opencode], entry_points=False
    ) as ag:
        execution = await ag.run("cheap")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.SUCCEEDED, done.error
    assert done.usage.cost_usd == pytest.approx((1000 * 3.0 + 100 * 15.0) / 1e6)


@pytest.mark.anyio
async def test_a_refused_permission_fails_the_run(
    open_agented: OpenAgented, tmp_path: Path
) -> None:
    b = stand_in("refused", tmp_path, "tool-error")
    async with open_agented([b], plugins=[agented_opencode]) as ag:
        execution = await ag.run("refused")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.FAILED and done.error_kind is ErrorKind.PROVIDER
    assert "refusing a permission" in (done.error or "")


@pytest.mark.anyio
async def test_a_429(open_agented: OpenAgented, tmp_path: Path) -> None:
    b = stand_in("limited", tmp_path, "rate-limited-429", env={"FAKE_AGENT_EXIT": "1"})
    async with open_agented([b], plugins=[agented_opencode]) as ag:
        execution = await ag.run("limited")
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.FAILED and done.error_kind is ErrorKind.RATE
    assert done.attempts[0].limit_kind == "rate"
