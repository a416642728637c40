"""Claude Code's ``--output-format stream-json --verbose`` lines as agented events.

=====================================  ============================================
Claude line                            events
=====================================  ============================================
``system`` ``init``                    ``session`` {session_id, model, tools, ...}
``system`` ``api_retry``               ``retry`` {reason, attempt, delay_ms, ...}
                                       (+ ``rate_limit`` for a 429 / 529)
``assistant`` text / thinking          ``text`` / ``thinking``
``assistant`` ``tool_use``             ``tool_call`` {id, name, input}
``assistant`` usage                    ``usage`` (running totals of the attempt)
``assistant`` with ``error``           ``error`` {kind, message, code} (the CLI's own
                                       message, e.g. "Invalid API key")
``user`` ``tool_result``               ``tool_result`` {id, ok, output}
``rate_limit_event``                   ``rate_limit`` when ``rejected`` (quota, with
                                       ``resetsAt``) or ``allowed_warning`` (notice);
                                       ``headroom`` {window, status, utilization,
                                       resets_at} always
``result``                             ``usage`` (final totals and cost), ``error`` when
                                       it failed, ``result`` {ok, text, turns,
                                       duration_ms, ...}
anything else                          ``raw``
=====================================  ============================================

A failed run can end with ``subtype: "success"`` and ``is_error: true`` (a 429, a missing
login): ``is_error`` decides. Partial-message lines (``stream_event``, only with
``--include-partial-messages``) are dropped, as the complete messages follow; an ``error``
inside one is kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from agented_core import EventDraft, EventKind
from agented_core.providers import (
    JsonLinesParser,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    error,
    headroom,
    raw,
    result,
    retry,
    session,
    tool_call,
    tool_result,
)
from agented_core.ratelimit import Pattern

PROVIDER = "claude"

_QUIET_SYSTEM = frozenset({"thinking_tokens", "status"})
"""``system`` subtypes that say nothing worth an event (progress notes)."""

_TOOL_CALLS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})

_RESULT_ERRORS = {
    "error_max_turns": "stopped at the maximum number of turns",
    "error_max_budget_usd": "stopped at the budget limit (--max-budget-usd)",
    "error_during_execution": "failed during execution",
    "error_max_structured_output_retries": "could not produce the structured output",
}


class ClaudeParser(JsonLinesParser):
    """Reads one attempt of ``claude -p --output-format stream-json --verbose``."""

    requires_result: ClassVar[bool] = True

    def __init__(
        self,
        *,
        account: str | None = None,
        patterns: Mapping[str, Sequence[Pattern]] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(PROVIDER, account=account, patterns=patterns, now=now)

    # dispatch
    def on_object(self, obj: dict[str, Any], line: str) -> Sequence[EventDraft]:
        kind = obj.get("type")
        drafts: list[EventDraft] = []
        sid = as_str(obj.get("session_id"))
        if sid and self.session_id is None and not _is_init(obj):
            # the init line was lost: keep the session id anyway (for a later resume)
            self.session_id = sid
            drafts.append(session(sid))
        if kind == "system":
            drafts.extend(self._system(obj, line))
        elif kind == "assistant":
            drafts.extend(self._assistant(obj, line))
        elif kind == "user":
            drafts.extend(self._user(obj, line))
        elif kind == "result":
            drafts.extend(self._result(obj))
        elif kind == "rate_limit_event":
            # its rate_limit event (if any) came from the detection; the window's state is
            # the account's headroom, which chains weigh before starting a run on it
            drafts.extend(_headroom(obj))
        elif kind == "stream_event":
            drafts.extend(self._stream_event(obj))
        else:
            drafts.append(raw(line))
        return drafts

    def limit_details(self, obj: dict[str, Any]) -> dict[str, Any]:
        details: dict[str, Any] = {}
        info = as_dict(obj.get("rate_limit_info"))
        window = as_str(info.get("rateLimitType"))
        if window:
            details["window"] = window
        status = obj.get("error_status", obj.get("api_error_status"))
        if isinstance(status, int) and not isinstance(status, bool):
            details["status"] = status
        return details

    # line types
    def _system(self, obj: dict[str, Any], line: str) -> list[EventDraft]:
        subtype = as_str(obj.get("subtype"))
        if subtype == "init":
            sid = as_str(obj.get("session_id"))
            if sid:
                self.session_id = sid
            tools = [t for t in as_list(obj.get("tools")) if isinstance(t, str)]
            return [
                session(
                    sid,
                    as_str(obj.get("model")),
                    tools,
                    cwd=as_str(obj.get("cwd")),
                    permission_mode=as_str(obj.get("permissionMode")),
                    mcp_servers=as_list(obj.get("mcp_servers")),
                    version=as_str(obj.get("claude_code_version")),
                )
            ]
        if subtype == "api_retry":
            status = obj.get("error_status")
            if isinstance(status, int) and not isinstance(status, bool):
                self.status = status
            reason = as_str(obj.get("error")) or "error"
            attempt = as_int(obj.get("attempt"))
            max_retries = as_int(obj.get("max_retries"))
            delay = as_float(obj.get("retry_delay_ms"))
            delay_ms = round(delay) if delay is not None else None
            code = f" {status}" if isinstance(status, int) else ""
            wait = f" in {delay_ms} ms" if delay_ms is not None else ""
            text = f"API error{code} ({reason}): retry {attempt} of {max_retries}{wait}"
            return [
                retry(
                    text,
                    reason,
                    attempt,
                    delay_ms,
                    max_retries=max_retries,
                    status=status if isinstance(status, int) else None,
                )
            ]
        if subtype in _QUIET_SYSTEM:
            return []
        return [raw(line)]

    def _assistant(self, obj: dict[str, Any], line: str) -> list[EventDraft]:
        message = as_dict(obj.get("message"))
        content = message.get("content")
        blocks = as_list(content) if not isinstance(content, str) else [content]
        extra = _parent(obj)
        code = as_str(obj.get("error"))
        if code:
            text = "\n".join(_texts(blocks)) or code
            data: dict[str, Any] = {"code": code, **extra}
            if self.status is not None:
                data["status"] = self.status
            return [self.failure(text, codes=(code,), **data)]
        drafts: list[EventDraft] = []
        for block in blocks:
            drafts.extend(_block(block, extra))
        usage = as_dict(message.get("usage"))
        if usage:
            key = as_str(message.get("id")) or as_str(obj.get("uuid")) or f"line-{id(obj)}"
            self.usage.record(key, **_tokens(usage))
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
            output = _output(part.get("content"))
            ok = part.get("is_error") is not True
            drafts.append(tool_result(as_str(part.get("tool_use_id")), ok, output, **extra))
        return drafts or [raw(line)]

    def _result(self, obj: dict[str, Any]) -> list[EventDraft]:
        self.result_seen = True
        subtype = as_str(obj.get("subtype")) or ""
        ok = obj.get("is_error") is not True and subtype in ("success", "")
        status = obj.get("api_error_status")
        if isinstance(status, int) and not isinstance(status, bool):
            self.status = status
        drafts: list[EventDraft] = []

        figures = _tokens(as_dict(obj.get("usage")))
        for model in as_dict(obj.get("modelUsage")).values():
            entry = as_dict(model)
            by_model = {
                "input_tokens": as_int(entry.get("inputTokens")),
                "output_tokens": as_int(entry.get("outputTokens")),
                "cache_read_tokens": as_int(entry.get("cacheReadInputTokens")),
                "cache_write_tokens": as_int(entry.get("cacheCreationInputTokens")),
            }
            figures = {k: max(v, by_model[k]) for k, v in figures.items()}
        running = self.usage.totals
        cost = as_float(obj.get("total_cost_usd"))
        if cost is None:
            cost = as_float(obj.get("cost_usd"))  # older versions
        self.usage.replace(
            **{k: max(v, as_int(running.get(k))) for k, v in figures.items()}, cost_usd=cost
        )
        usage = self.usage.draft()
        if usage is not None:
            drafts.append(usage)

        text = as_str(obj.get("result"))
        details = [as_str(e) or json.dumps(e) for e in as_list(obj.get("errors"))]
        turns = as_int(obj.get("num_turns"))
        if not ok:
            message = text or "; ".join(d for d in details if d)
            if subtype in _RESULT_ERRORS:
                what = _RESULT_ERRORS[subtype]
                if subtype == "error_max_budget_usd" and cost is not None:
                    what += f" after spending ${cost:.4f}"
                message = f"claude {what}" + (f": {message}" if message else "")
            message = message or "claude reported a failed result"
            if not self.errors:
                codes = (subtype,) if subtype.startswith("error") else ()
                data: dict[str, Any] = {"code": subtype or None}
                if self.status is not None:
                    data["status"] = self.status
                drafts.append(self.failure(message, codes=codes, **data))
            text = text or message
        drafts.append(
            result(
                ok,
                text,
                turns=turns,
                duration_ms=as_int(obj.get("duration_ms")),
                subtype=subtype or None,
                stop_reason=as_str(obj.get("stop_reason")),
                session_id=as_str(obj.get("session_id")) or self.session_id,
                cost_usd=cost,
                status=self.status if not ok else None,
                permission_denials=len(as_list(obj.get("permission_denials"))),
            )
        )
        return drafts

    def _stream_event(self, obj: dict[str, Any]) -> list[EventDraft]:
        event = as_dict(obj.get("event"))
        if event.get("type") != "error":
            return []
        payload = as_dict(event.get("error"))
        code = as_str(payload.get("type")) or "error"
        message = as_str(payload.get("message")) or code
        # not a failure of the attempt (yet): the CLI retries, its final message says more
        return [error(self.error_kind(message, codes=(code,)), message, code=code)]


def _headroom(obj: Mapping[str, Any]) -> list[EventDraft]:
    """The account's usage window from a ``rate_limit_event`` (status, utilization, reset)."""
    info = as_dict(obj.get("rate_limit_info"))
    status = as_str(info.get("status"))
    if not status:
        return []
    resets = as_float(info.get("resetsAt"))
    return [
        headroom(
            as_str(info.get("rateLimitType")),
            status,
            as_float(info.get("utilization")),
            resets,
            overage_status=as_str(info.get("overageStatus")),
        )
    ]


def _is_init(obj: Mapping[str, Any]) -> bool:
    return obj.get("type") == "system" and obj.get("subtype") == "init"


def _parent(obj: Mapping[str, Any]) -> dict[str, Any]:
    parent = as_str(obj.get("parent_tool_use_id"))
    return {"parent_tool_use_id": parent} if parent else {}


def _texts(blocks: Sequence[Any]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, str):
            out.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            text = as_str(block.get("text"))
            if text:
                out.append(text)
    return out


def _block(block: Any, extra: dict[str, Any]) -> list[EventDraft]:
    if isinstance(block, str):
        return [EventDraft(EventKind.TEXT, text=block, data=dict(extra))]
    part = as_dict(block)
    kind = as_str(part.get("type"))
    if kind == "text":
        return [EventDraft(EventKind.TEXT, text=as_str(part.get("text")) or "", data=dict(extra))]
    if kind == "thinking":
        text = as_str(part.get("thinking")) or ""
        return [EventDraft(EventKind.THINKING, text=text, data=dict(extra))]
    if kind == "redacted_thinking":
        return [EventDraft(EventKind.THINKING, text=None, data={"redacted": True, **extra})]
    if kind in _TOOL_CALLS:
        name = as_str(part.get("name")) or "?"
        return [tool_call(as_str(part.get("id")), name, part.get("input"), **extra)]
    if not part:
        return []
    return [raw(json.dumps(part, ensure_ascii=False), block_type=kind)]


def _tokens(usage: Mapping[str, Any]) -> dict[str, int]:
    return {
        "input_tokens": as_int(usage.get("input_tokens")),
        "output_tokens": as_int(usage.get("output_tokens")),
        "cache_read_tokens": as_int(usage.get("cache_read_input_tokens")),
        "cache_write_tokens": as_int(usage.get("cache_creation_input_tokens")),
    }


def _output(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for item in as_list(content):
        if isinstance(item, str):
            parts.append(item)
            continue
        part = as_dict(item)
        if part.get("type") == "text":
            parts.append(as_str(part.get("text")) or "")
        elif part.get("type") == "image":
            parts.append("[image]")
        elif part:
            parts.append(json.dumps(part, ensure_ascii=False))
    return "\n".join(parts)
