"""agented-toy: the provider plugin for ``toy-agent``, the example of docs/plugins.md.

A whole provider in one small module: a parser for the CLI's JSON lines, a provider that
builds its command, and the hook that registers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from agented_core import CommandRequest, EventDraft, OptionSpec, Provider, hookimpl
from agented_core.providers import (
    CLIProvider,
    JsonLinesParser,
    LineParser,
    as_float,
    as_int,
    as_str,
    raw,
    result,
    session,
    tool_call,
    tool_result,
)


class ToyParser(JsonLinesParser):
    """toy-agent's ``--json`` lines as agented events."""

    requires_result: ClassVar[bool] = True  # no "done" line: the run failed, and says why

    def __init__(self, account: str | None = None) -> None:
        super().__init__("toy", account=account)  # "toy": rate-limit patterns and events

    def on_object(self, obj: dict[str, Any], line: str) -> Sequence[EventDraft]:
        kind = obj.get("type")
        if kind == "start":
            return [session(as_str(obj.get("session")), as_str(obj.get("model")))]
        if kind == "say":
            return [EventDraft("text", text=as_str(obj.get("text")) or "")]
        if kind == "tool":
            name = as_str(obj.get("name")) or "?"
            return [tool_call(as_str(obj.get("id")), name, obj.get("input"))]
        if kind == "tool_done":
            output = as_str(obj.get("output")) or ""
            return [tool_result(as_str(obj.get("id")), obj.get("ok") is True, output)]
        if kind == "usage":
            self.usage.add(
                input_tokens=as_int(obj.get("in")),
                output_tokens=as_int(obj.get("out")),
                cost_usd=as_float(obj.get("cost")),
            )
            usage = self.usage.draft()
            return [usage] if usage is not None else []
        if kind == "done":
            self.result_seen = True
            turns = as_int(obj.get("turns"))
            return [
                result(
                    obj.get("ok") is True, as_str(obj.get("text")), turns=turns, duration_ms=None
                )
            ]
        if kind == "error":
            message = as_str(obj.get("message")) or "error"
            code = obj.get("code")
            return [self.failure(message, kind="rate" if code == 429 else None, status=code)]
        return [raw(line)]


class ToyProvider(CLIProvider):
    """Runs ``toy-agent --json`` with the prompt on stdin."""

    name: ClassVar[str] = "toy"
    executable: ClassVar[str | None] = "toy-agent"
    reports_cost: ClassVar[bool] = True
    requires_result: ClassVar[bool] = True
    options: ClassVar[dict[str, OptionSpec]] = {
        **CLIProvider.options,
        "shout": OptionSpec(bool, "use the shout tool"),
    }

    def arguments(self, request: CommandRequest) -> list[str]:
        args = ["--json"]
        if request.model:
            args += ["--model", request.model]
        if request.bot.options.get("shout"):
            args.append("--shout")
        return args

    def parser(self, request: CommandRequest) -> LineParser:
        return ToyParser(account=request.account_name)


@hookimpl
def agented_providers() -> Sequence[Provider]:
    return [ToyProvider()]
