"""The broker contract suite against the Redis broker (a real Redis, a key prefix per test)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from agented_core.broker import Broker
from agented_core.broker.testing import BrokerContract
from scaleout_support import delete_keys, need_redis
from services import REDIS_HOST, REDIS_PORT, unavailable

try:
    import agented_redis
except ImportError:  # without the plugin every test says so (and fails under CI=true)
    agented_redis = None  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def _plugin() -> None:
    if agented_redis is None:
        unavailable(
            "the agented-redis plugin is not installed (pip install -e plugins/agented-redis)"
        )


def redis_url(prefix: str, **query: object) -> str:
    """A broker URL for the test Redis with its own key prefix."""
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0?prefix={prefix}{extra}"


@pytest.fixture
def prefix() -> Iterator[str]:
    need_redis()
    prefix = f"agented-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_keys([prefix])  # the streams of every example


class TestRedisBroker(BrokerContract):
    @pytest.fixture
    def make_broker(self, prefix: str) -> Callable[[], Broker]:
        return _Peers(prefix)


class _Peers:
    """Makes brokers reaching each other; a new key prefix once all earlier ones are closed.

    The property test reuses one fixture for every example, and each example's brokers are
    all closed before the next one's are made: so every example gets streams of its own.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.generation = 0
        self.open: set[Broker] = set()

    def __call__(self) -> Broker:
        if not self.open:
            self.generation += 1
        broker = agented_redis.RedisBroker.from_url(
            redis_url(f"{self.prefix}{self.generation}:"), block=200
        )
        close = broker.close

        async def tracked_close() -> None:
            self.open.discard(broker)
            await close()

        broker.close = tracked_close  # type: ignore[method-assign]
        self.open.add(broker)
        return broker


def test_the_url_s_options_and_a_password_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    import anyio

    broker = agented_redis.RedisBroker.from_url(
        "redis://:s3cret@127.0.0.1:1/0?prefix=p:&maxlen=50&expire=9&block=100"
    )
    assert (broker.prefix, broker.maxlen, broker.expire, broker.block) == ("p:", 50, 9, 100)
    assert broker.url == "redis://:s3cret@127.0.0.1:1/0"

    async def main() -> None:
        await broker.open()  # nothing listens on port 1: a warning, not an error
        broker.publish("01X", [])
        await broker.close()

    anyio.run(main)
    assert "does not answer" in caplog.text and "s3cret" not in caplog.text


def test_a_writer_going_on_after_its_end_is_followed_from_there(prefix: str) -> None:
    import anyio

    from agented_core.broker.testing import collect, make_events

    async def main() -> None:
        writer = agented_redis.RedisBroker.from_url(redis_url(prefix), block=200)
        reader = agented_redis.RedisBroker.from_url(redis_url(prefix), block=200)
        await writer.open()
        await reader.open()
        try:
            writer.publish("01X", make_events(1, 5, "01X"))
            writer.end("01X")  # a retry woken at once, in the same process, goes on
            writer.publish("01X", make_events(6, 10, "01X"))
            with anyio.fail_after(10):
                async with reader.follow("01X", 0) as events:
                    assert await collect(events, until=10) == [1, 2, 3, 4, 5]  # then its end
                async with reader.follow("01X", 5) as events:
                    assert await collect(events, until=10) == [6, 7, 8, 9, 10]
        finally:
            await writer.close()
            await reader.close()

    anyio.run(main)
