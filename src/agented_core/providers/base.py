"""What a provider is: the code that knows one agent CLI.

A provider builds the command of an attempt (:meth:`Provider.build_command`), makes a fresh
:class:`LineParser` for each attempt that turns the CLI's output lines into events, and names
the error kind of an attempt's outcome (:meth:`Provider.classify`). Subclass :class:`Provider`
and register an instance through the ``agented_providers`` hook.

Most agent CLIs print one JSON object a line and take the prompt on stdin: for those,
:class:`~agented_core.providers.CLIProvider` and
:class:`~agented_core.providers.JsonLinesParser` do the common parts (see docs/plugins.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from attrs import field, frozen

from ..models import Account, Bot, Command, ErrorKind, EventDraft
from ..ratelimit import AttemptOutcome, LimitKind, classify
from .pricing import find_price


@frozen
class OptionSpec:
    """A provider-specific key of a bot's ``options`` table: its type and a description."""

    type: type | tuple[type, ...]
    description: str = ""
    choices: tuple[Any, ...] = ()


@frozen
class CommandRequest:
    """Everything a provider needs to build the command of one attempt.

    ``env`` is the child's base environment (allowlisted host variables, the bot's and the
    account's); a provider adds its own variables to it.
    """

    bot: Bot
    prompt: str | None
    context: Mapping[str, Any]
    env: Mapping[str, str]
    cwd: str | None
    account: Account | None = None
    attempt: int = 1
    session_id: str | None = None
    model: str | None = None
    spent_usd: float | None = None
    """What the execution's earlier attempts cost: a CLI with its own budget flag gets the rest."""
    session_account: str | None = None
    """The account that made ``session_id``: resume a session only on the same account."""
    ratelimit_patterns: Mapping[str, Sequence[Any]] = field(factory=dict)
    """Extra rate-limit patterns from plugins, by provider (``"*"`` for all), for parsers."""
    prices: Mapping[str, Any] = field(factory=dict)
    """The ``[prices]`` table (model -> :class:`~agented_core.config.Price`): a parser of a CLI
    that reports no cost prices its tokens with it (:mod:`agented_core.providers.pricing`)."""

    @property
    def account_name(self) -> str | None:
        """The name of the attempt's account, ``None`` without one."""
        return self.account.name if self.account is not None else None

    @property
    def remaining_budget_usd(self) -> float | None:
        """The bot's ``max_cost_usd`` less what earlier attempts spent (``None``: no budget)."""
        if self.bot.max_cost_usd is None:
            return None
        return max(0.0, self.bot.max_cost_usd - (self.spent_usd or 0.0))


@frozen
class Outcome:
    """How an attempt ended, as the runner saw it, for :meth:`Provider.classify`.

    ``errors`` and ``error_kinds`` come from the attempt's ``error`` events (their ``message``
    and ``kind``), ``rate_limits`` are the data of its ``rate_limit`` events, ``stderr`` is the
    tail of its stderr. ``extra`` may carry ``status_codes`` (HTTP statuses) and ``error_codes``
    (machine-readable codes) for :func:`classify_outcome`.
    """

    exit_code: int | None
    result_ok: bool | None = None
    errors: tuple[str, ...] = ()
    error_kinds: tuple[str, ...] = ()
    rate_limits: tuple[Any, ...] = ()
    stderr: str = ""
    extra: Mapping[str, Any] = field(factory=dict)


class LineParser:
    """Turns one attempt's output lines into events. One instance per attempt; may keep state.

    The methods never raise: a line they cannot read becomes a ``raw`` event.
    """

    def stdout(self, line: str) -> Sequence[EventDraft]:
        """Events for one line of stdout (without its newline)."""
        return (EventDraft("text", text=line),)

    def stderr(self, line: str) -> Sequence[EventDraft]:
        """Events for one line of stderr (without its newline)."""
        return (EventDraft("stderr", text=line),)

    def finish(self, exit_code: int | None) -> Sequence[EventDraft]:
        """Events to add once the process has ended (e.g. a summary the CLI never printed)."""
        return ()


class Provider:
    """Base class of providers. Subclasses set :attr:`name` and override what differs."""

    name: ClassVar[str] = ""
    """The name bots use in ``provider = "..."``."""

    options: ClassVar[Mapping[str, OptionSpec]] = {}
    """The keys this provider accepts in a bot's ``options`` table."""

    executable: ClassVar[str | None] = None
    """The CLI this provider runs, for ``agented check`` and ``agented version``."""

    install_command: ClassVar[str | None] = None
    """How to install the CLI at the version the plugin pins, shown when it is missing."""

    supported_versions: ClassVar[tuple[str, str] | None] = None
    """The CLI versions the plugin supports, ``(lowest, first unsupported)``; ``None``: any."""

    def cli_executable(self, bot: Bot | None = None) -> str | None:
        """The CLI that runs ``bot`` (or the provider's default): a name looked up on PATH or a
        path; ``None`` when the provider runs no CLI of its own (``shell``)."""
        return self.executable

    def cli_version(self, path: str) -> str | None:
        """The version of the CLI at ``path`` (from ``--version``), ``None`` when unknown.

        Runs the CLI once with a short timeout; the child is always reaped.
        """
        return probe_version([path, "--version"])

    reports_cost: ClassVar[bool] = False
    """True when the CLI reports cost in dollars itself."""

    def can_price(self, bot: Bot, prices: Mapping[str, Any]) -> bool:
        """Whether the cost of ``bot``'s runs will be known, so a ``max_cost_usd`` budget can
        be enforced: the CLI reports it (:attr:`reports_cost`), or ``prices`` (the ``[prices]``
        table) has the bot's model. ``agented check`` warns about a budget when this is false.
        """
        return self.reports_cost or find_price(bot.model, prices) is not None

    def check_bot(self, bot: Bot) -> list[str]:
        """Problems with ``bot`` as this provider sees them (empty when it is fine).

        The default checks the ``options`` table against :attr:`options`.
        """
        problems: list[str] = []
        for key, value in bot.options.items():
            spec = self.options.get(key)
            if spec is None:
                known = ", ".join(sorted(self.options)) or "none"
                problems.append(
                    f"options.{key}: unknown option for provider {self.name!r} (known: {known})"
                )
                continue
            if not isinstance(value, spec.type) or (
                isinstance(value, bool) and spec.type in (int, float, (int, float))
            ):
                problems.append(f"options.{key}: expected {_type_name(spec.type)}, got {value!r}")
            elif spec.choices and value not in spec.choices:
                choices = ", ".join(repr(c) for c in spec.choices)
                problems.append(f"options.{key}: expected one of {choices}, got {value!r}")
        return problems

    def build_command(self, request: CommandRequest) -> Command:
        """The command of one attempt."""
        raise NotImplementedError

    def parser(self, request: CommandRequest) -> LineParser:
        """A fresh parser for one attempt's output."""
        return LineParser()

    def classify(self, outcome: Outcome) -> ErrorKind | None:
        """The error kind of an attempt's outcome, or ``None`` when it succeeded.

        The default: exit code 0 with no failed result is success; a failure gets the kind its
        evidence names (:func:`classify_outcome`), ``provider`` when nothing names one.
        """
        if outcome.exit_code == 0 and outcome.result_ok is not False:
            return None
        return classify_outcome(outcome, self.name) or ErrorKind.PROVIDER


_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?")


def probe_version(argv: Sequence[str], timeout: float = 10.0) -> str | None:
    """The first ``X.Y[.Z]`` that ``argv`` prints on stdout (or stderr), ``None`` if none.

    stdin is closed; the child's process group is killed on timeout, so nothing outlives it.
    """
    try:
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError:
        return None
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return None
    for stream in (out, err):
        found = _VERSION.search(stream.decode("utf-8", "replace"))
        if found:
            return found.group()
    return None


def version_tuple(version: str) -> tuple[int, ...]:
    """``"2.1.197"`` -> ``(2, 1, 197)``, for comparing versions (missing parts count as 0)."""
    parts = tuple(int(p) for p in re.findall(r"\d+", version)[:3])
    return parts + (0,) * (3 - len(parts))


def classify_outcome(outcome: Outcome, provider: str | None = None) -> ErrorKind | None:
    """The error kind of ``outcome`` by :func:`agented_core.ratelimit.classify`, or ``None``.

    Everything the outcome holds is evidence: the error events' messages and kinds (an
    :class:`ErrorKind` value, or a code such as ``authentication_failed``), the rate limits,
    the stderr tail, the exit code, and ``extra["status_codes"]`` / ``extra["error_codes"]``.
    ``provider`` picks the rate-limit pattern table and the meaning of exit codes. ``None``
    means success: a result that says so, or exit code 0 without a result.
    """
    limits = tuple(_limit(item) for item in outcome.rate_limits)
    return classify(
        AttemptOutcome(
            provider=provider,
            exit_code=outcome.exit_code,
            result_ok=outcome.result_ok,
            errors=tuple(str(e) for e in outcome.errors),
            rate_limits=tuple(limit for limit in limits if limit is not None),
            stderr=outcome.stderr,
            status_codes=_codes(outcome.extra.get("status_codes"), int),
            error_codes=(
                *(str(k) for k in outcome.error_kinds),
                *_codes(outcome.extra.get("error_codes"), str),
            ),
        )
    )


_LIMIT_KINDS = frozenset(k.value for k in LimitKind)


def _limit(value: Any) -> dict[str, Any] | None:
    """A ``rate_limit`` event's data as :func:`classify` takes it; ``None`` when it has no kind."""
    if not isinstance(value, Mapping) or value.get("kind") not in _LIMIT_KINDS:
        return None
    limit = dict(value)
    reset = limit.get("reset_at")
    if isinstance(reset, str):
        try:
            datetime.fromisoformat(reset)
        except ValueError:
            reset = None
    limit["reset_at"] = reset if isinstance(reset, str | datetime) else None
    wait = limit.get("retry_after")
    limit["retry_after"] = (
        float(wait) if isinstance(wait, int | float) and not isinstance(wait, bool) else None
    )
    return limit


def _codes(value: Any, kind: type) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(v for v in value if isinstance(v, kind) and not isinstance(v, bool))


def _type_name(spec: type | tuple[type, ...]) -> str:
    if isinstance(spec, tuple):
        return " or ".join(t.__name__ for t in spec)
    return spec.__name__
