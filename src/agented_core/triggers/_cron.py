"""Cron expressions read in an IANA timezone, correct across daylight-saving changes.

An expression has five fields (minute hour day month weekday, croniter's syntax: ranges, steps,
names, ``L``, ``#``) or is one of ``@yearly @annually @monthly @weekly @daily @midnight
@hourly``. It is matched against local *wall-clock* times of the timezone:

- Repeated hour (clocks go back): a wall time that occurs twice fires once, at its first
  occurrence. So ``0 * * * *`` has one hour without a fire on that night, and ``30 1 * * *``
  in a zone repeating 01:00-02:00 fires once.
- Skipped hour (clocks go forward): every wall time that exists fires. Wall times inside the
  gap do not exist; they fire once, at the instant the gap ends (``30 2 * * *`` in
  Europe/Berlin fires at 03:00 CEST on the last Sunday of March), and not at all if that
  instant is already a fire (``0 * * * *`` fires once at 03:00, not twice).

Fire times are aware datetimes in UTC; they strictly increase and never repeat.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterError

__all__ = ["CronSchedule", "jitter_for"]

_ALIASES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_PROBE = datetime(2000, 1, 1)


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, not naive {moment.isoformat()}")
    return moment.astimezone(UTC)


class CronSchedule:
    """A cron expression in a timezone. Raises :class:`ValueError` for either being bad."""

    __slots__ = ("expr", "timezone", "tz")

    def __init__(self, expr: str, timezone: str) -> None:
        if not isinstance(expr, str) or not isinstance(timezone, str):
            raise ValueError(
                f"cron expression and timezone must be strings: {expr!r}, {timezone!r}"
            )
        self.expr = " ".join(expr.split())
        self.timezone = timezone
        fields = self.expr.split(" ")
        if self.expr.lower() in _ALIASES:
            self.expr = self.expr.lower()
        elif len(fields) != 5 or self.expr.startswith("@"):
            raise ValueError(
                f"cron expression {expr!r} needs 5 fields (minute hour day month weekday) "
                f"or one of {' '.join(sorted(_ALIASES))}"
            )
        try:
            croniter(self.expr, _PROBE).get_next(datetime)
        except (CroniterError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"cron expression {expr!r} is invalid or never fires: {exc}") from None
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(
                f"unknown timezone {timezone!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'"
            ) from None

    def __repr__(self) -> str:
        return f"CronSchedule({self.expr!r}, {self.timezone!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CronSchedule):
            return NotImplemented
        return (self.expr, self.timezone) == (other.expr, other.timezone)

    def __hash__(self) -> int:
        return hash((self.expr, self.timezone))

    def _instant(self, wall: datetime) -> datetime:
        """The UTC instant a naive local wall time fires at (see the module docstring)."""
        first = wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        if first.astimezone(self.tz).replace(tzinfo=None) == wall:
            return first
        # In a gap: bisect (in whole seconds, as tz transitions are) for the instant it ends.
        lo = int(wall.replace(tzinfo=self.tz, fold=1).timestamp())
        hi, after = math.ceil(first.timestamp()), first.astimezone(self.tz).utcoffset()
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if datetime.fromtimestamp(mid, self.tz).utcoffset() == after:
                hi = mid
            else:
                lo = mid
        return datetime.fromtimestamp(hi, UTC)

    def _fires(self, after: datetime) -> Iterator[datetime]:
        after = _aware(after, "after")
        start = after.astimezone(self.tz).replace(tzinfo=None)
        walls = croniter(self.expr, start)
        last = after
        while True:
            try:
                wall = walls.get_next(datetime)
            except CroniterError:
                return
            instant = self._instant(wall)
            if instant > last:
                last = instant
                yield instant

    def next_fire(self, after: datetime) -> datetime:
        """The first fire strictly after ``after`` (an aware datetime), in UTC.

        Raises :class:`ValueError` if there is none (only near the end of the calendar).
        """
        fire = next(self._fires(after), None)
        if fire is None:
            raise ValueError(f"{self!r} has no fire after {after.isoformat()}")
        return fire

    def fires_between(
        self, start: datetime, end: datetime, *, limit: int | None = None
    ) -> list[datetime]:
        """Fires ``f`` with ``start < f <= end``, oldest first (at most ``limit`` of them)."""
        end = _aware(end, "end")
        fires: list[datetime] = []
        for fire in self._fires(start):
            if fire > end or (limit is not None and len(fires) >= limit):
                break
            fires.append(fire)
        return fires

    def last_fire(self, at_or_before: datetime) -> datetime | None:
        """The latest fire at or before ``at_or_before``, or ``None`` if there is none."""
        moment = _aware(at_or_before, "at_or_before")
        local = moment.astimezone(self.tz)
        wall = local.replace(tzinfo=None)
        # In a repeated hour, wall times after ``wall`` but in the first pass fired earlier.
        fold_width = local.replace(fold=0).utcoffset() or timedelta()
        fold_width -= local.replace(fold=1).utcoffset() or timedelta()
        walls = croniter(self.expr, wall + max(fold_width, timedelta()) + timedelta(microseconds=1))
        while True:
            try:
                candidate = walls.get_prev(datetime)
            except CroniterError:
                return None
            instant = self._instant(candidate)
            if instant <= moment:
                return instant


def jitter_for(key: str, fire: datetime, max_seconds: float) -> float:
    """A delay in ``[0, max_seconds)`` that every process computes alike for ``key`` and ``fire``.

    It is derived from a SHA-256 of the key and the fire's UTC time, so processes sharing a
    store agree on it without talking. ``max_seconds`` must be finite and not negative.
    """
    if not math.isfinite(max_seconds) or max_seconds < 0:
        raise ValueError(f"max_seconds must be a finite number >= 0, not {max_seconds}")
    if max_seconds == 0:
        return 0.0
    stamp = _aware(fire, "fire").isoformat()
    digest = hashlib.sha256(f"{key}\x00{stamp}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * max_seconds
