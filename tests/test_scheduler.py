"""Schedules: one run per fire across processes, catch-up after downtime, DST, jitter."""

from __future__ import annotations

import random
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import pytest

from agented_core import Agented, Bot, ScheduleTrigger, Status
from agented_core.models import CatchUp
from agented_core.triggers._schedules import Scheduler
from conftest import FAKE_CLI

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def nightly(cron: str, **fields: object) -> Bot:
    return Bot(
        name="nightly",
        command=(FAKE_CLI, "say", "tick"),
        triggers=(ScheduleTrigger(cron=cron, **fields),),  # type: ignore[arg-type]
    )


async def all_runs(ag: Agented) -> list:
    items, cursor = await ag.list(limit=500)
    while cursor:
        more, cursor = await ag.list(limit=500, cursor=cursor)
        items += more
    return items


async def test_three_processes_one_store_one_run_per_fire(db_url: str) -> None:
    """A simulated day over a DST change: every quarter-hour fire started exactly once."""
    start = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # Berlin falls back on Oct 25, 2026
    clock = Clock(start)
    bot = nightly("*/15 * * * *", timezone="Europe/Berlin")
    rng = random.Random(7)
    async with AsyncExitStack() as stack:
        hosts = [
            await stack.enter_async_context(Agented.open(db_url, bots=[bot], entry_points=False))
            for _ in range(3)
        ]
        schedulers = [
            Scheduler(ag.config, ag.store, ag.run, clock=clock, on_time=900) for ag in hosts
        ]
        for s in schedulers:
            await s.tick()  # first sight: start counting
        end = start + timedelta(hours=25)  # 25 real hours = one local day on the long night
        started: list[str] = []
        while clock.now < end:
            clock.now += timedelta(minutes=rng.choice([1, 4, 7, 11]))
            for s in rng.sample(schedulers, 3):
                started += await s.tick()
        runs = await all_runs(hosts[0])
        for ag in hosts:
            for execution_id in started:
                if execution_id in ag.supervisor:
                    await ag.wait(execution_id, timeout=30)
    fires = schedulers[0].schedules[0].cron.fires_between(start, clock.now)
    assert len(fires) == 96  # 25 hours, but the repeated hour 02:00-03:00 fires once
    assert len(started) == len(set(started)) == len(runs) == 96
    fire_times = sorted(r.context["schedule"]["fire"] for r in runs)
    assert fire_times == [f.isoformat() for f in fires]


async def test_catch_up_once_runs_one_for_all_missed(open_agented) -> None:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    async with open_agented([nightly("0 * * * *", catch_up=CatchUp.ONCE)]) as ag:
        scheduler = Scheduler(ag.config, ag.store, ag.run, clock=clock)
        assert await scheduler.tick() == []
        clock.now += timedelta(hours=5, minutes=30)  # down for five fires
        started = await scheduler.tick()
        assert await scheduler.tick() == []
        assert len(started) == 1
        run = await ag.wait(started[0], timeout=20)
    assert run.context["schedule"]["missed"] == 4
    assert run.context["schedule"]["fire"] == "2026-03-01T17:00:00+00:00"
    assert run.status is Status.SUCCEEDED


async def test_fires_dropped_by_catch_up_skip_reach_the_plugins(open_agented) -> None:
    """The scheduler's missed fires go to every plugin's ``agented_schedule_missed`` (the
    notify plugin alerts on them), with the fire and why."""
    from agented_core import hookimpl

    class Listener:
        def __init__(self) -> None:
            self.missed: list[tuple[str, datetime, str]] = []

        @hookimpl
        async def agented_schedule_missed(self, bot: str, fire: datetime, reason: str) -> None:
            self.missed.append((bot, fire, reason))

    listener = Listener()
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    async with open_agented([nightly("0 * * * *")], plugins=[listener]) as ag:
        ag.scheduler.clock = clock  # the Agented's own scheduler, wired to its plugins
        await ag.scheduler.tick()
        clock.now += timedelta(hours=5, minutes=30)  # down for five fires
        assert await ag.scheduler.tick() == []
    assert listener.missed == [
        (
            "nightly",
            datetime(2026, 3, 1, 17, 0, tzinfo=UTC),
            "5 fire(s) missed while nothing was running (catch_up = skip)",
        )
    ]


async def test_catch_up_skip_drops_stale_fires(open_agented) -> None:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    async with open_agented([nightly("0 * * * *")]) as ag:
        scheduler = Scheduler(ag.config, ag.store, ag.run, clock=clock)
        await scheduler.tick()
        clock.now += timedelta(hours=5, minutes=30)
        assert await scheduler.tick() == []  # the newest fire is 30 min late: stale
        clock.now = clock.now.replace(minute=0, second=30) + timedelta(hours=1)
        on_time = await scheduler.tick()
        assert len(on_time) == 1
        await ag.wait(on_time[0], timeout=20)


async def test_state_survives_a_restart(db_url: str) -> None:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    bot = nightly("0 * * * *", catch_up=CatchUp.ONCE)
    async with Agented.open(db_url, bots=[bot], entry_points=False) as ag:
        await Scheduler(ag.config, ag.store, ag.run, clock=clock).tick()
    clock.now += timedelta(hours=2, minutes=1)
    async with Agented.open(db_url, bots=[bot], entry_points=False) as ag:
        started = await Scheduler(ag.config, ag.store, ag.run, clock=clock).tick()
        assert len(started) == 1
        await ag.wait(started[0], timeout=20)
        state = await ag.store.get_state("schedule:nightly#0")
    assert state["last_fire"] == "2026-03-01T14:00:00+00:00"
    assert state["next_fire"] == "2026-03-01T15:00:00+00:00"


async def test_jitter_delays_the_fire_alike_everywhere(open_agented) -> None:
    clock = Clock(datetime(2026, 3, 1, 11, 59, tzinfo=UTC))
    async with open_agented([nightly("0 12 * * *", jitter=600.0)]) as ag:
        scheduler = Scheduler(ag.config, ag.store, ag.run, clock=clock)
        await scheduler.tick()
        delay = scheduler.schedules[0].jitter(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
        assert 0 <= delay < 600
        clock.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=delay - 1)
        assert await scheduler.tick() == []
        clock.now += timedelta(seconds=2)
        started = await scheduler.tick()
        assert len(started) == 1
        await ag.wait(started[0], timeout=20)


async def test_next_fire_for_listing(open_agented) -> None:
    clock = Clock(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    async with open_agented([nightly("30 2 * * *", timezone="Europe/Berlin")]) as ag:
        scheduler = Scheduler(ag.config, ag.store, ag.run, clock=clock)
        # 02:30 does not exist in Berlin on 2026-03-29: it fires when the gap ends, 03:00 CEST
        assert scheduler.next_fire("nightly") == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
        assert scheduler.next_fire("other") is None
