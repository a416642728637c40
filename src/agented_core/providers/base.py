"""What a provider is: the code that knows one agent CLI.

A provider builds the command of an attempt (:meth:`Provider.build_command`), makes a fresh
:class:`LineParser` for each attempt that turns the CLI's output lines into events, and names
the error kind of an attempt's outcome (:meth:`Provider.classify`). Subclass :class:`Provider`
and register an instance through the ``agented_providers`` hook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from attrs import field, frozen

from ..models import Account, Bot, Command, ErrorKind, EventDraft


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


@frozen
class Outcome:
    """How an attempt ended, as the runner saw it, for :meth:`Provider.classify`."""

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

    reports_cost: ClassVar[bool] = False
    """True when the CLI reports cost in dollars itself."""

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

        The default: exit code 0 with no failed result is success, anything else ``provider``.
        """
        if outcome.exit_code == 0 and outcome.result_ok is not False:
            return None
        return ErrorKind.PROVIDER


def _type_name(spec: type | tuple[type, ...]) -> str:
    if isinstance(spec, tuple):
        return " or ".join(t.__name__ for t in spec)
    return spec.__name__
