"""PostgreSQL lost mid-run (cut by a loopback proxy the test controls): the run goes on, its
events wait in bounded memory and are written when the server is back, none lost or doubled."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import agented_postgres
import anyio
import pytest
from agented_postgres import PostgresStore

from agented_core import Agented, Status
from agented_core.run._process import group_alive
from conftest import shell_bot
from http_support import wait_until
from pg_support import fresh_schema, raw_sql
from tcp_proxy import TcpProxy

pytestmark = pytest.mark.anyio
BOUND = 30


@pytest.fixture
def direct() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


def through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@127.0.0.1:{proxy.port}"))


def stored(url: str, execution_id: str) -> list[tuple[object, ...]]:
    return raw_sql(
        url, "SELECT seq, text FROM events WHERE execution_id = ? ORDER BY seq", (execution_id,)
    )


async def test_a_cut_mid_run_loses_and_doubles_no_event(direct: str, tmp_path: Path) -> None:
    parts = urlsplit(direct)
    gate = tmp_path / "gate"
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        async with Agented.open(
            through(direct, proxy),
            bots=[shell_bot("steps", "until", str(gate))],
            plugins=[agented_postgres],
            entry_points=False,
        ) as ag:
            ag.event_log.max_pending = BOUND
            execution = await ag.run("steps")
            await wait_until(lambda: len(stored(direct, execution.id)) >= 5, timeout=20)
            proxy.cut()
            before = len(stored(direct, execution.id))
            # the run goes on while the server is away, up to the bound, then its output waits
            await wait_until(lambda: ag.event_log.pending >= BOUND, timeout=20)
            assert (await ag.get(execution.id)).status is Status.RUNNING
            for _ in range(3):  # held there: the reader waits for room
                assert ag.event_log.pending <= BOUND + 4
                assert not await ag.event_log.room(0.2)
            assert len(stored(direct, execution.id)) == before
            proxy.restore()
            await wait_until(lambda: ag.event_log.pending < BOUND, timeout=30)
            gate.touch()
            done = await ag.wait(execution.id, timeout=60)
    rows = stored(direct, execution.id)
    assert done.status is Status.SUCCEEDED, done.error
    assert [r[0] for r in rows] == list(range(1, done.last_seq + 1))
    steps = [int(m[1]) for r in rows if (m := re.search(r"step (\d+)", str(r[1])))]
    assert steps == list(range(1, len(steps) + 1))
    assert len(steps) > BOUND


@asynccontextmanager
async def proxied_store(direct: str) -> AsyncIterator[tuple[TcpProxy, PostgresStore]]:
    """A store on the test's schema through a loopback proxy the test can cut; open, and
    answering."""
    parts = urlsplit(direct)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        store = PostgresStore(through(direct, proxy))
        await store.open()
        try:
            await store.ping()
            yield proxy, store
        finally:
            await store.close()


async def test_readiness_reports_a_cut_at_once_and_recovers(direct: str) -> None:
    async with proxied_store(direct) as (proxy, store):
        proxy.cut()
        with pytest.raises(Exception):  # noqa: B017 (whatever libpq says; it says at once)
            await store.ping()
        proxy.restore()
        await wait_until(_answers(store), timeout=30)
        assert await store.get_state("k") is None


async def test_an_owner_cut_from_the_store_stops_its_run_within_its_lease(direct: str) -> None:
    """An owner that cannot renew a lease stops the run before other hosts may take it over
    (each store call retries for minutes: the renewal must not wait on those), and once the
    store answers again its own sweep ends the run it let go as interrupted, saying why."""
    parts = urlsplit(direct)
    lease = 3.0
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        async with Agented.open(
            through(direct, proxy),
            bots=[shell_bot("sleeper", "sleep", "60")],
            plugins=[agented_postgres],
            entry_points=False,
            heartbeat_interval=0.2,
            stale_after=lease,
        ) as ag:
            execution = await ag.run("sleeper")
            await wait_until(lambda: _running_with_group(ag, execution.id), timeout=20)
            pgid = (await ag.get(execution.id)).pgid
            assert pgid is not None
            proxy.cut()
            try:
                # well within the store's retries (120 s): only the lease bounds the renewal
                await wait_until(lambda: _let_go(ag, execution.id), timeout=lease * 5)
                await wait_until(lambda: not group_alive(pgid), timeout=lease * 5)
            finally:
                proxy.restore()  # so that a failure above does not hang the shutdown
            done = await ag.wait(execution.id, timeout=30)
    assert done.status is Status.INTERRUPTED
    assert done.error is not None and "lease could not be renewed" in done.error


def _let_go(ag: Agented, execution_id: str) -> bool:
    live = ag.supervisor.live.get(execution_id)
    return live is None or live.fenced


async def _running_with_group(ag: Agented, execution_id: str) -> bool:
    execution = await ag.get(execution_id)
    return execution.status is Status.RUNNING and execution.pgid is not None


async def test_after_a_long_cut_the_pool_reconnects_within_seconds(direct: str) -> None:
    """psycopg's pool backs off between reconnection attempts without bound (1, 2, 4, 8 ...
    s): after a cut of tens of seconds the store would stay away that long again once the
    server is back. Each attempt gives up after a few seconds instead, and a fresh one starts."""
    async with proxied_store(direct) as (proxy, store):
        proxy.cut()
        answered = anyio.Event()

        async def ask() -> None:
            await store.get_state("k")  # retried while the server is away
            answered.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            # the pool's attempts, two chains of them: backing off without bound, by the
            # ninth the next ones would come 13 s or more later
            await wait_until(lambda: proxy.refused >= 9, timeout=40)
            proxy.restore()
            with anyio.fail_after(4):
                await answered.wait()


def _answers(store: PostgresStore) -> Callable[[], Awaitable[bool]]:
    async def answers() -> bool:
        try:
            await store.ping()
        except Exception:
            return False
        return True

    return answers
