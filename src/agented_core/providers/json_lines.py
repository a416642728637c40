"""Parsing CLIs that print one JSON object a line (Claude stream-json, Codex ``--json`` ...).

:class:`JsonLinesParser` does what every such parser needs: it reads each stdout line as JSON
and hands objects to :meth:`JsonLinesParser.on_object`, turns anything else into a ``raw``
event, looks for rate limits in every stdout and stderr line (:func:`agented_core.ratelimit.
detect`) and never raises: a line whose handling fails is kept as ``raw``. What judging the
attempt takes (the stderr tail, failures and their kind, the "exited without a result" error,
the usage totals) it has from :class:`~agented_core.providers.AgentParser`. The ``as_*``
functions read a field of a JSON object defensively.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..models import ErrorKind, EventDraft
from ..ratelimit import Pattern, RateLimit, detect
from .attempt import AgentParser
from .drafts import rate_limit, raw
from .usage import UsageTotals

__all__ = ["JsonLinesParser", "UsageTotals", "as_dict", "as_float", "as_int", "as_list", "as_str"]

log = logging.getLogger("agented.providers")


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


class JsonLinesParser(AgentParser):
    """Base parser for CLIs printing one JSON object a line. Override :meth:`on_object`.

    ``provider``, ``account``, ``model`` and ``prices`` are :class:`AgentParser`'s.
    ``patterns`` adds plugin rate-limit patterns (``{provider: [Pattern, ...]}``);
    ``detect_limits=False`` turns detection off. ``now`` gives the time relative reset hints
    count from (tests pass a fixed clock).

    A rate limit is reported once per kind, and again only when a later line states a reset
    time the earlier one did not: a CLI retrying a 429 three times is one ``rate_limit`` event
    (its ``retry`` events say the rest).
    """

    def __init__(
        self,
        provider: str | None = None,
        *,
        account: str | None = None,
        model: str | None = None,
        prices: Mapping[str, Any] | None = None,
        patterns: Mapping[str, Sequence[Pattern]] | None = None,
        detect_limits: bool = True,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(provider, account=account, model=model, prices=prices)
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
        drafts = list(super().stderr(line))
        try:
            drafts.extend(self.limit_drafts(line))
        except Exception as exc:  # a parser never raises: the stderr event stays
            log.debug("%s parser failed on a stderr line: %r", self.provider or "json-lines", exc)
        return drafts

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

    def message_error_kind(
        self,
        message: str,
        *,
        network: bool = False,
        exit_code: int | None = 1,
        codes: Sequence[str] = (),
        rate_limits: Sequence[Mapping[str, Any]] = (),
        stderr: str | None = None,
    ) -> ErrorKind:
        """:meth:`error_kind` with what a CLI's own error ``message`` tells besides: with
        ``network`` (a connection failure the CLI reported) a network line is added to the
        stderr tail (or ``stderr``), and a limit :meth:`find_limit` sees in ``message`` counts
        as a rate limit; then judged as :meth:`AgentParser.error_kind
        <agented_core.providers.AgentParser.error_kind>` does (not by an override, so that an
        override of :meth:`error_kind` can end with this)."""
        stderr = self.stderr_tail.text if stderr is None else stderr
        if network:
            stderr += "\nnetwork error: connection failed"
        limit = self.find_limit(message)
        if limit is not None:
            rate_limits = (*rate_limits, {"kind": limit.kind.value})
        return AgentParser.error_kind(
            self, message, exit_code=exit_code, codes=codes, rate_limits=rate_limits, stderr=stderr
        )

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
