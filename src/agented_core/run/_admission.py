"""Admission of runs: the global limit, per-bot limits, and concurrency groups with policies.

Runs over a limit wait as ``queued``, first in first out. A bot's concurrency group is a
template (e.g. ``"{repo.full_name}#{pr.number}"``); runs of that bot whose rendered keys are
equal share the group's ``limit`` (1 when not given), and the group's policy says what a new run
does when the group is full:

- ``queue``: it waits for its turn.
- ``cancel-in-progress``: it cancels the group's earlier runs (a new push supersedes the review
  of the old commit), then waits for them to end.
- ``skip``: it ends at once as ``skipped``.

These limits order the runs of one process; across the processes sharing a store the same
limits are held by slots in the store (:mod:`agented_core.run._slots`), taken before a run is
launched here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio

from ..models import Bot, ConcurrencyPolicy
from ._prompts import render


class Skipped(Exception):
    """The run's concurrency group is full and its policy is ``skip``."""


class _Group:
    __slots__ = ("limiter", "members")

    def __init__(self, limit: int) -> None:
        self.limiter = anyio.CapacityLimiter(limit)
        self.members: list[str] = []


class Admission:
    """Decides when a queued run may start."""

    def __init__(self, max_concurrent_runs: int) -> None:
        self.limiter = anyio.CapacityLimiter(max_concurrent_runs)
        self._bots: dict[str, anyio.CapacityLimiter] = {}
        self._groups: dict[str, _Group] = {}

    @staticmethod
    def group_key(bot: Bot, context: Mapping[str, Any]) -> str | None:
        """The rendered group key of a run of ``bot`` (``None`` when the bot has no group)."""
        if not bot.concurrency.group:
            return None
        return f"{bot.name}\x00{render(bot.concurrency.group, context, missing='empty')}"

    def group_members(self, key: str) -> list[str]:
        """Execution ids in a group (running or waiting), oldest first."""
        group = self._groups.get(key)
        return list(group.members) if group else []

    @asynccontextmanager
    async def admit(
        self,
        execution_id: str,
        bot: Bot,
        group_key: str | None,
        supersede: Callable[[str], Awaitable[None]],
    ) -> AsyncIterator[None]:
        """Wait until the run may start; hold its slots for the body.

        ``supersede`` is called with each earlier run of a ``cancel-in-progress`` group.
        Raises :class:`Skipped` for a full ``skip`` group.
        """
        async with AsyncExitStack() as stack:
            if group_key is not None:
                group = self._groups.get(group_key)
                if group is None:
                    group = self._groups[group_key] = _Group(bot.concurrency.limit or 1)
                policy = bot.concurrency.policy
                if policy is ConcurrencyPolicy.SKIP and len(group.members) >= (
                    bot.concurrency.limit or 1
                ):
                    raise Skipped(
                        f"concurrency group {group_key.split(chr(0), 1)[1]!r} is full "
                        f"({len(group.members)} running or queued)"
                    )
                earlier = list(group.members)
                group.members.append(execution_id)
                stack.callback(self._leave, group_key, execution_id)
                if policy is ConcurrencyPolicy.CANCEL_IN_PROGRESS:
                    for other in earlier:
                        await supersede(other)
                await group.limiter.acquire_on_behalf_of(execution_id)
                stack.callback(group.limiter.release_on_behalf_of, execution_id)
            elif bot.concurrency.limit is not None:
                limiter = self._bots.get(bot.name)
                if limiter is None:
                    limiter = self._bots[bot.name] = anyio.CapacityLimiter(bot.concurrency.limit)
                await limiter.acquire_on_behalf_of(execution_id)
                stack.callback(limiter.release_on_behalf_of, execution_id)
            await self.limiter.acquire_on_behalf_of(execution_id)
            stack.callback(self.limiter.release_on_behalf_of, execution_id)
            yield

    def _leave(self, key: str, execution_id: str) -> None:
        group = self._groups.get(key)
        if group is None:
            return
        if execution_id in group.members:
            group.members.remove(execution_id)
        if not group.members:
            del self._groups[key]
