"""A store whose parts come from different places (executions here, events there ...)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, cast

from ..models import Event, Execution, Status
from .base import (
    AuditLog,
    ClaimStore,
    DeliveryLog,
    EventStore,
    ExecutionStore,
    SpendLedger,
    Store,
    StorePart,
)
from .search import SearchMatch


class CompositeStore(Store):
    """A :class:`Store` that hands each call to the part it belongs to.

    The parts may be one object (a whole store) or several; each distinct object is opened,
    closed and pinged once. The audit log defaults to the delivery log's object when that keeps
    one (any :class:`AuditLog`), else the audit refuses as a store without one does.
    """

    def __init__(
        self,
        *,
        executions: ExecutionStore,
        events: EventStore,
        claims: ClaimStore,
        deliveries: DeliveryLog,
        audit: AuditLog | None = None,
        url: str = "",
    ) -> None:
        self.executions = executions
        self.events = events
        self.claims = claims
        self.deliveries = deliveries
        self.audit = audit if audit is not None else _audit_of(deliveries)
        self.url = url or str(getattr(executions, "url", "") or "")

    def parts(self) -> list[StorePart]:
        """Each distinct part object, in the order they are opened."""
        found: list[StorePart] = []
        for part in (self.executions, self.events, self.claims, self.deliveries, self.audit):
            if part is not None and all(part is not seen for seen in found):
                found.append(part)
        return found

    async def open(self) -> None:
        opened: list[StorePart] = []
        try:
            for part in self.parts():
                await part.open()
                opened.append(part)
        except BaseException:
            for part in reversed(opened):  # nothing half open is left behind
                await part.close()
            raise

    async def close(self) -> None:
        for part in reversed(self.parts()):
            await part.close()

    async def ping(self) -> None:
        for part in self.parts():
            await part.ping()

    # executions
    async def save_execution(self, execution: Execution) -> None:
        await self.executions.save_execution(execution)

    async def get_execution(self, execution_id: str) -> Execution | None:
        return await self.executions.get_execution(execution_id)

    async def list_executions(
        self,
        *,
        bot: str | None = None,
        status: Iterable[Status] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Execution], str | None]:
        return await self.executions.list_executions(
            bot=bot, status=status, limit=limit, cursor=cursor
        )

    async def ids_with_prefix(
        self,
        prefix: str,
        limit: int,
        *,
        bot: str | None = None,
        status: Iterable[Status] | None = None,
        before: str | None = None,
    ) -> list[str]:
        return await self.executions.ids_with_prefix(
            prefix, limit, bot=bot, status=status, before=before
        )

    async def find_executions(
        self, statuses: Iterable[Status], *, owner: str | None = None
    ) -> list[Execution]:
        return await self.executions.find_executions(statuses, owner=owner)

    async def owners(self, statuses: Iterable[Status]) -> dict[str | None, datetime | None]:
        return await self.executions.owners(statuses)

    async def heartbeat(self, execution_ids: Sequence[str], owner: str, at: datetime) -> None:
        await self.executions.heartbeat(execution_ids, owner, at)

    async def renew_leases(
        self, execution_ids: Sequence[str], owner: str, at: datetime
    ) -> set[str]:
        return await self.executions.renew_leases(execution_ids, owner, at)

    async def take_execution(self, execution_id: str, owner: str, at: datetime) -> bool:
        return await self.executions.take_execution(execution_id, owner, at)

    async def save_owned(self, execution: Execution) -> bool:
        return await self.executions.save_owned(execution)

    async def request_control(self, execution_id: str, action: str) -> None:
        await self.executions.request_control(execution_id, action)

    async def take_controls(self, execution_ids: Sequence[str]) -> dict[str, str]:
        return await self.executions.take_controls(execution_ids)

    def wakes_owners(self) -> bool:
        return self.executions.wakes_owners()

    def listen_controls(self) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        return self.executions.listen_controls()

    async def delete_executions(self, finished_before: datetime) -> int:
        if self.events is not cast(object, self.executions):
            # events first: a crash in between leaves executions whose events are gone, which
            # the next prune deletes, never events that no execution points to
            terminal = [s for s in Status if s.terminal]
            doomed = [
                e.id
                for e in await self.executions.find_executions(terminal)
                if e.finished_at is not None and e.finished_at < finished_before
            ]
            await self.events.delete_events(doomed)
        return await self.executions.delete_executions(finished_before)

    # events
    async def append_events(self, events: Sequence[Event]) -> None:
        if cast(object, self.events) is not self.executions:
            events = await self._unfenced(events)
        await self.events.append_events(events)

    async def _unfenced(self, events: Sequence[Event]) -> list[Event]:
        # the events' part cannot see the executions, so the fence of a takeover is read from
        # theirs first (not atomic with the insert, as one store's own check is)
        attempts: dict[str, int] = {}
        for execution_id in {e.execution_id for e in events}:
            stored = await self.executions.get_execution(execution_id)
            attempts[execution_id] = stored.attempt if stored is not None else 0
        return [e for e in events if e.attempt >= attempts[e.execution_id]]

    async def read_events(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        return await self.events.read_events(execution_id, after=after, limit=limit)

    async def last_seq(self, execution_id: str) -> int:
        return await self.events.last_seq(execution_id)

    async def follow(self, execution_id: str, *, after: int = 0) -> AsyncIterator[Event]:
        async for event in self.events.follow(execution_id, after=after):
            yield event

    def wakes_followers(self) -> bool:
        return self.events.wakes_followers()

    async def delete_events(self, execution_ids: Sequence[str]) -> None:
        await self.events.delete_events(execution_ids)

    async def search_events(
        self, query: str, *, limit: int = 20, per_execution: int = 3, before: str | None = None
    ) -> list[SearchMatch]:
        return await self.events.search_events(
            query, limit=limit, per_execution=per_execution, before=before
        )

    # claims and state
    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        return await self.claims.claim(key, owner, ttl)

    async def release(self, key: str, owner: str) -> None:
        await self.claims.release(key, owner)

    async def get_state(self, key: str) -> Any:
        return await self.claims.get_state(key)

    async def put_state(self, key: str, value: Any) -> None:
        await self.claims.put_state(key, value)

    async def update_state(self, key: str, fn: Callable[[Any], Any]) -> Any:
        return await self.claims.update_state(key, fn)

    async def list_state(self, prefix: str = "") -> dict[str, Any]:
        return await self.claims.list_state(prefix)

    async def list_claims(self, prefix: str = "") -> dict[str, tuple[str, float]]:
        return await self.claims.list_claims(prefix)

    async def delete_expired_claims(self, limit: int = 10_000) -> int:
        return await self.claims.delete_expired_claims(limit)

    # spend: the claim part's own ledger when it has one, else kept in its state
    async def add_spend(self, keys: Sequence[str], amount: float) -> None:
        if isinstance(self.claims, SpendLedger):
            await self.claims.add_spend(keys, amount)
        else:
            await super().add_spend(keys, amount)

    async def get_spend(self, keys: Sequence[str]) -> dict[str, float]:
        if isinstance(self.claims, SpendLedger):
            return await self.claims.get_spend(keys)
        return await super().get_spend(keys)

    # the logs
    async def record_delivery(self, delivery: dict[str, Any]) -> None:
        await self.deliveries.record_delivery(delivery)

    async def list_deliveries(self, limit: int = 50) -> list[dict[str, Any]]:
        return await self.deliveries.list_deliveries(limit)

    async def record_audit(self, entry: dict[str, Any]) -> None:
        if self.audit is None:
            await super().record_audit(entry)
        else:
            await self.audit.record_audit(entry)

    async def list_audit(
        self, *, execution_id: str | None = None, limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        if self.audit is None:
            return await super().list_audit(execution_id=execution_id, limit=limit, before=before)
        return await self.audit.list_audit(execution_id=execution_id, limit=limit, before=before)


def _audit_of(deliveries: DeliveryLog) -> AuditLog | None:
    return deliveries if isinstance(deliveries, AuditLog) else None
