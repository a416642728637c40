"""What happens after a failed attempt, decided from its error kind alone (never a stray line).

- ``quota``: the account cools down until its reset time (or ``default_cooldown``); the next
  attempt goes to the first chain entry not cooling down, or the execution waits.
- ``rate``: the same account again after the stated wait; a wait longer than
  ``max_rate_wait`` is treated as a quota.
- ``overloaded``, ``network``: the same account again after an exponential backoff with jitter
  (and the provider's circuit breaker counts the failure).
- ``auth``, ``bad_request``, ``context`` and every other kind: fail at once, no retry.

:func:`decide` is pure; the executor carries the decision out.
"""

from __future__ import annotations

import enum
import random
from datetime import datetime, timedelta

from attrs import frozen

from ..models import ErrorKind

RETRYABLE = frozenset({ErrorKind.QUOTA, ErrorKind.RATE, ErrorKind.OVERLOADED, ErrorKind.NETWORK})
"""Error kinds that may be survived by waiting or switching accounts."""


class Action(enum.StrEnum):
    """The next step after an attempt."""

    FAIL = "fail"
    """No retry: the execution fails with this attempt's error kind."""
    SWITCH = "switch"
    """The account cools down; try the next chain entry (or wait for the earliest reset)."""
    RETRY = "retry"
    """Try the same account again after ``delay`` seconds."""


@frozen
class RetryPolicy:
    """The numbers behind the decisions (``[agented]`` settings)."""

    default_cooldown: float = 3600.0
    backoff_base: float = 2.0
    backoff_max: float = 300.0
    max_rate_wait: float = 900.0
    default_rate_wait: float = 30.0


@frozen
class Decision:
    """What to do after an attempt, and why (shown in the execution's events)."""

    action: Action
    reason: str
    delay: float = 0.0
    cool_until: datetime | None = None


def backoff(streak: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """The delay before retry number ``streak`` (1, 2, ...): exponential, capped, jittered.

    Full jitter over the upper half: between 50% and 100% of ``base * 2**(streak-1)``.
    """
    rng = rng or random.Random()
    ceiling = min(policy.backoff_max, policy.backoff_base * float(2 ** max(0, streak - 1)))
    return ceiling * (0.5 + rng.random() / 2)


def decide(
    kind: ErrorKind,
    *,
    message: str,
    now: datetime,
    reset_at: datetime | None = None,
    retry_after: float | None = None,
    transient_streak: int = 1,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
) -> Decision:
    """The decision after an attempt that failed with ``kind``.

    ``reset_at`` / ``retry_after`` come from the rate limit the attempt reported;
    ``transient_streak`` counts this execution's consecutive overloaded/network failures.
    """
    policy = policy or RetryPolicy()
    if kind is ErrorKind.QUOTA:
        until = reset_at if reset_at is not None and reset_at > now else None
        stated = until is not None
        until = until or now + timedelta(seconds=policy.default_cooldown)
        when = "its reset" if stated else "the default cooldown"
        return Decision(
            Action.SWITCH,
            f"usage limit reached: the account cools down until {until.isoformat()} ({when})",
            cool_until=until,
        )
    if kind is ErrorKind.RATE:
        wait = retry_after
        if wait is None and reset_at is not None:
            wait = max(0.0, (reset_at - now).total_seconds())
        if wait is None:
            wait = policy.default_rate_wait
        if wait > policy.max_rate_wait:
            until = now + timedelta(seconds=wait)
            return Decision(
                Action.SWITCH,
                f"rate limited for {wait:.0f}s (longer than max_rate_wait): the account cools "
                f"down until {until.isoformat()}",
                cool_until=until,
            )
        return Decision(Action.RETRY, f"rate limited: retrying in {wait:.1f}s", delay=wait)
    if kind in (ErrorKind.OVERLOADED, ErrorKind.NETWORK):
        delay = backoff(transient_streak, policy, rng)
        what = "the API is overloaded" if kind is ErrorKind.OVERLOADED else "network error"
        return Decision(Action.RETRY, f"{what}: retrying in {delay:.1f}s", delay=delay)
    return Decision(Action.FAIL, message)
