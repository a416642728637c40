"""Headroom: how much of an account's usage window is left, as its CLI last reported it.

Some CLIs say how close an account is to its limit before it is reached: Claude Code's
``rate_limit_event`` lines carry the window (``five_hour``, ``seven_day`` ...), its status
(``allowed``, ``allowed_warning``, ``rejected``), its utilization and when it resets. A parser
reports that as a ``headroom`` event (:func:`agented_core.providers.headroom`); the executor
records the last one per (provider, account) in the store, next to the cooldowns, and a chain
with a choice prefers an account that is not about to be cut off (:meth:`Headrooms.low`).

The record is small: ``{window, status, utilization, resets_at, observed_at}``. It stops
counting once its window has reset (or, without a reset time, after :data:`STALE_AFTER`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from ..clock import Clock
from ..models import ChainEntry
from ..store.base import ClaimStore

LOW_UTILIZATION = 0.9
"""An account that has used this share of its window (or more) has little headroom."""

STALE_AFTER = timedelta(hours=5)
"""A report without a reset time counts for this long (the shortest subscription window)."""

_LOW_STATUSES = frozenset({"allowed_warning", "rejected"})


def headroom_key(provider: str, account: str | None) -> str:
    """The store key of an account's headroom (beside ``cooldown:PROVIDER:ACCOUNT``)."""
    return f"headroom:{provider}:{account or ''}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def normalize(data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The record kept of a ``headroom`` event's data: utilization as a share (0-1; a CLI
    that reports a percentage is scaled), the reset as ISO 8601, when it was seen."""
    utilization = _number(data.get("utilization"))
    if utilization is not None and utilization > 1.0:
        utilization /= 100.0
    resets = data.get("resets_at")
    if isinstance(resets, int | float) and not isinstance(resets, bool):
        resets = datetime.fromtimestamp(resets, now.tzinfo).isoformat()
    return {
        "window": data.get("window") if isinstance(data.get("window"), str) else None,
        "status": data.get("status") if isinstance(data.get("status"), str) else None,
        "utilization": utilization,
        "resets_at": resets if isinstance(resets, str) else None,
        "observed_at": now.isoformat(),
    }


def current(record: Mapping[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    """``record`` while it still counts: its window has not reset yet (or it is recent)."""
    if not record:
        return None
    resets = record.get("resets_at")
    try:
        if resets:
            if datetime.fromisoformat(str(resets)) <= now:
                return None
        elif now - datetime.fromisoformat(str(record.get("observed_at"))) > STALE_AFTER:
            return None
    except ValueError:
        return None
    return dict(record)


def is_low(record: Mapping[str, Any] | None) -> bool:
    """Whether a (current) record says the account is about to be cut off: a warning or a
    rejection, or a utilization of :data:`LOW_UTILIZATION` or more."""
    if not record:
        return False
    if record.get("status") in _LOW_STATUSES:
        return True
    utilization = _number(record.get("utilization"))
    return utilization is not None and utilization >= LOW_UTILIZATION


class Headrooms:
    """Reads and writes the accounts' headroom in a store (as :class:`Cooldowns` does)."""

    def __init__(self, store: ClaimStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def record(self, provider: str, account: str | None, data: Mapping[str, Any]) -> None:
        """Keep the headroom an attempt on ``provider``/``account`` last reported."""
        await self.store.put_state(headroom_key(provider, account), normalize(data, self.clock()))

    async def get(self, provider: str, account: str | None) -> dict[str, Any] | None:
        """The account's current headroom record, or ``None`` (none reported, or reset)."""
        state = await self.store.get_state(headroom_key(provider, account))
        return current(state if isinstance(state, Mapping) else None, self.clock())

    async def low(self, entry: ChainEntry) -> bool:
        """Whether ``entry``'s account is about to be cut off (:func:`is_low`)."""
        return is_low(await self.get(entry.provider, entry.account))


async def account_headroom(
    store: ClaimStore,
    accounts: Iterable[tuple[str, str | None]],
    now: datetime,
) -> dict[str, dict[str, Any] | None]:
    """The current headroom of each ``(provider, account)``, keyed ``"provider:account"``:
    ``{window, status, utilization, resets_at, observed_at, low}``, or ``None`` when the CLI
    reported none (or its window has reset since). For views of the accounts (``GET
    /accounts``)."""
    out: dict[str, dict[str, Any] | None] = {}
    for provider, account in accounts:
        state = await store.get_state(headroom_key(provider, account))
        record = current(state if isinstance(state, Mapping) else None, now)
        if record is not None:
            record["low"] = is_low(record)
        out[f"{provider}:{account or ''}"] = record
    return out
