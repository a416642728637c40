"""Cron schedules in IANA timezones, across daylight-saving changes."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core.triggers._cron import CronSchedule, jitter_for


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local_walls(schedule: CronSchedule, fires: list[datetime]) -> list[str]:
    return [f.astimezone(schedule.tz).strftime("%m-%d %H:%M%z") for f in fires]


@pytest.mark.parametrize(
    ("expr", "tz", "needle"),
    [
        ("61 * * * *", "UTC", "invalid"),
        ("* * * *", "UTC", "5 fields"),
        ("* * * * * *", "UTC", "5 fields"),
        ("0 0 31 2 *", "UTC", "never fires"),
        ("H * * * *", "UTC", "invalid"),
        ("@reboot", "UTC", "5 fields"),
        ("", "UTC", "5 fields"),
        ("0 3 * * *", "Mars/Olympus", "unknown timezone"),
        ("0 3 * * *", "../../etc/passwd", "unknown timezone"),
        ("0 3 * * *", "", "unknown timezone"),
    ],
)
def test_bad_expressions_and_timezones(expr: str, tz: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        CronSchedule(expr, tz)


def test_aliases_and_basic_next_fire() -> None:
    assert CronSchedule("@DAILY", "UTC").next_fire(utc(2024, 5, 1, 12)) == utc(2024, 5, 2)
    berlin = CronSchedule("0 3 * * *", "Europe/Berlin")
    assert berlin.next_fire(utc(2024, 1, 10, 1, 59)) == utc(2024, 1, 10, 2)
    assert berlin.next_fire(utc(2024, 1, 10, 2)) == utc(2024, 1, 11, 2)  # strictly after
    assert berlin.next_fire(utc(2024, 7, 10)) == utc(2024, 7, 10, 1)  # summer: +02:00


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        CronSchedule("* * * * *", "UTC").next_fire(datetime(2024, 1, 1))


def test_spring_forward_gap_fires_once_when_the_gap_ends() -> None:
    daily = CronSchedule("30 2 * * *", "Europe/Berlin")
    fires = daily.fires_between(utc(2024, 3, 29), utc(2024, 4, 2))
    assert local_walls(daily, fires) == [
        "03-29 02:30+0100",
        "03-30 02:30+0100",
        "03-31 03:00+0200",
        "04-01 02:30+0200",
    ]


def test_spring_forward_hourly_has_no_duplicate() -> None:
    hourly = CronSchedule("0 * * * *", "America/New_York")
    day = hourly.fires_between(utc(2024, 3, 10, 5) - timedelta(seconds=1), utc(2024, 3, 11, 3))
    assert len(day) == 23  # 02:00 does not exist; 03:00 fires once
    assert len(set(day)) == 23


def test_fall_back_fires_a_repeated_wall_time_once() -> None:
    daily = CronSchedule("30 1 * * *", "America/New_York")
    fires = daily.fires_between(utc(2024, 11, 2), utc(2024, 11, 5))
    assert local_walls(daily, fires) == ["11-02 01:30-0400", "11-03 01:30-0400", "11-04 01:30-0500"]
    hourly = CronSchedule("0 * * * *", "Europe/Berlin")
    day = hourly.fires_between(
        utc(2024, 10, 26, 22) - timedelta(seconds=1), utc(2024, 10, 27, 22, 59)
    )
    assert len(day) == 24  # a 25-hour day: the repeated 02:00 fires once
    assert len({f.astimezone(hourly.tz).hour for f in day}) == 24


def test_next_fire_from_inside_the_repeated_hour() -> None:
    every15 = CronSchedule("*/15 * * * *", "Europe/Berlin")
    second_pass = utc(2024, 10, 27, 1, 5)  # 02:05 CET, the second 02:05 of the night
    assert every15.next_fire(second_pass) == utc(2024, 10, 27, 2)  # 03:00 CET
    first_pass = utc(2024, 10, 27, 0, 5)  # 02:05 CEST
    assert every15.next_fire(first_pass) == utc(2024, 10, 27, 0, 15)


def test_fires_between_is_half_open_and_limited() -> None:
    minutely = CronSchedule("* * * * *", "UTC")
    fires = minutely.fires_between(utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 0, 3))
    assert fires == [utc(2024, 1, 1, 0, 1), utc(2024, 1, 1, 0, 2), utc(2024, 1, 1, 0, 3)]
    assert minutely.fires_between(utc(2024, 1, 1), utc(2025, 1, 1), limit=2) == fires[:2]
    assert minutely.fires_between(utc(2024, 1, 2), utc(2024, 1, 1)) == []


def test_last_fire() -> None:
    daily = CronSchedule("30 2 * * *", "Europe/Berlin")
    assert daily.last_fire(utc(2024, 3, 31, 1)) == utc(2024, 3, 31, 1)  # gap fire, inclusive
    assert daily.last_fire(utc(2024, 3, 31, 0, 59)) == utc(2024, 3, 30, 1, 30)
    every15 = CronSchedule("*/15 * * * *", "Europe/Berlin")
    assert every15.last_fire(utc(2024, 10, 27, 1, 10)) == utc(2024, 10, 27, 0, 45)


def test_jitter_is_deterministic_and_bounded() -> None:
    fire = utc(2024, 3, 31, 1)
    same_instant = fire.astimezone(ZoneInfo("Europe/Berlin"))
    assert jitter_for("nightly", fire, 60) == jitter_for("nightly", same_instant, 60)
    values = {jitter_for(f"bot{i}", fire, 60) for i in range(50)}
    assert len(values) == 50 and all(0 <= v < 60 for v in values)
    assert jitter_for("nightly", fire, 0) == 0.0
    with pytest.raises(ValueError):
        jitter_for("nightly", fire, -1)
    with pytest.raises(ValueError):
        jitter_for("nightly", fire, float("nan"))


# --- DST property, against a brute-force oracle ---------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "UTC"]
EXPRS = [
    "0 2 * * *", "30 2 * * *", "*/15 * * * *", "0 * * * *", "30 1 * * *", "15 0-3 * * *",
    "45 1,2,3 * * *", "0 0 * * *", "*/7 2 * * *", "0 3 * * 0", "30 2 * 3,10,11 *",
]  # fmt: skip


def transitions(zone: str) -> list[datetime]:
    """Days (UTC midnight) on which ``zone`` changes its offset, 2021-2027."""
    tz = ZoneInfo(zone)
    days = [utc(2021, 1, 1) + timedelta(days=d) for d in range(7 * 366)]
    return [
        a
        for a, b in itertools.pairwise(days)
        if a.astimezone(tz).utcoffset() != b.astimezone(tz).utcoffset()
    ]


TRANSITION_DAYS = {zone: transitions(zone) or [utc(2024, 3, 1)] for zone in ZONES}


def matcher(expr: str) -> Callable[[datetime], bool]:
    """A plain cron matcher for the simple expressions in EXPRS (no L, #, names)."""
    (minute, hour, dom, month, dow), _ = croniter.expand(expr)

    def ok(allowed: Sequence[int | str], value: int) -> bool:
        return allowed == ["*"] or value in allowed

    def matches(wall: datetime) -> bool:
        day = ok(dom, wall.day) and ok(dow, (wall.weekday() + 1) % 7)
        return ok(minute, wall.minute) and ok(hour, wall.hour) and ok(month, wall.month) and day

    return matches


def expected_fires(expr: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """Every fire by brute force over each UTC minute (transitions fall on whole minutes)."""
    tz, matches = ZoneInfo(zone), matcher(expr)
    minute = (start + timedelta(minutes=1)).replace(second=0, microsecond=0)
    fires: list[datetime] = []
    while minute <= end:
        local = minute.astimezone(tz)
        previous = (minute - timedelta(minutes=1)).astimezone(tz)
        wall, gap_start = local.replace(tzinfo=None), previous.replace(tzinfo=None)
        gap_start += timedelta(minutes=1)
        skipped = []
        while gap_start < wall:  # wall times the clock jumped over, if it just went forward
            skipped.append(gap_start)
            gap_start += timedelta(minutes=1)
        if (matches(wall) and local.fold == 0) or any(matches(w) for w in skipped):
            fires.append(minute)
        minute += timedelta(minutes=1)
    return [f for f in fires if f > start]


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    expr=st.sampled_from(EXPRS),
    pick=st.integers(min_value=0, max_value=10_000),
    offset_min=st.integers(min_value=0, max_value=36 * 60),
    seconds=st.sampled_from([0, 0, 30, 59]),
)
def test_dst_fires_match_the_oracle(
    zone: str, expr: str, pick: int, offset_min: int, seconds: int
) -> None:
    days = TRANSITION_DAYS[zone]
    start = days[pick % len(days)] - timedelta(days=1, minutes=-offset_min, seconds=-seconds)
    end = start + timedelta(hours=48)
    schedule = CronSchedule(expr, zone)
    fires = schedule.fires_between(start, end)
    assert fires == expected_fires(expr, zone, start, end)
    assert all(a < b for a, b in itertools.pairwise(fires))
    assert all(f.tzinfo is UTC for f in fires)
    walls = [f.astimezone(schedule.tz).replace(tzinfo=None) for f in fires]
    assert len(set(walls)) == len(walls)  # no wall time fires twice
    if fires:
        assert schedule.next_fire(start) == fires[0]
        for earlier, later in itertools.pairwise(fires):
            assert schedule.next_fire(earlier) == later
            assert schedule.last_fire(later - timedelta(microseconds=1)) == earlier
            assert schedule.last_fire(later) == later


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    expr=st.sampled_from(EXPRS),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1)),
)
def test_fires_at_arbitrary_dates_match_the_expression(
    zone: str, expr: str, start: datetime
) -> None:
    schedule = CronSchedule(expr, zone)
    begin = start.replace(tzinfo=UTC)
    fires = schedule.fires_between(begin, begin + timedelta(days=3))
    assert fires == expected_fires(expr, zone, begin, begin + timedelta(days=3))


@settings(max_examples=300, deadline=None)
@given(
    expr=st.lists(
        st.text(alphabet="0123456789*/-,LW#?HJanmonFRI@ ", min_size=1, max_size=6),
        min_size=1,
        max_size=6,
    ).map(" ".join)
)
def test_any_expression_is_accepted_or_refused_with_value_error(expr: str) -> None:
    try:
        schedule = CronSchedule(expr, "Europe/Berlin")
    except ValueError:
        return
    assert schedule.next_fire(utc(2024, 3, 30)) > utc(2024, 3, 30)
