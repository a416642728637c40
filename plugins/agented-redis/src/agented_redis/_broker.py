"""The Redis broker: live events on Redis Streams, control requests and wake-ups by pub/sub.

Each execution's live events go to a stream of its own, ``{prefix}events:{execution id}``,
entry id ``{seq}-0``, so a follower reads "everything after seq N" with ``XREAD`` from
``{N}-1``. When a writer stops appending (:meth:`RedisBroker.end`) it adds an end marker
``{last seq}-1``, which sorts after the last event and before the next one, so a writer that
continues the execution later (a woken retry, in any process) appends after it. Streams are
capped at about ``maxlen`` entries and expire ``expire`` seconds after their end (``idle``
seconds after their last event otherwise): the store remains the durable copy.

Publishing never blocks the writer: events join a queue a sender task writes in pipelines. If
Redis is unreachable the sender keeps at most ``backlog`` events, retries, and drops the oldest
beyond that; followers then see a gap, end, and catch up from the store.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import anyio
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from agented_core import Event
from agented_core.broker import Broker

log = logging.getLogger("agented.redis")

_END = b"end"


def _encode(event: Event) -> str:
    return json.dumps(
        [event.time.isoformat(), event.attempt, event.kind, event.text, event.data],
        separators=(",", ":"),
    )


def _decode(execution_id: str, seq: int, payload: bytes) -> Event:
    time, attempt, kind, text, data = json.loads(payload)
    return Event(execution_id, seq, datetime.fromisoformat(time), attempt, kind, text, data)


def _entry_seq(entry_id: bytes) -> tuple[int, int]:
    first, _, second = entry_id.partition(b"-")
    return int(first), int(second or 0)


class RedisBroker(Broker):
    """A :class:`~agented_core.broker.Broker` over Redis, shared by every process using it.

    ``url`` is a ``redis://`` (or ``rediss://``, ``unix://``) URL; its query may carry
    ``prefix`` (of every key and channel, default ``agented:``), ``maxlen``, ``expire``,
    ``idle`` and ``block`` (milliseconds an ``XREAD`` waits) besides redis-py's own options.
    """

    shared = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "agented:",
        maxlen: int = 10_000,
        expire: int = 3600,
        idle: int = 86_400,
        block: int = 1000,
        backlog: int = 20_000,
        retry_pause: float = 0.5,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.maxlen = maxlen
        self.expire = expire
        self.idle = idle
        self.block = block
        self.backlog = backlog
        self.retry_pause = retry_pause
        self._redis: aioredis.Redis | None = None
        # (execution, its events) or (execution, None, the last seq published before its end)
        self._queue: deque[tuple[str, list[Event] | None, int | None]] = deque()
        self._queued = 0
        self._sending = False
        self._last: dict[str, int] = {}
        self._wakeup = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._scopes: set[anyio.CancelScope] = set()
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisBroker:
        """The factory of the ``redis``/``rediss``/``unix`` schemes: options from the query."""
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        mine: dict[str, Any] = {}
        for name in ("maxlen", "expire", "idle", "block", "backlog"):
            if name in query:
                mine[name] = int(query.pop(name))
        if "prefix" in query:
            mine["prefix"] = query.pop("prefix")
        rest = "&".join(f"{k}={v}" for k, v in query.items())
        return cls(urlunsplit(parts._replace(query=rest)), **{**mine, **options})

    @property
    def shown(self) -> str:
        """The URL without its password, for logs."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))

    def key(self, execution_id: str) -> str:
        """The stream of an execution's live events."""
        return f"{self.prefix}events:{execution_id}"

    def channel(self, channel: str) -> str:
        """The pub/sub channel named ``channel`` here."""
        return f"{self.prefix}{channel}"

    @property
    def redis(self) -> aioredis.Redis:
        """The client (after :meth:`open`)."""
        if self._redis is None:
            raise RuntimeError("the Redis broker is not open")
        return self._redis

    async def open(self) -> None:
        """Connect (lazily: an unreachable Redis costs latency, not the process)."""
        self._redis = aioredis.Redis.from_url(
            self.url, socket_connect_timeout=2.0, health_check_interval=10
        )
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            log.warning(
                "Redis at %s does not answer (%s): following the store meanwhile", self.shown, exc
            )
        self._sender = asyncio.get_running_loop().create_task(self._send_loop())

    async def close(self) -> None:
        """Send what is queued (briefly), end every follower and listener, disconnect."""
        if self._closed:
            return
        self._closed = True
        for scope in list(self._scopes):
            scope.cancel()
        if self._sender is not None:
            self._wakeup.set()
            with anyio.move_on_after(2.0):
                await asyncio.shield(self._drained())
            self._sender.cancel()
            with anyio.CancelScope(shield=True):
                try:
                    await self._sender
                except (asyncio.CancelledError, Exception):
                    pass
        if self._redis is not None:
            await self._redis.aclose()

    async def _drained(self) -> None:
        while self._queue or self._sending:
            await asyncio.sleep(0.01)

    # live events
    def publish(self, execution_id: str, events: Sequence[Event]) -> None:
        """Queue ``events`` for the sender task; the oldest are dropped beyond ``backlog``."""
        if not events or self._closed:
            return
        self._queue.append((execution_id, list(events), None))
        self._queued += len(events)
        self._last[execution_id] = events[-1].seq
        self._trim()
        self._wakeup.set()

    def _trim(self) -> None:
        while self._queued > self.backlog and len(self._queue) > 1:
            _, dropped, _ = self._queue.popleft()
            self._queued -= len(dropped or ())

    def end(self, execution_id: str) -> None:
        """Queue the end marker (after the execution's last published event)."""
        if self._closed:
            return
        # the marker's seq now: a writer that goes on later publishes after it
        self._queue.append((execution_id, None, self._last.pop(execution_id, None)))
        self._wakeup.set()

    async def _send_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                # taken out while it is sent: publishing meanwhile appends (and trims) anew
                batch = list(self._queue)
                self._queue.clear()
                count = sum(len(events or ()) for _, events, _ in batch)
                self._queued -= count
                self._sending = True
                try:
                    await self._send(batch)
                except (RedisError, OSError) as exc:
                    log.warning("publishing to Redis failed (%s); will retry", exc)
                    self._queue.extendleft(reversed(batch))
                    self._queued += count
                    self._trim()
                    await asyncio.sleep(self.retry_pause)
                finally:
                    self._sending = False

    async def _send(self, batch: list[tuple[str, list[Event] | None, int | None]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        touched: dict[str, bool] = {}
        for execution_id, events, last in batch:
            key = self.key(execution_id)
            if events is None:
                if last is not None:
                    pipe.xadd(key, {_END: b"1"}, id=f"{last}-1")
                touched[key] = True
                continue
            for event in events:
                pipe.xadd(
                    key,
                    {b"e": _encode(event)},
                    id=f"{event.seq}-0",
                    maxlen=self.maxlen,
                    approximate=True,
                )
            touched.setdefault(key, False)
        for key, ended in touched.items():
            pipe.expire(key, self.expire if ended else self.idle)
        results = await pipe.execute(raise_on_error=False)
        for result in results:
            # an id at or below the stream's last: resent after a reconnect, already there
            if isinstance(result, Exception) and "equal or smaller" not in str(result):
                if isinstance(result, (ConnectionError, OSError)):
                    raise result
                log.warning("Redis refused an event: %s", result)

    @asynccontextmanager
    async def follow(
        self, execution_id: str, after: int
    ) -> AsyncGenerator[AsyncIterator[Event], None]:
        """The stream's events above ``after``; ends at the end marker, a gap, or an error."""
        events = self._follow(execution_id, after)
        try:
            yield events
        finally:
            await events.aclose()

    async def _follow(self, execution_id: str, after: int) -> AsyncGenerator[Event, None]:
        key = self.key(execution_id)
        cursor = f"{after}-1" if after > 0 else "0-0"
        expected = after + 1
        while not self._closed:
            scope = anyio.CancelScope()
            self._scopes.add(scope)
            reply: Any = None
            try:
                with scope:
                    reply = await self.redis.xread({key: cursor}, count=1000, block=self.block)
            except (RedisError, OSError) as exc:
                log.info("following %s on Redis stopped: %s", execution_id, exc)
                await anyio.sleep(self.retry_pause)  # the caller goes back to the store
                return
            finally:
                self._scopes.discard(scope)
            if scope.cancel_called:
                return
            if not reply:
                continue
            for entry_id, fields in reply[0][1]:
                seq, sub = _entry_seq(entry_id)
                cursor = entry_id.decode()
                if sub == 1 or _END in fields:
                    if seq >= expected - 1:
                        return  # the writer's end
                    continue  # the end of an earlier writer's stretch
                if seq < expected:
                    continue
                if seq > expected:
                    return  # trimmed away or published before we came: the store has them
                yield _decode(execution_id, seq, fields[b"e"])
                expected = seq + 1

    # messages
    async def notify(self, channel: str, message: str) -> None:
        """``PUBLISH`` ``message`` on the channel."""
        await self.redis.publish(self.channel(channel), message)

    @asynccontextmanager
    async def listen(self, channel: str) -> AsyncGenerator[AsyncIterator[str], None]:
        """Subscribe now (``SUBSCRIBE``); the messages from then on, until an error or close."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        messages = self._messages(pubsub)
        try:
            if not self._closed:
                await pubsub.subscribe(self.channel(channel))
            yield messages
        finally:
            await messages.aclose()
            with anyio.CancelScope(shield=True):
                try:
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # typed from redis 8
                except (RedisError, OSError):
                    pass

    async def _messages(self, pubsub: Any) -> AsyncGenerator[str, None]:
        while not self._closed:
            scope = anyio.CancelScope()
            self._scopes.add(scope)
            message: Any = None
            try:
                with scope:
                    message = await pubsub.get_message(timeout=self.block / 1000)
            except (RedisError, OSError) as exc:
                log.info("listening on Redis stopped: %s", exc)
                return
            finally:
                self._scopes.discard(scope)
            if scope.cancel_called:
                return
            if message is None or message.get("type") != "message":
                continue
            data = message["data"]
            yield data.decode() if isinstance(data, bytes) else str(data)
