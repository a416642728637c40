"""Builders of the events a provider's parser returns, in the shapes docs/plugins.md gives.

Each returns an :class:`~agented_core.models.EventDraft` with the data keys agented reads
(``session_id`` of a ``session``, ``ok`` of a ``result`` ...) first, then whatever the CLI adds
(``**more``). A builder never raises on a value it does not expect: it stores it as it is.
"""

from __future__ import annotations

import json
from typing import Any

from ..models import ErrorKind, EventDraft, EventKind
from ..ratelimit import RateLimit

WARNING = "warning"
"""Event kind of a CLI's non-fatal notice (an agented kind beyond the core ones)."""

HEADROOM = "headroom"
"""Event kind of a CLI's report of how much of an account's usage window is left."""

TOOL_RESULT_TEXT = 2000
"""A ``tool_result`` event's text is its output up to this many characters (data has all)."""

TOOL_INPUT_TEXT = 200
"""A ``tool_call`` event's text is the tool's name and its input as JSON up to this length."""


def raw(line: str, **data: Any) -> EventDraft:
    """A ``raw`` event: a line kept as it is."""
    return EventDraft(EventKind.RAW, text=line, data=data)


def error(kind: ErrorKind | str, message: str, **data: Any) -> EventDraft:
    """An ``error`` event ``{kind, message, ...}``; ``kind`` names the :class:`ErrorKind`."""
    value = kind.value if isinstance(kind, ErrorKind) else str(kind)
    return EventDraft(
        EventKind.ERROR, text=message, data={"kind": value, "message": message, **data}
    )


def rate_limit(limit: RateLimit, *, account: str | None = None, **data: Any) -> EventDraft:
    """A ``rate_limit`` event from what :func:`~agented_core.ratelimit.detect` found.

    Data: ``kind`` (quota, rate, overloaded, notice), ``provider``, ``account``, ``reset_at``
    (ISO 8601, or ``None``), ``retry_after`` (seconds, or ``None``) and ``matched`` (the text
    that matched), plus ``data``. The executor adds the ``action`` it takes.
    """
    reset = limit.reset_at.isoformat() if limit.reset_at is not None else None
    text = f"{limit.kind.value} limit"
    if reset:
        text += f" until {reset}"
    elif limit.retry_after is not None:
        text += f" (retry after {limit.retry_after:g}s)"
    return EventDraft(
        EventKind.RATE_LIMIT,
        text=text,
        data={
            "kind": limit.kind.value,
            "provider": limit.provider,
            "account": account,
            "reset_at": reset,
            "retry_after": limit.retry_after,
            "matched": limit.matched,
            **data,
        },
    )


def session(
    session_id: str | None, model: str | None = None, tools: list[str] | None = None, **more: Any
) -> EventDraft:
    """A ``session`` event ``{session_id, model, tools, ...}``: "session ID (MODEL)"."""
    text = f"session {session_id}" + (f" ({model})" if model else "")
    data = {"session_id": session_id, "model": model, "tools": tools if tools else [], **more}
    return EventDraft(EventKind.SESSION, text=text, data=data)


def tool_call(ident: str | None, name: str, tool_input: Any, **more: Any) -> EventDraft:
    """A ``tool_call`` event ``{id, name, input, ...}``: the name and the input as JSON."""
    summary = json.dumps(tool_input, ensure_ascii=False, default=str)[:TOOL_INPUT_TEXT]
    return EventDraft(
        EventKind.TOOL_CALL,
        text=f"{name} {summary}",
        data={"id": ident, "name": name, "input": tool_input, **more},
    )


def tool_result(ident: str | None, ok: bool, output: str, **more: Any) -> EventDraft:
    """A ``tool_result`` event ``{id, ok, output, ...}``; its text is the output's start."""
    return EventDraft(
        EventKind.TOOL_RESULT,
        text=output[:TOOL_RESULT_TEXT],
        data={"id": ident, "ok": ok, "output": output, **more},
    )


def result(
    ok: bool, text: str | None, *, turns: int, duration_ms: int | None, **more: Any
) -> EventDraft:
    """A ``result`` event ``{ok, text, turns, duration_ms, ...}``: the attempt's verdict."""
    return EventDraft(
        EventKind.RESULT,
        text=text,
        data={"ok": ok, "text": text, "turns": turns, "duration_ms": duration_ms, **more},
    )


def retry(
    text: str, reason: str, attempt: int | None, delay_ms: int | None = None, **more: Any
) -> EventDraft:
    """A ``retry`` event ``{reason, attempt, delay_ms, ...}``: the CLI retrying on its own."""
    return EventDraft(
        EventKind.RETRY,
        text=text,
        data={"reason": reason, "attempt": attempt, "delay_ms": delay_ms, **more},
    )


def warning(message: str, **more: Any) -> EventDraft:
    """A ``warning`` event ``{message, ...}``: a notice of the CLI that is not a failure."""
    return EventDraft(WARNING, text=message, data={"message": message, **more})


def headroom(
    window: str | None,
    status: str | None,
    utilization: float | None = None,
    resets_at: str | float | None = None,
    **more: Any,
) -> EventDraft:
    """A ``headroom`` event ``{window, status, utilization, resets_at, ...}``: how much of the
    account's usage window is left, as the CLI reported it (``utilization`` a share 0-1 or a
    percentage, ``resets_at`` ISO 8601 or epoch seconds). The executor keeps the last one per
    account and prefers accounts with headroom (:mod:`agented_core.run._headroom`)."""
    used = (
        f", {utilization:.0%} used" if isinstance(utilization, float) and utilization <= 1 else ""
    )
    text = f"{window or 'usage'} window {status or 'reported'}{used}"
    data = {
        "window": window,
        "status": status,
        "utilization": utilization,
        "resets_at": resets_at,
        **more,
    }
    return EventDraft(HEADROOM, text=text, data=data)
