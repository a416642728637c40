"""Reading ``agented.toml`` into models.

:func:`load_config` parses the file and reports every problem at once, each naming the file, the
bot and the field. Unknown keys are errors, except the keys plugins declare
(:mod:`agented_core.config_keys`), which are read with the same checks into ``extra``. Checks
that need the plugins (does the provider exist, are its options valid, do templates fit their
triggers) live in :mod:`agented_core.validation`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from .config_keys import PluginKeys, Table
from .config_lines import locate
from .durations import parse_duration
from .errors import ConfigError, Problem
from .models import (
    Account,
    Bot,
    CatchUp,
    ChainEntry,
    Checkout,
    CheckoutKind,
    Concurrency,
    ConcurrencyPolicy,
    GitHubTrigger,
    KeepWorkspace,
    ManualTrigger,
    ScheduleTrigger,
    Trigger,
    WebhookTrigger,
    as_checkout,
)
from .params import SPEC_KEYS, parse_specs
from .run._retries import RetryPolicy

__all__ = [
    "DEFAULT_CONFIG",
    "SCHEMA",
    "AgentedSettings",
    "Config",
    "GitHubSettings",
    "HttpSettings",
    "Price",
    "WebhookSource",
    "boolean",
    "duration",
    "load_config",
    "number",
    "parse_config",
    "read_config",
    "string",
    "strings",
    "whole_number",
]

DEFAULT_CONFIG = "agented.toml"

_RETRY = RetryPolicy()


@frozen
class AgentedSettings:
    """The ``[agented]`` table."""

    database: str = "sqlite:///agented.db"
    broker: str | None = None
    max_concurrent_runs: int = 4
    retention_days: int = 30
    timezone: str = "UTC"
    kill_grace: float = 5.0
    max_pause: float | None = 3600.0
    shutdown_grace: float = 10.0
    # the retry policy's numbers, defined once, in :class:`RetryPolicy`
    default_cooldown: float = _RETRY.default_cooldown
    backoff_base: float = _RETRY.backoff_base
    backoff_max: float = _RETRY.backoff_max
    max_rate_wait: float = _RETRY.max_rate_wait
    log_format: str = "text"
    lease: float = 15.0
    """Seconds an execution's owner may go without renewing its lease (its heartbeat) before
    any other process takes the execution over (interrupted, or queued again)."""
    heartbeat: float = 2.0
    """Seconds between two renewals of the leases of a process's executions."""


@frozen
class HttpSettings:
    """The ``[http]`` table."""

    api_keys_env: str = "AGENTED_API_KEYS"
    operator_keys_env: str = "AGENTED_OPERATOR_KEYS"
    viewer_keys_env: str = "AGENTED_VIEWER_KEYS"
    metrics_keys_env: str = "AGENTED_METRICS_KEYS"
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 5 * 1024 * 1024
    public_url: str | None = None
    """Where users reach the sub-app (``https://bots.example.com/agented``), for links such as
    ``{public_url}/ui/executions/{id}`` in check runs, comments and notifications."""

    def execution_url(self, execution_id: str) -> str | None:
        """The execution's page in the dashboard, or ``None`` without a ``public_url``."""
        if self.public_url is None:
            return None
        return f"{self.public_url.rstrip('/')}/ui/executions/{execution_id}"


@frozen
class GitHubSettings:
    """The ``[github]`` table."""

    webhook_secrets_env: str = "GITHUB_WEBHOOK_SECRETS"
    dedup_ttl: float = 7 * 86400.0
    workspaces_dir: str | None = None
    """Where mirrors and run worktrees live (``mirrors/``, ``runs/<execution id>/``); ``None``:
    ``workspaces`` beside a SQLite database file, else in the config's folder
    (:func:`agented_core.workspaces.workspaces_dir`)."""
    mirror_ttl_days: int = 14
    """A mirror no run used for this many days is deleted (and kept workspaces this old)."""


@frozen
class WebhookSource:
    """A generic webhook source: ``[webhooks.NAME]``, served at ``POST /webhooks/NAME``."""

    name: str
    secret_env: str | None = None
    signature_header: str = "X-Signature-256"
    delivery_header: str | None = None


@frozen
class Price:
    """USD per million tokens for a model, for CLIs that report no cost."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None


@frozen
class Config:
    """A whole configuration: settings, accounts, prices, webhook sources and bots."""

    path: Path | None = None
    settings: AgentedSettings = AgentedSettings()
    http: HttpSettings = HttpSettings()
    github: GitHubSettings = GitHubSettings()
    webhooks: Mapping[str, WebhookSource] = field(factory=dict)
    prices: Mapping[str, Price] = field(factory=dict)
    accounts: Mapping[str, Account] = field(factory=dict)
    bots: Mapping[str, Bot] = field(factory=dict)
    extra: Mapping[str, Mapping[str, Any]] = field(factory=dict)
    """Plugins' tables (``agented_config_keys``) by name: ``extra["github"]["api_url"]``."""

    @property
    def base_dir(self) -> Path:
        """The folder relative paths resolve against: the config file's, else the cwd."""
        return self.path.parent if self.path else Path.cwd()


class _Reader:
    """Collects problems while reading tables, so that every problem is reported at once."""

    def __init__(self, file: str | None, keys: PluginKeys) -> None:
        self.file = file
        self.keys = keys
        self.problems: list[Problem] = []

    def problem(self, message: str, *, bot: str | None = None, field: str | None = None) -> None:
        self.problems.append(Problem(message, file=self.file, bot=bot, field=field))

    def table(
        self,
        data: Any,
        allowed: Mapping[str, Callable[[Any], Any] | Table],
        *,
        bot: str | None = None,
        prefix: str = "",
    ) -> dict[str, Any]:
        """Convert each known key of ``data``; unknown keys and bad values become problems."""
        out: dict[str, Any] = {}
        if not isinstance(data, Mapping):
            self.problem(f"expected a table, got {_kind(data)}", bot=bot, field=prefix or None)
            return out
        for key, value in data.items():
            where = f"{prefix}.{key}" if prefix else key
            convert = allowed.get(key)
            if convert is None:
                hint = _suggest(key, allowed)
                self.problem(f"unknown key{hint}", bot=bot, field=where)
                continue
            if isinstance(convert, Table):
                out[key] = self.table(value, convert.keys, bot=bot, prefix=where)
                continue
            try:
                out[key] = convert(value)
            except (ValueError, TypeError) as exc:
                self.problem(str(exc), bot=bot, field=where)
        return out

    def split(
        self,
        data: Any,
        core: Mapping[str, Callable[[Any], Any]],
        plugin: Mapping[str, Callable[[Any], Any] | Table],
        *,
        bot: str | None = None,
        prefix: str = "",
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """:meth:`table` over the core's and the plugins' keys; (core values, plugin values)."""
        if not plugin:
            return self.table(data, core, bot=bot, prefix=prefix), {}
        values = self.table(data, {**plugin, **core}, bot=bot, prefix=prefix)
        extra = {k: values.pop(k) for k in list(values) if k not in core}
        return values, extra


def _kind(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _suggest(key: str, allowed: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _public_url(value: Any) -> str:
    url = _str(value)
    if not re.match(r"https?://[^/\s]+", url):
        raise ValueError(f"expected an http(s) URL like https://bots.example.com/x, got {url!r}")
    return url.rstrip("/")


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {_kind(value)}")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {_kind(value)}")
    return value


def _int(value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number, got {_kind(value)}")
    if value < minimum:
        raise ValueError(f"must be at least {minimum}, got {value}")
    return value


def _pos_int(value: Any) -> int:
    return _int(value, 1)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {_kind(value)}")
    if value < 0:
        raise ValueError(f"must not be negative, got {value}")
    return float(value)


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("expected a string or a list of strings")
    return tuple(value)


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a table of strings, got {_kind(value)}")
    bad = [k for k, v in value.items() if not isinstance(v, str)]
    if bad:
        raise TypeError(f"expected string values; not a string: {', '.join(bad)}")
    return dict(value)


def _any_map(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a table, got {_kind(value)}")
    return dict(value)


_CHAIN_KEYS = ("provider", "account", "model")


def _chain_entry(value: Any, index: int) -> ChainEntry:
    """``"provider"``, ``"provider:account"`` or ``{ provider, account, model }``."""
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in _CHAIN_KEYS]
        if unknown:
            hint = _suggest(unknown[0], dict.fromkeys(_CHAIN_KEYS))
            raise ValueError(f"entry {index}: unknown key {unknown[0]!r}{hint}")
        if "provider" not in value:
            raise ValueError(f"entry {index}: a table entry needs a 'provider'")
        try:
            provider = _str(value["provider"])
            account = _opt_str(value.get("account"))
            model = _opt_str(value.get("model"))
        except TypeError as exc:
            raise TypeError(f"entry {index}: {exc}") from None
        if not provider:
            raise ValueError(f"entry {index}: empty provider")
        return ChainEntry(provider, account or None, model or None)
    if not isinstance(value, str):
        raise TypeError(f"entry {index}: expected a string or a table, got {_kind(value)}")
    provider, _, account = value.partition(":")
    if not provider:
        raise ValueError(f"bad fallback entry {value!r}: expected 'provider' or 'provider:account'")
    return ChainEntry(provider, account or None)


def _fallback(value: Any) -> tuple[ChainEntry, ...]:
    if isinstance(value, str | Mapping):
        value = [value]
    if not isinstance(value, list):
        raise TypeError("expected a list of 'provider:account' strings or tables")
    return tuple(_chain_entry(v, i) for i, v in enumerate(value))


def _cron_str(value: Any) -> str:
    text = _str(value)
    if not text.strip():
        raise ValueError("empty cron expression")
    return text


def _globs_map(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a table of field paths to globs, got {_kind(value)}")
    return {str(k): _strs(v) for k, v in value.items()}


def _any(value: Any) -> Any:
    return value


_CHECKOUT_KEYS = ("repo", "ref")


def _keep_workspace(value: Any) -> KeepWorkspace:
    text = _str(value)
    try:
        return KeepWorkspace(text)
    except ValueError:
        raise ValueError(f"expected 'never', 'on_failure' or 'always', got {text!r}") from None


def _checkout(value: Any) -> Checkout:
    """``"none"``, ``"head"``, ``"merge"`` or ``{ repo = "o/r", ref = "main" }``."""
    if isinstance(value, str):
        if value not in ("none", "head", "merge"):
            raise ValueError(
                f"expected 'none', 'head', 'merge' or a table {{ repo, ref }}, got {value!r}"
            )
        return as_checkout(value)
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a string or a table {{ repo, ref }}, got {_kind(value)}")
    unknown = [k for k in value if k not in _CHECKOUT_KEYS]
    if unknown:
        hint = _suggest(unknown[0], dict.fromkeys(_CHECKOUT_KEYS))
        raise ValueError(f"unknown key {unknown[0]!r}{hint}")
    if "repo" not in value:
        raise ValueError("a checkout table needs a 'repo' (\"owner/name\" or a clone URL)")
    repo = _str(value["repo"])
    ref = _opt_str(value.get("ref"))
    if not repo.strip():
        raise ValueError("empty repo")
    if ref is not None and not ref.strip():
        raise ValueError("empty ref (leave it out for the default branch)")
    return Checkout(CheckoutKind.REF, repo=repo, ref=ref)


def _log_format(value: Any) -> str:
    text = _str(value)
    if text not in ("text", "json"):
        raise ValueError(f"expected 'text' or 'json', got {text!r}")
    return text


# the converters plugins may use for the keys they declare (``agented_config_keys``)
string = _str
boolean = _bool
whole_number = _int
number = _number
strings = _strs
duration = parse_duration

SCHEMA: dict[str, dict[str, Callable[[Any], Any]]] = {
    "agented": {
        "database": _str,
        "broker": _str,
        "max_concurrent_runs": _pos_int,
        "retention_days": _pos_int,
        "timezone": _str,
        "kill_grace": parse_duration,
        "max_pause": parse_duration,
        "shutdown_grace": parse_duration,
        "default_cooldown": parse_duration,
        "backoff_base": parse_duration,
        "backoff_max": parse_duration,
        "max_rate_wait": parse_duration,
        "log_format": _log_format,
        "lease": parse_duration,
        "heartbeat": parse_duration,
    },
    "http": {
        "api_keys_env": _str,
        "operator_keys_env": _str,
        "viewer_keys_env": _str,
        "metrics_keys_env": _str,
        "cors_origins": _strs,
        "max_body_bytes": _pos_int,
        "public_url": _public_url,
    },
    "github": {
        "webhook_secrets_env": _str,
        "dedup_ttl": parse_duration,
        "workspaces_dir": _str,
        "mirror_ttl_days": _pos_int,
    },
    "webhooks.NAME": {"secret_env": _str, "signature_header": _str, "delivery_header": _str},
    "prices.MODEL": {
        "input": _number,
        "output": _number,
        "cache_read": _number,
        "cache_write": _number,
    },
    "accounts.NAME": {
        "provider": _str,
        "env": _str_map,
        "env_from": _str_map,
        "max_cost_usd_per_day": _number,
        "max_cost_usd_per_month": _number,
    },
    "bots.NAME": {
        "provider": _str,
        "account": _opt_str,
        "fallback": _fallback,
        "model": _str,
        "prompt": _str,
        "command": _strs,
        "workdir": _str,
        "on": _any,
        "timeout": parse_duration,
        "idle_timeout": parse_duration,
        "max_cost_usd": _number,
        "max_tokens": _pos_int,
        "max_cost_usd_per_day": _number,
        "max_cost_usd_per_month": _number,
        "max_attempts": _pos_int,
        "retry_interrupted": _bool,
        "concurrency": _any,
        "env": _str_map,
        "options": _any_map,
        "extra_args": _strs,
        "allowed_tools": _strs,
        "disallowed_tools": _strs,
        "mcp_config": _str,
        "description": _str,
        "checkout": _checkout,
        "keep_workspace": _keep_workspace,
        "checkout_untrusted": _bool,
    },
    "bots.NAME.concurrency": {"limit": _pos_int, "group": _str, "policy": ConcurrencyPolicy},
    "on: github": {
        "github": _str,
        "actions": _strs,
        "repos": _strs,
        "branches": _strs,
        "labels": _strs,
        "paths": _strs,
        "authors": _strs,
        "commands": _strs,
        "ignore_bots": _bool,
        "drafts": _bool,
        "author_associations": _strs,
    },
    "on: cron": {
        "cron": _cron_str,
        "timezone": _str,
        "catch_up": CatchUp,
        "jitter": parse_duration,
    },
    "on: manual": {"manual": _bool, "params": parse_specs},
    "on: manual params": dict(SPEC_KEYS),
    "on: webhook": {"webhook": _str, "filters": _globs_map},
}
"""Every table of the config file and the keys it accepts (docs/configuration.md lists them)."""


def read_config(
    data: Mapping[str, Any], *, path: Path | None = None, keys: PluginKeys | None = None
) -> Config:
    """A :class:`Config` from parsed TOML data; raises :class:`ConfigError` listing all problems."""
    config, problems = parse_config(data, path=path, keys=keys)
    if problems:
        raise ConfigError(problems)
    return config


def parse_config(
    data: Mapping[str, Any], *, path: Path | None = None, keys: PluginKeys | None = None
) -> tuple[Config, list[Problem]]:
    """The :class:`Config` of what could be read, and every problem found while reading.

    Nothing is thrown away early: an unknown key or a bad value is a problem and is left out,
    the rest of its table and every other table are still read, so one run reports them all
    (``agented check``). A trigger without its kind's key and an account without a provider
    are left out.

    ``keys`` are the plugins' keys (:meth:`Plugins.config_keys`), read with the same checks;
    without them every key the core does not know is a problem.
    """
    reader = _Reader(str(path) if path else None, keys or PluginKeys())
    plugin_tables = reader.keys.tables
    top = reader.table(
        data,
        {
            "agented": _any_map,
            "http": _any_map,
            "github": _any_map,
            "webhooks": _any_map,
            "prices": _any_map,
            "accounts": _any_map,
            "bots": _any_map,
            **{name: _any_map for name in plugin_tables},
        },
    )
    extra: dict[str, dict[str, Any]] = {}
    core_tables: dict[str, dict[str, Any]] = {}
    for name in ("agented", "http", "github"):
        core_tables[name], extra[name] = reader.split(
            top.get(name, {}), SCHEMA[name], plugin_tables.get(name, {}), prefix=name
        )
    for name, table_keys in plugin_tables.items():
        if name not in core_tables:
            extra[name] = reader.table(top.get(name, {}), table_keys, prefix=name)
    settings = AgentedSettings(**core_tables["agented"])
    http = HttpSettings(**core_tables["http"])
    github = GitHubSettings(**core_tables["github"])
    webhooks: dict[str, WebhookSource] = {}
    for name, table in top.get("webhooks", {}).items():
        if name == "github":
            reader.problem("the source name 'github' is reserved", field=f"webhooks.{name}")
            continue
        values = reader.table(
            table,
            SCHEMA["webhooks.NAME"],
            prefix=f"webhooks.{name}",
        )
        webhooks[name] = WebhookSource(name=name, **values)
    prices: dict[str, Price] = {}
    for model, table in top.get("prices", {}).items():
        values = reader.table(
            table,
            SCHEMA["prices.MODEL"],
            prefix=f"prices.{model}",
        )
        if "input" in values and "output" in values:
            prices[model] = Price(**values)
        elif isinstance(table, Mapping):
            reader.problem("a price needs both 'input' and 'output'", field=f"prices.{model}")
    accounts: dict[str, Account] = {}
    for name, table in top.get("accounts", {}).items():
        values = reader.table(
            table,
            SCHEMA["accounts.NAME"],
            prefix=f"accounts.{name}",
        )
        if "provider" not in values:
            if isinstance(table, Mapping):
                reader.problem("an account needs a 'provider'", field=f"accounts.{name}")
            continue
        accounts[name] = Account(name=name, **values)
    bots: dict[str, Bot] = {}
    for name, table in top.get("bots", {}).items():
        bot = _read_bot(reader, name, table)
        if bot is not None:
            bots[name] = bot
    config = Config(
        path=path,
        settings=settings,
        http=http,
        github=github,
        webhooks=webhooks,
        prices=prices,
        accounts=accounts,
        bots=bots,
        extra={name: values for name, values in extra.items() if values},
    )
    return config, reader.problems


def _read_bot(reader: _Reader, name: str, table: Any) -> Bot | None:
    if not isinstance(table, Mapping):
        reader.problem(f"expected a table, got {_kind(table)}", bot=name)
        return None
    values, extra = reader.split(table, SCHEMA["bots.NAME"], reader.keys.bot, bot=name)
    triggers = _read_triggers(reader, name, values.pop("on", []))
    concurrency = _read_concurrency(reader, name, values.pop("concurrency", None))
    return Bot(name=name, triggers=triggers, concurrency=concurrency, extra=extra, **values)


def _read_concurrency(reader: _Reader, bot: str, value: Any) -> Concurrency:
    if value is None:
        return Concurrency()
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            reader.problem("must be at least 1", bot=bot, field="concurrency")
            return Concurrency()
        return Concurrency(limit=value)
    values = reader.table(
        value,
        SCHEMA["bots.NAME.concurrency"],
        bot=bot,
        prefix="concurrency",
    )
    return Concurrency(**values)


def _read_triggers(reader: _Reader, bot: str, value: Any) -> tuple[Trigger, ...]:
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        reader.problem("expected a list of trigger tables", bot=bot, field="on")
        return ()
    triggers: list[Trigger] = []
    for index, item in enumerate(value):
        where = f"on[{index}]"
        trigger = _read_trigger(reader, bot, where, item)
        if trigger is not None:
            triggers.append(trigger)
    return tuple(triggers)


def _read_trigger(reader: _Reader, bot: str, where: str, item: Any) -> Trigger | None:
    if not isinstance(item, Mapping):
        reader.problem(f"expected a trigger table, got {_kind(item)}", bot=bot, field=where)
        return None
    kinds = [k for k in ("github", "cron", "manual", "webhook") if k in item]
    if len(kinds) != 1:
        reader.problem(
            "a trigger needs exactly one of 'github', 'cron', 'manual' or 'webhook'",
            bot=bot,
            field=where,
        )
        return None
    kind = kinds[0]
    values, extra = reader.split(
        item, SCHEMA[f"on: {kind}"], reader.keys.triggers.get(kind, {}), bot=bot, prefix=where
    )
    if kind == "github":
        if "github" not in values:
            return None
        return GitHubTrigger(event=values.pop("github"), extra=extra, **values)
    if kind == "cron":
        if "cron" not in values:
            return None
        return ScheduleTrigger(extra=extra, **values)
    if kind == "manual":
        if values.get("manual") is False:
            reader.problem("'manual = false' declares nothing; remove it", bot=bot, field=where)
            return None
        return ManualTrigger(params=values.get("params", ()), extra=extra)
    if "webhook" not in values:
        return None
    return WebhookTrigger(source=values["webhook"], filters=values.get("filters", {}), extra=extra)


def load_config(path: str | Path = DEFAULT_CONFIG, *, keys: PluginKeys | None = None) -> Config:
    """Read and parse a config file. Raises :class:`ConfigError` naming the file on any problem.

    ``keys``: the plugins' config keys (:meth:`Plugins.config_keys`); without them a key only a
    plugin knows is a problem.
    """
    file = Path(path).expanduser()
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem("config file not found", file=str(file))]) from None
    except OSError as exc:
        raise ConfigError([Problem(f"cannot read: {exc.strerror}", file=str(file))]) from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(f"not valid TOML: {exc}", file=str(file))]) from None
    config, problems = parse_config(data, path=file.resolve(), keys=keys)
    if problems:
        raise ConfigError(locate(problems, text))
    return config
