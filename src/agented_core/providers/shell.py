"""The built-in ``shell`` provider: run any command, no agent CLI needed.

Each element of the bot's ``command`` is rendered from the context on its own and passed as one
argument: nothing goes through a shell. With ``options.format = "text"`` (the default) stdout lines
become ``text`` events; with ``"events"`` each stdout line that is a JSON object with a ``kind``
(and optional ``text`` and ``data``) becomes that event, so a script can speak agented's own event
vocabulary (``usage``, ``result``, ``tool_call`` ...). stderr lines are ``stderr`` events. A bot
with a ``prompt`` gets the rendered prompt on stdin.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from ..models import Bot, Command, ErrorKind, EventDraft
from ..ratelimit import AttemptOutcome, classify
from ..run._prompts import check_command, render_argv
from .base import CommandRequest, LineParser, OptionSpec, Outcome, Provider


class EventLineParser(LineParser):
    """Reads stdout lines that are agented events as JSON; anything else is ``raw``."""

    def stdout(self, line: str) -> Sequence[EventDraft]:
        try:
            obj: Any = json.loads(line)
        except ValueError:
            return (EventDraft("raw", text=line),)
        if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
            return (EventDraft("raw", text=line),)
        text = obj.get("text")
        data = obj.get("data")
        return (
            EventDraft(
                obj["kind"],
                text=text if isinstance(text, str) else None,
                data=data if isinstance(data, dict) else {},
            ),
        )


class ShellProvider(Provider):
    """Runs the bot's ``command`` as argv."""

    name: ClassVar[str] = "shell"
    options: ClassVar[dict[str, OptionSpec]] = {
        "format": OptionSpec(
            str, "how stdout lines become events: 'text' or 'events'", ("text", "events")
        ),
    }

    def check_bot(self, bot: Bot) -> list[str]:
        problems = super().check_bot(bot)
        if not bot.command:
            problems.append("command: the shell provider needs a 'command' (a list of arguments)")
        problems.extend(f"command: {p}" for p in check_command(bot.command, bot.prompt))
        return problems

    def build_command(self, request: CommandRequest) -> Command:
        argv = render_argv(request.bot.command, request.context, missing="empty")
        stdin = request.prompt.encode() if request.prompt else None
        return Command(argv=argv, env=dict(request.env), cwd=request.cwd, stdin=stdin)

    def parser(self, request: CommandRequest) -> LineParser:
        if request.bot.options.get("format") == "events":
            return EventLineParser()
        return LineParser()

    def classify(self, outcome: Outcome) -> ErrorKind | None:
        """Exit 0 (and no failed result) is success; otherwise the kind the script reported.

        With ``format = "events"`` a script names its failure with an ``error`` event
        ``{"kind": "error", "data": {"kind": "overloaded", ...}}`` or a ``rate_limit`` event;
        without one, the generic classification of :mod:`agented_core.ratelimit` applies.
        """
        if outcome.exit_code == 0 and outcome.result_ok is not False:
            return None
        known = {k.value for k in ErrorKind}
        for kind in reversed(outcome.error_kinds):
            if kind in known:
                return ErrorKind(kind)
        limits = {str(lim.get("kind")) for lim in outcome.rate_limits if isinstance(lim, dict)}
        for limit in ("quota", "rate", "overloaded"):
            if limit in limits:
                return ErrorKind(limit)
        return classify(
            AttemptOutcome(
                exit_code=outcome.exit_code,
                result_ok=outcome.result_ok,
                errors=outcome.errors,
                stderr=outcome.stderr,
            )
        )
