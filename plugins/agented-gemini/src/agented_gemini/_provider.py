"""The ``gemini`` provider: Google's Gemini CLI, headless, ``--output-format stream-json``.

The command of an attempt::

    gemini --output-format stream-json -p "" [--skip-trust] [--model M] [--approval-mode A]
           [--sandbox] [--include-directories D ...] [--extensions E ...]
           [--allowed-mcp-server-names N ...] [--resume SESSION] [extra_args ...]

with the rendered prompt on **stdin** (``-p ""`` makes the run headless; the CLI reads up to
8 MiB of stdin, so a longer prompt is refused with a clear error before anything starts; it
never appears in argv, ``ps`` or the recorded command).

The CLI takes several things only from its settings file: its own attempts
(``general.maxAttempts``; it ignores ``retry-after`` and backs off 5-30 s itself, so the plugin
caps them at **2** by default), the auth type (an API key behind ``GOOGLE_GEMINI_BASE_URL``
needs ``gemini-api-key`` selected), tool lists and MCP servers. It reads settings from its home
folder (``GEMINI_CLI_HOME``, else ``HOME``) and from system files that must be owned by root, so:

- an account that gives a key (``env_from = { GEMINI_API_KEY = "..." }``) and no folder of its
  own runs in a folder agented keeps for the account and the bot
  (``$XDG_STATE_HOME/agented/gemini/ACCOUNT/BOT``, sessions included), whose
  ``.gemini/settings.json`` agented writes for each attempt;
- an account with a folder of its own (``env = { GEMINI_CLI_HOME = "..." }``) or the CLI's own
  login keeps its settings: the plugin's settings options are refused there (set them in that
  folder's ``settings.json``).
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
    find_price,
    managed_folder,
    mcp_servers,
    settings_mcp_servers,
    write_private_json,
)

from ._parser import GeminiParser

APPROVAL_MODES = ("default", "auto_edit", "yolo", "plan")
AUTH_TYPES = ("gemini-api-key", "oauth-personal", "vertex-ai", "compute-default-credentials")
MODEL_ALIASES = frozenset({"auto", "pro", "flash", "flash-lite"})
DEFAULT_MAX_ATTEMPTS = 2
MAX_STDIN = 8 * 1024 * 1024
"""The most the CLI reads from stdin (``readStdin``: longer input is cut off)."""

TESTED_VERSION = "0.61.0"
"""The Gemini CLI version the contract tests run (``realcli``)."""


def gemini_home(env: Mapping[str, str]) -> Path | None:
    """The folder holding the child's ``.gemini/``: ``GEMINI_CLI_HOME``, else ``HOME``."""
    folder = env.get("GEMINI_CLI_HOME") or env.get("HOME")
    return Path(folder).expanduser() if folder else None


def session_saved(env: Mapping[str, str], session_id: str) -> bool:
    """Whether the child's ``.gemini/tmp/*/chats`` holds the session (so it can resume)."""
    home = gemini_home(env)
    prefix = session_id[:8]
    if home is None or not prefix.replace("-", "").isalnum():
        return False
    return any((home / ".gemini" / "tmp").glob(f"*/chats/session-*-{prefix}*.json*"))


BLOCKING_STDOUT = Path(__file__).with_name("blocking_stdout.cjs")
"""A preload script that makes the CLI's stdout and stderr blocking: Node drops the writes
still queued for a pipe when the CLI calls ``process.exit()``, so a large output (stream-json
echoes the whole prompt) loses its end, the result line included, when the reader lags."""


def node_options(existing: str) -> str:
    """``NODE_OPTIONS`` with the :data:`BLOCKING_STDOUT` preload added (once)."""
    path = str(BLOCKING_STDOUT)
    if path in existing:
        return existing
    flag = f'--require="{path}"' if " " in path else f"--require={path}"
    return f"{existing} {flag}".strip()


def managed_home(env: Mapping[str, str], account: str | None, bot: str) -> Path | None:
    """The folder agented keeps for an account that gives a key and has no folder of its own
    (``None`` for one with ``GEMINI_CLI_HOME`` or the CLI's own login)."""
    if env.get("GEMINI_CLI_HOME") or not (env.get("GEMINI_API_KEY") or env.get("GOOGLE_API_KEY")):
        return None
    return managed_folder(env, "gemini", account, bot)


def write_settings(home: Path, content: Mapping[str, Any]) -> Path:
    """Write ``content`` as ``home/.gemini/settings.json`` (atomically, when it changed)."""
    return write_private_json(home / ".gemini" / "settings.json", content)


class GeminiProvider(CLIProvider):
    """Runs the Gemini CLI headless and reads its ``stream-json`` output."""

    name: ClassVar[str] = "gemini"
    executable: ClassVar[str | None] = "gemini"
    install_command: ClassVar[str | None] = f"npm install -g @google/gemini-cli@{TESTED_VERSION}"
    # the tested version and later releases of the same major line
    supported_versions: ClassVar[tuple[str, str] | None] = (TESTED_VERSION, "1.0.0")
    reports_cost: ClassVar[bool] = False
    requires_result: ClassVar[bool] = True
    options: ClassVar[Mapping[str, OptionSpec]] = {
        **CLIProvider.options,
        "approval_mode": OptionSpec(
            str,
            "--approval-mode: which tool calls run without approval (headless, tools that "
            "need approval are not offered: 'yolo' lets it run shell commands)",
            APPROVAL_MODES,
        ),
        "max_attempts": OptionSpec(
            int,
            f"general.maxAttempts: the CLI's own API attempts, 1-10 (default "
            f"{DEFAULT_MAX_ATTEMPTS}; it ignores retry-after)",
        ),
        "auth_type": OptionSpec(
            str,
            "security.auth.selectedType (default: gemini-api-key when the account gives "
            "GEMINI_API_KEY)",
            AUTH_TYPES,
        ),
        "settings": OptionSpec(dict, "more settings, merged over everything else (a table)"),
        "include_directories": OptionSpec(list, "--include-directories: more workspace folders"),
        "extensions": OptionSpec(list, "--extensions: the extensions to use (default: all)"),
        "allowed_mcp_server_names": OptionSpec(
            list, "--allowed-mcp-server-names: the MCP servers it may use"
        ),
        "sandbox": OptionSpec(bool, "--sandbox: run tools in the CLI's sandbox"),
        "trust_workspace": OptionSpec(
            bool, "--skip-trust: trust the bot's workdir for the run (default true)"
        ),
        "resume": OptionSpec(
            bool,
            "later attempts --resume the execution's Gemini session (same account only: "
            "sessions live in its GEMINI_CLI_HOME)",
        ),
    }

    # checks
    def check_bot(self, bot: Bot) -> list[str]:
        problems = super().check_bot(bot)
        options = bot.options
        attempts = options.get("max_attempts")
        if isinstance(attempts, int) and not isinstance(attempts, bool):
            if not 1 <= attempts <= 10:
                problems.append(f"options.max_attempts: expected 1 to 10, got {attempts}")
        for key in ("include_directories", "extensions", "allowed_mcp_server_names"):
            value = options.get(key)
            if isinstance(value, list) and not all(isinstance(v, str) and v for v in value):
                problems.append(f"options.{key}: expected a list of non-empty strings")
        problems.extend(check_mcp_config(bot.mcp_config))
        return problems

    def can_price(self, bot: Bot, prices: Mapping[str, Any]) -> bool:
        """Only a fixed model can be priced: ``auto`` and the aliases pick models at run time."""
        model = bot.model
        if not model or model in MODEL_ALIASES or model.startswith("auto"):
            return False
        return find_price(model, prices) is not None

    # the command
    def resumes(self, request: CommandRequest) -> str | None:
        """The session a later attempt continues, or ``None``."""
        sid = self.resumable_session(request)
        if not sid:
            return None
        home = self.home(request)
        env = {**request.env, "GEMINI_CLI_HOME": str(home)} if home else request.env
        return sid if session_saved(env, sid) else None

    def arguments(self, request: CommandRequest) -> list[str]:
        bot = request.bot
        options: Mapping[str, Any] = bot.options
        size = len((request.prompt or "").encode())
        if size > MAX_STDIN:
            raise PluginError(
                f"the prompt is {size} bytes; the Gemini CLI reads at most {MAX_STDIN} bytes "
                "(8 MiB) of it: shorten the prompt"
            )
        args = ["--output-format", "stream-json", "-p", ""]
        if options.get("trust_workspace") is not False:
            args.append("--skip-trust")
        model = request.model or bot.model
        if model:
            args += ["--model", model]
        mode = options.get("approval_mode")
        if isinstance(mode, str) and mode:
            args += ["--approval-mode", mode]
        if options.get("sandbox") is True:
            args.append("--sandbox")
        for key, flag in (
            ("include_directories", "--include-directories"),
            ("extensions", "--extensions"),
            ("allowed_mcp_server_names", "--allowed-mcp-server-names"),
        ):
            for value in options.get(key) or ():
                args.append(f"{flag}={value}")
        session = self.resumes(request)
        if session:
            args += ["--resume", session]
        return args

    def settings(self, request: CommandRequest) -> dict[str, Any]:
        """The settings agented writes into its folder for this attempt."""
        bot = request.bot
        options: Mapping[str, Any] = bot.options
        attempts = options.get("max_attempts")
        if not isinstance(attempts, int) or isinstance(attempts, bool):
            attempts = DEFAULT_MAX_ATTEMPTS
        content: dict[str, Any] = {
            "general": {
                "maxAttempts": attempts,
                "enableAutoUpdate": False,
                "enableAutoUpdateNotification": False,
            }
        }
        auth = options.get("auth_type")
        env = request.env
        vertex = env.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower() in ("1", "true")
        if not auth and not vertex and (env.get("GEMINI_API_KEY") or env.get("GOOGLE_API_KEY")):
            auth = "gemini-api-key"
        if isinstance(auth, str) and auth:
            content["security"] = {"auth": {"selectedType": auth}}
        tools: dict[str, Any] = {}
        if bot.allowed_tools:
            tools["allowed"] = list(bot.allowed_tools)
        if bot.disallowed_tools:
            tools["exclude"] = list(bot.disallowed_tools)
        if tools:
            content["tools"] = tools
        servers = mcp_servers(bot.mcp_config, request.cwd)
        if servers:
            content["mcpServers"] = settings_mcp_servers(servers)
        extra = options.get("settings")
        if isinstance(extra, Mapping):
            content = deep_merge(content, extra)
        return content

    def home(self, request: CommandRequest) -> Path | None:
        """The folder agented keeps for this account and bot, or ``None`` (the account's)."""
        return managed_home(request.env, request.account_name, request.bot.name)

    def environment(self, request: CommandRequest) -> Mapping[str, str]:
        extra = {"NODE_OPTIONS": node_options(request.env.get("NODE_OPTIONS", ""))}
        home = self.home(request)
        if home is None:
            bot = request.bot
            needs = [k for k in ("max_attempts", "auth_type", "settings") if k in bot.options]
            needs += [f for f in ("allowed_tools", "disallowed_tools") if getattr(bot, f)]
            needs += ["mcp_config"] if bot.mcp_config else []
            if needs:
                raise PluginError(
                    f"{', '.join(needs)}: gemini takes these from its settings file, and this "
                    "account uses a folder of its own (GEMINI_CLI_HOME) or the CLI's own login: "
                    "set them in that folder's .gemini/settings.json"
                )
            return extra
        write_settings(home, self.settings(request))
        return {**extra, "GEMINI_CLI_HOME": str(home)}

    def parser(self, request: CommandRequest) -> LineParser:
        return GeminiParser(
            account=request.account_name,
            model=request.model or request.bot.model,
            prices=request.prices,
            patterns=request.ratelimit_patterns or None,
        )
