"""Health alerts: a bot failing again and again, a run much slower than usual.

Both read the bot's recent executions from the store when one finishes, so they hold across
restarts and processes:

- ``failure_streak = N``: the alert goes out when the Nth run in a row fails (``failed``,
  ``timed_out``, ``budget_exceeded``, ``interrupted``); ``cancelled`` and ``skipped`` runs
  neither count nor break the streak; a success ends it. Once per streak.
- ``slow_factor = F``: a run that took more than F times the median of the bot's last (up to 20)
  succeeded runs, once at least ``slow_min_runs`` of those are known and it took at least
  ``slow_min_duration``. Checked while the run goes on too (``agented_execution_progress``,
  called every few seconds while it prints something): the alert goes out as soon as it has
  run that long, not when it ends, and once per run.
"""

from __future__ import annotations

import statistics
from datetime import datetime

from agented_core import Execution, Status, Store

from ._settings import BotNotify

__all__ = ["FAILURES", "duration", "failure_streak", "slow_run", "slow_running", "usual_duration"]

FAILURES = frozenset({Status.FAILED, Status.TIMED_OUT, Status.BUDGET_EXCEEDED, Status.INTERRUPTED})
_NEUTRAL = frozenset({Status.CANCELLED, Status.SKIPPED})
HISTORY = 20


def duration(execution: Execution) -> float | None:
    """Seconds from the first start to the end, when both are known."""
    if execution.started_at is None or execution.finished_at is None:
        return None
    return (execution.finished_at - execution.started_at).total_seconds()


async def failure_streak(store: Store, execution: Execution, notify: BotNotify) -> int | None:
    """The streak length when this execution makes it exactly ``failure_streak``, else None."""
    wanted = notify.failure_streak
    if wanted < 1 or execution.status not in FAILURES:
        return None
    terminal = [s for s in Status if s.terminal]
    items, _ = await store.list_executions(
        bot=execution.bot, status=terminal, limit=max(50, 3 * wanted)
    )
    streak = 0
    for item in items:  # newest first
        if item.id > execution.id:
            continue  # finished after this one: not part of its streak
        if item.status in _NEUTRAL:
            continue
        if item.status not in FAILURES:
            break
        streak += 1
        if streak > wanted:
            return None  # the alert went out when the streak reached it
    return streak if streak == wanted else None


async def usual_duration(store: Store, execution: Execution, notify: BotNotify) -> float | None:
    """The median duration of the bot's last (up to 20) succeeded runs other than this one,
    once at least ``slow_min_runs`` of them are known."""
    items, _ = await store.list_executions(
        bot=execution.bot, status=[Status.SUCCEEDED], limit=HISTORY + 1
    )
    earlier = [d for e in items if e.id != execution.id and (d := duration(e)) is not None]
    earlier = earlier[:HISTORY]
    if len(earlier) < notify.slow_min_runs:
        return None
    return statistics.median(earlier)


async def _slow(
    store: Store, execution: Execution, notify: BotNotify, took: float | None
) -> tuple[float, float] | None:
    if notify.slow_factor <= 0 or took is None or took < notify.slow_min_duration:
        return None
    usual = await usual_duration(store, execution, notify)
    if usual is None:
        return None
    return (took, usual) if took > notify.slow_factor * usual else None


async def slow_run(
    store: Store, execution: Execution, notify: BotNotify
) -> tuple[float, float] | None:
    """(this run's duration, the usual one) when this run is much slower than usual."""
    return await _slow(store, execution, notify, duration(execution))


async def slow_running(
    store: Store, execution: Execution, notify: BotNotify, now: datetime
) -> tuple[float, float] | None:
    """(how long this running execution has run until ``now``, the usual duration) once it
    has run much longer than usual."""
    if execution.started_at is None:
        return None
    took = (now - execution.started_at).total_seconds()
    return await _slow(store, execution, notify, took)
