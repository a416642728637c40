"""The ``codex`` provider: OpenAI Codex CLI, ``codex exec --json``.

The command of an attempt::

    codex exec --json [--skip-git-repo-check] [--model M] [--sandbox S]
               [--dangerously-bypass-approvals-and-sandbox] [--profile P] [--add-dir D ...]
               [--ephemeral] [--output-schema F] [-c approval_policy="never"]
               [-c model_provider="X"] [-c model_providers.X.request_max_retries=N ...]
               [-c model_reasoning_effort="E"] [-c mcp_servers.NAME={...} ...]
               [-c KEY=VALUE ...] [extra_args ...] -

or, for a later attempt that continues the execution's thread, ``codex exec resume --json
[...] THREAD_ID -`` (with ``-c sandbox_mode=S``; no ``--profile`` or ``--add-dir`` there).
The prompt goes to **stdin** (``-``: any size, never in argv); codex reads stdin to its end,
and agented closes it once the prompt is written, so codex never waits on an open pipe. Codex
keeps its login, configuration and sessions in ``CODEX_HOME`` (default
``~/.codex``): an account sets its own (``env = { CODEX_HOME = "..." }``) and its key
(``env_from = { CODEX_API_KEY = "..." }``, or the ``env_key`` of a custom model provider).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar

from agented_core import Bot, Command, CommandRequest, OptionSpec, PluginError
from agented_core.providers import CLIProvider, LineParser, check_mcp_config, mcp_servers

from ._parser import CodexParser

SANDBOXES = ("read-only", "workspace-write", "danger-full-access")
APPROVAL_POLICIES = ("untrusted", "on-failure", "on-request", "never")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
DEFAULT_APPROVAL = "never"
BUILTIN_PROVIDERS = frozenset({"openai", "oss", "ollama", "lmstudio"})

TESTED_VERSION = "0.169.0"
"""The codex version the contract tests run (``realcli``)."""

_KEY = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$")


# TOML values for -c overrides
def toml_value(value: Any) -> str:
    """``value`` as a TOML value (strings, numbers, booleans, arrays, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise PluginError(f"cannot write {value!r} as a codex config value")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _override(key: str, value: Any) -> list[str]:
    return ["-c", f"{key}={toml_value(value)}"]


def codex_home(env: Mapping[str, str]) -> Path | None:
    """The child's ``CODEX_HOME`` (``~/.codex`` of its ``HOME`` by default)."""
    if env.get("CODEX_HOME"):
        return Path(env["CODEX_HOME"]).expanduser()
    if env.get("HOME"):
        return Path(env["HOME"]) / ".codex"
    return None


def configured_model(env: Mapping[str, str]) -> str | None:
    """The ``model`` of the child's ``config.toml``, when the bot names none."""
    home = codex_home(env)
    if home is None:
        return None
    try:
        with open(home / "config.toml", "rb") as f:
            model = tomllib.load(f).get("model")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return model if isinstance(model, str) else None


def rollout(env: Mapping[str, str], thread_id: str) -> Path | None:
    """The session file of ``thread_id`` in the child's ``CODEX_HOME``, if it is there."""
    home = codex_home(env)
    if home is None or not re.fullmatch(r"[0-9A-Za-z-]+", thread_id):
        return None
    found = sorted((home / "sessions").glob(f"**/rollout-*{thread_id}.jsonl"))
    return found[-1] if found else None


def in_git_repository(folder: str | None) -> bool:
    """Whether ``folder`` lies inside a git work tree (codex's "trusted directory")."""
    if not folder:
        return False
    path = Path(folder).resolve()
    return any((p / ".git").exists() for p in (path, *path.parents))


class CodexProvider(CLIProvider):
    """Runs OpenAI Codex (``codex exec --json``) and reads its JSON lines."""

    name: ClassVar[str] = "codex"
    executable: ClassVar[str | None] = "codex"
    install_command: ClassVar[str | None] = f"npm install -g @openai/codex@{TESTED_VERSION}"
    # the tested version and later releases of the same major line
    supported_versions: ClassVar[tuple[str, str] | None] = (TESTED_VERSION, "1.0.0")
    reports_cost: ClassVar[bool] = False
    requires_result: ClassVar[bool] = True
    options: ClassVar[Mapping[str, OptionSpec]] = {
        **CLIProvider.options,
        "sandbox": OptionSpec(
            str, "--sandbox: where model-generated commands may write", SANDBOXES
        ),
        "approval_policy": OptionSpec(
            str,
            f"approval_policy: when commands need approval (default {DEFAULT_APPROVAL!r}: "
            "nobody is there to approve)",
            APPROVAL_POLICIES,
        ),
        "bypass_sandbox": OptionSpec(
            bool,
            "--dangerously-bypass-approvals-and-sandbox: no sandbox, no approvals (only for "
            "hosts that are sandboxed from outside)",
        ),
        "skip_git_repo_check": OptionSpec(
            bool,
            "--skip-git-repo-check (default: when the workdir is not inside a git repository)",
        ),
        "profile": OptionSpec(str, "--profile: a configuration profile of CODEX_HOME"),
        "model_provider": OptionSpec(
            str, "model_provider: a provider defined in the account's config.toml"
        ),
        "max_retries": OptionSpec(
            int,
            "the custom model_provider's request_max_retries and stream_max_retries: codex's "
            "own retries (codex obeys retry-after however long it is)",
        ),
        "reasoning_effort": OptionSpec(
            str, "model_reasoning_effort: how hard the model thinks", REASONING_EFFORTS
        ),
        "config": OptionSpec(dict, "more -c KEY=VALUE overrides of config.toml (a table)"),
        "add_dirs": OptionSpec(list, "--add-dir: more writable directories"),
        "ephemeral": OptionSpec(bool, "--ephemeral: no session files (no resume)"),
        "output_schema": OptionSpec(str, "--output-schema: a JSON Schema file for the answer"),
        "resume": OptionSpec(
            bool,
            "later attempts continue the execution's codex thread (codex exec resume), on the "
            "same account (threads live in its CODEX_HOME)",
        ),
    }

    # checks
    def check_bot(self, bot: Bot) -> list[str]:
        problems = super().check_bot(bot)
        options = bot.options
        dirs = options.get("add_dirs")
        if isinstance(dirs, list) and not all(isinstance(d, str) and d for d in dirs):
            problems.append("options.add_dirs: expected a list of non-empty strings")
        retries = options.get("max_retries")
        if isinstance(retries, int) and not isinstance(retries, bool):
            provider = options.get("model_provider")
            if retries < 0:
                problems.append(f"options.max_retries: expected 0 or more, got {retries}")
            elif not isinstance(provider, str) or provider in BUILTIN_PROVIDERS:
                problems.append(
                    "options.max_retries: codex sets retries only for a custom model provider: "
                    "name one in options.model_provider (defined in the account's config.toml)"
                )
        config = options.get("config")
        if isinstance(config, dict):
            for key, value in config.items():
                if not _KEY.match(str(key)):
                    problems.append(f"options.config: {key!r} is not a dotted config key")
                    continue
                try:
                    toml_value(value)
                except PluginError as exc:
                    problems.append(f"options.config.{key}: {exc}")
        if options.get("resume") and options.get("ephemeral"):
            problems.append("options.resume: needs session files (not options.ephemeral)")
        if bot.allowed_tools or bot.disallowed_tools:
            field = "allowed_tools" if bot.allowed_tools else "disallowed_tools"
            problems.append(
                f"{field}: codex has no tool lists; use options.sandbox and options.approval_policy"
            )
        problems.extend(check_mcp_config(bot.mcp_config))
        return problems

    # the command
    def resumes(self, request: CommandRequest) -> str | None:
        """The thread a later attempt continues, or ``None`` (a new thread)."""
        sid = self.resumable_session(request)
        if not sid or request.bot.options.get("ephemeral") is True:
            return None
        return sid if rollout(request.env, sid) is not None else None

    def arguments(self, request: CommandRequest) -> list[str]:
        bot = request.bot
        options: Mapping[str, Any] = bot.options
        thread = self.resumes(request)
        args = ["exec", "resume", "--json"] if thread else ["exec", "--json"]
        skip = options.get("skip_git_repo_check")
        if skip is True or (skip is None and not in_git_repository(request.cwd)):
            args.append("--skip-git-repo-check")
        model = request.model or bot.model
        if model:
            args += ["--model", model]
        sandbox = options.get("sandbox")
        if isinstance(sandbox, str) and sandbox:
            args += _override("sandbox_mode", sandbox) if thread else ["--sandbox", sandbox]
        if options.get("bypass_sandbox") is True:
            args.append("--dangerously-bypass-approvals-and-sandbox")
        if not thread:
            if isinstance(options.get("profile"), str) and options["profile"]:
                args += ["--profile", options["profile"]]
            for folder in options.get("add_dirs") or ():
                args += ["--add-dir", str(folder)]
        if options.get("ephemeral") is True:
            args.append("--ephemeral")
        if isinstance(options.get("output_schema"), str) and options["output_schema"]:
            args += ["--output-schema", options["output_schema"]]
        if options.get("bypass_sandbox") is not True:
            approval = options.get("approval_policy") or DEFAULT_APPROVAL
            args += _override("approval_policy", str(approval))
        provider = options.get("model_provider")
        if isinstance(provider, str) and provider:
            args += _override("model_provider", provider)
            retries = options.get("max_retries")
            if isinstance(retries, int) and not isinstance(retries, bool):
                for knob in ("request_max_retries", "stream_max_retries"):
                    args += _override(f"model_providers.{provider}.{knob}", retries)
        effort = options.get("reasoning_effort")
        if isinstance(effort, str) and effort:
            args += _override("model_reasoning_effort", effort)
        for name, server in mcp_servers(bot.mcp_config, request.cwd).items():
            table: dict[str, Any]
            if server.url:
                table = {"url": server.url}
                if server.headers:
                    table["http_headers"] = dict(server.headers)
            else:
                table = {"command": server.command, "args": list(server.args)}
                if server.env:
                    table["env"] = dict(server.env)
            args += _override(f"mcp_servers.{_toml_key(name)}", table)
        config = options.get("config")
        if isinstance(config, Mapping):
            for key, value in config.items():
                args += _override(str(key), value)
        return args

    def build_command(self, request: CommandRequest) -> Command:
        """``[codex, *arguments, *extra_args, (thread), "-"]``: the prompt is read from stdin."""
        command = super().build_command(request)
        thread = self.resumes(request)
        tail = (thread, "-") if thread else ("-",)
        argv = (*command.argv, *tail)
        return Command(argv=argv, env=command.env, cwd=command.cwd, stdin=command.stdin)

    def parser(self, request: CommandRequest) -> LineParser:
        model = request.model or request.bot.model or configured_model(request.env)
        return CodexParser(
            account=request.account_name,
            model=model,
            prices=request.prices,
            patterns=request.ratelimit_patterns or None,
            tz=child_zone(request.env),
        )


def child_zone(env: Mapping[str, str]) -> str | tzinfo | None:
    """The zone of the child's local clock: its ``TZ``, else this host's local zone."""
    name = env.get("TZ", "").lstrip(":")
    if name and not name.startswith("/"):
        return name
    return datetime.now().astimezone().tzinfo
