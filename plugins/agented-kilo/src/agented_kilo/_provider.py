"""The ``kilo`` provider: Kilo Code's CLI, ``kilo run --format json``.

kilo is a fork of opencode: the same command line, the same JSON lines, the same logfmt
``--print-logs`` on stderr. So this provider is opencode's (:mod:`agented_opencode`) with
kilo's names: the command of an attempt is::

    kilo run --format json [--print-logs --log-level ERROR] [--model PROVIDER/MODEL]
         [--agent A] [--variant V] [--thinking] [--title T] [--session ID] [--auto] [--pure]
         [extra_args ...]

with the prompt on stdin. The child's environment adds ``KILO_DISABLE_MODELS_FETCH=true``,
``KILO_DISABLE_AUTOUPDATE=true``, ``KILO_TELEMETRY_LEVEL=off`` (kilo sends telemetry to
PostHog by default; ``options.telemetry`` changes that) and, when the bot has MCP servers,
disallowed tools or ``options.config``, ``KILO_CONFIG_CONTENT`` (merged over the account's
own). An account keeps its configuration with ``KILO_CONFIG`` / ``XDG_CONFIG_HOME`` and its
sessions in ``XDG_DATA_HOME`` (``kilo/kilo.db``), or gives a provider's key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from agented_opencode import OpencodeParser, OpencodeProvider
from agented_opencode import database as opencode_database

from agented_core import CommandRequest, OptionSpec, PluginError
from agented_core.providers import LineParser, deep_merge
from agented_core.ratelimit import Pattern

TESTED_VERSION = "7.7.7"
"""The kilo version the contract tests run (``realcli``)."""

TELEMETRY_LEVELS = ("off", "error", "all")


class KiloParser(OpencodeParser):
    """Reads one attempt of ``kilo run --format json`` (opencode's lines, kilo's name)."""

    def __init__(
        self,
        *,
        account: str | None = None,
        model: str | None = None,
        prices: Mapping[str, Any] | None = None,
        patterns: Mapping[str, Sequence[Pattern]] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(account=account, model=model, prices=prices, patterns=patterns, now=now)
        self.provider = "kilo"


def database(env: Mapping[str, str]) -> Path | None:
    """kilo's database of the child: ``KILO_DB``, else under ``XDG_DATA_HOME``."""
    return opencode_database(env, "kilo")


class KiloProvider(OpencodeProvider):
    """Runs kilo (``kilo run --format json``) and reads its JSON lines."""

    name: ClassVar[str] = "kilo"
    executable: ClassVar[str | None] = "kilo"
    install_command: ClassVar[str | None] = f"npm install -g @kilocode/cli@{TESTED_VERSION}"
    # the tested version and later releases of the same major line
    supported_versions: ClassVar[tuple[str, str] | None] = (TESTED_VERSION, "8.0.0")
    options: ClassVar[Mapping[str, OptionSpec]] = {
        **OpencodeProvider.options,
        "agent": OptionSpec(str, "--agent: the kilo agent (code, plan, ask, ... or yours)"),
        "config": OptionSpec(dict, "kilo config merged over the files (a table)"),
        "models_fetch": OptionSpec(
            bool, "false (default): KILO_DISABLE_MODELS_FETCH, no model list download"
        ),
        "telemetry": OptionSpec(
            str, "KILO_TELEMETRY_LEVEL (default off: no telemetry)", TELEMETRY_LEVELS
        ),
        "resume": OptionSpec(
            bool,
            "later attempts continue the execution's kilo session (--session), on the same "
            "account (sessions live in its data folder)",
        ),
    }

    def environment(self, request: CommandRequest) -> Mapping[str, str]:
        env = request.env
        telemetry = request.bot.options.get("telemetry")
        out = {
            "KILO_DISABLE_AUTOUPDATE": env.get("KILO_DISABLE_AUTOUPDATE", "true"),
            "KILO_TELEMETRY_LEVEL": telemetry if isinstance(telemetry, str) else "off",
        }
        if request.bot.options.get("models_fetch") is not True:
            out["KILO_DISABLE_MODELS_FETCH"] = "true"
        content = self.config(request)
        if content:
            base: Any = {}
            if env.get("KILO_CONFIG_CONTENT"):
                try:
                    base = json.loads(env["KILO_CONFIG_CONTENT"])
                except ValueError as exc:
                    raise PluginError(f"KILO_CONFIG_CONTENT is not JSON: {exc}") from None
            merged = deep_merge(base if isinstance(base, Mapping) else {}, content)
            out["KILO_CONFIG_CONTENT"] = json.dumps(merged, ensure_ascii=False)
        return out

    def parser(self, request: CommandRequest) -> LineParser:
        return KiloParser(
            account=request.account_name,
            model=request.model or request.bot.model,
            prices=request.prices,
            patterns=request.ratelimit_patterns or None,
        )
