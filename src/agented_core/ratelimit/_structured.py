"""Structured forms: what one JSON line of a CLI's machine-readable output says about limits.

Known lines are read field by field, so the model's own words (an assistant message, a tool's
output) never count as a limit; only error fields are searched with the patterns. A line of a
type we do not know is left to the caller, which searches the whole line.

- Claude stream-json: ``rate_limit_event`` (``rejected`` is a quota, ``allowed_warning`` a
  notice, ``allowed`` nothing; ``resetsAt`` is the reset), ``system``/``api_retry`` with an
  ``error_status`` (429, 529, 503), ``assistant`` with ``error``, ``result`` with ``is_error``
  or ``api_error_status`` (a rate-limited run can end with ``subtype: "success"`` and
  ``is_error: true``), ``stream_event`` carrying an API ``error``.
- Codex ``exec --json``: ``error``, ``turn.failed``, ``item.*`` items of type ``error``.
- Gemini: stream-json ``error`` and ``result`` with ``status: "error"``; the ``json`` format's
  single object with an ``error``.
- OpenCode ``run --format json``: ``error`` events (``data.statusCode``, the response headers'
  ``retry-after``, the response body).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from attrs import frozen

from ._types import LimitKind


@frozen
class Finding:
    """What a known JSON line says.

    ``texts`` are error messages to search with the patterns; ``kind`` is the kind the
    structure itself states (an HTTP status, a rejected window), used when no pattern matches;
    ``hints`` are ``key: value`` strings that state a reset (``resetsAt: 1760000000``,
    ``retry-after: 3``), read before the texts.
    """

    texts: tuple[str, ...] = ()
    kind: LimitKind | None = None
    hints: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the line is known and says nothing about limits."""
        return not self.texts and self.kind is None


NOTHING = Finding()

STATUS_KINDS: Mapping[int, LimitKind] = MappingProxyType(
    {
        429: LimitKind.RATE,
        529: LimitKind.OVERLOADED,
        503: LimitKind.OVERLOADED,
        402: LimitKind.QUOTA,
    }
)
"""HTTP statuses that are limits, and their kinds."""

CODE_KINDS: Mapping[str, LimitKind] = MappingProxyType(
    {
        "rate_limit": LimitKind.RATE,
        "rate_limit_error": LimitKind.RATE,
        "rate_limit_exceeded": LimitKind.RATE,
        "resource_exhausted": LimitKind.RATE,
        "too_many_requests": LimitKind.RATE,
        "overloaded": LimitKind.OVERLOADED,
        "overloaded_error": LimitKind.OVERLOADED,
        "server_is_overloaded": LimitKind.OVERLOADED,
        "insufficient_quota": LimitKind.QUOTA,
        "usage_limit_reached": LimitKind.QUOTA,
        "quota_exhausted": LimitKind.QUOTA,
    }
)
"""Machine-readable error codes that are limits (compared in lower case), and their kinds."""

_QUIET = frozenset(
    {
        # claude
        "user", "control_request", "control_response", "control_cancel_request", "keep_alive",
        # codex
        "thread.started", "turn.started", "turn.completed",
        # gemini
        "init", "message", "tool_use", "tool_result",
        # opencode
        "step_start", "step_finish", "text", "reasoning", "snapshot", "patch",
    }
)  # fmt: skip
"""Line types that carry the model's or the tools' words, never a limit."""

_HEADER_KEYS = ("retry-after-ms", "retry-after", "x-ratelimit-reset-requests",
                "x-ratelimit-reset-tokens", "anthropic-ratelimit-unified-reset")  # fmt: skip


def _status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) == 3:
        return int(value)
    return None


def _code_kind(value: Any) -> LimitKind | None:
    return CODE_KINDS.get(value.lower()) if isinstance(value, str) else None


class _Collector:
    """Gathers error texts, HTTP statuses, codes and reset hints from an error payload."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.kind: LimitKind | None = None
        self.hints: list[str] = []

    def status(self, value: Any) -> None:
        code = _status(value)
        if code is not None and self.kind is None:
            self.kind = STATUS_KINDS.get(code)

    def code(self, value: Any) -> None:
        kind = _code_kind(value)
        if kind is not None and (self.kind is None or self.kind is LimitKind.RATE):
            self.kind = kind

    def text(self, value: Any) -> None:
        if isinstance(value, str) and value.strip():
            self.texts.append(value)

    def headers(self, value: Any) -> None:
        if not isinstance(value, Mapping):
            return
        lowered = {str(k).lower(): v for k, v in value.items()}
        for key in _HEADER_KEYS:
            header = lowered.get(key)
            if isinstance(header, str | int | float) and not isinstance(header, bool):
                self.hints.append(f"{key}: {header}")

    def payload(self, value: Any, depth: int = 0) -> None:
        """An ``error`` value: a message, or an object with message, type, code, data..."""
        if isinstance(value, str):
            self.text(value)
            return
        if not isinstance(value, Mapping) or depth > 3:
            return
        for key in ("message", "responseBody", "detail", "reason"):
            self.text(value.get(key))
        for key in ("type", "code", "name", "status"):
            item = value.get(key)
            self.code(item)
            if key in ("code", "status"):
                self.status(item)
        self.status(value.get("statusCode"))
        self.headers(value.get("responseHeaders"))
        for key in ("error", "data", "details"):
            self.payload(value.get(key), depth + 1)

    def finding(self) -> Finding:
        return Finding(tuple(self.texts), self.kind, tuple(self.hints))


def _rate_limit_event(obj: Mapping[str, Any]) -> Finding:
    info = obj.get("rate_limit_info")
    if not isinstance(info, Mapping):
        info = obj
    status = info.get("status")
    if status == "rejected":
        kind = LimitKind.QUOTA
    elif status == "allowed_warning":
        kind = LimitKind.NOTICE
    else:
        return NOTHING
    resets = info.get("resetsAt")
    hints = (f"resetsAt: {resets}",) if isinstance(resets, int | float | str) else ()
    return Finding(kind=kind, hints=hints)


def _system(obj: Mapping[str, Any]) -> Finding:
    if obj.get("subtype") != "api_retry":
        return NOTHING
    status = _status(obj.get("error_status"))
    kind = STATUS_KINDS.get(status) if status is not None else None
    kind = kind or _code_kind(obj.get("error"))
    if kind is None:
        return NOTHING
    delay = obj.get("retry_delay_ms")
    hints: tuple[str, ...] = ()
    if isinstance(delay, int | float) and not isinstance(delay, bool):
        hints = (f"retry_delay_ms: {delay}",)
    return Finding(kind=kind, hints=hints)


def _content_texts(message: Any) -> list[str]:
    if not isinstance(message, Mapping):
        return []
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [
        part["text"]
        for part in content
        if isinstance(part, Mapping)
        and part.get("type") == "text"
        and isinstance(part.get("text"), str)
    ]


def _assistant(obj: Mapping[str, Any]) -> Finding:
    error = obj.get("error")
    if not error:
        return NOTHING
    texts = _content_texts(obj.get("message"))
    if isinstance(error, str):
        texts.append(error)
    return Finding(texts=tuple(texts), kind=_code_kind(error))


def _result(obj: Mapping[str, Any]) -> Finding:
    if "status" in obj and "is_error" not in obj and "subtype" not in obj:  # gemini
        if obj.get("status") != "error":
            return NOTHING
        collector = _Collector()
        collector.payload(obj.get("error"))
        return collector.finding()
    status = _status(obj.get("api_error_status"))
    subtype = obj.get("subtype")
    failed = obj.get("is_error") is True or (
        isinstance(subtype, str) and subtype.startswith("error")
    )
    if not failed and status is None:
        return NOTHING
    collector = _Collector()
    collector.text(obj.get("result"))
    collector.payload(obj.get("error"))  # qwen-code's result: {"error": {"message": ...}}
    errors = obj.get("errors")
    if isinstance(errors, list):
        for item in errors:
            collector.payload(item)
    collector.status(status)
    return collector.finding()


def _error(obj: Mapping[str, Any]) -> Finding:
    collector = _Collector()
    collector.text(obj.get("message"))
    collector.payload(obj.get("error"))
    collector.status(obj.get("code"))
    return collector.finding()


def _item(obj: Mapping[str, Any]) -> Finding:
    item = obj.get("item")
    if not isinstance(item, Mapping) or item.get("type") != "error":
        return NOTHING
    collector = _Collector()
    collector.text(item.get("message"))
    return collector.finding()


def _stream_event(obj: Mapping[str, Any]) -> Finding:
    event = obj.get("event")
    if not isinstance(event, Mapping) or event.get("type") != "error":
        return NOTHING
    collector = _Collector()
    collector.payload(event.get("error"))
    return collector.finding()


def examine(obj: Mapping[str, Any]) -> Finding | None:
    """What a parsed JSON line says about limits; ``None`` when it is not a form we know."""
    kind = obj.get("type")
    if not isinstance(kind, str):
        if "error" in obj:  # gemini --output-format json: {"session_id", "error": {...}}
            return _error(obj)
        if "response" in obj or "stats" in obj:
            return NOTHING
        return None
    if kind in _QUIET:
        return NOTHING
    if kind == "rate_limit_event":
        return _rate_limit_event(obj)
    if kind == "system":
        return _system(obj)
    if kind == "assistant":
        return _assistant(obj)
    if kind == "result":
        return _result(obj)
    if kind in ("error", "turn.failed"):
        return _error(obj)
    if kind.startswith("item."):
        return _item(obj)
    if kind == "stream_event":
        return _stream_event(obj)
    return None
