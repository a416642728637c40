"""Reset times: every phrasing the CLIs use, parsed to the right instant (``now`` is fixed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agented_core.ratelimit import parse_reset

NOW = datetime(2026, 7, 1, 10, 15, tzinfo=UTC)  # a Wednesday


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz: tzinfo = UTC
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # epoch seconds (past: returned as stated) and milliseconds
        ("Claude AI usage limit reached|1760000000", datetime.fromtimestamp(1760000000, UTC)),
        ("1760000000", datetime.fromtimestamp(1760000000, UTC)),
        ("1760000000123", datetime.fromtimestamp(1760000000.123, UTC)),
        # clock times, with and without a zone
        ("resets 3pm (Europe/Berlin)", at(2026, 7, 1, 15, tz=ZoneInfo("Europe/Berlin"))),
        ("resets at 11:30", at(2026, 7, 1, 11, 30)),
        ("reset at 5:00 AM", at(2026, 7, 2, 5)),  # already past today: tomorrow
        ("Limits will reset at 9:30 AM.  View your usage details.", at(2026, 7, 2, 9, 30)),
        ("5-hour limit reached ∙ resets 12pm", at(2026, 7, 1, 12)),
        ("resets 12am", at(2026, 7, 2, 0)),
        ("resets 5 a.m.", at(2026, 7, 2, 5)),
        ("10:57 PM GMT-3", at(2026, 7, 1, 22, 57, tz=timezone(timedelta(hours=-3)))),
        ("try again at 7:09 PM UTC+05:30", at(2026, 7, 1, 13, 39)),
        ("resets 9am PDT", at(2026, 7, 1, 16)),
        ("available again at noon", at(2026, 7, 1, 12)),
        ("resets at midnight", at(2026, 7, 2, 0)),
        ("resets Mon 9am", at(2026, 7, 6, 9)),
        ("resets Wednesday at 9am", at(2026, 7, 8, 9)),  # today's 9am is past: next week
        # relative waits
        ("try again in 2 days 4 hours 3 minutes", NOW + timedelta(days=2, hours=4, minutes=3)),
        (
            "Try again in 4 days, 20 hours and 9 minutes.",
            NOW + timedelta(days=4, hours=20, minutes=9),
        ),
        ("Please retry in 27.5s.", NOW + timedelta(seconds=27.5)),
        ("in 12 min", NOW + timedelta(minutes=12)),
        ("915ms", NOW + timedelta(milliseconds=915)),
        (
            "Your quota will reset after 21h39m57s.",
            NOW + timedelta(hours=21, minutes=39, seconds=57),
        ),
        ("Retrying in 2892 seconds… (attempt 1/10)", NOW + timedelta(seconds=2892)),
        ("please wait an hour", NOW + timedelta(hours=1)),
        ("resets in 1 week", NOW + timedelta(weeks=1)),
        # dates
        (
            "resets Apr 23 at 4pm (America/Recife)",
            at(2027, 4, 23, 16, tz=ZoneInfo("America/Recife")),
        ),
        ("try again at Jul 5th, 2026 8:19 PM", at(2026, 7, 5, 20, 19)),
        ("quota will reset on 2026-04-01 at 00:00 UTC", at(2026, 4, 1)),
        ("try again at 10 de jul. de 2026, 11:52.", at(2026, 7, 10, 11, 52)),
        ("vuelve a intentarlo: resets 3 de agosto de 2026, 09:00", at(2026, 8, 3, 9)),
        ("resets September 15, 2026 at 7:00 PM", at(2026, 9, 15, 19)),
        ("resets 15 Sep", at(2026, 9, 15)),
        ("resets Nov 28, 12pm", at(2026, 11, 28, 12)),
        # machine forms
        ("retry-after: 3", NOW + timedelta(seconds=3)),
        ('"retry-after":"120"', NOW + timedelta(seconds=120)),
        ("Retry-After: Wed, 21 Oct 2026 07:28:00 GMT", at(2026, 10, 21, 7, 28)),
        ("retry_delay_ms: 3000", NOW + timedelta(seconds=3)),
        ('{"resets_in_seconds": 3600}', NOW + timedelta(hours=1)),
        ("x-ratelimit-reset-requests: 1m30s", NOW + timedelta(seconds=90)),
        ("resets_at: 2026-07-01T12:00:00+02:00", at(2026, 7, 1, 10)),
        ('"resetsAt":1784079000', datetime.fromtimestamp(1784079000, UTC)),
        (
            '"resetsAt": 1784079000.5',
            datetime.fromtimestamp(1784079000, UTC) + timedelta(seconds=0.5),
        ),
        ("2026-04-01T00:00:00Z", at(2026, 4, 1)),
        (
            "until 2026-08-01T08:30:00.250+00:00",
            at(2026, 8, 1, 8, 30) + timedelta(milliseconds=250),
        ),
    ],
)
def test_phrasings(text: str, expected: datetime) -> None:
    assert parse_reset(text, now=NOW) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Please wait and try again later.",
        "API Error: 529 Overloaded. try again in a moment.",
        "Retrying in a bit",
        "Couldn't reset usage. Please try again.",
        "resets 13pm",
        "resets Feb 30 at 5pm",
        "try again at 25:00",
        "rate limit reached",
        "resets at 5",
    ],
)
def test_no_reset_stated(text: str) -> None:
    assert parse_reset(text, now=NOW) is None


def test_result_is_aware_utc() -> None:
    found = parse_reset("resets 3pm (Asia/Tokyo)", now=NOW)
    assert found is not None and found.utcoffset() == timedelta(0)
    assert found == at(2026, 7, 2, 15, tz=ZoneInfo("Asia/Tokyo"))  # 06:00Z: past today


def test_clock_time_already_past_means_tomorrow() -> None:
    assert parse_reset("resets 10:14", now=NOW) == at(2026, 7, 2, 10, 14)
    assert parse_reset("resets 10:15", now=NOW) == NOW  # not past: now itself
    assert parse_reset("resets 10:16", now=NOW) == at(2026, 7, 1, 10, 16)


def test_default_zone_for_clock_times() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    expected = at(2026, 7, 1, 15, tz=berlin)
    assert parse_reset("resets 3pm", now=NOW, tz="Europe/Berlin") == expected
    assert parse_reset("resets 3pm", now=NOW, tz=berlin) == expected
    # a zone in the text wins over the default
    assert parse_reset("resets 3pm (UTC)", now=NOW, tz="Europe/Berlin") == at(2026, 7, 1, 15)
    # "today" is today in the zone: 01:30 in Tokyo is still the previous day in UTC
    tokyo_night = datetime(2026, 6, 30, 16, 30, tzinfo=UTC)
    assert parse_reset("resets 2am", now=tokyo_night, tz="Asia/Tokyo") == at(2026, 6, 30, 17)


def test_naive_now_is_in_tz() -> None:
    naive = datetime(2026, 7, 1, 12, 15)  # noon-ish in Berlin = 10:15Z
    assert parse_reset("resets 3pm", now=naive, tz="Europe/Berlin") == at(2026, 7, 1, 13)
    assert parse_reset("in 5 min", now=naive, tz="Europe/Berlin") == at(2026, 7, 1, 10, 20)


def test_unknown_zone_name_raises() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        parse_reset("resets 3pm", now=NOW, tz="Mars/Olympus")


def test_unknown_zone_in_text_falls_back_to_default() -> None:
    assert parse_reset("resets 3pm (Mars/Olympus)", now=NOW) == at(2026, 7, 1, 15)


def test_daylight_saving_is_respected() -> None:
    winter = datetime(2026, 1, 10, 8, tzinfo=UTC)
    assert parse_reset("resets 3pm (Europe/Berlin)", now=winter) == at(2026, 1, 10, 14)
    assert parse_reset("resets 3pm (Europe/Berlin)", now=NOW) == at(2026, 7, 1, 13)
    # across the spring change: tomorrow's 3pm is in summer time
    eve = datetime(2026, 3, 28, 15, 30, tzinfo=UTC)
    assert parse_reset("resets 3pm (Europe/Berlin)", now=eve) == at(2026, 3, 29, 13)


def test_date_without_year_is_next_occurrence() -> None:
    assert parse_reset("resets Sep 15 at 7pm", now=NOW) == at(2026, 9, 15, 19)
    assert parse_reset("resets Jun 30 at 7pm", now=NOW) == at(2027, 6, 30, 19)
    new_year_eve = datetime(2026, 12, 30, 12, tzinfo=UTC)
    assert parse_reset("resets Jan 2 at 5am", now=new_year_eve) == at(2027, 1, 2, 5)
    # today counts even when its hour is past: a stale notice keeps its day, not a year's wait
    assert parse_reset("resets Jul 1 at 9am", now=NOW) == at(2026, 7, 1, 9)
    # Feb 29 waits for a leap year
    assert parse_reset("resets Feb 29 at 1am", now=NOW) == at(2028, 2, 29, 1)


def test_absolute_past_time_is_returned_as_stated() -> None:
    assert parse_reset("try again at Jul 5th, 2025 8:19 PM", now=NOW) == at(2025, 7, 5, 20, 19)
    assert parse_reset("2020-01-01T00:00:00Z", now=NOW) == at(2020, 1, 1)


def test_first_stated_reset_wins() -> None:
    text = "Rate limit reached. Please try again in 3s. Limits reset at 5pm."
    assert parse_reset(text, now=NOW) == NOW + timedelta(seconds=3)


def test_now_defaults_to_current_time() -> None:
    before = datetime.now(UTC)
    found = parse_reset("try again in 10 minutes")
    after = datetime.now(UTC)
    assert found is not None
    assert before + timedelta(minutes=10) <= found <= after + timedelta(minutes=10)


# ---------------------------------------------------------------------------------------------
# Properties: generate instants and waits, render them as the CLIs do, parse them back.

ZONES = ["UTC", "Europe/Berlin", "America/Chicago", "America/Sao_Paulo", "Asia/Kolkata",
         "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns"]  # fmt: skip
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
MONTHS_LONG = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]  # fmt: skip
MESES = ["jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"]

nows = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)


def unambiguous(local: datetime) -> bool:
    return local.replace(fold=0).utcoffset() == local.replace(fold=1).utcoffset()


def ordinal(day: int) -> str:
    if day in (11, 12, 13):
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


def twelve(local: datetime, style: int) -> str:
    """A 12-hour clock time: ``5pm``, ``5 PM``, ``5 p.m.``, and with minutes for style 3-5."""
    hour = local.hour % 12 or 12
    suffix = [("am", "pm"), (" AM", " PM"), (" a.m.", " p.m.")][style % 3][local.hour >= 12]
    if local.minute == 0 and style < 3:
        return f"{hour}{suffix}"
    return f"{hour}:{local.minute:02d}{suffix}"


def zone_suffix(zone: str, local: datetime, style: int) -> str:
    if style == 0:
        return f" ({zone})"
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    if style == 1:
        return f" GMT{sign}{h}" + (f":{m:02d}" if m else "")
    return f" UTC{sign}{h:02d}:{m:02d}"


@settings(max_examples=300)
@given(
    now=nows,
    minutes_ahead=st.integers(1, 23 * 60 - 1),
    zone=st.sampled_from(ZONES),
    style=st.integers(0, 5),
    zstyle=st.integers(0, 2),
    template=st.sampled_from(
        [
            "resets {}",
            "Your limit will reset at {}.",
            "try again at {}",
            "5-hour limit reached ∙ resets {}",
            "{}",
        ]
    ),
)
def test_clock_times_round_trip(
    now: datetime, minutes_ahead: int, zone: str, style: int, zstyle: int, template: str
) -> None:
    target = (now + timedelta(minutes=minutes_ahead)).replace(second=0, microsecond=0)
    assume(target > now)
    local = target.astimezone(ZoneInfo(zone))
    assume(unambiguous(local))
    text = template.format(twelve(local, style) + zone_suffix(zone, local, zstyle))
    assert parse_reset(text, now=now) == target, text


@settings(max_examples=200)
@given(now=nows, minutes_ahead=st.integers(1, 23 * 60 - 1), zone=st.sampled_from(ZONES),
       seconds=st.booleans())  # fmt: skip
def test_24_hour_clock_in_default_zone_round_trips(
    now: datetime, minutes_ahead: int, zone: str, seconds: bool
) -> None:
    target = now + timedelta(minutes=minutes_ahead)
    target = target.replace(microsecond=0) if seconds else target.replace(second=0, microsecond=0)
    assume(target > now)
    local = target.astimezone(ZoneInfo(zone))
    assume(unambiguous(local))
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    assert parse_reset(f"resets at {clock}", now=now, tz=zone) == target


def render_duration(total: int, style: int) -> str:
    """``total`` seconds as a CLI would write it."""
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "day", "d"), (hours, "hour", "h"), (minutes, "minute", "m"),
             (seconds, "second", "s")]  # fmt: skip
    present = [(n, long, short) for n, long, short in parts if n] or [(0, "second", "s")]
    if style == 0:
        return " ".join(f"{n} {long}{'s' if n != 1 else ''}" for n, long, _ in present)
    if style == 1:
        return "".join(f"{n}{short}" for n, _, short in present)
    if style == 2:
        words = [f"{n} {long}{'s' if n != 1 else ''}" for n, long, _ in present]
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    if style == 3:
        return f"{total} seconds"
    if style == 4:
        return f"{total}s"
    return " ".join(f"{n} {short}" for n, _, short in present)


@settings(max_examples=300)
@given(
    now=nows,
    total=st.integers(0, 40 * 86400),
    style=st.integers(0, 5),
    template=st.sampled_from(
        [
            "try again in {}",
            "Please retry in {}.",
            "Retrying in {}… (1/10)",
            "Your quota will reset after {}.",
            "{}",
            "wait {}",
        ]
    ),
)
def test_durations_round_trip(now: datetime, total: int, style: int, template: str) -> None:
    text = template.format(render_duration(total, style))
    assert parse_reset(text, now=now) == now + timedelta(seconds=total), text


@given(now=nows, millis=st.integers(0, 10**7))
def test_fractional_waits_round_trip(now: datetime, millis: int) -> None:
    seconds = f"{millis // 1000}.{millis % 1000:03d}"
    expected = now + timedelta(milliseconds=millis)
    assert parse_reset(f"Please retry in {seconds}s.", now=now) == expected
    assert parse_reset(f"{millis}ms", now=now) == expected


@given(now=nows, seconds=st.integers(0, 86400))
def test_retry_after_seconds_round_trip(now: datetime, seconds: int) -> None:
    assert parse_reset(f"retry-after: {seconds}", now=now) == now + timedelta(seconds=seconds)


@settings(max_examples=300)
@given(now=nows, minutes_ahead=st.integers(1, 360 * 24 * 60), zone=st.sampled_from(ZONES),
       style=st.integers(0, 3))  # fmt: skip
def test_dates_without_year_round_trip(
    now: datetime, minutes_ahead: int, zone: str, style: int
) -> None:
    target = (now + timedelta(minutes=minutes_ahead)).replace(second=0, microsecond=0)
    assume(target > now)
    local = target.astimezone(ZoneInfo(zone))
    assume(unambiguous(local))
    month = MONTHS[local.month - 1]
    text = [
        f"You've hit your weekly limit · resets {month} {local.day} at {twelve(local, 3)}",
        f"resets {month} {local.day}, {local:%H:%M}",
        f"resets {local.day} {MONTHS_LONG[local.month - 1]} at {twelve(local, 4)}",
        f"resets {month} {ordinal(local.day)} {twelve(local, 5)}",
    ][style] + f" ({zone})"
    assert parse_reset(text, now=now) == target, text


@settings(max_examples=300)
@given(
    moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
    now=nows,
    zone=st.sampled_from(ZONES),
    style=st.integers(0, 6),
)
def test_dates_with_year_round_trip(moment: datetime, now: datetime, zone: str, style: int) -> None:
    """Any instant, past or future, written with its year, is returned as stated."""
    target = moment.replace(second=0, microsecond=0, tzinfo=UTC)
    local = target.astimezone(ZoneInfo(zone))
    assume(unambiguous(local))
    month, day, year = local.month, local.day, local.year
    text = [
        f"try again at {MONTHS[month - 1]} {ordinal(day)}, {year} {twelve(local, 4)}",
        f"try again at {day} de {MESES[month - 1]}. de {year}, {local:%H:%M}",
        f"quota will reset on {local:%Y-%m-%d} at {local:%H:%M}",
        f"resets {MONTHS_LONG[month - 1]} {day}, {year} at {twelve(local, 3)}",
        f"Retry-After: {local:%a}, {day:02d} {MONTHS[month - 1]} {year} {local:%H:%M:%S}",
        f"resets_at: {local.isoformat()}",
        f"until {local:%Y-%m-%dT%H:%M}",
    ][style]
    assert parse_reset(text, now=now, tz=zone) == target, text


@given(moment=st.datetimes(min_value=datetime(2001, 9, 10), max_value=datetime(2286, 11, 1)),
       now=nows, millis=st.booleans())  # fmt: skip
def test_epochs_round_trip(moment: datetime, now: datetime, millis: bool) -> None:
    target = moment.replace(tzinfo=UTC)
    if millis:
        target = target.replace(microsecond=target.microsecond // 1000 * 1000)
        value = round(target.timestamp() * 1000)
        assume(len(str(value)) == 13)
    else:
        target = target.replace(microsecond=0)
        value = int(target.timestamp())
        assume(len(str(value)) == 10)
    assert parse_reset(f"Claude AI usage limit reached|{value}", now=now) == target


@settings(max_examples=500)
@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    found = parse_reset(text, now=NOW)
    assert found is None or found.tzinfo is not None


FRAGMENTS = ["resets ", "try again in ", "retry-after: ", "at ", "|", "1760000000", "12", ":",
             "30", " pm", " (Europe/Berlin)", " GMT-3", "Sep ", "29", " de jul. de ", "2026",
             "-", "T", "Z", "h", "m", "s", "ms", " days", ".", ",", "999999999999", " and ",
             "Feb ", "31", "(", ")", "noon", "Mon ", "retry_delay_ms: ", "\n"]  # fmt: skip


@settings(max_examples=500)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join), nows)
def test_never_raises_on_near_misses(text: str, now: datetime) -> None:
    found = parse_reset(text, now=now)
    assert found is None or found.tzinfo is not None
