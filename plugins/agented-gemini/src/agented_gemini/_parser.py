"""Gemini CLI's ``--output-format stream-json`` lines as agented events.

=====================================  ============================================
gemini line                            events
=====================================  ============================================
``init``                               ``session`` {session_id, model}
``message`` (assistant, deltas)        ``text``: consecutive deltas are joined into
                                       one event, written when the next other line
                                       (or the end) comes
``message`` (user)                     nothing (the prompt is on the execution)
``tool_use``                           ``tool_call`` {id, name, input}
``tool_result``                        ``tool_result`` {id, ok, output}
``error`` severity ``warning``         ``warning`` {message}
``error`` severity ``error``           ``error`` {kind, message}
``result``                             ``usage`` (tokens; cost from ``[prices]`` per
                                       model), ``error`` when it failed, ``result``
                                       {ok, text, turns, duration_ms, tool_calls}
anything else                          ``raw``
=====================================  ============================================

``stats.output_tokens`` are the answer's tokens only; the model's thinking (billed as output)
is what ``total_tokens`` has beyond input and answer, so it is added to ``output_tokens``.
``input_tokens`` of the usage events exclude the cached ones (``cache_read_tokens``). Gemini
reports no cost: the parser prices each model's tokens with the ``[prices]`` table (the router
model of ``auto`` included); a model without a price leaves the run without a cost.

The CLI exits with the HTTP status modulo 256 (173 for a 429, 145 for a 401) and prints its
retries and errors on stderr, which is searched for limits too (``TerminalQuotaError``, a
daily quota, is a ``quota``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from agented_core import ErrorKind, EventDraft, EventKind
from agented_core.providers import (
    JsonLinesParser,
    StderrTail,
    as_dict,
    as_int,
    as_str,
    cost_of,
    cost_of_models,
    raw,
    result,
    retry,
    session,
    tool_call,
    tool_result,
    warning,
)
from agented_core.ratelimit import LimitKind, Pattern

PROVIDER = "gemini"

PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        r"\bexhausted\s+your\s+(?:daily|weekly|monthly)\s+quota\b",
        LimitKind.QUOTA,
        name="gemini-window-quota",
        keywords=("exhausted",),
    ),
)
"""Limits gemini 0.61 words in ways the built-in table misses ("You have exhausted your daily
quota on this model.", its ``TerminalQuotaError`` for a per-day quota)."""


def with_patterns(
    patterns: Mapping[str, Sequence[Pattern]] | None,
) -> dict[str, Sequence[Pattern]]:
    """``patterns`` (plugin patterns by provider) with this plugin's :data:`PATTERNS` added."""
    merged: dict[str, Sequence[Pattern]] = dict(patterns or {})
    merged[PROVIDER] = (*merged.get(PROVIDER, ()), *PATTERNS)
    return merged


_NETWORK = re.compile(
    r"\bterminated\b|other side closed|UND_ERR_SOCKET|\bfetch failed\b|ECONNRESET|ECONNREFUSED|"
    r"ended without a finish reason|\bInvalid(?:Stream| stream)\b|socket hang up",
    re.IGNORECASE,
)
_STATUS = re.compile(r"(?:status|code)\W{0,3}(?P<code>[1-5]\d\d)\b|\"code\":\s*(?P<json>[1-5]\d\d)")
_ATTEMPT = re.compile(
    r"^Attempt (?P<n>\d+) failed(?: with status (?P<status>\d{3}))?[.:]?\s*(?P<rest>.*)$"
)
_RETRYING = re.compile(r"Retrying after (?P<ms>\d+)ms")
_ATTEMPT_END = re.compile(r"Retrying after \d+ms|Max attempts reached|Retrying with backoff")


def _reason(rest: str) -> str:
    """What failed, from the rest of an ``Attempt N failed ...`` line."""
    text = rest.strip()
    if text.startswith("Retrying with backoff..."):
        text = text[len("Retrying with backoff...") :].strip()
        start = text.find("{")
        if start >= 0:
            try:
                payload = json.loads(text[start:])
            except ValueError:
                payload = None
            inner = as_dict(as_dict(payload).get("error"))
            message = as_str(inner.get("message"))
            if message:
                return message
    text = re.split(r"\.?\s*(?:Retrying after \d+ms|Max attempts reached)", text, maxsplit=1)[0]
    return text.strip(" .")


def _figures(stats: Mapping[str, Any]) -> dict[str, int]:
    """One stats object (the whole run's, or one model's) as agented's four counts."""
    prompt = as_int(stats.get("input_tokens"))
    cached = as_int(stats.get("cached"))
    answer = as_int(stats.get("output_tokens"))
    total = as_int(stats.get("total_tokens"))
    uncached = stats.get("input")
    fresh = as_int(uncached) if isinstance(uncached, int) else max(0, prompt - cached)
    thinking = max(0, total - prompt - answer)
    return {
        "input_tokens": fresh,
        "output_tokens": answer + thinking,
        "cache_read_tokens": cached,
        "cache_write_tokens": 0,
    }


class GeminiParser(JsonLinesParser):
    """Reads one attempt of ``gemini -p --output-format stream-json``.

    ``model`` is the model asked for (the ``init`` line names it too); ``prices`` the
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
            PROVIDER,
            account=account,
            model=model,
            prices=prices,
            patterns=with_patterns(patterns),
            now=now,
        )
        self.stderr_tail = StderrTail(lines=8)  # its retries take several lines each
        self.turns = 0
        self._texts: list[str] = []
        self._pending: list[str] = []
        self._in_turn = False
        self._network = False
        self._last_error: str | None = None
        self._attempt: tuple[re.Match[str], str] | None = None

    # the JsonLinesParser hooks
    def on_object(self, obj: dict[str, Any], line: str) -> Sequence[EventDraft]:
        kind = obj.get("type")
        if kind == "message":
            return self._message(obj)
        drafts = [*self._retry_pending(), *self._flush()]
        if kind == "init":
            drafts.append(self._init(obj))
        elif kind == "tool_use":
            drafts.extend(self._tool_use(obj))
        elif kind == "tool_result":
            drafts.extend(self._tool_result(obj))
        elif kind == "error":
            drafts.extend(self._error(obj))
        elif kind == "result":
            drafts.extend(self._result(obj))
        else:
            drafts.append(raw(line))
        return drafts

    def on_other(self, line: str) -> Sequence[EventDraft]:
        return [*self._flush(), raw(line)]

    def limit_details(self, obj: dict[str, Any]) -> dict[str, Any]:
        status = self._status_of(json.dumps(obj.get("error", "")))
        return {"status": status} if status is not None else {}

    def stderr(self, line: str) -> Sequence[EventDraft]:
        drafts = list(super().stderr(line))
        try:
            stripped = line.strip()
            if _NETWORK.search(line):
                self._network = True
            attempt = _ATTEMPT.match(stripped)
            if attempt is not None:
                drafts.extend(self._retry_pending())
                self._attempt = (attempt, attempt["rest"])
                if _ATTEMPT_END.search(stripped):
                    drafts.extend(self._retry_pending())
            elif self._attempt is not None:
                match, rest = self._attempt
                if stripped.startswith(("Suggested retry", "Retrying after", "Max attempts")):
                    self._attempt = (match, f"{rest} {stripped}")
                    if _ATTEMPT_END.search(stripped):
                        drafts.extend(self._retry_pending())
                elif stripped:
                    drafts.extend(self._retry_pending())
        except Exception:  # never raise on a line
            pass
        return drafts

    def tail_line(self, line: str) -> str | None:
        stripped = line.strip()
        return None if stripped.startswith("at ") else stripped  # not a stack trace's frames

    def _retry_pending(self) -> list[EventDraft]:
        """The ``retry`` event of the last ``Attempt N failed`` block, once it is complete."""
        if self._attempt is None:
            return []
        match, rest = self._attempt
        self._attempt = None
        return [self._retry(match, rest)]

    def finish(self, exit_code: int | None) -> Sequence[EventDraft]:
        drafts = [*self._retry_pending(), *self._flush()]
        return [*drafts, *self.no_result(exit_code)]

    # line types
    def _init(self, obj: Mapping[str, Any]) -> EventDraft:
        sid = as_str(obj.get("session_id"))
        if sid:
            self.session_id = sid
        model = as_str(obj.get("model")) or self.model
        if model and model != "auto":
            self.model = model
        return session(sid, model)

    def _message(self, obj: Mapping[str, Any]) -> list[EventDraft]:
        role = obj.get("role")
        content = obj.get("content")
        text = content if isinstance(content, str) else ""
        if role == "user":
            self._in_turn = False
            return self._flush()
        if role != "assistant":
            return [*self._flush(), raw(json.dumps(obj, ensure_ascii=False))]
        self._open_turn()
        if obj.get("delta") is True:
            self._pending.append(text)
            return []
        drafts = self._flush()
        if text:
            self._texts.append(text)
            drafts.append(EventDraft(EventKind.TEXT, text=text))
        return drafts

    def _flush(self) -> list[EventDraft]:
        if not self._pending:
            return []
        text = "".join(self._pending)
        self._pending.clear()
        self._texts.append(text)
        return [EventDraft(EventKind.TEXT, text=text)]

    def _open_turn(self) -> None:
        if not self._in_turn:
            self._in_turn = True
            self.turns += 1

    def _tool_use(self, obj: Mapping[str, Any]) -> list[EventDraft]:
        self._open_turn()
        name = as_str(obj.get("tool_name")) or "?"
        return [tool_call(as_str(obj.get("tool_id")), name, obj.get("parameters"))]

    def _tool_result(self, obj: Mapping[str, Any]) -> list[EventDraft]:
        self._in_turn = False
        ok = obj.get("status") == "success"
        failure = as_dict(obj.get("error"))
        output = as_str(obj.get("output"))
        if output is None:
            output = as_str(failure.get("message")) or ""
        more: dict[str, Any] = {}
        if failure:
            more = {
                "error_type": as_str(failure.get("type")),
                "error": as_str(failure.get("message")),
            }
        return [tool_result(as_str(obj.get("tool_id")), ok, output, **more)]

    def _error(self, obj: Mapping[str, Any]) -> list[EventDraft]:
        message = as_str(obj.get("message")) or "gemini reported an error"
        if obj.get("severity") == "warning":
            return [warning(message)]
        self._last_error = message
        return [self.failure(message, severity=as_str(obj.get("severity")))]

    def _result(self, obj: Mapping[str, Any]) -> list[EventDraft]:
        self.result_seen = True
        ok = obj.get("status") == "success"
        drafts: list[EventDraft] = []
        stats = as_dict(obj.get("stats"))
        figures = _figures(stats)
        by_model = {
            str(name): _figures(as_dict(s)) for name, s in as_dict(stats.get("models")).items()
        }
        self.usage.replace(**figures)
        if by_model:
            self.usage.cost_usd = cost_of_models(by_model, self.prices)
        else:
            self.usage.cost_usd = cost_of(self.model, figures, self.prices)
        usage = self.usage.draft()
        if usage is not None:
            drafts.append(usage)
        text = "".join(self._texts) or None
        failure = as_dict(obj.get("error"))
        message = None
        if not ok:
            message = (
                as_str(failure.get("message"))
                or self._last_error
                or "gemini reported a failed result"
            )
            status = self._status_of(message)
            if status is not None:
                self.status = status
            if failure or not self.errors:
                data: dict[str, Any] = {"code": as_str(failure.get("type"))}
                if self.status is not None:
                    data["status"] = self.status
                drafts.append(self.failure(message, **data))
        drafts.append(
            result(
                ok,
                text if ok else message,
                turns=self.turns,
                duration_ms=as_int(stats.get("duration_ms")),
                tool_calls=as_int(stats.get("tool_calls")),
                session_id=self.session_id,
                cost_usd=self.usage.cost_usd,
                status=None if ok else self.status,
            )
        )
        return drafts

    def _retry(self, attempt: re.Match[str], rest: str) -> EventDraft:
        status = int(attempt["status"]) if attempt["status"] else None
        if status is not None:
            self.status = status
        wait = _RETRYING.search(rest)
        delay = int(wait["ms"]) if wait else None
        final = "Max attempts reached" in rest
        reason = _reason(rest) or (f"status {status}" if status else "error")
        number = int(attempt["n"])
        text = f"gemini attempt {number} failed ({reason})" + (
            "; no attempts left" if final else f"; retrying in {delay} ms" if delay else ""
        )
        return retry(text, reason, number, None if final else delay, status=status, final=final)

    # helpers
    def _status_of(self, text: str) -> int | None:
        found = _STATUS.search(text)
        if found is None:
            return None
        return int(found["code"] or found["json"])

    def error_kind(
        self,
        message: str,
        *,
        exit_code: int | None = 1,
        codes: Sequence[str] = (),
        rate_limits: Sequence[Mapping[str, Any]] = (),
        stderr: str | None = None,
    ) -> ErrorKind:
        """With gemini's own evidence: a network failure it printed on stderr, a limit its
        message names in gemini's words."""
        network = self._network or _NETWORK.search(message) is not None
        return self.message_error_kind(
            message,
            network=network,
            exit_code=exit_code,
            codes=codes,
            rate_limits=rate_limits,
            stderr=stderr,
        )
