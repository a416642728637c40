"""The value objects of rate-limit detection: a limit's kind, a found limit, a pattern."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import datetime

from attrs import field, frozen


class LimitKind(enum.StrEnum):
    """What kind of limit a CLI hit, which says what to do about it."""

    QUOTA = "quota"
    """A usage window is used up (5-hour, daily, weekly, monthly, billing): wait for the reset
    or switch account."""

    RATE = "rate"
    """A short (per-minute) rate limit, typically an HTTP 429: retry soon."""

    OVERLOADED = "overloaded"
    """The API is busy (529 / 503): retry the same account with backoff."""

    NOTICE = "notice"
    """A limit was reached or is near but the CLI carried on (e.g. it switched models itself):
    record it, act on nothing."""


@frozen
class RateLimit:
    """A rate limit found in a CLI's output.

    ``reset_at`` is when the limit lifts (aware, UTC), if the output said so; an absolute time
    already past is kept as stated. ``retry_after`` is the wait in seconds when the output gave
    a relative wait (``try again in 3s``, ``retry-after: 3``, a CLI's own retry delay), else
    ``None``. ``matched`` is the text that matched.
    """

    provider: str | None
    kind: LimitKind
    reset_at: datetime | None
    matched: str
    retry_after: float | None = None


def _compile(value: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    return re.compile(value, re.IGNORECASE)


def _keywords(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    return tuple(v.lower() for v in values)


@frozen
class Pattern:
    """One way a CLI says it hit a limit: a regular expression and the kind it means.

    ``regex`` may be given as a string, compiled case-insensitively, or as a compiled pattern,
    used as it is. ``name`` labels the pattern (for tests and debugging). ``keywords`` lets
    :func:`~agented_core.ratelimit.detect` skip the pattern cheaply: when given, the pattern is
    only searched in text that contains one of them (compared in lower case). A pattern without
    keywords is searched in every line, so keep such patterns cheap.

    Example for a plugin::

        Pattern(r"\\bslow down, you are being throttled\\b", LimitKind.RATE,
                keywords=("throttled",))
    """

    regex: re.Pattern[str] = field(converter=_compile)
    kind: LimitKind = field(converter=LimitKind)
    name: str = ""
    keywords: tuple[str, ...] = field(default=(), converter=_keywords)
