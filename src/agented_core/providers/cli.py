"""A base class for agent-CLI providers: the command line, the prompt, the environment.

A subclass says how to call its CLI (:meth:`CLIProvider.arguments`), which variables it adds to
the child's environment (:meth:`CLIProvider.environment`) and which parser reads its output
(:meth:`Provider.parser`); :meth:`CLIProvider.build_command` puts them together::

    argv  = [executable, *arguments(request), *bot.extra_args]   (+ the prompt, if it is an
                                                                  argument)
    env   = the child's base environment (allowlisted host variables, the bot's, the
            account's) updated with environment(request), and ``AGENTED_RUN`` (a tag unique
            to the attempt: when the run is ended, every process carrying it is ended too,
            even those the CLI's tools started in sessions of their own)
    stdin = the rendered prompt (when ``prompt_on_stdin``; no size limit, never in argv)
    cwd   = the bot's workdir

The executable is the ``executable`` option of the bot (when the bot is of this provider, not
for a fallback entry), else the one given to the constructor, else :attr:`Provider.executable`
found on the child's ``PATH``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import ClassVar

from ..errors import PluginError
from ..models import Bot, Command, ErrorKind
from ..run._process import RUN_TAG
from .base import CommandRequest, OptionSpec, Outcome, Provider, classify_outcome


class CLIProvider(Provider):
    """Base class of providers that run an agent CLI with a prompt."""

    options: ClassVar[Mapping[str, OptionSpec]] = {
        "executable": OptionSpec(str, "path of the CLI (default: found on PATH)"),
    }

    prompt_on_stdin: ClassVar[bool] = True
    """True: the prompt is written to the CLI's stdin (no size limit, not visible in ``ps``).
    False: it is the last argument (recorded as ``<prompt>``)."""

    requires_result: ClassVar[bool] = False
    """True when the CLI always ends with a final result: an attempt without one failed even if
    the CLI exited with 0."""

    requires_prompt: ClassVar[bool] = True
    """True when a bot of this provider must have a ``prompt``."""

    def __init__(self, executable: str | None = None) -> None:
        self._executable = executable

    # to override
    def arguments(self, request: CommandRequest) -> list[str]:
        """The CLI's arguments for one attempt (without the executable and extra args)."""
        raise NotImplementedError

    def environment(self, request: CommandRequest) -> Mapping[str, str]:
        """Variables this provider sets in the child's environment (over the base one)."""
        return {}

    # helpers for subclasses
    def resumable_session(self, request: CommandRequest) -> str | None:
        """The session a later attempt may continue, or ``None`` for a new one.

        A session is resumed when the bot asks for it (``options.resume = true``), the
        execution has a session id, this is not its first attempt, and the attempt runs on the
        account that made the session (sessions live in the account's folders). A CLI that
        keeps sessions in files checks on top that the file is there.
        """
        sid = request.session_id
        if request.bot.options.get("resume") is not True or not sid or request.attempt < 2:
            return None
        return sid if request.session_account == request.account_name else None

    # the Provider interface
    def cli_executable(self, bot: Bot | None = None) -> str | None:
        # a bot's options are its own provider's: a fallback entry of this provider ignores them
        chosen = bot.options.get("executable") if bot and bot.provider == self.name else None
        if isinstance(chosen, str) and chosen:
            return chosen
        return self._executable or self.executable

    def command_path(self, request: CommandRequest) -> str:
        """The executable of the attempt: the bot's option (when the bot is of this provider),
        the constructor's, the default."""
        path = self.cli_executable(request.bot)
        if not path:
            raise PluginError(f"provider {self.name!r} names no executable: set options.executable")
        return path

    def build_command(self, request: CommandRequest) -> Command:
        argv = [self.command_path(request), *self.arguments(request), *request.bot.extra_args]
        env = dict(request.env)
        env.update(self.environment(request))
        env[RUN_TAG] = uuid.uuid4().hex
        prompt = request.prompt or ""
        if self.prompt_on_stdin:
            stdin: bytes | None = prompt.encode()
        else:
            argv.append(prompt)
            stdin = None
        return Command(argv=tuple(argv), env=env, cwd=request.cwd, stdin=stdin)

    def check_bot(self, bot: Bot) -> list[str]:
        problems = super().check_bot(bot)
        if self.requires_prompt and not bot.prompt:
            problems.append(f"prompt: the {self.name} provider needs a 'prompt'")
        if bot.command:
            problems.append(
                f"command: the {self.name} provider does not run a 'command'; "
                "give a 'prompt' (and 'extra_args' for more CLI arguments)"
            )
        return problems

    def classify(self, outcome: Outcome) -> ErrorKind | None:
        """Success, or the kind the evidence names (:func:`classify_outcome`).

        With :attr:`requires_result`, an attempt that printed no final result failed whatever
        its exit code (``provider`` unless the evidence says more).
        """
        kind = classify_outcome(outcome, self.name)
        if kind is None and self.requires_result and outcome.result_ok is None:
            failed = Outcome(
                exit_code=outcome.exit_code if outcome.exit_code else 1,
                errors=outcome.errors,
                error_kinds=outcome.error_kinds,
                rate_limits=outcome.rate_limits,
                stderr=outcome.stderr,
                extra=outcome.extra,
            )
            kind = classify_outcome(failed, self.name) or ErrorKind.PROVIDER
        return kind
