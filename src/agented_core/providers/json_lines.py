"""Parsing CLIs that print one JSON object a line (Claude stream-json, Codex ``--json`` ...).

:class:`JsonLinesParser` does what every such parser needs: it reads each stdout line as JSON
and hands objects to :meth:`JsonLinesParser.on_object`, turns anything else into a ``raw``
event, looks for rate limits in every stdout and stderr line (:func:`agented_core.ratelimit.
detect`) and never raises: a line whose handling fails is kept as ``raw``. :class:`UsageTotals`
keeps an attempt's running token totals and cost, which is what ``usage`` events carry. The
functions :func:`raw`, :func:`error` and :func:`rate_limit` build the common events.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..models import ErrorKind, EventDraft, EventKind
from ..ratelimit import Pattern, RateLimit, detect
from .base import LineParser

log = logging.getLogger("agented.providers")


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


def as_int(value: Any) -> int:
    """``value`` if it is a whole number (not a bool), else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return 0


def as_float(value: Any) -> float | None:
    """``value`` as a float if it is a number (not a bool), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def as_str(value: Any) -> str | None:
    """``value`` if it is a string, else ``None``."""
    return value if isinstance(value, str) else None


def as_dict(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty mapping."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


class UsageTotals:
    """An attempt's running token totals and cost, for ``usage`` events.

    CLIs report usage in different ways; each has a method here:

    - per API call or message, figures that may be revised while it streams:
      :meth:`record` with a key (the message id) replaces that message's figures;
    - per step, figures to add up: :meth:`add`;
    - for the whole run at its end: :meth:`replace` sets the totals outright.

    :meth:`draft` returns a ``usage`` event whenever the totals changed since the last one.
    The executor turns these attempt totals into the execution's running totals.
    """

    def __init__(self) -> None:
        self._parts: dict[str, tuple[int, int, int, int]] = {}
        self._added = (0, 0, 0, 0)
        self.cost_usd: float | None = None
        self._last: dict[str, Any] | None = None

    def record(
        self,
        key: str,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> None:
        """The figures of one part (an API call, a message) so far; replaces earlier ones."""
        self._parts[key] = (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)

    def add(
        self,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cost_usd: float | None = None,
    ) -> None:
        """Add a step's figures (and cost) to the totals."""
        a = self._added
        self._added = (
            a[0] + input_tokens,
            a[1] + output_tokens,
            a[2] + cache_read_tokens,
            a[3] + cache_write_tokens,
        )
        if cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost_usd

    def replace(
        self,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cost_usd: float | None = None,
    ) -> None:
        """Set the totals outright (a CLI's own final figures for the whole run)."""
        self._parts.clear()
        self._added = (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
        if cost_usd is not None:
            self.cost_usd = cost_usd

    @property
    def totals(self) -> dict[str, Any]:
        """``{input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd}``."""
        sums = list(self._added)
        for part in self._parts.values():
            for i, value in enumerate(part):
                sums[i] += value
        out: dict[str, Any] = dict(zip(_FIELDS, sums, strict=True))
        out["cost_usd"] = self.cost_usd
        return out

    def draft(self) -> EventDraft | None:
        """A ``usage`` event with the totals, or ``None`` when they did not change."""
        totals = self.totals
        if totals == self._last:
            return None
        self._last = totals
        return EventDraft(EventKind.USAGE, data=totals)


class JsonLinesParser(LineParser):
    """Base parser for CLIs printing one JSON object a line. Override :meth:`on_object`.

    ``provider`` names the CLI for rate-limit detection (its pattern table) and in
    ``rate_limit`` events; ``account`` is the attempt's account. ``patterns`` adds plugin
    patterns (``{provider: [Pattern, ...]}``); ``detect_limits=False`` turns detection off.
    ``now`` gives the time relative reset hints count from (tests pass a fixed clock).

    A rate limit is reported once per kind, and again only when a later line states a reset
    time the earlier one did not: a CLI retrying a 429 three times is one ``rate_limit`` event
    (its ``retry`` events say the rest).
    """

    def __init__(
        self,
        provider: str | None = None,
        *,
        account: str | None = None,
        patterns: Mapping[str, Sequence[Pattern]] | None = None,
        detect_limits: bool = True,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.provider = provider
        self.account = account
        self.patterns = patterns
        self.detect_limits = detect_limits
        self.now = now
        self._limits_seen: dict[str, bool] = {}
        self.failed_lines = 0
        """Lines whose handling raised (kept as ``raw``): a parser bug or a new line shape."""

    # the LineParser interface
    def stdout(self, line: str) -> Sequence[EventDraft]:
        try:
            stripped = line.strip()
            if not stripped:
                return ()
            obj = _loads(stripped)
            if isinstance(obj, dict):
                drafts = self.limit_drafts(line, **self.limit_details(obj))
                drafts.extend(self.on_object(obj, line))
            else:
                drafts = self.limit_drafts(line)
                drafts.extend(self.on_other(line))
            return drafts
        except Exception as exc:  # a parser never raises: keep the line
            self.failed_lines += 1
            log.debug("%s parser failed on a line: %r", self.provider or "json-lines", exc)
            return (raw(line),)

    def stderr(self, line: str) -> Sequence[EventDraft]:
        try:
            return [EventDraft(EventKind.STDERR, text=line), *self.limit_drafts(line)]
        except Exception:
            return (EventDraft(EventKind.STDERR, text=line),)

    # to override
    def on_object(self, obj: dict[str, Any], line: str) -> Sequence[EventDraft]:
        """Events for one JSON object of stdout. The default keeps it as ``raw``.

        May raise: the line then becomes a ``raw`` event (and nothing else of it is kept).
        """
        return (raw(line),)

    def on_other(self, line: str) -> Sequence[EventDraft]:
        """Events for a stdout line that is not a JSON object. The default: ``raw``."""
        return (raw(line),)

    def limit_details(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Extra data for a ``rate_limit`` event found in ``obj`` (e.g. the limit's window)."""
        return {}

    # rate limits
    def find_limit(self, line: str) -> RateLimit | None:
        """The rate limit ``line`` reports (:func:`~agented_core.ratelimit.detect`), if any."""
        if not self.detect_limits:
            return None
        now = self.now() if self.now is not None else None
        return detect(line, provider=self.provider, now=now, patterns=self.patterns)

    def limit_drafts(self, line: str, **data: Any) -> list[EventDraft]:
        """A ``rate_limit`` event for ``line`` when it reports a limit not reported yet."""
        limit = self.find_limit(line)
        if limit is None:
            return []
        kind = limit.kind.value
        has_reset = limit.reset_at is not None
        seen = self._limits_seen.get(kind)
        if seen is not None and (seen or not has_reset):
            return []
        self._limits_seen[kind] = has_reset
        return [rate_limit(limit, account=self.account, **data)]


def _loads(text: str) -> Any:
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
