"""Run slots: the global, per-bot and group limits, held across every process sharing a store.

A run may start only while it holds a slot of each limit that applies to it: one of the
``max_concurrent_runs`` global slots, one of its bot's ``concurrency.limit`` slots (without a
group), one of its group's slots (a group with the ``queue`` policy). A slot is a claim in the
store (``slot:global:2``, ``slot:bot:review:0``, ...) held by the run (``{owner}|{execution}``)
for ``lease`` seconds and renewed with its heartbeat, so the slots of a dead process come free
once its lease has run out. Groups with the ``skip`` and ``cancel-in-progress`` policies are
decided by the process that runs them (their earlier runs are its own).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import anyio

from ..models import Bot, ConcurrencyPolicy, Execution
from ..store.base import ClaimStore
from ._prompts import render

log = logging.getLogger("agented")

GLOBAL = "slot:global"
"""The slot key prefix of ``max_concurrent_runs``."""
SEEN_FULL_FOR = 1.0
"""How long (seconds) a limit found full is taken as full by :meth:`Slots.seen_full`."""


class Slots:
    """Takes, renews and gives back the slots of runs."""

    def __init__(self, store: ClaimStore, owner: str, max_concurrent_runs: int, lease: float):
        self.store = store
        self.owner = owner
        self.max_concurrent_runs = max_concurrent_runs
        self.lease = lease
        self.last_full: str | None = None
        """The limit (slot key prefix) the last :meth:`take` found full."""
        self._full_at: dict[str, float] = {}  # limit -> when it was last found full here

    def token(self, execution_id: str) -> str:
        """Who holds a run's slots: this process, for that execution."""
        return f"{self.owner}|{execution_id}"

    def limits(self, bot: Bot, context: Mapping[str, Any]) -> list[tuple[str, int]]:
        """The (slot key prefix, number of slots) of every limit a run of ``bot`` is under."""
        limits = [(GLOBAL, self.max_concurrent_runs)]
        concurrency = bot.concurrency
        if concurrency.group:
            if concurrency.policy is ConcurrencyPolicy.QUEUE:
                key = render(concurrency.group, context, missing="empty")
                limits.append((f"slot:group:{bot.name}:{key}", concurrency.limit or 1))
        elif concurrency.limit is not None:
            limits.append((f"slot:bot:{bot.name}", concurrency.limit))
        return limits

    async def full_limits(self, bots: Iterable[Bot]) -> set[str]:
        """The limits (slot key prefixes) whose every slot is held now, of those known without
        a run's context: the global one and the ones of ``bots`` without a group.

        One read of the store's claims; empty when the store cannot list them. A slot given
        back right after is not seen, but whoever gives one back wakes the queue.
        """
        try:
            held = await self.store.list_claims("slot:")
        except NotImplementedError:
            return set()
        limits = {GLOBAL: self.max_concurrent_runs}
        for bot in bots:
            if not bot.concurrency.group and bot.concurrency.limit is not None:
                limits[f"slot:bot:{bot.name}"] = bot.concurrency.limit
        full = {
            prefix
            for prefix, count in limits.items()
            if all(f"{prefix}:{index}" in held for index in range(count))
        }
        now = time.monotonic()
        for prefix in limits:
            if prefix in full:
                self._full_at[prefix] = now
            else:
                self._full_at.pop(prefix, None)
        return full

    def seen_full(self, bot: Bot, context: Mapping[str, Any]) -> bool:
        """True when a limit of a run of ``bot`` was found full here in the last
        :data:`SEEN_FULL_FOR` seconds and this process has given none of its slots back since.

        A hint, not a read: a new run that would only fail to take its slots goes straight to
        the shared queue, whose next look (which the queueing itself wakes) reads the slots
        afresh. Under a burst of deliveries behind a full limit this saves a doomed claim per
        delivery, which would all wait on the same key.
        """
        now = time.monotonic()
        for prefix, _ in self.limits(bot, context):
            seen = self._full_at.get(prefix)
            if seen is not None and now - seen < SEEN_FULL_FOR:
                return True
        return False

    async def take(
        self, execution: Execution, bot: Bot, context: Mapping[str, Any]
    ) -> list[str] | None:
        """The keys of one free slot of each limit, now held by the run; ``None`` if one is full.

        The narrowest limits are tried first, so a full bot limit costs no global slot.
        """
        token = self.token(execution.id)
        held: list[str] = []
        self.last_full = None
        key: str | None = None
        try:
            for prefix, count in reversed(self.limits(bot, context)):
                order = list(range(count))
                random.shuffle(order)  # processes trying at once mostly try different slots
                for index in order:
                    key = f"{prefix}:{index}"
                    if await self.store.claim(key, token, self.lease):
                        held.append(key)
                        break
                else:
                    self.last_full = prefix
                    self._full_at[prefix] = time.monotonic()
                    await self.release(execution.id, held)
                    return None
        except BaseException:
            # cut short (a cancel) or failed: what it holds is given back, the claim under way
            # too (it may have been made), rather than held by nobody until its lease runs out
            with anyio.CancelScope(shield=True):
                try:
                    cut = [key] if key is not None and key not in held else []
                    await self.release(execution.id, [*held, *cut])
                except Exception:
                    log.exception("giving back the slots of %s failed (they expire)", execution.id)
            raise
        return held

    async def renew(self, execution_id: str, keys: Sequence[str]) -> bool:
        """Hold a run's slots for another ``lease``; False if one was lost meanwhile."""
        token = self.token(execution_id)
        held = True
        for key in keys:
            held = await self.store.claim(key, token, self.lease) and held
        return held

    async def release(self, execution_id: str, keys: Sequence[str]) -> None:
        """Give a run's slots back."""
        token = self.token(execution_id)
        for key in keys:
            self._full_at.pop(key.rsplit(":", 1)[0], None)
            await self.store.release(key, token)
