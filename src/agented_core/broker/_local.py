"""The in-process broker: live events and messages within this process, in memory.

Each follower has a bounded buffer; publishing puts events into every buffer at once and never
waits. A follower whose buffer is full is dropped (its iterator ends) instead of slowing the
writer; it catches up from the store and follows again.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..models import Event
from ._base import Broker


class _Follower:
    __slots__ = ("receive", "send")

    def __init__(self, buffer: int) -> None:
        self.send: MemoryObjectSendStream[Event]
        self.receive: MemoryObjectReceiveStream[Event]
        self.send, self.receive = anyio.create_memory_object_stream[Event](buffer)


class LocalBroker(Broker):
    """Today's behaviour: events and messages reach followers and listeners of this process only.

    ``buffer`` is how many events a follower may be behind before it is dropped;
    ``listener_buffer`` how many messages a listener may be behind before new ones are lost.
    """

    shared = False

    def __init__(self, *, buffer: int = 16384, listener_buffer: int = 1024) -> None:
        self.buffer = buffer
        self.listener_buffer = listener_buffer
        self._followers: dict[str, set[_Follower]] = {}
        self._listeners: dict[str, set[MemoryObjectSendStream[str]]] = {}

    @classmethod
    def from_url(cls, url: str = "", **options: object) -> LocalBroker:
        """The factory of the ``local`` scheme (``local://``); the URL carries nothing."""
        return cls()

    async def close(self) -> None:
        """End every follower and listener."""
        for execution_id in list(self._followers):
            self.end(execution_id)
        for listeners in self._listeners.values():
            for send in listeners:
                send.close()
        self._listeners.clear()

    def followers(self, execution_id: str) -> int:
        """How many followers the execution has now."""
        return len(self._followers.get(execution_id, ()))

    # live events
    def publish(self, execution_id: str, events: Sequence[Event]) -> None:
        """Put ``events`` into every follower's buffer; drop the followers that are full."""
        followers = self._followers.get(execution_id)
        if not followers:
            return
        dropped: list[_Follower] = []
        for follower in followers:
            send = follower.send
            try:
                for event in events:
                    send.send_nowait(event)
            except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                dropped.append(follower)
        for follower in dropped:
            followers.discard(follower)
            follower.send.close()

    def end(self, execution_id: str) -> None:
        """End the iterators of the execution's followers (after what they have buffered)."""
        for follower in self._followers.pop(execution_id, ()):
            follower.send.close()

    @asynccontextmanager
    async def follow(
        self, execution_id: str, after: int
    ) -> AsyncGenerator[AsyncIterator[Event], None]:
        """Subscribe now; the events published from now on with a seq above ``after``."""
        follower = _Follower(self.buffer)
        self._followers.setdefault(execution_id, set()).add(follower)
        events = self._events(follower.receive, after)
        try:
            yield events
        finally:
            await events.aclose()
            followers = self._followers.get(execution_id)
            if followers is not None:
                followers.discard(follower)
                if not followers:
                    del self._followers[execution_id]
            follower.send.close()
            follower.receive.close()

    @staticmethod
    async def _events(
        receive: MemoryObjectReceiveStream[Event], after: int
    ) -> AsyncGenerator[Event, None]:
        while True:
            # take what is buffered without a checkpoint per event: a reader that yields to the
            # loop once per event falls behind a writer that appends a chunk per turn
            try:
                event = receive.receive_nowait()
            except anyio.WouldBlock:
                try:
                    event = await receive.receive()
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    return
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                return
            if event.seq > after:
                after = event.seq
                yield event

    # messages
    async def notify(self, channel: str, message: str) -> None:
        """Give ``message`` to every listener of ``channel``; a full listener misses it."""
        for send in list(self._listeners.get(channel, ())):
            try:
                send.send_nowait(message)
            except anyio.WouldBlock:
                pass  # best-effort: the store is polled as the fallback
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._listeners[channel].discard(send)

    @asynccontextmanager
    async def listen(self, channel: str) -> AsyncGenerator[AsyncIterator[str], None]:
        """Subscribe now; the messages notified on ``channel`` from now on."""
        send, receive = anyio.create_memory_object_stream[str](self.listener_buffer)
        self._listeners.setdefault(channel, set()).add(send)
        messages = self._messages(receive)
        try:
            yield messages
        finally:
            await messages.aclose()
            listeners = self._listeners.get(channel)
            if listeners is not None:
                listeners.discard(send)
                if not listeners:
                    del self._listeners[channel]
            send.close()
            receive.close()

    @staticmethod
    async def _messages(receive: MemoryObjectReceiveStream[str]) -> AsyncGenerator[str, None]:
        try:
            async for message in receive:
                yield message
        except anyio.ClosedResourceError:
            return
