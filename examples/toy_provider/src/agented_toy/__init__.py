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
    UsageTotals,
    as_float,
    as_int,
    as_str,
    error,
    raw,
)


class ToyParser(JsonLinesParser):
    """toy-agent's ``--json`` lines as agented events."""

    def __init__(self, account: str | None = None) -> None:
        super().__init__("toy", account=account)  # "toy": rate-limit patterns and events
        self.usage = UsageTotals()

    def on_object(self, obj: dict[str, Any], line: str) -> Sequence[EventDraft]:
        kind = obj.get("type")
        if kind == "start":
            data: dict[str, Any] = {
                "session_id": as_str(obj.get("session")),
                "model": obj.get("model"),
                "tools": [],
            }
            return [EventDraft("session", data=data)]
        if kind == "say":
            return [EventDraft("text", text=as_str(obj.get("text")) or "")]
        if kind == "tool":
            data = {"id": obj.get("id"), "name": obj.get("name"), "input": obj.get("input")}
            return [EventDraft("tool_call", text=as_str(obj.get("name")), data=data)]
        if kind == "tool_done":
            output = as_str(obj.get("output")) or ""
            data = {"id": obj.get("id"), "ok": obj.get("ok") is True, "output": output}
            return [EventDraft("tool_result", text=output, data=data)]
        if kind == "usage":
            self.usage.add(
                input_tokens=as_int(obj.get("in")),
                output_tokens=as_int(obj.get("out")),
                cost_usd=as_float(obj.get("cost")),
            )
            usage = self.usage.draft()
            return [usage] if usage is not None else []
        if kind == "done":
            text = as_str(obj.get("text"))
            data = {"ok": obj.get("ok") is True, "text": text, "turns": as_int(obj.get("turns"))}
            return [EventDraft("result", text=text, data=data)]
        if kind == "error":
            message = as_str(obj.get("message")) or "error"
            code = obj.get("code")
            return [error("rate" if code == 429 else "provider", message, status=code)]
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
        return ToyParser(account=request.account.name if request.account else None)


@hookimpl
def agented_providers() -> Sequence[Provider]:
    return [ToyProvider()]
