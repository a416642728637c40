"""Spend caps per bot and per account, over a calendar day and month.

Every attempt's cost is added to four running totals in the store (its bot's and its account's,
for today and this month, in the config's ``[agented] timezone``): at the attempt's end and
every few seconds while it runs, so the totals survive restarts and every process sharing the
store counts the runs of the others. A run that would start at or over a cap of its bot does
not start (``skipped``, or ``budget_exceeded`` for a later attempt); a chain entry whose account
is at its cap is passed over; a running attempt whose spend crosses a cap is stopped
(``budget_exceeded``), as a per-execution ``max_cost_usd`` stops it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
from attrs import define, field, frozen

from ..config import Config
from ..models import Bot, ChainEntry
from ..store.base import Store

__all__ = ["Cap", "SpendMeter", "SpendTotals", "SpendWatch", "spend_keys", "spend_totals"]

log = logging.getLogger("agented.spend")

PERIODS = ("day", "month")


def _zone(config: Config) -> ZoneInfo:
    try:
        return ZoneInfo(config.settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def period_labels(now: datetime, zone: ZoneInfo) -> dict[str, str]:
    """Today's and this month's labels in ``zone``: ``{"day": "2026-12-03", ...}``."""
    local = now.astimezone(zone)
    return {"day": local.strftime("%Y-%m-%d"), "month": local.strftime("%Y-%m")}


def spend_keys(scope: str, name: str, now: datetime, zone: ZoneInfo) -> dict[str, str]:
    """The store keys of ``scope`` (``bot`` or ``account``) ``name``'s totals, by period."""
    return {p: f"{label}:{scope}:{name}" for p, label in period_labels(now, zone).items()}


@frozen
class Cap:
    """One cap that applies to a run: what it caps, its key in the store and its limit."""

    scope: str
    name: str
    period: str
    key: str
    limit: float

    def describe(self, spent: float) -> str:
        """Why a run stops or does not start at this cap."""
        when = "today" if self.period == "day" else "this month"
        return (
            f"spend cap: {self.scope} {self.name!r} has spent ${spent:.4f} {when}, "
            f"max_cost_usd_per_{self.period} is ${self.limit:.4f}"
        )


def _caps(
    scope: str, name: str, limits: dict[str, float | None], keys: dict[str, str]
) -> list[Cap]:
    return [
        Cap(scope, name, period, keys[period], limit)
        for period, limit in limits.items()
        if limit is not None
    ]


@frozen
class SpendTotals:
    """A bot's or an account's spend today and this month, against its caps (``None``: none)."""

    scope: str
    name: str
    day_usd: float
    month_usd: float
    max_cost_usd_per_day: float | None = None
    max_cost_usd_per_month: float | None = None

    @property
    def over(self) -> bool:
        """True when a cap is reached: new runs of it are skipped."""
        day, month = self.max_cost_usd_per_day, self.max_cost_usd_per_month
        return (day is not None and self.day_usd >= day) or (
            month is not None and self.month_usd >= month
        )


async def spend_totals(store: Store, config: Config, *, now: datetime) -> list[SpendTotals]:
    """Every bot's and account's spend today and this month with its caps, bots first.

    What the accounts view (``GET /accounts``) and ``agented show`` print.
    """
    zone = _zone(config)
    rows: list[tuple[str, str, float | None, float | None]] = [
        ("bot", b.name, b.max_cost_usd_per_day, b.max_cost_usd_per_month)
        for b in config.bots.values()
    ] + [
        ("account", a.name, a.max_cost_usd_per_day, a.max_cost_usd_per_month)
        for a in config.accounts.values()
    ]
    keys = {(scope, name): spend_keys(scope, name, now, zone) for scope, name, _, _ in rows}
    spent = await store.get_spend([k for ks in keys.values() for k in ks.values()])
    return [
        SpendTotals(
            scope,
            name,
            spent[keys[(scope, name)]["day"]],
            spent[keys[(scope, name)]["month"]],
            day,
            month,
        )
        for scope, name, day, month in rows
    ]


@define
class SpendWatch:
    """One attempt's share of the totals: what they were, what it added, when it crosses a cap.

    ``spent`` holds the totals under ``caps`` as last read, which include the ``recorded`` part
    of this attempt's cost; :meth:`over` is synchronous (it runs on every ``usage`` event).
    """

    store: Store
    keys: list[str]
    caps: list[Cap]
    spent: dict[str, float] = field(factory=dict)
    recorded: float = 0.0

    def over(self, attempt_cost: float | None) -> str | None:
        """The reason to stop when the attempt's cost so far crosses a cap, else ``None``."""
        if attempt_cost is None:
            return None
        extra = attempt_cost - self.recorded
        for cap in self.caps:
            total = self.spent.get(cap.key, 0.0) + extra
            if total > cap.limit:
                return cap.describe(total)
        return None

    async def flush(self, attempt_cost: float | None) -> None:
        """Add what the attempt spent since the last flush to the totals, then read them again."""
        if attempt_cost is not None and attempt_cost > self.recorded:
            delta = attempt_cost - self.recorded
            await self.store.add_spend(self.keys, delta)
            self.recorded = attempt_cost
        if self.caps:
            self.spent = await self.store.get_spend([c.key for c in self.caps])


class SpendMeter:
    """The caps of a configuration over a store's totals, for the executor."""

    def __init__(self, store: Store, config: Config, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    def _bot_caps(self, bot: Bot, now: datetime) -> tuple[dict[str, str], list[Cap]]:
        keys = spend_keys("bot", bot.name, now, _zone(self.config))
        limits = {"day": bot.max_cost_usd_per_day, "month": bot.max_cost_usd_per_month}
        return keys, _caps("bot", bot.name, limits, keys)

    def _account_caps(self, account: str | None, now: datetime) -> tuple[dict[str, str], list[Cap]]:
        if account is None:
            return {}, []
        keys = spend_keys("account", account, now, _zone(self.config))
        known = self.config.accounts.get(account)
        if known is None:
            return keys, []
        limits = {"day": known.max_cost_usd_per_day, "month": known.max_cost_usd_per_month}
        return keys, _caps("account", account, limits, keys)

    async def _first_over(self, caps: Iterable[Cap]) -> str | None:
        wanted = list(caps)
        if not wanted:
            return None
        spent = await self.store.get_spend([c.key for c in wanted])
        for cap in wanted:
            if spent[cap.key] >= cap.limit:
                return cap.describe(spent[cap.key])
        return None

    async def bot_over(self, bot: Bot) -> str | None:
        """Why ``bot`` may not start a run now (a cap of its own reached), else ``None``."""
        return await self._first_over(self._bot_caps(bot, self.clock())[1])

    async def account_over(self, entry: ChainEntry) -> str | None:
        """Why the chain entry's account may not run now (at a cap), else ``None``."""
        return await self._first_over(self._account_caps(entry.account, self.clock())[1])

    async def watch(self, bot: Bot, entry: ChainEntry) -> SpendWatch:
        """A :class:`SpendWatch` for an attempt of ``bot`` on ``entry``, its totals read."""
        now = self.clock()
        bot_keys, bot_caps = self._bot_caps(bot, now)
        account_keys, account_caps = self._account_caps(entry.account, now)
        watch = SpendWatch(
            self.store,
            [*bot_keys.values(), *account_keys.values()],
            [*bot_caps, *account_caps],
        )
        await watch.flush(None)
        return watch


@asynccontextmanager
async def spend_updates(
    watch: SpendWatch, cost: Callable[[], float | None], interval: float
) -> AsyncIterator[None]:
    """Flush ``watch`` every ``interval`` seconds while the body runs, and once at its end.

    A failing flush is logged (the store may be briefly away); the body's exception comes out
    as it is.
    """

    async def flush() -> None:
        try:
            await watch.flush(cost())
        except Exception:
            log.exception("recording spend failed")

    async def loop() -> None:
        while True:
            await anyio.sleep(interval)
            await flush()

    try:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(loop)
                try:
                    yield
                finally:
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
    finally:
        with anyio.CancelScope(shield=True):
            await flush()
