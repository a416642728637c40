"""``detect``: is this line of a CLI's output a rate limit, of which kind, until when?"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from ._patterns import builtin_patterns, has_keyword
from ._reset import Reset, find_reset, resolve_now, resolve_zone
from ._structured import Finding, examine
from ._types import LimitKind, Pattern, RateLimit

SHORT_WAIT = 300.0
"""A "quota" whose stated wait is at most this many seconds is a per-minute limit: ``rate``."""

_MATCHED_MAX = 500


def _extra(
    patterns: Mapping[str, Sequence[Pattern]] | None, provider: str | None, low: str
) -> tuple[Pattern, ...]:
    """The plugin patterns that apply: the provider's, then ``"*"``; all of them for ``None``."""
    if not patterns:
        return ()
    if provider is None:
        groups = [v for k, v in patterns.items() if k != "*"]
    else:
        name = provider.strip().lower()
        groups = [v for k, v in patterns.items() if k.strip().lower() == name]
    groups.append(patterns.get("*", ()))
    chosen: list[Pattern] = []
    for group in groups:
        for pattern in group:
            if not isinstance(pattern, Pattern):
                raise TypeError(f"rate-limit patterns must be Pattern objects, not {pattern!r}")
            if not pattern.keywords or any(k in low for k in pattern.keywords):
                chosen.append(pattern)
    return tuple(chosen)


def _search(
    patterns: Sequence[Pattern], texts: Sequence[str]
) -> tuple[int, Pattern, re.Match[str]] | None:
    for index, pattern in enumerate(patterns):
        for text in texts:
            m = pattern.regex.search(text)
            if m is not None:
                return index, pattern, m
    return None


def _structured(stripped: str) -> Finding | None:
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        obj = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    return examine(obj) if isinstance(obj, dict) else None


def _shorten(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MATCHED_MAX else text[: _MATCHED_MAX - 1] + "…"


def detect(
    text: str,
    provider: str | None = None,
    now: datetime | None = None,
    tz: str | tzinfo | None = None,
    patterns: Mapping[str, Sequence[Pattern]] | None = None,
) -> RateLimit | None:
    """The rate limit that ``text`` (one line, or a block, of a CLI's output) reports, if any.

    ``provider`` picks the pattern table (``claude``, ``codex``, ``gemini``, ``opencode``); any
    other name uses the generic patterns only, and ``None`` uses every table. A JSON line of a
    known machine-readable form is read by its fields (see :mod:`._structured`), so an assistant
    message or a tool's output that merely talks about rate limits is not one.

    ``patterns`` adds patterns by provider name (``"*"`` for every provider), searched before
    the built-ins; the first that matches wins. Built-in patterns are searched most specific
    kind first (notice, quota, overloaded, rate). A built-in ``quota`` whose stated wait is
    relative and at most :data:`SHORT_WAIT` seconds is reported as ``rate`` (a per-minute
    quota, as Gemini's ``Quota exceeded ... Please retry in 25s``).

    The reset time is read from the text (see :func:`parse_reset`): ``now`` (default: the
    current time) anchors relative waits and clock times, and clock times without a zone are
    in ``tz`` (an IANA name or a ``tzinfo``; default UTC; an unknown name raises ``ValueError``
    once something matched). ``RateLimit.provider`` is the ``provider`` given.

    Cheap on ordinary lines: text that contains none of a few keywords is rejected before any
    pattern runs. Never raises on any ``text``.
    """
    low = text.lower()
    builtin_ok = has_keyword(low)
    extra = _extra(patterns, provider, low)
    if not builtin_ok and not extra:
        return None
    ordered = (extra + builtin_patterns(provider)) if builtin_ok else extra

    stripped = text.strip()
    finding = _structured(stripped)
    if finding is not None:
        if finding.empty:
            return None
        hit = _search(ordered, finding.texts)
        if hit is None and finding.kind is None:
            return None
        sources = finding.hints + finding.texts
    else:
        hit = _search(ordered, (text,))
        if hit is None:
            return None
        sources = (text,)

    zone = resolve_zone(tz)
    moment = resolve_now(now, zone)
    reset: Reset | None = None
    for source in sources:
        reset = find_reset(source, moment, zone)
        if reset is not None:
            break

    if hit is not None:
        index, pattern, m = hit
        kind = pattern.kind
        matched = _shorten(m[0])
        builtin = index >= len(extra)
        if (
            builtin
            and kind is LimitKind.QUOTA
            and reset is not None
            and reset.wait is not None
            and reset.wait <= SHORT_WAIT
        ):
            kind = LimitKind.RATE
    else:
        assert finding is not None and finding.kind is not None
        kind = finding.kind
        matched = _shorten(stripped)

    return RateLimit(
        provider=provider,
        kind=kind,
        reset_at=reset.at if reset else None,
        matched=matched,
        retry_after=reset.wait if reset else None,
    )
