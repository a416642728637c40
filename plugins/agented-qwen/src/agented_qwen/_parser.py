"""Qwen Code's ``--output-format stream-json`` lines as agented events.

Qwen Code (a fork of the Gemini CLI) prints Claude Code's stream-json shapes:

=====================================  ============================================
qwen line                              events
=====================================  ============================================
``system`` ``init``                    ``session`` {session_id, model, tools, ...}
``system`` ``retry``                   ``retry`` {reason, attempt, delay_ms,
                                       max_retries}: its own rate-limit retry
``assistant`` text / thinking          ``text`` / ``thinking``
``assistant`` ``tool_use``             ``tool_call`` {id, name, input}
``assistant`` usage                    ``usage`` (running totals of the attempt)
``assistant`` "[API Error: ...]"       nothing (the ``result`` line says it again)
``user`` ``tool_result``               ``tool_result`` {id, ok, output}
``stream_event``                       nothing (progress: goal state, partials)
``result``                             ``usage`` (final totals; cost from
                                       ``[prices]``), ``error`` when it failed,
                                       ``result`` {ok, text, turns, duration_ms}
anything else                          ``raw``
=====================================  ============================================

Token counts: qwen's ``input_tokens`` include the cached ones (``cache_read_input_tokens``);
agented's exclude them. Qwen reports no cost, so the tokens are priced with the ``[prices]``
table (no price: no cost, never a wrong 0). A failed run still ends with a ``result`` line
(``is_error: true``) and exit code 1; the API's message comes as ``[API Error: STATUS ...]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from agented_core import ErrorKind, EventDraft, EventKind
from agented_core.providers import (
    JsonLinesParser,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    cost_of,
    raw,
    result,
    retry,
    session,
    tool_call,
    tool_result,
)
from agented_core.ratelimit import Pattern

PROVIDER = "qwen"

_API_ERROR = re.compile(r"^\[API Error:\s*(?:(?P<status>[1-5]\d\d)\b)?")
_NETWORK = re.compile(
    r"ECONNREFUSED|ECONNRESET|ETIMEDOUT|fetch failed|Connection error|socket hang up|"
    r"terminated|other side closed",
    re.IGNORECASE,
)
_RESULT_ERRORS = {
    "error_max_turns": "stopped at the maximum number of session turns",
    "error_during_execution": "failed during execution",
}


def qwen_tokens(usage: Mapping[str, Any]) -> dict[str, int]:
    """One qwen ``usage`` object as agented's four counts (cached input taken out)."""
    cached = as_int(usage.get("cache_read_input_tokens"))
    return {
        "input_tokens": max(0, as_int(usage.get("input_tokens")) - cached),
        "output_tokens": as_int(usage.get("output_tokens")),
        "cache_read_tokens": cached,
        "cache_write_tokens": as_int(usage.get("cache_creation_input_tokens")),
    }


class QwenParser(JsonLinesParser):
    """Reads one attempt of ``qwen --output-format stream-json``.

    ``model`` is the model asked for (the ``init`` line names it too), ``prices`` the
    ``[prices]`` table.
    """

    requires_result: ClassVar[bool] = True

    def __init__(
        self,
        *,
        account: str | None = None,
        model: str | None = None,
        prices: Mapping[str, Any] | None = None,
        patterns: Mapping[str, Sequence[Pattern]] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(
            PROVIDER, account=account, model=model, prices=prices, patterns=patterns, now=now
        )
        self.api_error: str | None = None
        """The last ``[API Error: ...]`` qwen printed as the assistant's text."""
        self._network = False

    # the JsonLinesParser hooks
    def on_object(self, obj: dict[str, Any], line: str) -> Sequence[EventDraft]:
        kind = obj.get("type")
        if kind == "system":
            return self._system(obj, line)
        if kind == "assistant":
            return self._assistant(obj)
        if kind == "user":
            return self._user(obj, line)
        if kind == "result":
            return self._result(obj)
        if kind == "stream_event":
            return []
        return [raw(line)]

    def stderr(self, line: str) -> Sequence[EventDraft]:
        if _NETWORK.search(line):
            self._network = True
        return super().stderr(line)

    def tail_line(self, line: str) -> str | None:
        stripped = line.strip()
        if stripped.startswith("at ") or stripped.startswith("Ripgrep not available"):
            return None  # stack frames, and a notice every run on a system without ripgrep
        return stripped

    # line types
    def _system(self, obj: dict[str, Any], line: str) -> list[EventDraft]:
        subtype = as_str(obj.get("subtype"))
        if subtype == "init":
            sid = as_str(obj.get("session_id"))
            if sid:
                self.session_id = sid
            model = as_str(obj.get("model"))
            if model:
                self.model = model
            tools = [t for t in as_list(obj.get("tools")) if isinstance(t, str)]
            return [
                session(
                    sid,
                    model,
                    tools,
                    cwd=as_str(obj.get("cwd")),
                    permission_mode=as_str(obj.get("permission_mode")),
                    mcp_servers=as_list(obj.get("mcp_servers")),
                    version=as_str(obj.get("qwen_code_version")),
                )
            ]
        if subtype == "retry":
            data = as_dict(obj.get("data"))
            attempt = as_int(data.get("attempt"))
            most = as_int(data.get("maxRetries"))
            delay = as_float(data.get("delayMs"))
            delay_ms = round(delay) if delay is not None else None
            reason = self.api_error or as_str(data.get("reason")) or "retry"
            wait = f" in {delay_ms} ms" if delay_ms is not None else ""
            text = f"qwen retries ({reason}): attempt {attempt} of {most}{wait}"
            return [retry(text, reason, attempt, delay_ms, max_retries=most)]
        return [raw(line)]

    def _assistant(self, obj: dict[str, Any]) -> list[EventDraft]:
        message = as_dict(obj.get("message"))
        extra = _parent(obj)
        drafts: list[EventDraft] = []
        for block in as_list(message.get("content")):
            part = as_dict(block)
            kind = as_str(part.get("type"))
            if kind == "text":
                text = as_str(part.get("text")) or ""
                failed = _API_ERROR.match(text)
                if failed is not None:
                    self.api_error = text
                    if failed["status"]:
                        self.status = int(failed["status"])
                    continue
                drafts.append(EventDraft(EventKind.TEXT, text=text, data=dict(extra)))
            elif kind == "thinking":
                text = as_str(part.get("thinking")) or ""
                drafts.append(EventDraft(EventKind.THINKING, text=text, data=dict(extra)))
            elif kind == "tool_use":
                name = as_str(part.get("name")) or "?"
                drafts.append(tool_call(as_str(part.get("id")), name, part.get("input"), **extra))
        usage = as_dict(message.get("usage"))
        if usage:
            key = as_str(message.get("id")) or as_str(obj.get("uuid")) or f"line-{id(obj)}"
            self.usage.record(key, **qwen_tokens(usage))
            self.usage.cost_usd = cost_of(self.model, self.usage.totals, self.prices)
            draft = self.usage.draft()
            if draft is not None:
                drafts.append(draft)
        return drafts

    def _user(self, obj: dict[str, Any], line: str) -> list[EventDraft]:
        message = as_dict(obj.get("message"))
        extra = _parent(obj)
        drafts: list[EventDraft] = []
        for block in as_list(message.get("content")):
            part = as_dict(block)
            if part.get("type") != "tool_result":
                continue
            ok = part.get("is_error") is not True
            output = _output(part.get("content"))
            drafts.append(tool_result(as_str(part.get("tool_use_id")), ok, output, **extra))
        return drafts or [raw(line)]

    def _result(self, obj: dict[str, Any]) -> list[EventDraft]:
        self.result_seen = True
        subtype = as_str(obj.get("subtype")) or ""
        ok = obj.get("is_error") is not True and subtype in ("success", "")
        drafts: list[EventDraft] = []
        figures = qwen_tokens(as_dict(obj.get("usage")))
        running = self.usage.totals
        # the result's totals include background calls (memory extraction) the stream did
        # not show; never less than what the assistant lines added up to
        totals = {k: max(v, as_int(running.get(k))) for k, v in figures.items()}
        self.usage.replace(**totals)
        self.usage.cost_usd = cost_of(self.model, totals, self.prices)
        usage = self.usage.draft()
        if usage is not None:
            drafts.append(usage)
        text = as_str(obj.get("result"))
        if not ok:
            failure = as_dict(obj.get("error"))
            message = as_str(failure.get("message")) or self.api_error or text
            if subtype in _RESULT_ERRORS and not message:
                message = f"qwen {_RESULT_ERRORS[subtype]}"
            message = message or "qwen reported a failed result"
            found = _API_ERROR.match(message)
            if found is not None and found["status"]:
                self.status = int(found["status"])
            data: dict[str, Any] = {"code": subtype or None}
            if self.status is not None:
                data["status"] = self.status
            drafts.append(self.failure(message, codes=(subtype,) if subtype else (), **data))
            text = message
        drafts.append(
            result(
                ok,
                text,
                turns=as_int(obj.get("num_turns")),
                duration_ms=as_int(obj.get("duration_ms")),
                subtype=subtype or None,
                session_id=as_str(obj.get("session_id")) or self.session_id,
                cost_usd=self.usage.cost_usd,
                status=None if ok else self.status,
                permission_denials=len(as_list(obj.get("permission_denials"))),
            )
        )
        return drafts

    def error_kind(
        self,
        message: str,
        *,
        exit_code: int | None = 1,
        codes: Sequence[str] = (),
        rate_limits: Sequence[Mapping[str, Any]] = (),
        stderr: str | None = None,
    ) -> ErrorKind:
        """With qwen's evidence: a connection failure, a limit named in its message."""
        network = self._network or (self.status is None and _NETWORK.search(message) is not None)
        codes = tuple(c for c in codes if c != "error_during_execution")
        return self.message_error_kind(
            message,
            network=network,
            exit_code=exit_code,
            codes=codes,
            rate_limits=rate_limits,
            stderr=stderr,
        )


def _parent(obj: Mapping[str, Any]) -> dict[str, Any]:
    parent = as_str(obj.get("parent_tool_use_id"))
    return {"parent_tool_use_id": parent} if parent else {}


def _output(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for item in as_list(content):
        part = as_dict(item)
        if isinstance(item, str):
            parts.append(item)
        elif part.get("type") == "text":
            parts.append(as_str(part.get("text")) or "")
    return "\n".join(parts)
