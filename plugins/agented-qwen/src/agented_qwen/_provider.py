"""The ``qwen`` provider: Qwen Code headless, ``--output-format stream-json``.

The command of an attempt::

    qwen --output-format stream-json [--model M] [--auth-type T] [--approval-mode A]
         [--max-session-turns N] [--sandbox] [--include-directories D ...]
         [--extensions E ...] [--allowed-mcp-server-names N ...] [--allowed-tools T ...]
         [--exclude-tools T ...] [--chat-recording false] [--resume SESSION] [extra_args ...]

with the rendered prompt on **stdin** (qwen runs one-shot when stdin is not a terminal; the
prompt never appears in argv, ``ps`` or the recorded command).

Qwen reads its settings from ``$QWEN_HOME/settings.json`` (default ``~/.qwen``). Its own
retries are one of them: on a 429 it waits 60 s and more between up to 10 "rate-limit
retries" by default, so the plugin sets ``model.generationConfig.maxRetries`` to **0** (qwen
still retries a request a few times by itself, obeying ``retry-after``). Hence:

- an account that gives a key (``env_from = { OPENAI_API_KEY = "..." }``, with
  ``OPENAI_BASE_URL`` and ``OPENAI_MODEL`` or the bot's ``model`` for an OpenAI-compatible
  endpoint) and no folder of its own runs with ``QWEN_HOME`` set to a folder agented keeps
  for the account and the bot (``$XDG_STATE_HOME/agented/qwen/ACCOUNT/BOT``, sessions
  included), whose ``settings.json`` agented writes for each attempt (retries, MCP servers,
  ``options.settings``);
- an account with ``QWEN_HOME`` of its own keeps its settings: the plugin's settings options
  and ``mcp_config`` are refused there (set them in that folder's ``settings.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from agented_core import Bot, CommandRequest, OptionSpec, PluginError
from agented_core.providers import (
    CLIProvider,
    LineParser,
    check_mcp_config,
    deep_merge,
    managed_folder,
    mcp_servers,
    settings_mcp_servers,
    write_private_json,
)

from ._parser import QwenParser

APPROVAL_MODES = ("plan", "default", "auto-edit", "auto", "yolo")
AUTH_TYPES = ("openai", "openai-responses", "anthropic", "gemini", "vertex-ai")
DEFAULT_MAX_RETRIES = 0
_KEYS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
}

TESTED_VERSION = "0.24.4"
"""The Qwen Code version the contract tests run (``realcli``)."""


def managed_home(env: Mapping[str, str], account: str | None, bot: str) -> Path | None:
    """The ``QWEN_HOME`` agented keeps for an account without one of its own (``None`` for an
    account that sets ``QWEN_HOME``)."""
    if env.get("QWEN_HOME"):
        return None
    return managed_folder(env, "qwen", account, bot)


def write_settings(home: Path, content: Mapping[str, Any]) -> Path:
    """Write ``content`` as ``home/settings.json`` (atomically, only when it changed)."""
    return write_private_json(home / "settings.json", content)


def session_saved(home: Path | None, session_id: str) -> bool:
    """Whether qwen's folder holds a chat of the session (so ``--resume`` works)."""
    if home is None or not session_id.replace("-", "").isalnum():
        return False
    return any((home / "projects").glob(f"*/chats/{session_id}*"))


class QwenProvider(CLIProvider):
    """Runs Qwen Code headless and reads its ``stream-json`` output."""

    name: ClassVar[str] = "qwen"
    executable: ClassVar[str | None] = "qwen"
    install_command: ClassVar[str | None] = f"npm install -g @qwen-code/qwen-code@{TESTED_VERSION}"
    # the tested version and later releases before 1.0 (qwen is not at 1.0 yet)
    supported_versions: ClassVar[tuple[str, str] | None] = (TESTED_VERSION, "1.0.0")
    reports_cost: ClassVar[bool] = False
    requires_result: ClassVar[bool] = True
    options: ClassVar[Mapping[str, OptionSpec]] = {
        **CLIProvider.options,
        "auth_type": OptionSpec(
            str,
            "--auth-type (default: openai when the account gives OPENAI_API_KEY, anthropic "
            "with ANTHROPIC_API_KEY, gemini with GEMINI_API_KEY)",
            AUTH_TYPES,
        ),
        "approval_mode": OptionSpec(
            str,
            "--approval-mode: which tool calls run without approval ('yolo' lets it edit "
            "files and run shell commands)",
            APPROVAL_MODES,
        ),
        "max_session_turns": OptionSpec(int, "--max-session-turns: turns before qwen stops"),
        "max_retries": OptionSpec(
            int,
            f"model.generationConfig.maxRetries: qwen's own rate-limit retries, 0-10 (default "
            f"{DEFAULT_MAX_RETRIES}; it waits 60 s and more between them)",
        ),
        "memory": OptionSpec(
            bool, "memory.enableManagedAutoMemory: qwen's background memory (default false)"
        ),
        "settings": OptionSpec(dict, "more settings, merged over everything else (a table)"),
        "include_directories": OptionSpec(list, "--include-directories: more workspace folders"),
        "extensions": OptionSpec(list, "--extensions: the extensions to use (default: all)"),
        "allowed_mcp_server_names": OptionSpec(
            list, "--allowed-mcp-server-names: the MCP servers it may use"
        ),
        "sandbox": OptionSpec(bool, "--sandbox: run tools in qwen's sandbox"),
        "chat_recording": OptionSpec(
            bool, "false: --chat-recording false, no session saved (no resume)"
        ),
        "resume": OptionSpec(
            bool,
            "later attempts --resume the execution's qwen session (same account only: "
            "sessions live in its QWEN_HOME)",
        ),
    }

    # checks
    def check_bot(self, bot: Bot) -> list[str]:
        problems = super().check_bot(bot)
        options = bot.options
        retries = options.get("max_retries")
        if isinstance(retries, int) and not isinstance(retries, bool) and not 0 <= retries <= 10:
            problems.append(f"options.max_retries: expected 0 to 10, got {retries}")
        turns = options.get("max_session_turns")
        if isinstance(turns, int) and not isinstance(turns, bool) and turns < 1:
            problems.append(f"options.max_session_turns: expected 1 or more, got {turns}")
        for key in ("include_directories", "extensions", "allowed_mcp_server_names"):
            value = options.get(key)
            if isinstance(value, list) and not all(isinstance(v, str) and v for v in value):
                problems.append(f"options.{key}: expected a list of non-empty strings")
        if options.get("resume") is True and options.get("chat_recording") is False:
            problems.append("options.resume: needs chat recording (chat_recording = false)")
        problems.extend(check_mcp_config(bot.mcp_config))
        return problems

    # the command
    def home(self, request: CommandRequest) -> Path | None:
        """The ``QWEN_HOME`` agented keeps for this account and bot, or ``None``."""
        return managed_home(request.env, request.account_name, request.bot.name)

    def resumes(self, request: CommandRequest) -> str | None:
        """The session a later attempt continues, or ``None``."""
        sid = self.resumable_session(request)
        if not sid:
            return None
        home = self.home(request)
        if home is None and request.env.get("QWEN_HOME"):
            home = Path(request.env["QWEN_HOME"]).expanduser()
        return sid if session_saved(home, sid) else None

    def auth_type(self, request: CommandRequest) -> str | None:
        """The ``--auth-type``: the option, else the kind of key the account gives."""
        chosen = request.bot.options.get("auth_type")
        if isinstance(chosen, str) and chosen:
            return chosen
        for kind, key in _KEYS.items():
            if request.env.get(key):
                return kind
        return None

    def arguments(self, request: CommandRequest) -> list[str]:
        bot = request.bot
        options: Mapping[str, Any] = bot.options
        args = ["--output-format", "stream-json"]
        model = request.model or bot.model
        if model:
            args += ["--model", model]
        auth = self.auth_type(request)
        if auth:
            args += ["--auth-type", auth]
        mode = options.get("approval_mode")
        if isinstance(mode, str) and mode:
            args += ["--approval-mode", mode]
        turns = options.get("max_session_turns")
        if isinstance(turns, int) and not isinstance(turns, bool):
            args += ["--max-session-turns", str(turns)]
        if options.get("sandbox") is True:
            args.append("--sandbox")
        for key, flag in (
            ("include_directories", "--include-directories"),
            ("extensions", "--extensions"),
            ("allowed_mcp_server_names", "--allowed-mcp-server-names"),
        ):
            for value in options.get(key) or ():
                args.append(f"{flag}={value}")
        for tool in bot.allowed_tools:
            args.append(f"--allowed-tools={tool}")
        for tool in bot.disallowed_tools:
            args.append(f"--exclude-tools={tool}")
        if options.get("chat_recording") is False:
            args += ["--chat-recording", "false"]
        session = self.resumes(request)
        if session:
            args += ["--resume", session]
        return args

    def settings(self, request: CommandRequest) -> dict[str, Any]:
        """The settings agented writes into its ``QWEN_HOME`` for this attempt."""
        bot = request.bot
        options: Mapping[str, Any] = bot.options
        retries = options.get("max_retries")
        if not isinstance(retries, int) or isinstance(retries, bool):
            retries = DEFAULT_MAX_RETRIES
        content: dict[str, Any] = {
            "model": {"generationConfig": {"maxRetries": retries}},
            "memory": {"enableManagedAutoMemory": options.get("memory") is True},
            "general": {"enableAutoUpdate": False},
        }
        servers = mcp_servers(bot.mcp_config, request.cwd)
        if servers:
            content["mcpServers"] = settings_mcp_servers(servers)
        extra = options.get("settings")
        if isinstance(extra, Mapping):
            content = deep_merge(content, extra)
        return content

    def environment(self, request: CommandRequest) -> Mapping[str, str]:
        home = self.home(request)
        if home is None:
            bot = request.bot
            needs = [k for k in ("max_retries", "memory", "settings") if k in bot.options]
            needs += ["mcp_config"] if bot.mcp_config else []
            if needs:
                raise PluginError(
                    f"{', '.join(needs)}: qwen takes these from its settings file, and this "
                    "account uses a QWEN_HOME of its own: set them in its settings.json"
                )
            return {}
        write_settings(home, self.settings(request))
        return {"QWEN_HOME": str(home)}

    def parser(self, request: CommandRequest) -> LineParser:
        return QwenParser(
            account=request.account_name,
            model=request.model or request.bot.model,
            prices=request.prices,
            patterns=request.ratelimit_patterns or None,
        )
