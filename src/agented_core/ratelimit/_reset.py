"""Reset times: when a limit lifts, as a CLI wrote it, turned into an aware datetime.

Forms understood (case-insensitive):

- epoch seconds or milliseconds (``...|1760000000``, ``"resetsAt": 1760000000``);
- clock times, 12- or 24-hour, with an optional zone: ``5am``, ``9:30 AM``, ``11:30``,
  ``3pm (Europe/Berlin)``, ``10:57 PM GMT-3``, ``00:00 UTC``, ``noon``, ``midnight``;
- a weekday and a clock time: ``Mon 9am``;
- dates, with or without a year and a time: ``Sep 15 at 7pm``, ``Jul 5th, 2026 8:19 PM``,
  ``10 de jul. de 2026, 11:52`` (English, Portuguese and Spanish month names),
  ``2026-04-01 at 00:00 UTC``, ISO timestamps, HTTP dates (``Wed, 21 Oct 2026 07:28:00 GMT``);
- relative waits: ``2 days 4 hours 3 minutes``, ``27.5s``, ``12 min``, ``915ms``,
  ``21h39m57s``, ``an hour``;
- ``retry-after`` seconds and other header-like keys (``retry_delay_ms``,
  ``resets_in_seconds``, ``x-ratelimit-reset-requests``).

Rules: a clock time without a zone is in the default zone; a clock time already past today
means tomorrow; a date without a year means its next occurrence (today counts); an absolute
time already past is returned as stated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import frozen


@frozen
class Reset:
    """A parsed reset: the instant (aware, UTC) and, for a relative wait, the wait in seconds."""

    at: datetime
    wait: float | None = None


# ---------------------------------------------------------------------------------------------
# Time zones

_ABBREVIATIONS: Mapping[str, int] = {  # minutes east of UTC; US meanings for the ambiguous ones
    "UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60, "CET": 60,
    "CEST": 120, "EET": 120, "EEST": 180, "MSK": 180, "JST": 540, "KST": 540, "HKT": 480,
    "SGT": 480, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780, "EST": -300, "EDT": -240,
    "CST": -360, "CDT": -300, "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
    "AKST": -540, "AKDT": -480, "HST": -600, "BRT": -180, "ART": -180,
}  # fmt: skip
_ABBR_RE = "|".join(sorted(_ABBREVIATIONS, key=len, reverse=True))
_OFFSET = re.compile(r"(?:UTC|GMT|UT)?\s*([+\-\u2212])\s*(\d{1,2})(?::?(\d{2}))?", re.I)
_IANA = re.compile(r"[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+){1,2}|UTC|GMT")


def zone_named(name: str) -> tzinfo | None:
    """The zone a name stands for: an IANA name, an abbreviation, or an offset like ``GMT-3``.

    ``GMT-3`` means three hours *behind* UTC, as people (and JavaScript) write it.
    """
    text = name.strip()
    minutes = _ABBREVIATIONS.get(text.upper())
    if minutes is not None:
        return timezone(timedelta(minutes=minutes)) if minutes else UTC
    match = _OFFSET.fullmatch(text)
    if match:
        sign = -1 if match[1] in "-\u2212" else 1
        hours, mins = int(match[2]), int(match[3] or 0)
        if hours > 18 or mins > 59:
            return None
        offset = sign * timedelta(hours=hours, minutes=mins)
        return timezone(offset) if offset else UTC
    if _IANA.fullmatch(text):
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            return None
    return None


def resolve_zone(tz: str | tzinfo | None) -> tzinfo:
    """The default zone for clock times: ``tz`` as a ``tzinfo`` (UTC when ``None``)."""
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    if isinstance(tz, str):
        zone = zone_named(tz)
        if zone is None:
            raise ValueError(f"unknown time zone {tz!r}")
        return zone
    raise TypeError(f"tz must be a zone name or a tzinfo, not {type(tz).__name__}")


def resolve_now(now: datetime | None, zone: tzinfo) -> datetime:
    """``now`` as an aware datetime: the current time when ``None``; naive means in ``zone``."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        return now.replace(tzinfo=zone)
    return now


# ---------------------------------------------------------------------------------------------
# Building blocks of the expressions


def _table(groups: Iterable[tuple[float, str]]) -> Mapping[str, float]:
    """A read-only name -> value table from (value, "name name ...") groups."""
    return MappingProxyType({name: value for value, names in groups for name in names.split()})


_MONTHS = _table(
    enumerate(
        (
            "jan january janeiro enero ene",
            "feb february fev fevereiro febrero",
            "mar march março marco marzo",
            "apr april abr abril",
            "may mai maio mayo",
            "jun june junho junio",
            "jul july julho julio",
            "aug august ago agosto",
            "sep sept september set setembro septiembre",
            "oct october out outubro octubre",
            "nov november novembro noviembre",
            "dec december dez dezembro dic diciembre",
        ),
        start=1,
    )
)
_MON = "(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")(?![a-zà-ÿ])"

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WD = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|mon|tues|tue|wed|thurs|thur|thu|fri|sat|sun)(?![a-z])"
)

_CLOCK = (
    r"(?:(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?(?!\d)"
    r"(?:\s*(?P<ap>[ap])\.?\s?m\b\.?)?"
    r"|(?P<h2>\d{1,2})\s*(?P<ap2>[ap])\.?\s?m\b\.?"
    r"|(?P<word>noon|midnight)\b)"
)
_ZONE = (
    r"(?:\s*\(\s*(?P<zp>[^()\n]{1,40}?)\s*\)"
    r"|(?P<zo>[+\-]\d{2}:?\d{2}(?!\d)|(?-i:Z)(?![A-Za-z]))"
    r"|\s*(?P<za>(?-i:UTC|GMT|UT)\s*[+\-\u2212]\s*\d{1,2}(?::?\d{2})?(?!\d)"
    r"|(?-i:" + _ABBR_RE + r")(?![A-Za-z])))?"
)
_AT = r"(?:at|@|às|as|a\s+las|um|à)"
_SEP_TIME = r"(?:\s*,?\s*(?:" + _AT + r"\s*)?" + _CLOCK + _ZONE + r")?"

_RE_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?![\d])"
    r"(?:(?:T|\s*,?\s*(?:at\s+)?)" + _CLOCK + _ZONE + r")?",
    re.I,
)
_RE_MDY = re.compile(
    r"(?:" + _WD + r"\.?,?\s+)?(?P<mon>" + _MON + r")\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?!\d)"
    r"(?:,?\s+(?P<y>\d{4})(?![\d:]))?" + _SEP_TIME,
    re.I,
)
_RE_DMY = re.compile(
    r"(?:" + _WD + r"\.?,?\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th|º|ª)?\.?\s+(?:de\s+|of\s+)?"
    r"(?P<mon>" + _MON + r")\.?(?:,?\s+(?:de\s+)?(?P<y>\d{4})(?![\d:]))?" + _SEP_TIME,
    re.I,
)
_RE_WEEKDAY_TIME = re.compile(
    r"(?P<wd>" + _WD + r")\.?,?\s+(?:at\s+)?" + _CLOCK + _ZONE,
    re.I,
)
_RE_TIME = re.compile(_CLOCK + _ZONE, re.I)
_RE_EPOCH = re.compile(r"(?P<e>\d{13}|\d{10})(?:\.(?P<ef>\d{1,6})\d*)?(?![\d.:])")
_RE_NUMBER = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?![\d.:])")

_UNITS = _table(
    (
        (0.001, "ms msec msecs millis millisecond milliseconds"),
        (1.0, "s sec secs second seconds"),
        (60.0, "m min mins minute minutes"),
        (3600.0, "h hr hrs hour hours"),
        (86400.0, "d day days"),
        (604800.0, "w wk wks week weeks"),
    )
)
_UNIT = "(?:" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")(?![a-zà-ÿ])"
_WORD_UNIT = r"(?:millisecond|second|minute|hour|day|week)(?![a-zà-ÿ])"
# "an hour", "a minute": a word number takes a whole-word unit, so "and" is not "an d(ay)"
_PART = r"(?:\d+(?:\.\d+)?\s*" + _UNIT + r"|(?:an?|one)\s+" + _WORD_UNIT + ")"
_RE_DURATION = re.compile(_PART + r"(?:\s*,?\s*(?:and\s+)?" + _PART + r")*", re.I)
_RE_PART = re.compile(
    r"(?P<n>\d+(?:\.\d+)?)\s*(?P<u>" + _UNIT + r")|(?:an?|one)\s+(?P<w>" + _WORD_UNIT + ")",
    re.I,
)

_ANCHOR = re.compile(
    r"(?P<pipe>\|[ \t]*(?=\d{10}))"
    r"|(?P<ms>\bretry[-_]?after[-_]?ms|\bretry_?delay_?ms)[\"']?\s*[:=]\s*[\"']?"
    r"|(?P<secs>\bresets?_in_seconds|\breset_seconds|\bretry_after_seconds)[\"']?\s*[:=]\s*[\"']?"
    r"|(?P<key>\bretry[-_]?after|\bretry_?delay|\b(?:[a-z]+-)?ratelimit-(?:[a-z]+-)*reset"
    r"(?:-[a-z]+)?|\bresets?_?at|\breset_?time)[\"']?\s*[:=]\s*[\"']?"
    r"|(?P<word>\b(?:resets?|resetting)(?:\s+(?:at|on|in|after|by))?"
    r"|\b(?:try|trying|retry|retrying)\s+(?:again\s+)?(?:at|in|on|after)"
    r"|\bavailable\s+(?:again\s+)?(?:at|in|on|after)"
    r"|\bwait(?:ing)?(?:\s+for)?|\buntil)\b[\s:]*",
    re.I,
)
_CONNECTOR = re.compile(r"(?:at|on|in|after|until|by)\s+", re.I)
_TRAILER = re.compile(r"[\s.,;:!)\]…]*\Z")


# ---------------------------------------------------------------------------------------------
# Turning matches into instants


def _clock(m: re.Match[str]) -> time | None:
    """The clock time of a match, ``None`` when it has none; ``ValueError`` when invalid."""
    if m["word"]:
        return time(12) if m["word"].lower() == "noon" else time(0)
    if m["h2"]:
        hour, minute, second, micro, ampm = int(m["h2"]), 0, 0, 0, m["ap2"]
    elif m["h"]:
        hour, minute = int(m["h"]), int(m["mi"])
        second = int(m["s"] or 0)
        micro = int((m["f"] or "0")[:6].ljust(6, "0"))
        ampm = m["ap"]
    else:
        return None
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError("a 12-hour clock time needs an hour from 1 to 12")
        hour = hour % 12 + (12 if ampm.lower() == "p" else 0)
    return time(hour, minute, min(second, 59), micro)


def _zone(m: re.Match[str], default: tzinfo) -> tzinfo:
    for group in ("zp", "zo", "za"):
        token = m[group]
        if token:
            return zone_named(token) or default
    return default


def _at(day: date, clock: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone)


def _next_clock(clock: time, zone: tzinfo, now: datetime) -> datetime:
    """The next time the wall clock in ``zone`` shows ``clock`` (now counts)."""
    local = now.astimezone(zone)
    candidate = _at(local.date(), clock, zone)
    if candidate.timestamp() < now.timestamp():
        candidate = _at(local.date() + timedelta(days=1), clock, zone)
    return candidate


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next_date(month: int, day: int, today: date) -> date | None:
    """The next occurrence of a month and day (today counts); Feb 29 waits for a leap year."""
    for year in range(today.year, today.year + 9):
        candidate = _day(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _parse_dated(m: re.Match[str], now: datetime, default: tzinfo) -> Reset | None:
    clock = _clock(m)
    zone = _zone(m, default)
    if "mon" in m.re.groupindex:
        month = int(_MONTHS[m["mon"].lower()])
    else:
        month = int(m["mo"])
    day = int(m["d"])
    if m["y"]:
        found = _day(int(m["y"]), month, day)
    else:
        found = _next_date(month, day, now.astimezone(zone).date())
    if found is None:
        return None
    return Reset(_utc(_at(found, clock or time(0), zone)))


def _parse_weekday_time(m: re.Match[str], now: datetime, default: tzinfo) -> Reset | None:
    clock = _clock(m)
    if clock is None:
        return None
    zone = _zone(m, default)
    weekday = _WEEKDAYS.index(m["wd"][:3].lower())
    local = now.astimezone(zone)
    found = _at(local.date() + timedelta(days=(weekday - local.weekday()) % 7), clock, zone)
    if found.timestamp() < now.timestamp():
        found = _at(found.date() + timedelta(days=7), clock, zone)
    return Reset(_utc(found))


def _parse_time(m: re.Match[str], now: datetime, default: tzinfo) -> Reset | None:
    clock = _clock(m)
    if clock is None:
        return None
    return Reset(_utc(_next_clock(clock, _zone(m, default), now)))


def _wait(seconds: float, now: datetime) -> Reset:
    return Reset(_utc(now + timedelta(seconds=seconds)), seconds)


def _parse_duration(m: re.Match[str], now: datetime, default: tzinfo) -> Reset | None:
    total = 0.0
    for part in _RE_PART.finditer(m[0]):
        if part["w"]:
            total += _UNITS[part["w"].lower()]
        else:
            total += float(part["n"]) * _UNITS[part["u"].lower()]
    return _wait(total, now)


def _parse_epoch(m: re.Match[str], now: datetime, default: tzinfo) -> Reset | None:
    value = int(m["e"])
    if len(m["e"]) == 13:  # milliseconds, in integers: a float would lose the last digit
        seconds, millis = divmod(value, 1000)
        return Reset(datetime.fromtimestamp(seconds, UTC) + timedelta(milliseconds=millis))
    micros = int((m["ef"] or "0").ljust(6, "0"))
    return Reset(datetime.fromtimestamp(value, UTC) + timedelta(microseconds=micros))


def _parse_seconds(m: re.Match[str], now: datetime, default: tzinfo) -> Reset | None:
    return _wait(float(m["n"]), now)


def _parse_millis(m: re.Match[str], now: datetime, default: tzinfo) -> Reset | None:
    return _wait(float(m["n"]) / 1000, now)


_Handler = Callable[[re.Match[str], datetime, tzinfo], Reset | None]

_ISO = (_RE_ISO, _parse_dated)
_MDY = (_RE_MDY, _parse_dated)
_DMY = (_RE_DMY, _parse_dated)
_WDT = (_RE_WEEKDAY_TIME, _parse_weekday_time)
_DUR = (_RE_DURATION, _parse_duration)
_TIME = (_RE_TIME, _parse_time)
_EPOCH = (_RE_EPOCH, _parse_epoch)
_SECS = (_RE_NUMBER, _parse_seconds)
_MILLIS = (_RE_NUMBER, _parse_millis)

_Form = tuple[re.Pattern[str], _Handler]
_BY_ANCHOR: Mapping[str, tuple[_Form, ...]] = {
    "pipe": (_EPOCH,),
    "ms": (_MILLIS,),
    "secs": (_SECS,),
    "key": (_ISO, _EPOCH, _MDY, _DMY, _DUR, _SECS),
    "word": (_ISO, _MDY, _DMY, _WDT, _DUR, _TIME, _EPOCH),
}
_BARE: tuple[_Form, ...] = (_ISO, _MDY, _DMY, _WDT, _DUR, _TIME, _EPOCH, _SECS)


def _try(form: _Form, m: re.Match[str], now: datetime, zone: tzinfo) -> Reset | None:
    try:
        return form[1](m, now, zone)
    except (ValueError, OverflowError, OSError):
        return None


def find_reset(text: str, now: datetime, zone: tzinfo) -> Reset | None:
    """The first reset time stated in free text, found after words such as ``resets``,
    ``try again in``, ``retry-after:`` or ``|``; ``None`` when the text states none."""
    for anchor in _ANCHOR.finditer(text):
        start = anchor.end()
        for form in _BY_ANCHOR[anchor.lastgroup or "word"]:
            m = form[0].match(text, start)
            if m is None:
                continue
            found = _try(form, m, now, zone)
            if found is not None:
                return found
    return None


def parse_bare(text: str, now: datetime, zone: tzinfo) -> Reset | None:
    """A reset time that is the whole of ``text`` (``5am``, ``2892 seconds``, ``1760000000``),
    optionally after ``at`` / ``in`` / ``on`` / ``after`` / ``until``; a bare number is seconds."""
    start = 0
    connector = _CONNECTOR.match(text)
    if connector:
        start = connector.end()
    for form in _BARE:
        m = form[0].match(text, start)
        if m is None or not _TRAILER.match(text, m.end()):
            continue
        found = _try(form, m, now, zone)
        if found is not None:
            return found
    return None


def parse_reset(
    text: str, now: datetime | None = None, tz: str | tzinfo | None = None
) -> datetime | None:
    """When a limit resets, from a reset hint or a whole message; ``None`` if none is stated.

    ``text`` is either the hint alone (``"9am (America/Chicago)"``, ``"4 days 20 hours"``,
    ``"1760000000"``, ``"10 de jul. de 2026, 11:52"``) or a message containing one after a
    word that introduces it (``"... resets 3pm (Europe/Berlin)"``, ``"Please retry in 27.5s"``,
    ``"retry-after: 3"``). ``now`` (default: the current time; naive means in ``tz``) anchors
    relative waits, clock times and dates without a year. Clock times and dates without a zone
    are in ``tz`` (an IANA name or a ``tzinfo``; default UTC). A clock time already past today
    means tomorrow; a date without a year means its next occurrence; an absolute time already
    past is returned as stated. The result is aware, in UTC.
    """
    zone = resolve_zone(tz)
    moment = resolve_now(now, zone)
    stripped = text.strip()
    found = parse_bare(stripped, moment, zone) or find_reset(stripped, moment, zone)
    return found.at if found else None
