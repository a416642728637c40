"""The ``claude`` provider: Claude Code in print mode, streaming JSON lines.

The command of an attempt::

    claude [--allowedTools T ...] [--disallowedTools T ...] -p --output-format stream-json
           --verbose [--model M] [--permission-mode P] [--max-turns N] [--max-budget-usd X]
           [--system-prompt S] [--append-system-prompt S] [--fallback-model M] [--effort E]
           [--tools T ...] [--mcp-config C] [--strict-mcp-config] [--add-dir D ...]
           [--settings S] [--no-session-persistence] [--include-partial-messages]
           [--resume ID] [extra_args ...]

with the rendered prompt on stdin (any size; never in argv, so never in ``ps`` or in the
recorded command). The child's environment is the account's (``CLAUDE_CONFIG_DIR``,
``ANTHROPIC_API_KEY``, ``CLAUDE_CODE_OAUTH_TOKEN`` ...) plus ``CLAUDE_CODE_MAX_RETRIES``
(default 1: a rate limit reaches agented instead of being waited out inside the CLI, which
obeys ``retry-after`` however long) and ``DISABLE_AUTOUPDATER=1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from agented_core import Bot, CommandRequest, OptionSpec
from agented_core.providers import CLIProvider, LineParser

from ._parser import ClaudeParser

PERMISSION_MODES = ("acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan")
EFFORTS = ("low", "medium", "high", "xhigh", "max")
DEFAULT_MAX_RETRIES = 1

TESTED_VERSION = "2.1.197"
"""The Claude Code version the contract tests run (``realcli``)."""


def _budget(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


class ClaudeProvider(CLIProvider):
    """Runs Claude Code (``claude -p``) and reads its ``stream-json`` output."""

    name: ClassVar[str] = "claude"
    executable: ClassVar[str | None] = "claude"
    install_command: ClassVar[str | None] = (
        f"npm install -g @anthropic-ai/claude-code@{TESTED_VERSION}"
    )
    # the tested version and later releases of the same major line
    supported_versions: ClassVar[tuple[str, str] | None] = (TESTED_VERSION, "3.0.0")
    reports_cost: ClassVar[bool] = True
    requires_result: ClassVar[bool] = True
    options: ClassVar[Mapping[str, OptionSpec]] = {
        **CLIProvider.options,
        "permission_mode": OptionSpec(
            str, "--permission-mode: how tool use is approved", PERMISSION_MODES
        ),
        "max_turns": OptionSpec(int, "--max-turns: agentic turns before the CLI stops"),
        "system_prompt": OptionSpec(str, "--system-prompt: replaces the default system prompt"),
        "append_system_prompt": OptionSpec(
            str, "--append-system-prompt: added to the default system prompt"
        ),
        "fallback_model": OptionSpec(
            str, "--fallback-model: used when the model is overloaded or unavailable"
        ),
        "effort": OptionSpec(str, "--effort: reasoning effort", EFFORTS),
        "tools": OptionSpec(list, "--tools: the built-in tools available (a list of names)"),
        "strict_mcp_config": OptionSpec(
            bool, "--strict-mcp-config: use only the bot's mcp_config servers"
        ),
        "add_dirs": OptionSpec(list, "--add-dir: more directories the tools may access"),
        "settings": OptionSpec(str, "--settings: a settings file or JSON string"),
        "max_retries": OptionSpec(
            int,
            f"CLAUDE_CODE_MAX_RETRIES: the CLI's own API retries (default {DEFAULT_MAX_RETRIES})",
        ),
        "resume": OptionSpec(
            bool, "--resume: later attempts continue the execution's Claude session"
        ),
        "session_persistence": OptionSpec(
            bool, "false: --no-session-persistence (no session files; no resume)"
        ),
        "partial_messages": OptionSpec(
            bool,
            "--include-partial-messages: output while a long answer streams, so an "
            "idle_timeout measures the API's silence, not the answer's length",
        ),
    }

    # checks
    def check_bot(self, bot: Bot) -> list[str]:
        problems = super().check_bot(bot)
        options = bot.options
        for key in ("tools", "add_dirs"):
            value = options.get(key)
            if isinstance(value, list) and not all(isinstance(v, str) and v for v in value):
                problems.append(f"options.{key}: expected a list of non-empty strings")
        turns = options.get("max_turns")
        if isinstance(turns, int) and not isinstance(turns, bool) and turns < 1:
            problems.append(f"options.max_turns: expected at least 1, got {turns}")
        retries = options.get("max_retries")
        if isinstance(retries, int) and not isinstance(retries, bool) and retries < 0:
            problems.append(f"options.max_retries: expected 0 or more, got {retries}")
        if options.get("resume") and options.get("session_persistence") is False:
            problems.append("options.resume: needs session_persistence (sessions must be saved)")
        for key, values in (
            ("allowed_tools", bot.allowed_tools),
            ("disallowed_tools", bot.disallowed_tools),
        ):
            if any(not v.strip() or v.startswith("-") for v in values):
                problems.append(f"{key}: tool names must be non-empty and not start with '-'")
        if bot.max_cost_usd is not None and bot.max_cost_usd <= 0:
            problems.append("max_cost_usd: must be more than 0 for the claude provider")
        return problems

    # the command
    def arguments(self, request: CommandRequest) -> list[str]:
        bot = request.bot
        options: Mapping[str, Any] = bot.options
        args: list[str] = []
        # variadic flags first: the next argument ("-p") ends their lists
        if bot.allowed_tools:
            args += ["--allowedTools", *bot.allowed_tools]
        if bot.disallowed_tools:
            args += ["--disallowedTools", *bot.disallowed_tools]
        tools = options.get("tools")
        if isinstance(tools, list):
            args += ["--tools", ",".join(tools) if tools else ""]
        args += ["-p", "--output-format", "stream-json", "--verbose"]
        if options.get("partial_messages"):
            args.append("--include-partial-messages")
        model = request.model or bot.model
        if model:
            args += ["--model", model]
        if options.get("permission_mode"):
            args += ["--permission-mode", str(options["permission_mode"])]
        if options.get("max_turns") is not None:
            args += ["--max-turns", str(options["max_turns"])]
        budget = request.remaining_budget_usd
        if budget is not None:
            args += ["--max-budget-usd", _budget(budget)]
        if options.get("system_prompt"):
            args += ["--system-prompt", str(options["system_prompt"])]
        if options.get("append_system_prompt"):
            args += ["--append-system-prompt", str(options["append_system_prompt"])]
        if options.get("fallback_model"):
            args += ["--fallback-model", str(options["fallback_model"])]
        if options.get("effort"):
            args += ["--effort", str(options["effort"])]
        if bot.mcp_config:
            args += ["--mcp-config", bot.mcp_config]
        if options.get("strict_mcp_config"):
            args.append("--strict-mcp-config")
        for folder in options.get("add_dirs") or ():
            args += ["--add-dir", str(folder)]
        if options.get("settings"):
            args += ["--settings", str(options["settings"])]
        if options.get("session_persistence") is False:
            args.append("--no-session-persistence")
        session = self.resumable_session(request)
        if session:
            args += ["--resume", session]
        return args

    def environment(self, request: CommandRequest) -> Mapping[str, str]:
        retries = request.bot.options.get("max_retries")
        if retries is None:
            retries = request.env.get("CLAUDE_CODE_MAX_RETRIES", DEFAULT_MAX_RETRIES)
        return {
            "CLAUDE_CODE_MAX_RETRIES": str(retries),
            "DISABLE_AUTOUPDATER": request.env.get("DISABLE_AUTOUPDATER", "1"),
        }

    def parser(self, request: CommandRequest) -> LineParser:
        return ClaudeParser(
            account=request.account_name, patterns=request.ratelimit_patterns or None
        )
