"""Concurrent small writes of the PostgreSQL store sharing statements (agented_postgres.batch):
each call keeps its own result, its order and its error, on the real server."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from agented_postgres import PostgresStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agented_core import Execution, Status, TriggerKind
from pg_support import fresh_schema

pytestmark = pytest.mark.anyio

CALLS = 24  # more than the statements one kind may have under way: the rest share


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def execution(execution_id: str, **context: Any) -> Execution:
    return Execution(
        id=execution_id,
        bot="b",
        trigger=TriggerKind.MANUAL,
        status=Status.QUEUED,
        created_at=datetime.now(UTC),
        context=context,
    )


async def gather(*calls: Any) -> list[Any]:
    """Run the calls at once; each one's result, or the exception it raised."""
    out: list[Any] = [None] * len(calls)

    async def one(index: int) -> None:
        try:
            out[index] = await calls[index]
        except Exception as exc:
            out[index] = exc

    async with anyio.create_task_group() as tg:
        for index in range(len(calls)):
            tg.start_soon(one, index)
    return out


async def test_concurrent_writes_share_statements_and_keep_their_results(
    store: PostgresStore,
) -> None:
    won = await gather(*(store.claim(f"k{i}", "me", 60) for i in range(CALLS)))
    again = await gather(*(store.claim(f"k{i}", "other", 60) for i in range(CALLS)))
    assert won == [True] * CALLS and again == [False] * CALLS
    await gather(*(store.save_execution(execution(f"e{i:02}")) for i in range(CALLS)))
    await gather(*(store.record_delivery({"delivery": f"d{i}"}) for i in range(CALLS)))
    assert store._claims.statements < 2 * CALLS
    assert store._saves.statements < CALLS and store._entries.statements < CALLS
    assert [e.id for e in await store.find_executions([Status.QUEUED])] == [
        f"e{i:02}" for i in range(CALLS)
    ]
    logged = {d["delivery"] for d in await store.list_deliveries(limit=100)}
    assert logged == {f"d{i}" for i in range(CALLS)}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    claims=st.lists(
        st.tuples(st.sampled_from("abcd"), st.sampled_from(["p", "q", "r"])),
        min_size=1,
        max_size=30,
    )
)
async def test_claims_of_one_key_at_once_behave_as_one_after_another(
    pg_url: str, claims: list[tuple[str, str]]
) -> None:
    """Whatever the batches: in call order, the first owner of each key wins it, and only its
    own later claims of that key win again (as each claim alone would)."""
    store = PostgresStore(pg_url)
    await store.open()
    try:
        prefix = f"h{uuid.uuid4().hex}:"  # not random: Hypothesis seeds it alike
        got = await gather(*(store.claim(prefix + key, owner, 60) for key, owner in claims))
    finally:
        await store.close()
    first: dict[str, str] = {}
    expected = [first.setdefault(key, owner) == owner for key, owner in claims]
    assert got == expected


async def test_saves_of_one_execution_at_once_end_with_the_last(store: PostgresStore) -> None:
    versions = [execution("one", version=n) for n in range(CALLS)]
    await gather(*(store.save_execution(v) for v in versions))
    stored = await store.get_execution("one")
    assert stored is not None and stored.context == {"version": CALLS - 1}


async def test_a_row_the_server_refuses_fails_its_own_call_only(store: PostgresStore) -> None:
    calls = [execution(f"e{i:02}") for i in range(CALLS)]
    calls[CALLS - 3] = execution(f"e{CALLS - 3:02}", text="a\x00b")  # no NUL in JSONB
    results = await gather(*(store.save_execution(e) for e in calls))
    failed = [i for i, result in enumerate(results) if isinstance(result, Exception)]
    assert failed == [CALLS - 3]
    stored = [e.id for e in await store.find_executions([Status.QUEUED])]
    assert stored == [e.id for i, e in enumerate(calls) if i != CALLS - 3]


async def test_a_call_cancelled_before_its_batch_is_never_written(store: PostgresStore) -> None:
    entries = store._entries
    scopes = [anyio.CancelScope() for _ in range(CALLS)]

    async def record(index: int) -> None:
        with scopes[index]:
            await store.record_delivery({"delivery": f"d{index}"})

    cancelled: list[int] = []
    async with anyio.create_task_group() as tg:
        for index in range(CALLS):
            tg.start_soon(record, index)
        with anyio.fail_after(10):
            while len(entries._queue) < CALLS // 2:  # wait for calls to queue up
                await anyio.lowlevel.checkpoint()
        # those still queued (not taken into a batch) at this moment
        for call in list(entries._queue)[-4:]:
            if not call.started:
                index = int(json.loads(call.item[1])["delivery"][1:])
                cancelled.append(index)
                scopes[index].cancel()
    assert cancelled
    logged = {d["delivery"] for d in await store.list_deliveries(limit=100)}
    assert logged == {f"d{i}" for i in range(CALLS) if i not in cancelled}
