"""Codex's ``codex exec --json`` lines as agented events.

=====================================  ============================================
codex line                             events
=====================================  ============================================
``thread.started``                     ``session`` {session_id (the thread id), model}
``item.started`` command / MCP call    ``tool_call`` {id, name, input}
``item.completed`` ``agent_message``   ``text``
``item.completed`` ``reasoning``       ``thinking``
``item.completed`` command execution   ``tool_result`` {id, ok, output, exit_code,
                                       status} (and its ``tool_call`` if it was not
                                       announced)
``item.completed`` ``file_change``     ``file_change`` {path, change} for each file
``item.completed`` ``mcp_tool_call``   ``tool_result`` {id, ok, output, server, tool}
``item.completed`` ``web_search``      ``tool_call`` {name: web_search, input: query}
``item.*`` ``todo_list``               ``plan`` {items: [{text, completed}]}
``item.completed`` ``error``           ``warning`` (codex's own non-fatal notices)
``turn.completed``                     ``usage`` (tokens; cost from ``[prices]``),
                                       ``result`` {ok, text, turns, duration_ms}
``turn.failed``                        ``error`` {kind, message}, ``result`` (not ok)
``error`` "Reconnecting... N/M (..)"   ``retry`` {reason, attempt, max_retries}
``error`` (any other)                  ``error`` {kind, message, status}
anything else                          ``raw``
=====================================  ============================================

Codex prints its usage as totals of the whole thread. A thread is resumed only after a failed
attempt, and codex reports no usage for a failed turn (``turn.failed`` has none), so the totals
of a resumed thread's turn count exactly the tokens no attempt reported yet. Codex reports no
cost; the parser prices the tokens with the ``[prices]`` table when it has the model (no price,
no cost).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any, ClassVar

from agented_core import ErrorKind, EventDraft, EventKind
from agented_core.providers import (
    JsonLinesParser,
    as_dict,
    as_int,
    as_list,
    as_str,
    cost_of,
    error,
    raw,
    result,
    retry,
    session,
    tool_call,
    tool_result,
    warning,
)
from agented_core.ratelimit import Pattern, RateLimit, detect

PROVIDER = "codex"

PLAN = "plan"
"""Event kind of a todo list (an agented kind beyond the core ones; unknown kinds pass)."""

_RECONNECT = re.compile(
    r"^Reconnecting\.\.\.\s*(?:(?P<attempt>\d+)/(?P<max>\d+)|(?P<network>waiting for network))"
    r"\s*(?:\((?P<reason>.*)\))?\s*$",
    re.DOTALL,
)
_STATUS = re.compile(r"\b(?:last status:?|unexpected status|status)\s+(?P<code>[1-5]\d\d)\b")
_LAUNCH = re.compile(
    r"error loading config|not inside a trusted directory|is no longer supported|"
    r"reserved built-in provider",
    re.IGNORECASE,
)


def thread_usage(usage: Mapping[str, Any]) -> dict[str, int]:
    """Codex's usage figures as agented's four counts (``input_tokens`` without the cached)."""
    total_in = as_int(usage.get("input_tokens"))
    cached = as_int(usage.get("cached_input_tokens"))
    written = as_int(usage.get("cache_write_input_tokens"))
    return {
        "input_tokens": max(0, total_in - cached - written),
        "output_tokens": as_int(usage.get("output_tokens")),
        "cache_read_tokens": cached,
        "cache_write_tokens": written,
    }


class CodexParser(JsonLinesParser):
    """Reads one attempt of ``codex exec --json``.

    ``model`` names the model for the ``session`` event and for pricing (codex does not print
    it); ``prices`` is the ``[prices]`` table; ``tz`` the zone of the clock times in codex's
    messages ("try again at 9:00 PM" is in the child's local time).
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
        tz: str | tzinfo | None = None,
    ) -> None:
        super().__init__(
            PROVIDER, account=account, model=model, prices=prices, patterns=patterns, now=now
        )
        self.tz = tz
        self.turns = 0
        self.waiting_for_network: str | None = None
        self._last_text: str | None = None
        self._last_error: str | None = None
        self._announced: set[str] = set()

    # the JsonLinesParser hooks
    def on_object(self, obj: dict[str, Any], line: str) -> Sequence[EventDraft]:
        kind = obj.get("type")
        if kind != "error" or not _is_network_wait(obj):
            self.waiting_for_network = None
        if kind == "thread.started":
            return self._thread(obj)
        if kind == "turn.started":
            return []
        if kind in ("item.started", "item.updated", "item.completed"):
            return self._item(str(kind), as_dict(obj.get("item")), line)
        if kind == "turn.completed":
            return self._turn_completed(obj)
        if kind == "turn.failed":
            return self._turn_failed(obj)
        if kind == "error":
            return self._error(as_str(obj.get("message")) or "codex reported an error")
        return [raw(line)]

    def limit_details(self, obj: dict[str, Any]) -> dict[str, Any]:
        text = as_str(obj.get("message")) or as_str(as_dict(obj.get("error")).get("message"))
        status = _status(text or "")
        return {"status": status} if status is not None else {}

    def find_limit(self, line: str) -> RateLimit | None:
        """:func:`detect` with the child's time zone, for codex's "try again at 9:00 PM"."""
        if not self.detect_limits:
            return None
        now = self.now() if self.now is not None else None
        try:
            return detect(line, provider=self.provider, now=now, tz=self.tz, patterns=self.patterns)
        except ValueError:  # an unknown zone name: read clock times as UTC
            return detect(line, provider=self.provider, now=now, patterns=self.patterns)

    def finish(self, exit_code: int | None) -> Sequence[EventDraft]:
        """An ``error`` saying why the run ended without finishing its turn, if nothing did."""
        waiting = self.waiting_for_network
        if self.result_seen or waiting is None:
            return self.no_result(exit_code, "before its turn ended")
        if exit_code is None or exit_code < 0:  # agented ended it (timeout, idle, cancel)
            message = f"codex was waiting for the network when it was ended ({waiting})"
            return (error(ErrorKind.NETWORK, message, code="waiting_for_network"),)
        if self.errors:
            return ()
        message = f"codex exited with code {exit_code} while waiting for the network ({waiting})"
        return (self.failure(message, kind=ErrorKind.NETWORK, exit_code=exit_code),)

    def error_kind(
        self,
        message: str,
        *,
        exit_code: int | None = 1,
        codes: Sequence[str] = (),
        rate_limits: Sequence[Mapping[str, Any]] = (),
        stderr: str | None = None,
    ) -> ErrorKind:
        """``launch`` for codex's configuration errors; else from the evidence."""
        if _LAUNCH.search(message) or any(_LAUNCH.search(t) for t in self.stderr_tail):
            return ErrorKind.LAUNCH
        return super().error_kind(
            message, exit_code=exit_code, codes=codes, rate_limits=rate_limits, stderr=stderr
        )

    # line types
    def _thread(self, obj: Mapping[str, Any]) -> list[EventDraft]:
        sid = as_str(obj.get("thread_id"))
        if sid:
            self.session_id = sid
        return [session(sid, self.model)]

    def _item(self, phase: str, item: Mapping[str, Any], line: str) -> list[EventDraft]:
        kind = as_str(item.get("type")) or ""
        ident = as_str(item.get("id"))
        done = phase == "item.completed"
        if kind == "agent_message":
            text = as_str(item.get("text")) or ""
            if not done:
                return []
            self._last_text = text
            return [EventDraft(EventKind.TEXT, text=text)]
        if kind == "reasoning":
            return (
                [EventDraft(EventKind.THINKING, text=as_str(item.get("text")) or "")]
                if done
                else []
            )
        if kind == "command_execution":
            return self._command(item, ident, done)
        if kind == "mcp_tool_call":
            return self._mcp(item, ident, done)
        if kind == "file_change":
            return self._file_change(item, ident) if done else []
        if kind == "web_search":
            query = as_str(item.get("query")) or ""
            if ident in self._announced or (not done and not query):
                return []
            return self._announce(ident, "web_search", {"query": query})
        if kind == "todo_list":
            return [_plan(item)]
        if kind == "error":
            return [warning(as_str(item.get("message")) or "codex notice", id=ident)]
        if not item:
            return [raw(line)]
        return [raw(line, item_type=kind or None)]

    def _announce(
        self, ident: str | None, name: str, tool_input: Any, **more: Any
    ) -> list[EventDraft]:
        if ident:
            if ident in self._announced:
                return []
            self._announced.add(ident)
        return [tool_call(ident, name, tool_input, **more)]

    def _command(self, item: Mapping[str, Any], ident: str | None, done: bool) -> list[EventDraft]:
        command = as_str(item.get("command")) or ""
        drafts = self._announce(ident, "command_execution", {"command": command})
        if not done:
            return drafts
        status = as_str(item.get("status"))
        exit_code = item.get("exit_code")
        code = exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None
        output = as_str(item.get("aggregated_output")) or ""
        ok = status == "completed" and code in (0, None)
        drafts.append(tool_result(ident, ok, output, exit_code=code, status=status))
        return drafts

    def _mcp(self, item: Mapping[str, Any], ident: str | None, done: bool) -> list[EventDraft]:
        server = as_str(item.get("server"))
        tool = as_str(item.get("tool")) or "?"
        drafts = self._announce(ident, tool, item.get("arguments"), server=server)
        if not done:
            return drafts
        status = as_str(item.get("status"))
        failure = as_dict(item.get("error"))
        if failure or item.get("error"):
            output = as_str(failure.get("message")) or as_str(item.get("error")) or "failed"
            ok = False
        else:
            output = _mcp_output(item.get("result"))
            ok = status in ("completed", None)
        drafts.append(tool_result(ident, ok, output, server=server, tool=tool, status=status))
        return drafts

    def _file_change(self, item: Mapping[str, Any], ident: str | None) -> list[EventDraft]:
        status = as_str(item.get("status"))
        drafts: list[EventDraft] = []
        for change in as_list(item.get("changes")):
            entry = as_dict(change)
            path = as_str(entry.get("path"))
            if not path:
                continue
            what = as_str(entry.get("kind")) or "update"
            drafts.append(
                EventDraft(
                    EventKind.FILE_CHANGE,
                    text=f"{what} {path}",
                    data={"path": path, "change": what, "id": ident, "status": status},
                )
            )
        return drafts

    def _turn_completed(self, obj: Mapping[str, Any]) -> list[EventDraft]:
        self.turns += 1
        self.result_seen = True
        drafts: list[EventDraft] = []
        figures = thread_usage(as_dict(obj.get("usage")))
        self.usage.replace(**figures)
        self.usage.cost_usd = cost_of(self.model, figures, self.prices)
        usage = self.usage.draft()
        if usage is not None:
            drafts.append(usage)
        drafts.append(
            result(
                True,
                self._last_text,
                turns=self.turns,
                duration_ms=self.elapsed_ms(),
                session_id=self.session_id,
                cost_usd=self.usage.cost_usd,
            )
        )
        return drafts

    def _turn_failed(self, obj: Mapping[str, Any]) -> list[EventDraft]:
        self.turns += 1
        self.result_seen = True
        message = as_str(as_dict(obj.get("error")).get("message")) or "codex: the turn failed"
        drafts: list[EventDraft] = []
        if message != self._last_error:
            drafts.extend(self._failure(message))
        drafts.append(
            result(
                False,
                message,
                turns=self.turns,
                duration_ms=self.elapsed_ms(),
                session_id=self.session_id,
                status=self.status,
            )
        )
        return drafts

    def _error(self, message: str) -> list[EventDraft]:
        notice = _RECONNECT.match(message.strip())
        if notice is None:
            return self._failure(message)
        reason = (notice["reason"] or "").strip() or "connection problem"
        status = _status(reason)
        if status is not None:
            self.status = status
        if notice["network"]:
            self.waiting_for_network = reason
            text = f"codex is waiting for the network: {reason}"
            return [retry(text, reason, None, waiting_for_network=True)]
        attempt, most = int(notice["attempt"]), int(notice["max"])
        text = f"codex retries ({attempt} of {most}): {reason}"
        return [retry(text, reason, attempt, max_retries=most, status=status)]

    def _failure(self, message: str) -> list[EventDraft]:
        status = _status(message)
        if status is not None:
            self.status = status
        self._last_error = message
        data: dict[str, Any] = {}
        if self.status is not None:
            data["status"] = self.status
        return [self.failure(message, **data)]


def _is_network_wait(obj: Mapping[str, Any]) -> bool:
    message = as_str(obj.get("message")) or ""
    return "waiting for network" in message


def _status(text: str) -> int | None:
    found = _STATUS.search(text)
    return int(found["code"]) if found else None


def _plan(item: Mapping[str, Any]) -> EventDraft:
    items = []
    for entry in as_list(item.get("items")):
        part = as_dict(entry)
        items.append(
            {"text": as_str(part.get("text")) or "", "completed": part.get("completed") is True}
        )
    text = "\n".join(f"[{'x' if i['completed'] else ' '}] {i['text']}" for i in items)
    return EventDraft(PLAN, text=text, data={"items": items, "id": as_str(item.get("id"))})


def _mcp_output(result: Any) -> str:
    if isinstance(result, str):
        return result
    payload = as_dict(result)
    parts: list[str] = []
    for block in as_list(payload.get("content")):
        part = as_dict(block)
        if part.get("type") == "text":
            parts.append(as_str(part.get("text")) or "")
        elif part:
            parts.append(json.dumps(part, ensure_ascii=False))
    if not parts and payload.get("structured_content") is not None:
        parts.append(json.dumps(payload["structured_content"], ensure_ascii=False))
    if not parts and payload:
        parts.append(json.dumps(payload, ensure_ascii=False))
    return "\n".join(parts)
