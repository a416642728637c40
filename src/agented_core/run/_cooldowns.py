"""Cooldowns per (provider, account) and a circuit breaker per provider, kept in the store.

Every process using a store sees the same cooldowns: an account whose quota ran out at 3 a.m.
is skipped by every bot and every worker until its reset time. A provider that keeps failing
transiently (overloaded, network) trips its breaker for a while, so fallback chains move past
it at once instead of waiting out each attempt.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from attrs import frozen

from ..clock import Clock
from ..models import ChainEntry
from ..store.base import Store

BREAKER_THRESHOLD = 3
"""Transient failures of a provider within :data:`BREAKER_WINDOW` that open its breaker."""
BREAKER_WINDOW = timedelta(minutes=10)
BREAKER_OPEN = timedelta(minutes=2)


@frozen
class Cooldown:
    """Why and until when a chain entry is skipped."""

    until: datetime
    reason: str


def _cooldown_key(entry: ChainEntry) -> str:
    return f"cooldown:{entry.provider}:{entry.account or ''}"


def _breaker_key(provider: str) -> str:
    return f"breaker:{provider}"


class Cooldowns:
    """Reads and writes cooldowns and breakers in a :class:`Store`."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def active(self, entry: ChainEntry) -> Cooldown | None:
        """The cooldown in force for ``entry`` (its account's, or its provider's breaker)."""
        now = self.clock()
        found: list[Cooldown] = []
        for key in (_cooldown_key(entry), _breaker_key(entry.provider)):
            state: dict[str, Any] | None = await self.store.get_state(key)
            until = (state or {}).get("until")
            if until:
                moment = datetime.fromisoformat(until)
                if moment > now:
                    found.append(Cooldown(moment, str(state.get("reason", ""))))  # type: ignore[union-attr]
        return max(found, key=lambda c: c.until) if found else None

    async def cool(self, entry: ChainEntry, until: datetime, reason: str) -> None:
        """Skip ``entry`` until ``until`` (a later cooldown already set is kept)."""
        wanted = {"until": until.isoformat(), "reason": reason}

        def later(state: dict[str, Any] | None) -> dict[str, Any]:
            current = (state or {}).get("until")
            if state and current and datetime.fromisoformat(current) >= until:
                return state
            return wanted

        await self.store.update_state(_cooldown_key(entry), later)

    async def transient_failure(self, provider: str) -> bool:
        """Count a transient failure of ``provider``; True when it opened the breaker."""
        now = self.clock()
        opened = False

        def count(state: dict[str, Any] | None) -> dict[str, Any]:
            nonlocal opened  # the store keeps the value of the last call: so does this
            state = state or {}
            first = state.get("first")
            failures = int(state.get("failures", 0))
            if not first or now - datetime.fromisoformat(first) > BREAKER_WINDOW:
                first, failures = now.isoformat(), 0
            failures += 1
            opened = failures >= BREAKER_THRESHOLD
            new_state: dict[str, Any] = {"first": first, "failures": 0 if opened else failures}
            if opened:
                new_state["until"] = (now + BREAKER_OPEN).isoformat()
                new_state["reason"] = (
                    f"{provider} failed {failures} times in a row (overloaded or unreachable)"
                )
            elif state.get("until"):
                new_state["until"] = state["until"]
                new_state["reason"] = state.get("reason", "")
            return new_state

        await self.store.update_state(_breaker_key(provider), count)
        return opened

    async def success(self, provider: str) -> None:
        """A provider worked: its transient-failure count starts again."""
        key = _breaker_key(provider)
        state = await self.store.get_state(key)
        # the common case (nothing counted) reads only; a count is cleared atomically
        if state and (state.get("failures") or state.get("until")):
            await self.store.update_state(key, _cleared)

    # for dashboards and operators (GET /accounts, POST /accounts/{name}/clear)
    async def cooldown(self, entry: ChainEntry) -> Cooldown | None:
        """The account's own cooldown in force for ``entry`` (not its provider's breaker)."""
        return self._in_force(await self.store.get_state(_cooldown_key(entry)))

    async def breaker(self, provider: str) -> tuple[int, Cooldown | None]:
        """The transient failures counted for ``provider``, and its breaker while it is open."""
        state = await self.store.get_state(_breaker_key(provider)) or {}
        return int(state.get("failures", 0) or 0), self._in_force(state)

    async def clear(self, entry: ChainEntry) -> bool:
        """End ``entry``'s cooldown now; True when one was in force."""
        had = False

        def cleared(state: dict[str, Any] | None) -> dict[str, Any]:
            nonlocal had  # the store keeps the value of the last call: so does this
            had = self._in_force(state) is not None
            return {}

        await self.store.update_state(_cooldown_key(entry), cleared)
        return had

    def _in_force(self, state: dict[str, Any] | None) -> Cooldown | None:
        until = (state or {}).get("until")
        if not until:
            return None
        moment = datetime.fromisoformat(until)
        if moment <= self.clock():
            return None
        return Cooldown(moment, str((state or {}).get("reason", "")))


def _cleared(state: dict[str, Any] | None) -> dict[str, Any]:
    return {"failures": 0}
