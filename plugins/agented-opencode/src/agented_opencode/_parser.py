"""opencode's ``opencode run --format json`` lines (and its ``--print-logs`` stderr) as events.

=====================================  ============================================
opencode line                          events
=====================================  ============================================
the first line of a session            ``session`` {session_id, model}
``step_start``                         nothing (a step begins)
``text``                               ``text``
``reasoning`` (``--thinking``)         ``thinking``
``tool_use``                           ``tool_call`` {id, name, input} and
                                       ``tool_result`` {id, ok, output, title}
``step_finish``                        ``usage`` (tokens and cost); a reason other
                                       than ``tool-calls`` ends the run: ``result``
``error``                              ``error`` {kind, message, status, retryable,
                                       name}, ``result`` (not ok)
stderr ``message="stream error"``      ``retry`` {reason, attempt}: opencode retries
                                       a retryable error up to 5 times by itself
stderr "permission requested: ...;     ``warning`` {permission}: ``opencode run``
auto-rejecting"                        refuses what would need approval and stops
anything else                          ``raw``
=====================================  ============================================

Cost is opencode's own (``step_finish.part.cost``, per step, for models whose price it knows);
a step it reports at 0 for tokens it did use is priced from the ``[prices]`` table instead, and
when there is no price there either, the run has no cost (rather than a wrong 0).
``output_tokens`` include the reasoning tokens (opencode counts them apart).
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
    as_dict,
    as_float,
    as_int,
    as_str,
    cost_of,
    raw,
    result,
    retry,
    session,
    tool_call,
    tool_result,
    warning,
)
from agented_core.ratelimit import Pattern

PROVIDER = "opencode"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOGFMT = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)')
_API_ERROR = re.compile(r"^(?:AI_\w+|\w*Error):\s*")
_REFUSED = re.compile(r"permission requested:\s*(?P<what>.+?);\s*auto-rejecting")
_NAME_KINDS = {
    "ProviderAuthError": ErrorKind.AUTH,
    "FreeUsageLimitError": ErrorKind.QUOTA,
    "ContextOverflowError": ErrorKind.CONTEXT,
}


def logfmt(line: str) -> dict[str, str]:
    """The ``key=value`` pairs of one logfmt line (quoted values unquoted)."""
    out: dict[str, str] = {}
    for key, value in _LOGFMT.findall(line):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        out[key] = value
    return out


def step_tokens(tokens: Mapping[str, Any]) -> dict[str, int]:
    """A ``step_finish`` part's tokens as agented's four counts."""
    cache = as_dict(tokens.get("cache"))
    return {
        "input_tokens": as_int(tokens.get("input")),
        "output_tokens": as_int(tokens.get("output")) + as_int(tokens.get("reasoning")),
        "cache_read_tokens": as_int(cache.get("read")),
        "cache_write_tokens": as_int(cache.get("write")),
    }


class OpencodeParser(JsonLinesParser):
    """Reads one attempt of ``opencode run --format json`` (and its ``--print-logs``).

    ``model`` (``provider/model``) names the model for the ``session`` event and for pricing
    steps opencode reports at no cost; ``prices`` is the ``[prices]`` table.
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
        self.cost = 0.0
        self.cost_known = True
        self.steps = 0
        self.stream_errors = 0
        self.refused: list[str] = []
        self._texts: list[str] = []

    # the JsonLinesParser hooks
    def on_object(self, obj: dict[str, Any], line: str) -> Sequence[EventDraft]:
        kind = obj.get("type")
        drafts: list[EventDraft] = []
        sid = as_str(obj.get("sessionID"))
        if sid and self.session_id is None:
            self.session_id = sid
            drafts.append(session(sid, self.model))
        main = sid is None or sid == self.session_id
        extra = {} if main else {"session_id": sid}
        part = as_dict(obj.get("part"))
        if kind == "step_start":
            if main:
                self.steps += 1
        elif kind == "text":
            text = as_str(part.get("text")) or ""
            if main:
                self._texts.append(text)
            drafts.append(EventDraft(EventKind.TEXT, text=text, data=extra))
        elif kind == "reasoning":
            text = as_str(part.get("text")) or ""
            drafts.append(EventDraft(EventKind.THINKING, text=text, data=extra))
        elif kind == "tool_use":
            drafts.extend(self._tool(part, extra))
        elif kind == "step_finish":
            drafts.extend(self._step_finish(part, main))
        elif kind == "error":
            drafts.extend(self._error(as_dict(obj.get("error")), main))
        else:
            drafts.append(raw(line))
        return drafts

    def limit_details(self, obj: dict[str, Any]) -> dict[str, Any]:
        data = as_dict(as_dict(obj.get("error")).get("data"))
        status = data.get("statusCode")
        if isinstance(status, int) and not isinstance(status, bool):
            return {"status": status}
        return {}

    def stderr(self, line: str) -> Sequence[EventDraft]:
        drafts = list(super().stderr(line))
        try:
            clean = _ANSI.sub("", line).strip()
            if "level=" in clean and 'message="stream error"' in clean:
                drafts.append(self._stream_error(logfmt(clean)))
            refused = _REFUSED.search(clean)
            if refused is not None:
                self.refused.append(refused["what"])
                message = f"opencode refused a permission: {refused['what']}"
                drafts.append(warning(message, permission=refused["what"]))
        except Exception:  # never raise on a line
            pass
        return drafts

    def tail_line(self, line: str) -> str | None:
        return _ANSI.sub("", line).strip()

    def finish(self, exit_code: int | None) -> Sequence[EventDraft]:
        """An ``error`` when opencode ended by itself without a result (and said nothing)."""
        if not self.refused or self.result_seen or self.errors:
            return self.no_result(exit_code)
        if exit_code is None or exit_code < 0:
            return ()
        message = (
            f"opencode stopped after refusing a permission ({self.refused[-1]}): allow it "
            "in the opencode config's permission table, or set options.auto_approve"
        )
        kind = ErrorKind.PROVIDER
        return (self.failure(message, kind=kind, exit_code=exit_code, code="permission"),)

    # line types
    def _tool(self, part: Mapping[str, Any], extra: dict[str, Any]) -> list[EventDraft]:
        state = as_dict(part.get("state"))
        name = as_str(part.get("tool")) or "?"
        ident = as_str(part.get("callID")) or as_str(part.get("id"))
        drafts = [tool_call(ident, name, state.get("input"), **extra)]
        status = as_str(state.get("status"))
        if status not in ("completed", "error"):
            return drafts
        ok = status == "completed"
        output = as_str(state.get("output")) if ok else as_str(state.get("error"))
        output = output or ""
        data: dict[str, Any] = dict(extra)
        title = as_str(state.get("title"))
        if title:
            data["title"] = title
        metadata = as_dict(state.get("metadata"))
        code = metadata.get("exit")
        if isinstance(code, int) and not isinstance(code, bool):
            data["exit_code"] = code
        drafts.append(tool_result(ident, ok, output, **data))
        return drafts

    def _step_finish(self, part: Mapping[str, Any], main: bool) -> list[EventDraft]:
        tokens = step_tokens(as_dict(part.get("tokens")))
        cost = as_float(part.get("cost"))
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
        drafts: list[EventDraft] = []
        usage = self.usage.draft()
        if usage is not None:
            drafts.append(usage)
        reason = as_str(part.get("reason"))
        if main and reason != "tool-calls":
            self.result_seen = True
            text = self._texts[-1] if self._texts else None
            ok = reason not in ("error", "content-filter")
            drafts.append(
                result(
                    ok,
                    text,
                    turns=self.steps,
                    duration_ms=self.elapsed_ms(),
                    stop_reason=reason,
                    session_id=self.session_id,
                    cost_usd=self.usage.cost_usd,
                )
            )
        return drafts

    def _error(self, payload: Mapping[str, Any], main: bool) -> list[EventDraft]:
        data = as_dict(payload.get("data"))
        name = as_str(payload.get("name"))
        message = as_str(data.get("message")) or name or "opencode reported an error"
        status = data.get("statusCode")
        status = status if isinstance(status, int) and not isinstance(status, bool) else None
        retryable = data.get("isRetryable")
        details: dict[str, Any] = {
            "status": status,
            "retryable": retryable if isinstance(retryable, bool) else None,
            "name": name,
        }
        url = as_str(as_dict(data.get("metadata")).get("url"))
        if url:
            details["url"] = url
        self.status = status  # this error's status (or none) is the evidence of its kind
        kind = _NAME_KINDS.get(name or "")
        if kind is None:
            kind = self.error_kind(message)
            if kind is ErrorKind.PROVIDER and retryable is True and status is None:
                kind = ErrorKind.NETWORK  # a retryable error without an HTTP status: no answer
        drafts = [self.failure(message, kind=kind, **details)]
        if main and not self.result_seen:
            self.result_seen = True
            drafts.append(
                result(
                    False,
                    message,
                    turns=self.steps,
                    duration_ms=self.elapsed_ms(),
                    session_id=self.session_id,
                    status=status,
                )
            )
        return drafts

    def _stream_error(self, fields: Mapping[str, str]) -> EventDraft:
        self.stream_errors += 1
        reason = fields.get("error.error") or fields.get("error") or "stream error"
        reason = _API_ERROR.sub("", reason)
        text = f"opencode attempt {self.stream_errors} failed: {reason}"
        return retry(text, reason, self.stream_errors, model=fields.get("modelID"))
