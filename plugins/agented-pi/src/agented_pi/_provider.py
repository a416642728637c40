"""The ``pi`` provider: pi, the coding agent, in print mode with JSON events.

The command of an attempt::

    pi --mode json -p [--model PROVIDER/ID] [--provider P] [--thinking LEVEL]
       [--tools T,...] [--no-tools] [--system-prompt S] [--append-system-prompt S]
       [--extension E ...] [--no-extensions] [--skill S ...] [--no-skills]
       [--no-context-files] [--session-dir D] [--no-session] [--session ID] [extra_args ...]

with the rendered prompt on **stdin** (pi reads it whole when stdin is not a terminal; never
in argv, ``ps`` or the recorded command).

An account keeps pi's folder (models, custom providers in ``models.json``, logins in
``auth.json``, settings, sessions) with ``PI_CODING_AGENT_DIR`` (default ``~/.pi/agent``), or
gives a provider's key (``env_from = { ANTHROPIC_API_KEY = "..." }``). pi's own retries are
settings of that folder (``retry.maxRetries``, default 3, backing off 2-8 s). The child gets
``PI_OFFLINE=1`` (no version check or other network at start) unless ``options.offline`` is
false. pi has no MCP client (by design) and no tool denylist: ``mcp_config`` and
``disallowed_tools`` are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from agented_core import Bot, CommandRequest, OptionSpec
from agented_core.providers import CLIProvider, LineParser

from ._parser import PiParser

THINKING_LEVELS = ("off", "minimal", "low", "medium", "high", "xhigh")

TESTED_VERSION = "0.73.1"
"""The pi version the contract tests run (``realcli``)."""


def agent_dir(env: Mapping[str, str]) -> Path | None:
    """pi's folder of the child: ``PI_CODING_AGENT_DIR``, else ``~/.pi/agent``."""
    if env.get("PI_CODING_AGENT_DIR"):
        return Path(env["PI_CODING_AGENT_DIR"]).expanduser()
    return Path(env["HOME"]) / ".pi" / "agent" if env.get("HOME") else None


def session_saved(folder: Path | None, session_id: str) -> bool:
    """Whether pi's sessions folder holds the session (so ``--session`` continues it)."""
    if folder is None or not session_id.replace("-", "").isalnum():
        return False
    return any(folder.glob(f"**/*{session_id}*.jsonl"))


class PiProvider(CLIProvider):
    """Runs pi (``pi --mode json -p``) and reads its JSON events."""

    name: ClassVar[str] = "pi"
    executable: ClassVar[str | None] = "pi"
    install_command: ClassVar[str | None] = (
        f"npm install -g @mariozechner/pi-coding-agent@{TESTED_VERSION}"
    )
    # the tested version and later releases before 1.0 (pi is not at 1.0 yet)
    supported_versions: ClassVar[tuple[str, str] | None] = (TESTED_VERSION, "1.0.0")
    reports_cost: ClassVar[bool] = True
    requires_result: ClassVar[bool] = True
    options: ClassVar[Mapping[str, OptionSpec]] = {
        **CLIProvider.options,
        "provider": OptionSpec(str, "--provider: the model provider (or name it in the model)"),
        "thinking": OptionSpec(str, "--thinking: the thinking level", THINKING_LEVELS),
        "no_tools": OptionSpec(bool, "--no-tools: no tools at all"),
        "system_prompt": OptionSpec(str, "--system-prompt: replaces the default system prompt"),
        "append_system_prompt": OptionSpec(str, "--append-system-prompt: added to it"),
        "extensions": OptionSpec(list, "--extension: extension files to load"),
        "no_extensions": OptionSpec(bool, "--no-extensions: no extension discovery"),
        "skills": OptionSpec(list, "--skill: skill files or folders to load"),
        "no_skills": OptionSpec(bool, "--no-skills: no skill discovery"),
        "context_files": OptionSpec(
            bool, "false: --no-context-files, no AGENTS.md / CLAUDE.md (default true)"
        ),
        "session_dir": OptionSpec(str, "--session-dir: where sessions are kept"),
        "ephemeral": OptionSpec(bool, "--no-session: save no session (no resume)"),
        "offline": OptionSpec(bool, "PI_OFFLINE=1: no network at start (default true)"),
        "resume": OptionSpec(
            bool,
            "later attempts continue the execution's pi session (--session), on the same "
            "account (sessions live in its folder)",
        ),
    }

    # checks
    def check_bot(self, bot: Bot) -> list[str]:
        problems = super().check_bot(bot)
        options = bot.options
        for key in ("extensions", "skills"):
            value = options.get(key)
            if isinstance(value, list) and not all(isinstance(v, str) and v for v in value):
                problems.append(f"options.{key}: expected a list of non-empty strings")
        if bot.mcp_config:
            problems.append("mcp_config: pi has no MCP client (add tools with an extension)")
        if bot.disallowed_tools:
            problems.append("disallowed_tools: pi has no tool denylist; use allowed_tools")
        if options.get("no_tools") is True and bot.allowed_tools:
            problems.append("options.no_tools: contradicts allowed_tools")
        if options.get("resume") is True and options.get("ephemeral") is True:
            problems.append("options.resume: needs saved sessions (ephemeral = true)")
        return problems

    # the command
    def resumes(self, request: CommandRequest) -> str | None:
        """The session a later attempt continues, or ``None``."""
        sid = self.resumable_session(request)
        if not sid:
            return None
        chosen = request.bot.options.get("session_dir")
        folder = Path(chosen) if isinstance(chosen, str) and chosen else agent_dir(request.env)
        return sid if session_saved(folder, sid) else None

    def arguments(self, request: CommandRequest) -> list[str]:
        bot = request.bot
        options: Mapping[str, Any] = bot.options
        args = ["--mode", "json", "-p"]
        model = request.model or bot.model
        if model:
            args += ["--model", model]
        for key, flag in (
            ("provider", "--provider"),
            ("thinking", "--thinking"),
            ("system_prompt", "--system-prompt"),
            ("append_system_prompt", "--append-system-prompt"),
            ("session_dir", "--session-dir"),
        ):
            value = options.get(key)
            if isinstance(value, str) and value:
                args += [flag, value]
        if bot.allowed_tools:
            args += ["--tools", ",".join(bot.allowed_tools)]
        if options.get("no_tools") is True:
            args.append("--no-tools")
        for key, flag in (("extensions", "--extension"), ("skills", "--skill")):
            for value in options.get(key) or ():
                args += [flag, value]
        for key, flag in (("no_extensions", "--no-extensions"), ("no_skills", "--no-skills")):
            if options.get(key) is True:
                args.append(flag)
        if options.get("context_files") is False:
            args.append("--no-context-files")
        if options.get("ephemeral") is True:
            args.append("--no-session")
        session = self.resumes(request)
        if session:
            args += ["--session", session]
        return args

    def environment(self, request: CommandRequest) -> Mapping[str, str]:
        if request.bot.options.get("offline") is False:
            return {}
        return {"PI_OFFLINE": request.env.get("PI_OFFLINE", "1")}

    def parser(self, request: CommandRequest) -> LineParser:
        return PiParser(
            account=request.account_name,
            model=request.model or request.bot.model,
            prices=request.prices,
            patterns=request.ratelimit_patterns or None,
        )
