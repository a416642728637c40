"""Small writes of concurrent callers sharing one statement.

On the 2-core machine of the benchmarks one statement through psycopg costs the event loop
about 250 µs of CPU whatever its size, and a webhook delivery makes three small writes (the
dedup claim, the queued execution, the delivery log entry). Under load many deliveries are in
flight at once, so writes of one kind that arrive while ``max_parallel`` are under way wait
and go together in the next statement (``INSERT ... SELECT FROM unnest(...)``): one round trip
for all of them.

The arrays go in binary (``%b``): in the text format psycopg escapes
every quote and backslash of a JSON document with a Python callback, which cost more than the
statements saved.

Each call still gets its own result or exception, and the batches keep the order of calls: a
batch takes at most one call per key (an execution id, a claim's key), so a second write of a
key goes in the statement after the first. A batch the server refuses (a bad row) is written
again one call at a time, so that row fails its own call only; a server out of reach (after the
pool's retries) fails every call of the batch. As in
:class:`agented_core.store.SerialThread` there is no background task: a waiting caller that finds
room for another statement makes it (a driver). A call cancelled before its batch starts is
never written; one cancelled while its batch is under way waits for that batch to end (so what
the caller does next, such as giving a claim back, comes after it); the driver's own
cancellation puts the others of its batch back in front of the queue, written again by the
next driver, so the writes batched here are all safe to repeat.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

import anyio
import psycopg

I = TypeVar("I")  # noqa: E741 - the item, as in the typing docs' generics
O = TypeVar("O")  # noqa: E741

MAX_BATCH = 64
"""The most calls one statement writes."""
MAX_PARALLEL = 3
"""The most statements of one kind under way at once (on their own connections, so the server
works on them side by side)."""


class _Call(Generic[I, O]):
    __slots__ = ("done", "error", "item", "result", "started", "turn")

    def __init__(self, item: I) -> None:
        self.item = item
        self.result: O | None = None
        self.error: BaseException | None = None
        self.started = False  # taken into a batch
        self.done = False
        self.turn = anyio.Event()  # set when its batch ended, or when it may drive the next one


class Batched(Generic[I, O]):
    """``await batched(item)`` writes ``item`` with those of the calls waiting beside it.

    ``write_many(items)`` writes a batch (two or more, distinct keys) in one statement and
    returns the results in the same order; ``write_one(item)`` writes one alone (the common
    case when calls do not overlap, and the fallback when a batch fails); ``key(item)`` says
    which calls must not share a batch.
    """

    def __init__(
        self,
        write_one: Callable[[I], Awaitable[O]],
        write_many: Callable[[Sequence[I]], Awaitable[Sequence[O]]],
        key: Callable[[I], Hashable],
        *,
        max_batch: int = MAX_BATCH,
        max_parallel: int = MAX_PARALLEL,
    ) -> None:
        self._write_one = write_one
        self._write_many = write_many
        self._key = key
        self._max_batch = max_batch
        self._max_parallel = max_parallel
        self._queue: deque[_Call[I, O]] = deque()
        self._driving = 0
        self._writing: set[Hashable] = set()  # the keys of the batches under way
        self.statements = 0
        """How many statements have been sent (for tests and benchmarks)."""

    async def __call__(self, item: I) -> O:
        call: _Call[I, O] = _Call(item)
        self._queue.append(call)
        try:
            while not call.done:
                if self._may_drive(call):
                    await self._drive(call)
                    continue
                await call.turn.wait()
                if not call.done:
                    call.turn = anyio.Event()
        except BaseException:
            await self._abandon(call)
            raise
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[return-value]

    def _may_drive(self, call: _Call[I, O]) -> bool:
        return (
            not call.started
            and self._driving < self._max_parallel
            and self._key(call.item) not in self._writing
        )

    def _take(self) -> list[_Call[I, O]]:
        """The next batch: the queued calls in order, one per key and none of a key under way,
        up to ``max_batch``."""
        batch: list[_Call[I, O]] = []
        keys: set[Hashable] = set()
        for call in self._queue:
            key = self._key(call.item)
            if key in keys or key in self._writing:
                keys.add(key)  # and no later call of that key either
                continue
            keys.add(key)
            batch.append(call)
            if len(batch) == self._max_batch:
                break
        for call in batch:
            self._queue.remove(call)
            call.started = True
        return batch

    async def _drive(self, own: _Call[I, O]) -> None:
        """Write the next batch (``own``, the driver's call, is in it unless an earlier call
        has its key)."""
        self._driving += 1
        batch = self._take()
        keys = {self._key(call.item) for call in batch}
        self._writing |= keys
        try:
            await self._write(batch)
        finally:
            self._driving -= 1
            self._writing -= keys
            for call in reversed(batch):
                if call.done:
                    continue
                if call is own:
                    call.done = True  # cut short with its caller: not written again
                else:  # cut short by the driver's cancel: back to the front, in order
                    call.started = False
                    self._queue.appendleft(call)
            for call in batch:
                call.turn.set()  # done, or queued again: either way its caller looks again
            self._hand_on()

    async def _write(self, batch: list[_Call[I, O]]) -> None:
        if len(batch) > 1:
            self.statements += 1
            try:
                results = await self._write_many([call.item for call in batch])
            except psycopg.Error:
                pass  # refused by the server: one by one below, so a bad row fails its own call
            except Exception as exc:  # the server out of reach for good: every call fails
                for call in batch:
                    call.error, call.done = exc, True
                return
            else:
                for call, result in zip(batch, results, strict=True):
                    call.result, call.done = result, True
                return
        for call in batch:
            self.statements += 1
            try:
                call.result = await self._write_one(call.item)
            except Exception as exc:
                call.error = exc
            call.done = True

    def _hand_on(self) -> None:
        """Let the first waiting calls that may drive a batch drive one each."""
        free = self._max_parallel - self._driving
        for call in self._queue:
            if free <= 0:
                return
            if self._key(call.item) not in self._writing:
                call.turn.set()
                free -= 1

    async def _abandon(self, call: _Call[I, O]) -> None:
        """The caller was cancelled: a call still queued is never written; one in a batch under
        way is waited for."""
        with anyio.CancelScope(shield=True):
            while not call.done:
                if not call.started:
                    self._queue.remove(call)
                    self._hand_on()
                    return
                call.turn = anyio.Event()
                await call.turn.wait()
