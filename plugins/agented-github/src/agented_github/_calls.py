"""Calling the GitHub API without duplicating writes, honouring its rate limits.

Each call is retried with exponential backoff, at most :attr:`Policy.tries` times:

- a rate limit (403 or 429 with ``retry-after``, or ``x-ratelimit-remaining: 0`` with
  ``x-ratelimit-reset``; secondary limits say so in their message) waits as long as GitHub asks
  (capped by :attr:`Policy.max_wait`): GitHub did not apply the request, so it is sent again;
- another 4xx is final: the request was refused;
- a 5xx, a timeout or a lost connection leaves the outcome of a write unknown. An idempotent
  request (GET, PATCH of a known object) is sent again; a POST is not: ``recover`` looks up
  what it would have made (by the hidden marker or the external id) and returns it if found;
  only when nothing is found is it posted again.

Every failure is given to ``on_failure`` (the plugin records it as an event on the execution).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import anyio
import httpx
from attrs import frozen
from githubkit.exception import RequestFailed

T = TypeVar("T")

FailureSink = Callable[[str, dict[str, Any]], Awaitable[None]]


class WriteFailed(Exception):
    """A call failed for good (refused, or every try failed)."""


@frozen
class Policy:
    """How calls are retried."""

    tries: int = 4
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_wait: float = 120.0
    """The longest wait for a rate limit; a longer one fails the call instead."""


def _retry_after(response: httpx.Response, now: float) -> float | None:
    """How long GitHub asks us to wait, if the response is a rate limit."""
    headers = response.headers
    text = response.text.lower() if response.content else ""
    limited = response.status_code == 429 or (
        response.status_code == 403
        and (
            "rate limit" in text
            or "retry-after" in headers
            or headers.get("x-ratelimit-remaining") == "0"
        )
    )
    if not limited:
        return None
    after = headers.get("retry-after")
    if after:
        try:
            return max(0.0, float(after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = headers.get("x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset and reset.isdigit():
        return max(0.0, int(reset) - now)
    return 60.0  # a secondary limit without a hint: GitHub's docs say wait a minute


async def call(
    what: str,
    send: Callable[[], Awaitable[T]],
    *,
    idempotent: bool,
    on_failure: FailureSink,
    recover: Callable[[], Awaitable[T | None]] | None = None,
    policy: Policy = Policy(),
    guard: Callable[[], Awaitable[bool]] | None = None,
) -> T:
    """``send()`` under the rules above; raises :class:`WriteFailed` when it fails for good.

    ``guard`` is asked before every try of a write: ``False`` (the execution's attempt is no
    longer the current one) stops without sending.
    """
    unknown = False
    for attempt in range(1, policy.tries + 1):
        if guard is not None and not await guard():
            raise WriteFailed(f"{what}: skipped, the run is no longer the current one")
        delay = min(policy.max_backoff, policy.backoff * 2 ** (attempt - 1))
        if unknown and recover is not None:
            try:
                found = await recover()
            except (RequestFailed, httpx.TransportError, TimeoutError) as exc:
                # still unknown: posting now could duplicate, so look again later
                await on_failure(
                    f"{what}: looking up the lost request's result failed: {exc}",
                    {"action": what, "attempt": attempt, "status": None},
                )
                if attempt < policy.tries:
                    await anyio.sleep(delay)
                continue
            if found is not None:
                await on_failure(
                    f"{what}: found what the lost request made; not sent again",
                    {"action": what, "attempt": attempt, "recovered": True},
                )
                return found
        try:
            return await send()
        except RequestFailed as exc:
            response = exc.response.raw_response
            status = response.status_code
            wait = _retry_after(response, time.time())
            if wait is not None:
                data = {"action": what, "status": status, "attempt": attempt, "wait_s": wait}
                if wait > policy.max_wait:
                    await on_failure(f"{what}: rate limited for {wait:.0f}s; giving up", data)
                    raise WriteFailed(f"{what}: rate limited for {wait:.0f}s") from None
                await on_failure(f"{what}: rate limited (HTTP {status}); waiting {wait:.1f}s", data)
                if attempt < policy.tries:
                    await anyio.sleep(wait)
                continue
            message = _message(response)
            data = {"action": what, "status": status, "attempt": attempt}
            if status < 500:
                await on_failure(f"{what}: HTTP {status}: {message}", data)
                raise WriteFailed(f"{what}: HTTP {status}: {message}") from None
            unknown = not idempotent
            await on_failure(f"{what}: HTTP {status}: {message}", data)
        except (httpx.TransportError, TimeoutError) as exc:
            unknown = not idempotent
            await on_failure(
                f"{what}: {type(exc).__name__}: {exc}",
                {"action": what, "attempt": attempt, "status": None},
            )
        if attempt < policy.tries:
            await anyio.sleep(delay)
    raise WriteFailed(f"{what}: failed {policy.tries} times")


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:200]
    return str(body)[:200]
