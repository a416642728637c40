"""Parsing CLIs that print one JSON object a line (Claude stream-json, Codex ``--json`` ...).

:class:`JsonLinesParser` does what every such parser needs: it reads each stdout line as JSON
and hands objects to :meth:`JsonLinesParser.on_object`, turns anything else into a ``raw``
event, looks for rate limits in every stdout and stderr line (:func:`agented_core.ratelimit.
detect`) and never raises: a line whose handling fails is kept as ``raw``. :class:`UsageTotals`
keeps an attempt's running token totals and cost, which is what ``usage`` events carry.

The parser also keeps what every agent CLI's parser needs to judge an attempt: the stderr tail
(:class:`~agented_core.providers.StderrTail`), whether a result came, the errors reported, the
last HTTP status, and it classifies an error from that evidence (:meth:`JsonLinesParser.
error_kind`). When the CLI exits by itself with neither a result nor an error, :meth:`finish`
says so ("NAME exited with code N without a result: LAST STDERR LINE"). The events themselves
are built with :mod:`agented_core.providers.drafts`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from ..models import ErrorKind, EventDraft, EventKind
from ..ratelimit import Pattern, RateLimit, detect
from .base import LineParser, Outcome, classify_outcome
from .drafts import error, rate_limit, raw
from .stderr import StderrTail

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

    ``provider`` names the CLI for rate-limit detection (its pattern table), in ``rate_limit``
    events and in messages; ``account`` is the attempt's account. ``model`` is the model asked
    for and ``prices`` the ``[prices]`` table, for a CLI that reports tokens but no cost
    (:func:`~agented_core.providers.pricing.cost_of`). ``patterns`` adds plugin patterns
    (``{provider: [Pattern, ...]}``); ``detect_limits=False`` turns detection off. ``now``
    gives the time relative reset hints count from (tests pass a fixed clock).

    A rate limit is reported once per kind, and again only when a later line states a reset
    time the earlier one did not: a CLI retrying a 429 three times is one ``rate_limit`` event
    (its ``retry`` events say the rest).

    A subclass sets :attr:`result_seen` when the CLI prints its final result and reports the
    failures it reads with :meth:`failure` (which counts them in :attr:`errors`); with
    :attr:`requires_result`, the default :meth:`finish` then needs nothing more.
    """

    requires_result: ClassVar[bool] = False
    """True when the CLI always ends with a final result line (as its provider's
    :attr:`~agented_core.providers.CLIProvider.requires_result`): :meth:`finish` then reports
    an attempt that ended without one."""

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
        self.provider = provider
        self.account = account
        self.model = model
        self.prices: Mapping[str, Any] = prices or {}
        self.patterns = patterns
        self.detect_limits = detect_limits
        self.now = now
        self._limits_seen: dict[str, bool] = {}
        self.failed_lines = 0
        """Lines whose handling raised (kept as ``raw``): a parser bug or a new line shape."""
        self.usage = UsageTotals()
        """The attempt's running usage: its :meth:`UsageTotals.draft` is the ``usage`` event."""
        self.session_id: str | None = None
        """The CLI's session id, once it printed one."""
        self.result_seen = False
        """Whether the CLI printed its final result (set by the subclass)."""
        self.errors = 0
        """How many failures the CLI reported (:meth:`failure` counts them)."""
        self.status: int | None = None
        """The last HTTP status the CLI reported: evidence for :meth:`error_kind`."""
        self.stderr_tail = StderrTail()
        """The last stderr lines (:meth:`tail_line` picks what is kept of each)."""
        self.started = time.monotonic()

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
        with contextlib.suppress(Exception):  # a parser never raises
            self.stderr_tail.add(self.tail_line(line))
        try:
            return [EventDraft(EventKind.STDERR, text=line), *self.limit_drafts(line)]
        except Exception:
            return (EventDraft(EventKind.STDERR, text=line),)

    def finish(self, exit_code: int | None) -> Sequence[EventDraft]:
        """With :attr:`requires_result`, :meth:`no_result`: an error when the CLI ended without
        a result and without saying why. Otherwise nothing."""
        return self.no_result(exit_code) if self.requires_result else ()

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

    def tail_line(self, line: str) -> str | None:
        """What :attr:`stderr_tail` keeps of a stderr line (``None``: nothing). The default
        keeps the line; override to drop noise (stack frames) or colour codes."""
        return line

    # the outcome
    def error_kind(
        self,
        message: str,
        *,
        exit_code: int | None = 1,
        codes: Sequence[str] = (),
        rate_limits: Sequence[Mapping[str, Any]] = (),
        stderr: str | None = None,
    ) -> ErrorKind:
        """The kind of a failure the CLI reported, by :func:`~agented_core.providers.
        classify_outcome`: its ``message`` and machine-readable ``codes``, the last HTTP
        :attr:`status`, the stderr tail (or ``stderr``), ``rate_limits`` and the exit code.
        ``provider`` when nothing names a kind. Override to weigh evidence of the CLI's own."""
        outcome = Outcome(
            exit_code=exit_code,
            result_ok=False,
            errors=(message,),
            rate_limits=tuple(rate_limits),
            stderr=self.stderr_tail.text if stderr is None else stderr,
            extra={
                "error_codes": list(codes),
                "status_codes": [self.status] if self.status is not None else [],
            },
        )
        return classify_outcome(outcome, self.provider) or ErrorKind.PROVIDER

    def failure(
        self,
        message: str,
        *,
        kind: ErrorKind | str | None = None,
        codes: Sequence[str] = (),
        **data: Any,
    ) -> EventDraft:
        """An ``error`` event for a failure the CLI reported, counted in :attr:`errors`.

        Its kind is ``kind``, else the one :meth:`error_kind` reads from ``message``, ``codes``
        and the attempt's evidence. ``data`` goes into the event. A notice the CLI may recover
        from (it retries) is a plain :func:`~agented_core.providers.error`, not counted.
        """
        self.errors += 1
        if kind is None:
            kind = self.error_kind(message, codes=codes)
        return error(kind, message, **data)

    def no_result(
        self, exit_code: int | None, ended: str = "without a result"
    ) -> tuple[EventDraft, ...]:
        """An ``error`` event when the CLI exited by itself with neither a result nor a
        reported failure: "NAME exited with code N without a result: LAST STDERR LINE", its
        kind from the message, the stderr tail and the exit code. Nothing when a result or a
        failure came, or when agented ended the process (``exit_code`` ``None`` or negative: a
        timeout, a cancel, whose reason agented records itself)."""
        if self.result_seen or self.errors or exit_code is None or exit_code < 0:
            return ()
        last = self.stderr_tail.last
        said = f": {last}" if last else ""
        message = f"{self.provider or 'the CLI'} exited with code {exit_code} {ended}{said}"
        self.errors += 1
        kind = self.error_kind(message, exit_code=exit_code)
        return (error(kind, message, exit_code=exit_code),)

    def elapsed_ms(self) -> int:
        """Milliseconds since the parser was made (the attempt's start), for a CLI whose result
        gives no duration."""
        return round((time.monotonic() - self.started) * 1000)

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
