"""The event log: numbers events, fans them out to live subscribers, persists them in batches.

Appending is synchronous and cheap: the event gets the next ``seq`` of its execution, joins the
pending batch and is published to the broker (the in-process one puts it into every live
follower's bounded buffer at once). A background flusher
writes pending events in one transaction when the batch is full or ``flush_interval`` has passed.
Pending events stay readable in memory until their transaction has committed, so a reader that
switches from stored to live events sees no gap and no duplicate. While the store cannot be
reached, at most ``max_pending`` events wait: a run's output is then read no faster (``room``)
and its process blocks on its pipe, until the writes go through again.

A follower that falls behind (its buffer is full) is dropped from the live fan-out instead of
slowing the run; its iterator then catches up from the store and follows again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..broker import Broker, LocalBroker
from ..clock import Clock, utcnow
from ..models import TERMINAL_STATUSES, Event, EventDraft, EventKind, Status
from ..store.base import Store
from ._redaction import Redactor

log = logging.getLogger("agented.events")


def is_final(event: Event) -> bool:
    """True for the ``status`` event that ends an execution's stream (a terminal status)."""
    return event.kind == EventKind.STATUS and event.data.get("status") in _TERMINAL


_TERMINAL = frozenset(s.value for s in TERMINAL_STATUSES)


class _Live:
    """The in-process state of an execution whose events this process appends."""

    __slots__ = ("execution_id", "last_seq", "redactor")

    def __init__(self, execution_id: str, last_seq: int, redactor: Redactor | None) -> None:
        self.execution_id = execution_id
        self.last_seq = last_seq
        self.redactor = redactor


class EventLog:
    """Sequencing, fan-out and batched persistence of events over a :class:`Store`.

    Live events go to followers through ``broker`` (a :class:`LocalBroker` with a buffer of
    ``subscriber_buffer`` events per follower unless one is given). With a shared broker,
    followers of an execution appended by another process follow the broker too, checking
    ``is_finished`` every ``idle_check`` seconds without an event; otherwise they follow the
    store when it wakes followers (:meth:`EventStore.wakes_followers`), checking alike, or poll
    it every ``poll_interval`` seconds.
    """

    def __init__(
        self,
        store: Store,
        *,
        broker: Broker | None = None,
        batch_size: int = 1000,
        flush_interval: float = 0.01,
        subscriber_buffer: int = 16384,
        max_pending: int = 100_000,
        read_page: int = 2000,
        poll_interval: float = 0.2,
        idle_check: float = 5.0,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.broker = broker if broker is not None else LocalBroker(buffer=subscriber_buffer)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.subscriber_buffer = subscriber_buffer
        self.max_pending = max_pending
        self.read_page = read_page
        self.poll_interval = poll_interval
        self.idle_check = idle_check
        self._clock = clock
        self._live: dict[str, _Live] = {}
        self._pending: list[Event] = []
        self._wake = anyio.Event()
        self._drained = anyio.Event()
        self._flush_lock = anyio.Lock()
        self._closed = False
        self._fenced: set[str] = set()

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """The flusher loop; start it in a task group and cancel it to stop (it flushes first)."""
        task_status.started()
        try:
            while True:
                with anyio.move_on_after(self.flush_interval):
                    await self._wake.wait()
                if self._wake.is_set():
                    self._wake = anyio.Event()
                await self.flush()
        finally:
            with anyio.CancelScope(shield=True):
                await self.flush()

    def start(self, task_group: TaskGroup) -> None:
        """Run the flusher in ``task_group``."""
        task_group.start_soon(self.run)

    # writing
    def open(self, execution_id: str, last_seq: int, redactor: Redactor | None = None) -> None:
        """Start appending to an execution whose last stored seq is ``last_seq``."""
        live = self._live.get(execution_id)
        if live is None:
            self._live[execution_id] = _Live(execution_id, last_seq, redactor)
        else:
            live.redactor = redactor
            live.last_seq = max(live.last_seq, last_seq)

    def fence(self, execution_id: str) -> None:
        """This process lost the execution (another one took it over): from now on its events
        are neither stored nor published, and the unwritten ones are dropped."""
        self._fenced.add(execution_id)  # its unwritten events are left out by the flusher

    def is_fenced(self, execution_id: str) -> bool:
        """True once :meth:`fence` was called for the execution (until it is closed here)."""
        return execution_id in self._fenced

    def is_live(self, execution_id: str) -> bool:
        """True while this process appends to the execution."""
        return execution_id in self._live

    def last_seq(self, execution_id: str) -> int | None:
        """The last seq appended here, or ``None`` when the execution is not live here."""
        live = self._live.get(execution_id)
        return live.last_seq if live else None

    def append(self, execution_id: str, attempt: int, drafts: Sequence[EventDraft]) -> list[Event]:
        """Number, redact, fan out and queue ``drafts``; returns the events made."""
        live = self._live.get(execution_id)
        if live is None:
            raise RuntimeError(f"execution {execution_id} is not open in this event log")
        now = self._clock()
        made: list[Event] = []
        redactor = live.redactor
        for draft in drafts:
            live.last_seq += 1
            text, data = draft.text, draft.data
            if redactor is not None:
                text, data = redactor.text(text), redactor.data(data)
            event = Event(execution_id, live.last_seq, now, attempt, draft.kind, text, dict(data))
            made.append(event)
        if execution_id in self._fenced:
            return made  # made for the caller's sake, written nowhere
        self._pending.extend(made)
        self.broker.publish(execution_id, made)
        if len(self._pending) >= self.batch_size:
            self._wake.set()
        return made

    def emit(
        self,
        execution_id: str,
        attempt: int,
        kind: str,
        text: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Event:
        """Append one event made from its parts."""
        return self.append(execution_id, attempt, [EventDraft(kind, text, data or {})])[0]

    async def close(self, execution_id: str) -> None:
        """Stop appending to an execution: flush its events and end its live subscriptions."""
        live = self._live.pop(execution_id, None)
        await self.flush()
        if execution_id in self._fenced:
            self._fenced.discard(execution_id)  # its stream is its new owner's now
        elif live is not None:
            self.broker.end(execution_id)

    async def flush(self) -> None:
        """Write every pending event now."""
        async with self._flush_lock:
            while self._pending:
                head = self._pending[: self.batch_size * 4]
                fenced = self._fenced
                batch = [e for e in head if e.execution_id not in fenced] if fenced else head
                try:
                    if batch:
                        await self.store.append_events(batch)
                except Exception:
                    log.exception("writing %d events failed; will retry", len(batch))
                    await anyio.sleep(0.5)
                    continue
                # appends only ever extend the list, so the batch is still its head
                del self._pending[: len(head)]
                self._drained.set()
                self._drained = anyio.Event()

    @property
    def pending(self) -> int:
        """How many events wait to be written."""
        return len(self._pending)

    async def room(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until fewer than ``max_pending`` events wait to be
        written; False if they still do (the store is out of reach: the run's output waits)."""
        if len(self._pending) < self.max_pending:
            return True
        self._wake.set()
        with anyio.move_on_after(timeout):
            while len(self._pending) >= self.max_pending:
                await self._drained.wait()
            return True
        return False

    # reading
    async def read(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        """Events after ``after`` known now, in order: stored ones, then ones not yet written.

        ``limit`` caps how many are returned (a page); the next page starts after the last one.
        """
        # Take the unwritten events before reading the store: an event leaves ``_pending`` only
        # after its transaction committed, so each one is in the snapshot or in the store read.
        unwritten = [e for e in self._pending if e.execution_id == execution_id and e.seq > after]
        if unwritten and unwritten[0].seq == after + 1:
            return unwritten[:limit]  # all of it is still in memory
        stored = await self.store.read_events(execution_id, after=after, limit=limit)
        if limit is not None and len(stored) >= limit:
            return stored
        last = stored[-1].seq if stored else after
        rest = [e for e in unwritten if e.seq > last]
        if limit is not None:
            del rest[limit - len(stored) :]
        return stored + rest

    async def follow(
        self,
        execution_id: str,
        *,
        after: int = 0,
        is_finished: Callable[[], Any] | None = None,
    ) -> AsyncIterator[Event]:
        """Stored events after ``after``, then live ones, until the terminal ``status`` event.

        A reader far behind catches up from the store a page at a time, then follows the live
        events through the broker. Works for executions run by another process too: through
        the broker when it is shared, by polling the store otherwise. ``is_finished`` is an
        async callable telling whether the execution has ended (used to stop following an
        execution that ended without a terminal status event, e.g. one pruned or crashed).
        """
        last = after
        while True:
            live = self._live.get(execution_id)
            if live is None or live.last_seq - last > self.read_page:
                events = await self.read(execution_id, after=last, limit=self.read_page)
                for event in events:
                    yield event
                    last = event.seq
                    if is_final(event):
                        return
                if events or self._live.get(execution_id) is not live:
                    continue  # more to read, or the execution was closed here meanwhile
                if live is None:
                    if is_finished is not None and await is_finished():
                        # one more read: the final events may have landed after the last one
                        if not await self.read(execution_id, after=last, limit=1):
                            return
                        continue
                    if not self.broker.shared and not self.store.wakes_followers():
                        await anyio.sleep(self.poll_interval)  # another process's: poll
                        continue
                    if not self.broker.shared:
                        # another process's, and the store wakes followers (PostgreSQL's
                        # NOTIFY): follow it there until idle, then check it is not finished
                        from_store = self.store.follow(execution_id, after=last)
                        woken = _until_idle(from_store, self.idle_check)
                        try:
                            async for event in woken:
                                yield event
                                last = event.seq
                                if is_final(event):
                                    return
                                if execution_id in self._live:
                                    break  # appended here now: follow it live
                        finally:
                            await woken.aclose()
                            close = getattr(from_store, "aclose", None)
                            if close is not None:  # its listening connection goes now
                                await close()
                        continue
                    upto, idle = last, self.idle_check
                else:
                    upto, idle = live.last_seq, None
            else:
                upto, idle = live.last_seq, None
            before = last
            async with self.broker.follow(execution_id, last) as live_events:
                # subscribed first, the events up to ``upto`` are read next: every later one is
                # live (inline rather than a generator of its own: a layer per event costs)
                if upto > last:
                    for event in await self.read(execution_id, after=last, limit=upto - last):
                        yield event
                        last = event.seq
                        if is_final(event):
                            return
                idle_events = None if idle is None else _until_idle(live_events, idle)
                try:
                    async for event in live_events if idle_events is None else idle_events:
                        if event.seq <= last:
                            continue
                        if event.seq > last + 1:
                            # a gap the broker left (events published before the subscription,
                            # which it does not keep): fill it from the store
                            missing = event.seq - last - 1
                            for stored in await self.read(execution_id, after=last, limit=missing):
                                yield stored
                                last = stored.seq
                                if is_final(stored):
                                    return
                            if event.seq > last + 1:
                                break  # not in the store yet: go back to it
                        yield event
                        last = event.seq
                        if is_final(event):
                            return
                finally:
                    if idle_events is not None:
                        await idle_events.aclose()
            if idle is not None and last == before:
                # nothing new from elsewhere (idle, or a gap the store cannot fill yet): pause
                # before the store is read again
                await anyio.sleep(self.poll_interval)


async def _until_idle(events: AsyncIterator[Event], idle: float) -> AsyncGenerator[Event, None]:
    """``events`` until ``idle`` seconds pass without one (only the wait is bounded, no yield)."""
    iterator = aiter(events)
    while True:
        with anyio.move_on_after(idle) as waiting:
            try:
                event = await anext(iterator)
            except StopAsyncIteration:
                return
        if waiting.cancelled_caught:
            return
        yield event


def status_event(status: Status, attempt: int, reason: str | None = None) -> EventDraft:
    """The ``status`` event of a status change."""
    data: dict[str, Any] = {"status": status.value, "attempt": attempt}
    if reason:
        data["reason"] = reason
    return EventDraft(EventKind.STATUS, text=status.value, data=data)
