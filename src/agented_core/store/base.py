"""The storage interface, in parts a backend may provide separately.

A backend implements :class:`Store` (every part) and registers a factory by URL scheme through
the ``agented_backends`` hook; or it implements some parts, and a
:class:`~agented_core.store.CompositeStore` puts parts from different places together. The
parts: :class:`ExecutionStore` (executions, controls, heartbeats), :class:`EventStore`,
:class:`ClaimStore` (claims and small state, with an atomic update), :class:`SpendLedger`
(spend totals; by default in the claim store's state), :class:`DeliveryLog` and
:class:`AuditLog`. Every method is async; a backend over a blocking library runs its calls in a
worker thread. Methods never hold state that must survive a request only in memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import anyio

from ..models import Event, Execution, Status
from .search import SearchMatch

FOLLOW_POLL_INTERVAL = 0.2
"""Seconds between two reads of :meth:`EventStore.follow`'s default, caught up (as the event
log's followers of another process's run)."""


class StoreFactory(Protocol):
    """Makes an unopened store from its URL; relative paths resolve against ``base_dir``."""

    def __call__(self, url: str, *, base_dir: Path | None = None) -> Store: ...


class StorePart(ABC):
    """What every part has: a lifecycle and a readiness check."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections. Safe to call twice."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the store cannot be reached."""


class ExecutionStore(StorePart):
    """Execution records, the control mailbox of each, and their owners' heartbeats."""

    @abstractmethod
    async def save_execution(self, execution: Execution) -> None:
        """Insert or replace an execution record."""

    @abstractmethod
    async def get_execution(self, execution_id: str) -> Execution | None:
        """The execution, or ``None``."""

    @abstractmethod
    async def list_executions(
        self,
        *,
        bot: str | None = None,
        status: Iterable[Status] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Execution], str | None]:
        """Executions, newest first, and a cursor for the next page (``None`` at the end)."""

    @abstractmethod
    async def ids_with_prefix(
        self,
        prefix: str,
        limit: int,
        *,
        bot: str | None = None,
        status: Iterable[Status] | None = None,
        before: str | None = None,
    ) -> list[str]:
        """Up to ``limit`` ids that start with ``prefix``, newest first (optionally only of
        ``bot``, in ``status``, and below the id ``before``)."""

    @abstractmethod
    async def find_executions(
        self, statuses: Iterable[Status], *, owner: str | None = None
    ) -> list[Execution]:
        """Every execution in one of ``statuses`` (owned by ``owner`` if given), oldest first."""

    async def owners(self, statuses: Iterable[Status]) -> dict[str | None, datetime | None]:
        """Each owner of executions in one of ``statuses``, with their oldest heartbeat.

        The heartbeat of an execution that has none is its creation time. Recovery asks this
        every few seconds; a backend may answer it without loading the executions.
        """
        oldest: dict[str | None, datetime | None] = {}
        for execution in await self.find_executions(statuses):
            beat = execution.heartbeat_at or execution.created_at
            known = oldest.get(execution.owner, beat)
            earlier = beat is None or (known is not None and beat < known)
            if execution.owner not in oldest or earlier:
                oldest[execution.owner] = beat
        return oldest

    @abstractmethod
    async def heartbeat(self, execution_ids: Sequence[str], owner: str, at: datetime) -> None:
        """Record that ``owner`` is alive and still runs ``execution_ids``."""

    async def renew_leases(
        self, execution_ids: Sequence[str], owner: str, at: datetime
    ) -> set[str]:
        """Beat the heartbeat (renew the lease) of ``owner``'s executions; the ids still held.

        An id is held while its execution is ``owner``'s and not terminal: one missing from the
        answer was taken over (ended by another process as interrupted, or queued again for
        another worker), and its owner must stop writing to it. This default beats, then reads
        each execution; a backend may do it in one statement.
        """
        await self.heartbeat(execution_ids, owner, at)
        held: set[str] = set()
        for execution_id in execution_ids:
            execution = await self.get_execution(execution_id)
            if execution is not None and execution.owner == owner and not execution.status.terminal:
                held.add(execution_id)
        return held

    async def take_execution(self, execution_id: str, owner: str, at: datetime) -> bool:
        """Make ``owner`` the owner of a ``queued`` execution nobody owns; True for the taker.

        Of every process trying at once, exactly one is answered True; its heartbeat becomes
        ``at``. This default does it under a claim when the store keeps claims too (else it
        is not atomic: override it); a backend may do it in one statement
        (``UPDATE ... WHERE owner IS NULL``, or ``FOR UPDATE SKIP LOCKED``).
        """
        claims = self if isinstance(self, ClaimStore) else None
        key = f"take:{execution_id}"
        if claims is not None and not await claims.claim(key, owner, 30.0):
            return False
        try:
            execution = await self.get_execution(execution_id)
            if execution is None or execution.status is not Status.QUEUED or execution.owner:
                return False
            execution.owner, execution.heartbeat_at = owner, at
            await self.save_execution(execution)
            return True
        finally:
            if claims is not None:
                await claims.release(key, owner)

    async def save_owned(self, execution: Execution) -> bool:
        """Save ``execution`` only while its owner still holds it; True when saved.

        Held: the stored execution is missing, or has the same owner, is not terminal, and its
        ``attempt`` is not above this one's (the attempt is the fencing token: a worker whose
        run was taken over and run again elsewhere can no longer write it). This default reads
        then saves; a backend does it in one statement.
        """
        stored = await self.get_execution(execution.id)
        if stored is not None and (
            stored.owner != execution.owner
            or stored.status.terminal
            or stored.attempt > execution.attempt
        ):
            return False
        await self.save_execution(execution)
        return True

    @abstractmethod
    async def request_control(self, execution_id: str, action: str) -> None:
        """Ask the owner of an execution to ``cancel``, ``pause`` or ``resume`` it."""

    @abstractmethod
    async def take_controls(self, execution_ids: Sequence[str]) -> dict[str, str]:
        """Pending control requests for these executions, cleared as they are read."""

    def wakes_owners(self) -> bool:
        """True when :meth:`listen_controls` brings word of control requests as they are
        stored, from any process sharing the store (PostgreSQL's NOTIFY)."""
        return False

    def listen_controls(self) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        """``async with store.listen_controls() as ids``: the execution id of each control
        request stored from then on, best-effort (owners still poll :meth:`take_controls`).
        Only when :meth:`wakes_owners`; the default refuses with :class:`NotImplementedError`."""
        raise NotImplementedError(f"{type(self).__name__} brings no word of control requests")

    @abstractmethod
    async def delete_executions(self, finished_before: datetime) -> int:
        """Delete terminal executions finished before a time, with their events; the count.

        A store holding the events too deletes them here; a
        :class:`~agented_core.store.CompositeStore` deletes them from its event part first.
        """


class EventStore(StorePart):
    """The persisted events of each execution, in seq order."""

    @abstractmethod
    async def append_events(self, events: Sequence[Event]) -> None:
        """Persist events in one transaction. Events already stored (same seq) are ignored, and
        so are events of an attempt older than their execution's stored ``attempt`` (the
        fence of a takeover: a process whose run is run again elsewhere writes nothing more
        of it); the check and the insert must be atomic against a concurrent save."""

    @abstractmethod
    async def read_events(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        """Stored events with ``seq > after``, in order."""

    @abstractmethod
    async def last_seq(self, execution_id: str) -> int:
        """The highest stored seq of an execution (0 when none)."""

    async def follow(self, execution_id: str, *, after: int = 0) -> AsyncIterator[Event]:
        """The stored events after ``after``, then each one as it is stored, in seq order.

        Never ends on its own: the reader stops iterating (at a terminal ``status`` event, say).
        This default reads the store again every :data:`FOLLOW_POLL_INTERVAL` seconds once
        caught up; a backend with blocking reads or notifications overrides it.
        """
        while True:
            events = await self.read_events(execution_id, after=after, limit=1000)
            for event in events:
                yield event
                after = event.seq
            if not events:
                await anyio.sleep(FOLLOW_POLL_INTERVAL)

    def wakes_followers(self) -> bool:
        """True when :meth:`follow` is woken as events are stored (notifications, blocking
        reads) rather than by polling: the event log then follows runs of other processes
        through it instead of reading the store at its own interval."""
        return False

    async def search_events(
        self, query: str, *, limit: int = 20, per_execution: int = 3, before: str | None = None
    ) -> list[SearchMatch]:
        """Executions whose event text matches ``query`` (:mod:`agented_core.store.search`).

        Up to ``limit`` executions, the most recently indexed first, each with up to
        ``per_execution`` of its matching events (the latest ones, given in seq order);
        ``before``: the last execution id of the previous page, to go on after it. A query
        without a word matches nothing; no query is ever a syntax error.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot search events")

    async def delete_events(self, execution_ids: Sequence[str]) -> None:
        """Delete every event of these executions.

        Called by a :class:`~agented_core.store.CompositeStore` after its execution part
        pruned them; a store holding both parts deletes events with their executions.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot delete events on their own")


class ClaimStore(StorePart):
    """Claims (leases held until they expire) and small JSON state under string keys."""

    @abstractmethod
    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        """Take ``key`` for ``ttl`` seconds unless someone else holds it; True when taken."""

    @abstractmethod
    async def release(self, key: str, owner: str) -> None:
        """Give up a claim held by ``owner``."""

    @abstractmethod
    async def get_state(self, key: str) -> Any:
        """A small JSON value stored under ``key``, or ``None``."""

    @abstractmethod
    async def put_state(self, key: str, value: Any) -> None:
        """Store a small JSON value under ``key``."""

    @abstractmethod
    async def update_state(self, key: str, fn: Callable[[Any], Any]) -> Any:
        """Replace the value under ``key`` by ``fn(value)`` atomically; the value stored.

        ``fn`` gets the current value (``None`` when there is none) and returns the new one.
        No update made at the same time, by this process or another sharing the store, is
        lost. ``fn`` must be quick and free of side effects: a backend may call it again (an
        optimistic retry); only the value of its last call is stored.
        """

    async def list_claims(self, prefix: str = "") -> dict[str, tuple[str, float]]:
        """Each unexpired claim whose key starts with ``prefix``: its owner and the seconds it
        still holds (``agented db copy`` moves delivery dedup and wake-up leases with it).

        Not abstract, like :meth:`list_state`; the default refuses with
        :class:`NotImplementedError`.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list its claims")

    async def delete_expired_claims(self, limit: int = 10_000) -> int:
        """Delete up to ``limit`` claims that have expired; how many were deleted.

        An expired claim holds nothing (the next :meth:`claim` of its key takes it), but its
        row stays: one per webhook delivery (its dedup), and the leases of processes that
        died. Recovery calls this now and then so they do not pile up. Not abstract: the
        default deletes nothing, so a store written before it keeps working.
        """
        return 0

    async def list_state(self, prefix: str = "") -> dict[str, Any]:
        """Every value stored under a key starting with ``prefix`` (``agented db copy``).

        Not abstract, so that a store written before it keeps working; such a store refuses
        with :class:`NotImplementedError`.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list its state")


class SpendLedger(StorePart):
    """Running USD totals under string keys (spend per bot and account, per day and month).

    The defaults keep them in the claim store's state (one key each); a backend may keep them
    in a table of its own. Totals survive restarts and are shared by every process on the store.
    """

    async def add_spend(self, keys: Sequence[str], amount: float) -> None:
        """Add ``amount`` (USD) to the total under each key (a new key starts at 0)."""
        if not isinstance(self, ClaimStore):
            raise NotImplementedError(f"{type(self).__name__} keeps no spend")
        for key in keys:
            await self.update_state(f"spend:{key}", lambda v: float(v or 0.0) + amount)

    async def get_spend(self, keys: Sequence[str]) -> dict[str, float]:
        """The total under each key (0.0 for a key never added to)."""
        if not isinstance(self, ClaimStore):
            raise NotImplementedError(f"{type(self).__name__} keeps no spend")
        return {key: float(await self.get_state(f"spend:{key}") or 0.0) for key in keys}


class DeliveryLog(StorePart):
    """The log of webhook deliveries: each one and what it started or why not."""

    @abstractmethod
    async def record_delivery(self, delivery: dict[str, Any]) -> None:
        """Append an entry to the delivery log."""

    @abstractmethod
    async def list_deliveries(self, limit: int = 50) -> list[dict[str, Any]]:
        """Recent deliveries, newest first."""


class AuditLog(StorePart):
    """Who did what to which execution.

    Its methods are not abstract, so that a store written before the audit existed keeps
    working until it implements them; such a store refuses with :class:`NotImplementedError`.
    """

    async def record_audit(self, entry: dict[str, Any]) -> None:
        """Append an entry to the audit log (``at``, ``actor``, ``action``, ``execution_id``...)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no audit log")

    async def list_audit(
        self, *, execution_id: str | None = None, limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        """Audit entries newest first, each with its ``id``; ``before`` an id (the cursor)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no audit log")


class Store(ExecutionStore, EventStore, ClaimStore, SpendLedger, DeliveryLog, AuditLog):
    """Where executions, events, claims and state live: every part in one backend."""

    url: str = ""
