"""The one wall clock: aware UTC datetimes, injectable so tests can move time.

:class:`~agented_core.Agented` takes a ``clock`` (default :func:`utcnow`) and hands that same
callable to every part that reads the time: the executor, the event log, cooldowns,
deliveries, the scheduler, ownership. Durations inside one process (timeouts, idle limits, a
run's elapsed time) use a monotonic clock instead, which no wall-clock change can move.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""A callable returning the current time as an aware datetime."""


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
