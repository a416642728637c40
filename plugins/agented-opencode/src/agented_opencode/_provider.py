"""The ``opencode`` provider: ``opencode run --format json``.

The command of an attempt::

    opencode run --format json [--print-logs --log-level ERROR] [--model PROVIDER/MODEL]
             [--agent A] [--variant V] [--thinking] [--title T] [--session ID] [--auto]
             [--pure] [extra_args ...]

with the rendered prompt on **stdin** (any size; never in argv, ``ps`` or the recorded
command). opencode reads stdin to its end, and agented closes it once the prompt is written.
``--title`` is always given (by default "agented BOT EXECUTION"), so opencode does not spend a
model call on a session title. ``--print-logs --log-level ERROR`` puts opencode's own retries
on stderr: it retries a retryable error (429, 5xx, a lost connection) up to 5 times with
backoff and prints nothing on stdout meanwhile.

The child's environment adds ``OPENCODE_DISABLE_MODELS_FETCH=true`` (no download of the model
list at start), ``OPENCODE_DISABLE_AUTOUPDATE=true`` and, when the bot has MCP servers,
disallowed tools or ``options.config``, ``OPENCODE_CONFIG_CONTENT`` (merged over the config
files by opencode, and over the account's own ``OPENCODE_CONFIG_CONTENT``). An account keeps
its own configuration and logins with ``OPENCODE_CONFIG`` / ``XDG_CONFIG_HOME`` and
``XDG_DATA_HOME``, or gives a provider's key (``env_from = { ANTHROPIC_API_KEY = "..." }``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from agented_core import Bot, CommandRequest, OptionSpec, PluginError
from agented_core.providers import (
    CLIProvider,
    LineParser,
    check_mcp_config,
    deep_merge,
    mcp_servers,
)

from ._parser import OpencodeParser

LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")

TESTED_VERSION = "1.18.33"
"""The opencode version the contract tests run (``realcli``)."""


def database(env: Mapping[str, str], cli: str = "opencode") -> Path | None:
    """The database of the child of opencode, or of its fork ``cli`` (kilo): ``<CLI>_DB``,
    else ``<cli>/<cli>.db`` under ``XDG_DATA_HOME``."""
    if env.get(f"{cli.upper()}_DB", "").startswith("/"):
        return Path(env[f"{cli.upper()}_DB"])
    data = env.get("XDG_DATA_HOME") or (
        str(Path(env["HOME"]) / ".local" / "share") if env.get("HOME") else None
    )
    return Path(data).expanduser() / cli / f"{cli}.db" if data else None


def session_saved(env: Mapping[str, str], session_id: str, cli: str = "opencode") -> bool:
    """Whether the child's database (of ``cli``) holds the session (so ``--session`` works)."""
    path = database(env, cli)
    if path is None or not path.is_file():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0) as db:
            row = db.execute("SELECT 1 FROM session WHERE id = ?", (session_id,)).fetchone()
    except sqlite3.Error:
        return False
    return row is not None


class OpencodeProvider(CLIProvider):
    """Runs opencode (``opencode run --format json``) and reads its JSON lines."""

    name: ClassVar[str] = "opencode"
    executable: ClassVar[str | None] = "opencode"
    install_command: ClassVar[str | None] = f"npm install -g opencode-ai@{TESTED_VERSION}"
    # the tested version and later releases of the same major line
    supported_versions: ClassVar[tuple[str, str] | None] = (TESTED_VERSION, "2.0.0")
    reports_cost: ClassVar[bool] = True
    requires_result: ClassVar[bool] = True
    options: ClassVar[Mapping[str, OptionSpec]] = {
        **CLIProvider.options,
        "agent": OptionSpec(str, "--agent: the opencode agent (build, plan, or one of yours)"),
        "variant": OptionSpec(str, "--variant: the model variant (reasoning effort)"),
        "thinking": OptionSpec(bool, "--thinking: reasoning as thinking events (default true)"),
        "title": OptionSpec(str, "--title: the session's title (default 'agented BOT ID')"),
        "auto_approve": OptionSpec(
            bool, "--auto: approve permissions that are not explicitly denied"
        ),
        "pure": OptionSpec(bool, "--pure: without external plugins"),
        "config": OptionSpec(dict, "opencode config merged over the files (a table)"),
        "print_logs": OptionSpec(
            bool, "--print-logs: opencode's log on stderr, its retries visible (default true)"
        ),
        "log_level": OptionSpec(str, "--log-level with print_logs (default ERROR)", LOG_LEVELS),
        "models_fetch": OptionSpec(
            bool, "false (default): OPENCODE_DISABLE_MODELS_FETCH, no model list download"
        ),
        "resume": OptionSpec(
            bool,
            "later attempts continue the execution's opencode session (--session), on the "
            "same account (sessions live in its data folder)",
        ),
    }

    # checks
    def check_bot(self, bot: Bot) -> list[str]:
        problems = super().check_bot(bot)
        if bot.model and "/" not in bot.model:
            problems.append(f"model: opencode names models as 'provider/model', got {bot.model!r}")
        if bot.allowed_tools:
            problems.append(
                "allowed_tools: opencode has no tool allowlist; use disallowed_tools or "
                "options.config (tools, permission)"
            )
        problems.extend(check_mcp_config(bot.mcp_config))
        return problems

    # the command
    def resumes(self, request: CommandRequest) -> str | None:
        """The session a later attempt continues, or ``None``."""
        sid = self.resumable_session(request)
        return sid if sid and session_saved(request.env, sid, self.name) else None

    def arguments(self, request: CommandRequest) -> list[str]:
        bot = request.bot
        options: Mapping[str, Any] = bot.options
        args = ["run", "--format", "json"]
        if options.get("print_logs") is not False:
            level = options.get("log_level")
            args += ["--print-logs", "--log-level", str(level) if level else "ERROR"]
        model = request.model or bot.model
        if model:
            args += ["--model", model]
        for key, flag in (("agent", "--agent"), ("variant", "--variant")):
            value = options.get(key)
            if isinstance(value, str) and value:
                args += [flag, value]
        if options.get("thinking") is not False:
            args.append("--thinking")
        title = options.get("title")
        if not isinstance(title, str) or not title:
            execution = request.context.get("execution")
            ident = execution.get("id") if isinstance(execution, Mapping) else None
            title = f"agented {bot.name}" + (f" {ident}" if ident else "")
        args += ["--title", title]
        session = self.resumes(request)
        if session:
            args += ["--session", session]
        if options.get("auto_approve") is True:
            args.append("--auto")
        if options.get("pure") is True:
            args.append("--pure")
        return args

    def config(self, request: CommandRequest) -> dict[str, Any]:
        """The configuration agented adds (MCP servers, disallowed tools, ``options.config``)."""
        bot = request.bot
        content: dict[str, Any] = {}
        servers = mcp_servers(bot.mcp_config, request.cwd)
        if servers:
            table: dict[str, Any] = {}
            for name, server in servers.items():
                if server.url:
                    entry: dict[str, Any] = {"type": "remote", "url": server.url}
                    if server.headers:
                        entry["headers"] = dict(server.headers)
                else:
                    entry = {"type": "local", "command": [server.command, *server.args]}
                    if server.env:
                        entry["environment"] = dict(server.env)
                entry["enabled"] = True
                table[name] = entry
            content["mcp"] = table
        if bot.disallowed_tools:
            content["tools"] = dict.fromkeys(bot.disallowed_tools, False)
        extra = bot.options.get("config")
        if isinstance(extra, Mapping):
            content = deep_merge(content, extra)
        return content

    def environment(self, request: CommandRequest) -> Mapping[str, str]:
        env = request.env
        out = {
            "OPENCODE_DISABLE_AUTOUPDATE": env.get("OPENCODE_DISABLE_AUTOUPDATE", "true"),
        }
        if request.bot.options.get("models_fetch") is not True:
            out["OPENCODE_DISABLE_MODELS_FETCH"] = "true"
        content = self.config(request)
        if content:
            base: Any = {}
            if env.get("OPENCODE_CONFIG_CONTENT"):
                try:
                    base = json.loads(env["OPENCODE_CONFIG_CONTENT"])
                except ValueError as exc:
                    raise PluginError(f"OPENCODE_CONFIG_CONTENT is not JSON: {exc}") from None
            merged = deep_merge(base if isinstance(base, Mapping) else {}, content)
            out["OPENCODE_CONFIG_CONTENT"] = json.dumps(merged, ensure_ascii=False)
        return out

    def parser(self, request: CommandRequest) -> LineParser:
        return OpencodeParser(
            account=request.account_name,
            model=request.model or request.bot.model,
            prices=request.prices,
            patterns=request.ratelimit_patterns or None,
        )
