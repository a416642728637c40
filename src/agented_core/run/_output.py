"""One attempt's output: lines in, events out, and what the executor must know of them.

:class:`AttemptOutput` feeds each line to the provider's parser (a parser that raises loses
nothing: the line is kept as ``raw``), turns the attempt's usage into the execution's running
totals, stops the process when a budget is crossed or a quota is used up, and remembers the
final result, the session id, the errors and the rate limits for the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from attrs import define, field

from ..events._log import EventLog
from ..events._redaction import Redactor
from ..models import Bot, EventDraft, EventKind, Execution, Usage
from ..providers.base import LineParser, Provider
from ..providers.drafts import HEADROOM
from ._runner import ProcessRun, StopReason
from ._spend import SpendWatch

log = logging.getLogger("agented.executor")

_TEXT_KINDS = frozenset({EventKind.TEXT, EventKind.THINKING, EventKind.RAW, EventKind.STDERR})


@define
class AttemptOutput:
    """What one attempt printed, as events, and what it told about itself."""

    execution: Execution
    bot: Bot
    events: EventLog
    parser: LineParser
    provider: Provider
    base_usage: Usage
    redactor: Redactor | None = None
    spend: SpendWatch | None = None
    run: ProcessRun = field(default=None)
    usage: Usage = field(factory=Usage)
    result_ok: bool | None = None
    result_text: str | None = None
    errors: list[str] = field(factory=list)
    error_kinds: list[str] = field(factory=list)
    rate_limits: list[Any] = field(factory=list)
    stderr_tail: list[str] = field(factory=list)
    session_id: str | None = None
    headroom: dict[str, Any] | None = None  # the last usage window the CLI reported
    printed: int = 0  # events made from the output so far
    tool_calls: int = 0
    file_changes: int = 0
    # the kind the first part of the current long line got, for its later parts (per stream)
    _part_kind: dict[bool, str] = field(factory=dict)

    def line(self, line: str, continued: bool, is_stderr: bool) -> None:
        """Events for one output line (a later part of a split line keeps its first's kind)."""
        state = self
        plain = EventKind.STDERR if is_stderr else EventKind.RAW
        if continued:
            kind = state._part_kind.get(is_stderr, plain)
            drafts: Sequence[EventDraft] = (EventDraft(kind, line, {"continued": True}),)
        else:
            try:
                drafts = state.parser.stderr(line) if is_stderr else state.parser.stdout(line)
            except Exception as exc:  # a parser must not raise; keep the line anyway
                log.warning("parser of %s raised on a line: %s", state.provider.name, exc)
                drafts = (EventDraft(plain, line),)
            last = drafts[-1].kind if drafts else plain
            # a text-like first part: its later parts are more of that text; anything else
            # (a structured event) cannot be continued, so those parts stay raw
            state._part_kind[is_stderr] = last if last in _TEXT_KINDS else plain
        if is_stderr:
            state.stderr_tail.append(line[:2000])
            del state.stderr_tail[:-50]
        self.append(drafts)

    def _clean(self, text: str) -> str:
        """Text kept on the execution record: secrets redacted like the events."""
        return (self.redactor.text(text) or "") if self.redactor else text

    def append(self, drafts: Sequence[EventDraft]) -> None:
        """Note what the drafts tell, make them execution events, act on budgets and quotas."""
        if not drafts:
            return
        state, execution, bot, run = self, self.execution, self.bot, self.run
        out: list[EventDraft] = []
        over_budget: str | None = None
        stop_for_limit = False
        for draft in drafts:
            kind = draft.kind
            if kind == EventKind.USAGE:
                draft = self._usage(draft)
                over_budget = over_budget or self._over_budget(bot, execution.usage)
                if self.spend is not None:
                    over_budget = over_budget or self.spend.over(state.usage.cost_usd)
            elif kind == EventKind.RESULT:
                ok = draft.data.get("ok")
                state.result_ok = bool(ok) if ok is not None else True
                text = draft.data.get("text", draft.text)
                state.result_text = self._clean(text) if isinstance(text, str) else None
                run.note_result()
            elif kind == EventKind.TOOL_CALL:
                state.tool_calls += 1
            elif kind == EventKind.FILE_CHANGE:
                state.file_changes += 1
            elif kind == EventKind.SESSION:
                sid = draft.data.get("session_id")
                if isinstance(sid, str):
                    state.session_id = sid
                    execution.session_id = sid
            elif kind == EventKind.ERROR:
                state.errors.append(self._clean(str(draft.data.get("message", draft.text or ""))))
                if draft.data.get("kind"):
                    state.error_kinds.append(str(draft.data["kind"]))
            elif kind == HEADROOM:
                state.headroom = dict(draft.data)
            elif kind == EventKind.RATE_LIMIT:
                data = dict(draft.data)
                data.setdefault("provider", execution.provider)
                data["account"] = execution.account
                quota = data.get("kind") == "quota"
                data.setdefault("action", "stop" if quota else "none")
                draft = EventDraft(kind, draft.text, data)
                state.rate_limits.append(data)
                if quota:
                    stop_for_limit = True
            out.append(draft)
        self.events.append(execution.id, execution.attempt, out)
        state.printed += len(out)
        if over_budget:
            run.stop(StopReason.BUDGET, over_budget)
        elif stop_for_limit:
            # a used-up quota: the CLI would wait or retry for hours; end the attempt now
            run.stop(StopReason.RATE_LIMIT, "usage limit reached")

    def _usage(self, draft: EventDraft) -> EventDraft:
        """Turn the attempt's usage totals into the execution's running totals."""
        state, execution = self, self.execution
        data = draft.data
        attempt = Usage(
            input_tokens=_int(data.get("input_tokens")),
            output_tokens=_int(data.get("output_tokens")),
            cache_read_tokens=_int(data.get("cache_read_tokens")),
            cache_write_tokens=_int(data.get("cache_write_tokens")),
            cost_usd=_float(data.get("cost_usd")),
        )
        state.usage = attempt
        base = state.base_usage
        total = Usage(
            input_tokens=base.input_tokens + attempt.input_tokens,
            output_tokens=base.output_tokens + attempt.output_tokens,
            cache_read_tokens=base.cache_read_tokens + attempt.cache_read_tokens,
            cache_write_tokens=base.cache_write_tokens + attempt.cache_write_tokens,
            cost_usd=(
                None
                if attempt.cost_usd is None and base.cost_usd is None
                else (base.cost_usd or 0.0) + (attempt.cost_usd or 0.0)
            ),
        )
        execution.usage = total
        return EventDraft(EventKind.USAGE, draft.text, usage_fields(total))

    @staticmethod
    def _over_budget(bot: Bot, usage: Usage) -> str | None:
        if bot.max_cost_usd is not None and usage.cost_usd is not None:
            if usage.cost_usd > bot.max_cost_usd:
                return f"cost ${usage.cost_usd:.4f} is over the budget of ${bot.max_cost_usd:.4f}"
        if bot.max_tokens is not None and usage.total_tokens > bot.max_tokens:
            return f"{usage.total_tokens} tokens is over the budget of {bot.max_tokens}"
        return None


def usage_fields(usage: Usage) -> dict[str, Any]:
    """A :class:`Usage` as the data of a ``usage`` event."""
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cost_usd": usage.cost_usd,
    }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
