"""Schedules: cron triggers that start runs, once per fire, however many processes share a store.

Each schedule (a bot's cron trigger) keeps its last handled fire in the store. On every tick the
scheduler looks at the fires since then that are due (fire time plus the schedule's jitter):

- none: nothing to do;
- ``catch_up = "skip"``: the newest fire runs if it is on time (not older than ``on_time``, so
  a host that was down does not run stale work); older missed fires are dropped;
- ``catch_up = "once"``: the newest fire runs, standing for all the missed ones.

Before starting a run, a process takes a lease on the fire in the store; only the process that
gets it starts the run, so several processes sharing a store start exactly one run per fire.
A schedule seen for the first time starts counting from now: nothing in the past fires.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import anyio
from attrs import frozen

from ..clock import Clock, utcnow
from ..config import Config
from ..models import Bot, CatchUp, ScheduleTrigger, TriggerKind
from ..store.base import Store
from ._cron import CronSchedule, jitter_for
from ._start import StartRun

log = logging.getLogger("agented.scheduler")

Missed = Callable[[str, datetime, str], Awaitable[Any]]
"""Told of a fire that started no run: (bot, fire, why)."""

LEASE_TTL = 14 * 86400.0
"""How long a fire's lease is kept: longer than any catch-up window."""


@frozen
class Schedule:
    """One cron trigger of one bot."""

    bot: Bot
    index: int
    trigger: ScheduleTrigger
    cron: CronSchedule

    @property
    def key(self) -> str:
        """The schedule's name in the store."""
        return f"{self.bot.name}#{self.index}"

    def jitter(self, fire: datetime) -> float:
        """This fire's delay, the same in every process."""
        return jitter_for(self.key, fire, self.trigger.jitter)

    def due_at(self, fire: datetime) -> datetime:
        """When ``fire`` is due: its time plus its jitter."""
        return fire + timedelta(seconds=self.jitter(fire))


class Scheduler:
    """Starts the runs of every schedule of the configured bots when they are due.

    It is given what it uses: the configuration (bots, default timezone), the store (each
    schedule's last fire, the fire leases), ``start_run`` and the one clock.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        start_run: StartRun,
        *,
        clock: Clock = utcnow,
        on_time: float = 120.0,
        max_sleep: float = 30.0,
        missed: Missed | None = None,
    ) -> None:
        self.missed = missed
        self.config = config
        self.store = store
        self.start_run = start_run
        self.clock = clock
        self.on_time = on_time
        self.max_sleep = max_sleep
        self.token = uuid.uuid4().hex
        self.schedules = self._schedules()
        self._changed: anyio.Event | None = None

    def _schedules(self) -> list[Schedule]:
        default_tz = self.config.settings.timezone
        out: list[Schedule] = []
        for bot in self.config.bots.values():
            for index, trigger in enumerate(bot.triggers):
                if isinstance(trigger, ScheduleTrigger):
                    cron = CronSchedule(trigger.cron, trigger.timezone or default_tz)
                    out.append(Schedule(bot, index, trigger, cron))
        return out

    def next_fire(self, bot_name: str, after: datetime | None = None) -> datetime | None:
        """The bot's next scheduled fire (the earliest over its cron triggers), or ``None``."""
        now = after or self.clock()
        fires = [s.cron.next_fire(now) for s in self.schedules if s.bot.name == bot_name]
        return min(fires) if fires else None

    async def tick(self) -> list[str]:
        """Start every run that is due now; return the new execution ids."""
        started: list[str] = []
        for schedule in self.schedules:
            try:
                execution_id = await self._tick_one(schedule, self.clock())
            except Exception:
                log.exception("schedule %s failed", schedule.key)
                continue
            if execution_id is not None:
                started.append(execution_id)
        return started

    async def _tick_one(self, schedule: Schedule, now: datetime) -> str | None:
        store = self.store
        state_key = f"schedule:{schedule.key}"
        state: dict[str, Any] = await store.get_state(state_key) or {}
        last_text = state.get("last_fire")
        if last_text is None or state.get("cron") != schedule.cron.expr:
            # first sight (or a changed expression): count from now
            await store.put_state(state_key, self._state(schedule, now, now))
            return None
        last = datetime.fromisoformat(last_text)
        newest = schedule.cron.last_fire(now)
        if newest is not None and schedule.due_at(newest) > now:  # its jitter is not over yet
            newest = schedule.cron.last_fire(newest - timedelta(microseconds=1))
        if newest is None or newest <= last:
            return None
        missed = len(schedule.cron.fires_between(last, newest, limit=10_000)) - 1
        late = (now - schedule.due_at(newest)).total_seconds()
        run = schedule.trigger.catch_up is CatchUp.ONCE or late <= self.on_time
        execution_id: str | None = None
        if run and await store.claim(
            f"schedule-fire:{schedule.key}:{newest.isoformat()}", self.token, LEASE_TTL
        ):
            context = {
                "schedule": {
                    "cron": schedule.cron.expr,
                    "timezone": schedule.cron.timezone,
                    "fire": newest.isoformat(),
                    "missed": missed,
                }
            }
            try:
                execution = await self.start_run(
                    schedule.bot.name, trigger=TriggerKind.SCHEDULE, context=context
                )
            except Exception as exc:
                await self._missed(schedule, newest, f"the run did not start: {exc}")
                raise
            execution_id = execution.id
        elif not run:
            log.info(
                "schedule %s: skipped %d fire(s) missed while down (catch_up = skip)",
                schedule.key,
                missed + 1,
            )
            await self._missed(
                schedule,
                newest,
                f"{missed + 1} fire(s) missed while nothing was running (catch_up = skip)",
            )
        await store.put_state(state_key, self._state(schedule, newest, now))
        return execution_id

    async def _missed(self, schedule: Schedule, fire: datetime, reason: str) -> None:
        if self.missed is None:
            return
        try:
            await self.missed(schedule.bot.name, fire, reason)
        except Exception:
            log.exception("telling plugins of a missed fire of %s failed", schedule.key)

    def _state(self, schedule: Schedule, last_fire: datetime, now: datetime) -> dict[str, Any]:
        return {
            "cron": schedule.cron.expr,
            "last_fire": last_fire.isoformat(),
            "next_fire": schedule.cron.next_fire(now).isoformat(),
        }

    def seconds_until_due(self) -> float:
        """How long until the next schedule is due (at most ``max_sleep``)."""
        now = self.clock()
        waits = [(s.due_at(s.cron.next_fire(now)) - now).total_seconds() for s in self.schedules]
        return max(0.0, min([self.max_sleep, *waits]))

    def replan(self, config: Config) -> None:
        """Plan the schedules of ``config`` (a reload); the running loop wakes to them at once.

        A schedule whose cron expression is new or changed counts from now; one that stayed
        keeps its last fire (its state is kept by bot and trigger index, with the expression).
        """
        self.config = config
        self.schedules = self._schedules()
        if self._changed is not None:
            self._changed.set()

    async def run(self) -> None:
        """Tick whenever a schedule is due, forever (cancel to stop)."""
        while True:
            self._changed = anyio.Event()
            if self.schedules:
                await self.tick()
                wait: float | None = self.seconds_until_due() + 0.01
            else:
                wait = None  # nothing planned: sleep until a reload plans something
            with anyio.move_on_after(wait):
                await self._changed.wait()
