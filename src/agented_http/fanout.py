"""One follower per execution, however many SSE clients watch it.

Every client of an execution shares a :class:`Channel`: a window of the execution's most recent
encoded frames and one :meth:`Agented.events` iterator feeding it. Whichever client runs out of
frames first pulls the next event from that iterator (no background task, so the app needs no
lifespan of its own and mounts anywhere); the others wait for it and take the same encoded bytes.
A client that resumes from before the window, or falls behind it because it reads slowly, catches
up on an iterator of its own and then joins the window again. When the last client leaves, the
shared iterator is closed and the channel is gone.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio

from agented_core import Agented, Event

log = logging.getLogger("agented.http")

WINDOW = 1024


class Channel:
    """The shared state of one execution's clients."""

    def __init__(self, execution_id: str, after: int, window: int = WINDOW) -> None:
        self.execution_id = execution_id
        self.window = window
        self.last = after
        self.seqs: list[int] = []
        self.frames: list[bytes] = []
        self.ended = False
        self.users = 0
        self.pulling = False
        self.follower: AsyncIterator[Event] | None = None
        self._wake = anyio.Event()

    def since(self, pos: int) -> list[tuple[int, bytes]] | None:
        """Frames after seq ``pos``; ``None`` when some of them have left the window."""
        if pos >= self.last:
            return []
        start = self.seqs[0] if self.seqs else self.last + 1
        if pos + 1 < start:
            return None
        index = bisect.bisect_right(self.seqs, pos)
        return list(zip(self.seqs[index:], self.frames[index:], strict=True))

    def covers(self, pos: int) -> bool:
        """True when a client at ``pos`` can continue from the window."""
        return self.since(pos) is not None

    def publish(self, seq: int, frame: bytes) -> None:
        self.seqs.append(seq)
        self.frames.append(frame)
        self.last = seq
        if len(self.seqs) > 2 * self.window:
            del self.seqs[: -self.window]
            del self.frames[: -self.window]
        self._signal()

    def _signal(self) -> None:
        wake, self._wake = self._wake, anyio.Event()
        wake.set()

    async def wait(self) -> None:
        """Until something changes: a frame, the end, or the puller leaving."""
        await self._wake.wait()


class Fanout:
    """The channels of one app."""

    def __init__(
        self, agented: Agented, encode: Callable[[Event], bytes], window: int = WINDOW
    ) -> None:
        self.agented = agented
        self.encode = encode
        self.window = window
        self.channels: dict[str, Channel] = {}

    async def follow(self, execution_id: str, after: int) -> AsyncIterator[bytes]:
        """Encoded frames of the events after ``after``, ending after the terminal status."""
        channel = self.channels.get(execution_id)
        if channel is None:
            channel = self.channels[execution_id] = Channel(execution_id, after, self.window)
        channel.users += 1
        pos = after
        try:
            while True:
                ready = channel.since(pos)
                if ready is None:  # behind the window: catch up alone
                    caught_up = False
                    own = self.agented.events(execution_id, pos)
                    try:
                        async for event in own:
                            yield self.encode(event)
                            pos = event.seq
                            if channel.covers(pos):
                                caught_up = True
                                break
                    finally:
                        await close(own)
                    if not caught_up:
                        return  # the execution ended while this client caught up
                    continue
                if ready:
                    for seq, frame in ready:
                        yield frame
                        pos = seq
                    continue
                if channel.ended:
                    return
                if channel.pulling:
                    await channel.wait()
                else:
                    await self._pull(channel)
        finally:
            channel.users -= 1
            if channel.users == 0:
                if self.channels.get(execution_id) is channel:
                    del self.channels[execution_id]
                follower, channel.follower = channel.follower, None
                await close(follower)

    async def _pull(self, channel: Channel) -> None:
        """Take the next event from the shared iterator into the window."""
        channel.pulling = True
        try:
            if channel.follower is None:
                channel.follower = self.agented.events(channel.execution_id, channel.last)
            try:
                event = await channel.follower.__anext__()
            except StopAsyncIteration:
                channel.ended = True
                return
            except Exception:
                log.exception("following execution %s failed", channel.execution_id)
                channel.ended = True
                return
            if event.seq > channel.last:
                channel.publish(event.seq, self.encode(event))
        except BaseException:
            # cancelled (this client left) while waiting: the iterator is broken; the next
            # puller starts a fresh one where the window ends
            channel.follower = None
            raise
        finally:
            channel.pulling = False
            channel._signal()

    def stats(self) -> dict[str, Any]:
        """Channels and their clients (for readiness details)."""
        return {"channels": len(self.channels)}


async def close(iterator: Any) -> None:
    """Close an async generator now (shielded: also while the stream is being cancelled)."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with anyio.CancelScope(shield=True):
            await aclose()
