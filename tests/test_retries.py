"""The retry policy: decisions from error kinds alone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from agented_core.models import ErrorKind
from agented_core.run._retries import Action, RetryPolicy, backoff, decide

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def test_quota_cools_down_until_the_stated_reset_or_the_default() -> None:
    reset = NOW + timedelta(hours=2)
    stated = decide(ErrorKind.QUOTA, message="m", now=NOW, reset_at=reset)
    assert stated.action is Action.SWITCH and stated.cool_until == reset
    unknown = decide(ErrorKind.QUOTA, message="m", now=NOW)
    assert unknown.cool_until == NOW + timedelta(hours=1)
    stale = decide(ErrorKind.QUOTA, message="m", now=NOW, reset_at=NOW - timedelta(hours=1))
    assert stale.cool_until == NOW + timedelta(hours=1)  # a reset already past is not trusted


def test_rate_waits_the_stated_time_and_long_waits_become_cooldowns() -> None:
    short = decide(ErrorKind.RATE, message="m", now=NOW, retry_after=27.5)
    assert short.action is Action.RETRY and short.delay == 27.5
    by_reset = decide(ErrorKind.RATE, message="m", now=NOW, reset_at=NOW + timedelta(seconds=40))
    assert by_reset.delay == 40
    long = decide(ErrorKind.RATE, message="m", now=NOW, retry_after=3600)
    assert long.action is Action.SWITCH and long.cool_until == NOW + timedelta(hours=1)


def test_terminal_kinds_fail_at_once() -> None:
    for kind in (
        ErrorKind.AUTH,
        ErrorKind.BAD_REQUEST,
        ErrorKind.CONTEXT,
        ErrorKind.LAUNCH,
        ErrorKind.IDLE,
        ErrorKind.PROVIDER,
        ErrorKind.INTERNAL,
    ):
        decision = decide(kind, message="bad key", now=NOW)
        assert decision.action is Action.FAIL and decision.reason == "bad key"


@given(st.integers(1, 40), st.integers(0, 2**32))
def test_backoff_grows_exponentially_within_bounds(streak: int, seed: int) -> None:
    policy = RetryPolicy(backoff_base=2.0, backoff_max=300.0)
    delay = backoff(streak, policy, random.Random(seed))
    ceiling = min(300.0, 2.0 * 2 ** (streak - 1))
    assert ceiling / 2 <= delay <= ceiling


@given(st.sampled_from([ErrorKind.OVERLOADED, ErrorKind.NETWORK]), st.integers(1, 10))
def test_transient_kinds_retry_the_same_account(kind: ErrorKind, streak: int) -> None:
    decision = decide(kind, message="m", now=NOW, transient_streak=streak)
    assert decision.action is Action.RETRY and decision.cool_until is None
    assert 0 < decision.delay <= 300
