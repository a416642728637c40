"""pi's ``--mode json`` lines (its session events) as agented events.

=====================================  ============================================
pi line                                events
=====================================  ============================================
``session``                            ``session`` {session_id, cwd}
``turn_start``                         nothing (counts turns)
``message_end`` assistant              ``thinking``, ``text``, ``tool_call`` for its
                                       blocks; ``usage`` (running totals, pi's cost);
                                       with ``stopReason: error`` the failure is kept
                                       for the end of the run
``tool_execution_end``                 ``tool_result`` {id, ok, output, name}
``auto_retry_start``                   ``retry`` {reason, attempt, delay_ms}
``agent_end``                          ``result`` once no retry follows (at
                                       ``auto_retry_end`` or the end of the output):
                                       ``error`` first when the last message failed
``message_start`` / ``message_update``
/ ``turn_end`` / user and tool
messages / ``agent_start``             nothing (partials and echoes)
anything else                          ``raw``
=====================================  ============================================

pi ends with exit code 0 even when its last request failed: the ``stopReason`` of the last
assistant message decides. Its cost is its own (``usage.cost.total``, from the prices of
``models.json``); a message it reports at 0 for tokens it did use is priced from ``[prices]``,
and with no price there either the run has no cost (rather than a wrong 0).
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

PROVIDER = "pi"

_QUIET = frozenset(
    {"agent_start", "turn_end", "message_start", "message_update", "tool_execution_start",
     "tool_execution_update", "queue_update", "compaction_start", "compaction_end"}
)  # fmt: skip
_STATUS = re.compile(r"^(?P<status>[1-5]\d\d)\b")
_NETWORK = re.compile(
    r"ECONNREFUSED|ECONNRESET|ETIMEDOUT|fetch failed|Connection error|socket hang up|"
    r"terminated|other side closed",
    re.IGNORECASE,
)


def pi_tokens(usage: Mapping[str, Any]) -> dict[str, int]:
    """A pi message's ``usage`` as agented's four counts (pi's ``input`` excludes the cache)."""
    return {
        "input_tokens": as_int(usage.get("input")),
        "output_tokens": as_int(usage.get("output")),
        "cache_read_tokens": as_int(usage.get("cacheRead")),
        "cache_write_tokens": as_int(usage.get("cacheWrite")),
    }


class PiParser(JsonLinesParser):
    """Reads one attempt of ``pi --mode json -p``.

    ``model`` (``provider/id``) prices messages pi reports at no cost with ``prices``.
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
        self.turns = 0
        self.cost = 0.0
        self.cost_known = True
        self.retries = 0
        self._texts: list[str] = []
        self._failed: str | None = None
        self._stop: str | None = None
        self._pending = False
        self._network = False

    # the JsonLinesParser hooks
    def on_object(self, obj: dict[str, Any], line: str) -> Sequence[EventDraft]:
        kind = obj.get("type")
        if kind == "session":
            sid = as_str(obj.get("id"))
            self.session_id = sid
            return [session(sid, self.model, cwd=as_str(obj.get("cwd")))]
        if kind == "turn_start":
            self.turns += 1
            return []
        if kind == "message_end":
            return self._message(as_dict(obj.get("message")))
        if kind == "tool_execution_end":
            return [self._tool_result(obj)]
        if kind == "auto_retry_start":
            self._pending = False  # the agent_end before it was not the last one
            return [self._retry(obj)]
        if kind == "auto_retry_end":
            return self._final()
        if kind == "agent_end":
            self._pending = True
            return []
        if kind in _QUIET:
            return []
        return [raw(line)]

    def finish(self, exit_code: int | None) -> Sequence[EventDraft]:
        drafts = self._final() if exit_code is not None and exit_code >= 0 else []
        return [*drafts, *self.no_result(exit_code)]

    def stderr(self, line: str) -> Sequence[EventDraft]:
        if _NETWORK.search(line):
            self._network = True
        return super().stderr(line)

    # line types
    def _message(self, message: Mapping[str, Any]) -> list[EventDraft]:
        if message.get("role") != "assistant":
            return []
        drafts: list[EventDraft] = []
        for block in as_list(message.get("content")):
            part = as_dict(block)
            kind = as_str(part.get("type"))
            if kind == "text":
                text = as_str(part.get("text")) or ""
                self._texts.append(text)
                drafts.append(EventDraft(EventKind.TEXT, text=text))
            elif kind == "thinking":
                text = as_str(part.get("thinking")) or ""
                drafts.append(EventDraft(EventKind.THINKING, text=text))
            elif kind == "toolCall":
                name = as_str(part.get("name")) or "?"
                drafts.append(tool_call(as_str(part.get("id")), name, part.get("arguments")))
        model = as_str(message.get("model"))
        provider = as_str(message.get("provider"))
        if model and provider and not self.model:
            self.model = f"{provider}/{model}"
        usage = as_dict(message.get("usage"))
        tokens = pi_tokens(usage)
        cost = as_float(as_dict(usage.get("cost")).get("total"))
        if cost is not None and cost > 0:
            self.cost += cost
        elif any(tokens.values()):
            priced = cost_of(self.model, tokens, self.prices)
            if priced is None:
                self.cost_known = False
            else:
                self.cost += priced
        self.usage.add(**tokens)
        self.usage.cost_usd = self.cost if self.cost_known else None
        draft = self.usage.draft()
        if draft is not None:
            drafts.append(draft)
        self._stop = as_str(message.get("stopReason"))
        if self._stop in ("error", "aborted"):
            self._failed = as_str(message.get("errorMessage")) or f"pi stopped: {self._stop}"
            found = _STATUS.match(self._failed)
            if found is not None:
                self.status = int(found["status"])
        else:
            self._failed = None
        return drafts

    def _tool_result(self, obj: Mapping[str, Any]) -> EventDraft:
        payload = obj.get("result")
        content = as_list(as_dict(payload).get("content")) if isinstance(payload, dict) else []
        if content:
            texts = [as_str(as_dict(c).get("text")) or "" for c in content]
            output = "\n".join(t for t in texts if t)
        else:
            output = payload if isinstance(payload, str) else ""
        ok = obj.get("isError") is not True
        name = as_str(obj.get("toolName"))
        return tool_result(as_str(obj.get("toolCallId")), ok, output, name=name)

    def _retry(self, obj: Mapping[str, Any]) -> EventDraft:
        self.retries += 1
        attempt = as_int(obj.get("attempt"))
        most = as_int(obj.get("maxAttempts"))
        delay = as_float(obj.get("delayMs"))
        delay_ms = round(delay) if delay is not None else None
        reason = as_str(obj.get("errorMessage")) or "error"
        wait = f" in {delay_ms} ms" if delay_ms is not None else ""
        text = f"pi retries ({reason}): attempt {attempt} of {most}{wait}"
        return retry(text, reason, attempt, delay_ms, max_retries=most)

    def _final(self) -> list[EventDraft]:
        """The run's ``result`` (and its ``error``), once no retry can follow."""
        if not self._pending or self.result_seen:
            return []
        self._pending = False
        self.result_seen = True
        drafts: list[EventDraft] = []
        ok = self._failed is None
        text = self._texts[-1] if self._texts else None
        if not ok:
            message = self._failed or "pi failed"
            data: dict[str, Any] = {"stop_reason": self._stop}
            if self.status is not None:
                data["status"] = self.status
            drafts.append(self.failure(message, **data))
            text = message
        drafts.append(
            result(
                ok,
                text,
                turns=self.turns,
                duration_ms=self.elapsed_ms(),
                stop_reason=self._stop,
                session_id=self.session_id,
                cost_usd=self.usage.cost_usd,
                retries=self.retries,
                status=None if ok else self.status,
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
        """With pi's evidence: a connection failure, a limit its message names."""
        network = self._network or (self.status is None and _NETWORK.search(message) is not None)
        return self.message_error_kind(
            message,
            network=network,
            exit_code=exit_code,
            codes=codes,
            rate_limits=rate_limits,
            stderr=stderr,
        )
