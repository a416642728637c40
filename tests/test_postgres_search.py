"""Full-text search on PostgreSQL: the vectors and queries the client writes, on the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agented_postgres import PostgresStore
from agented_postgres.search import (
    MAX_WORD_BYTES,
    PLAIN_VECTOR,
    plain_text,
    query_text,
    vector_text,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core import Event
from agented_core.store.search import matches, parse_query
from agented_core.store.testing import NOW
from pg_support import fresh_schema, server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


WORDS = ["error", "connection", "refused", "café", "deploy", "deployment", "and", "or", "near"]
word = st.sampled_from(WORDS)
noise = st.text(alphabet=st.sampled_from(" \"*():^-+.,;'\\\x00☃ÉéA_ǻß&|!<>"), max_size=6)
documents = st.lists(word | noise, max_size=10).map(" ".join)
queries = st.lists(word | noise | word.map(lambda w: w[:3] + "*"), max_size=5).map(" ".join)
anything = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@pytest.fixture(scope="module")
def conn() -> Iterator[Any]:
    import psycopg

    with psycopg.connect(server(), autocommit=True) as connection:
        yield connection


def found(conn: Any, text: str, query: str) -> bool:
    """Whether the server finds ``query`` in ``text`` as the store would: an ASCII text's vector
    made by the server, any other's by the client (NUL as the store cleans it)."""
    text = text.replace("\x00", "\ufffd")
    plain = text.isascii()
    words, vector = (plain_text(text), "") if plain else ("", vector_text(text) or "")
    cur = conn.execute(
        "SELECT CASE WHEN %s THEN " + PLAIN_VECTOR.format("%s::text") + " ELSE %s::tsvector END"
        " @@ %s::tsquery",
        (plain, words, vector, query_text(parse_query(query))),
    )
    return bool(cur.fetchone()[0])


@settings(max_examples=150, deadline=None)
@given(
    text=(documents | st.text(st.characters(max_codepoint=127), max_size=60)).filter(str.isascii)
)
def test_the_server_splits_ascii_text_into_the_words_the_client_would(conn: Any, text: str) -> None:
    text = text.replace("\x00", " ")
    made = conn.execute(
        ("SELECT " + PLAIN_VECTOR.format("%s::text") + "::text").encode(), (plain_text(text),)
    )
    cur = conn.execute("SELECT %s::tsvector::text", (vector_text(text) or "",))
    assert made.fetchone()[0] == cur.fetchone()[0]


@settings(max_examples=150, deadline=None)
@given(text=documents | anything, query=queries | anything)
def test_any_text_and_query_are_valid_and_match_as_python_does(
    conn: Any, text: str, query: str
) -> None:
    terms = parse_query(query)
    if not terms:
        return
    assert found(conn, text, query) == matches(terms, text.replace("\x00", "\ufffd")), (
        vector_text(text),
        query_text(terms),
    )


def test_phrases_prefixes_folding_and_operators_as_plain_words(conn: Any) -> None:
    text = "Traceback: ConnectionError while pushing to /usr/lib/x.so; Café au-lait"
    for query in (
        "connectionerror",
        "lib",
        "x so",
        '"au lait"',
        "cafe",
        "CAFÉ",
        "push*",
        "while & !pushing",
    ):
        assert found(conn, text, query), query
    for query in ('"lait au"', "connection", "pus", '"push*"', "ab:*"):
        assert not found(conn, text, query), query
    assert found(conn, "a & b | !c <-> d:*", "a b c d")


def test_a_blob_word_is_left_out_and_the_rest_indexed(conn: Any) -> None:
    text = "start " + "x" * (MAX_WORD_BYTES + 1) + " end"
    assert found(conn, text, "start end")
    assert not found(conn, text, "x*")
    assert vector_text("") is None and vector_text("--- ...") is None


async def test_the_store_splits_words_as_python_does_and_takes_a_huge_event() -> None:

    words = " ".join(f"w{n}" for n in range(400_000))  # 3 MB, a vector over 1 MB
    with fresh_schema() as url:
        store = PostgresStore(url)
        await store.open()
        try:
            await store.append_events(
                [
                    Event("01H1", 1, NOW, 1, "text", words, {}),
                    Event("01H2", 1, NOW, 1, "text", "é " + words, {}),
                ]
            )
            assert [m.execution_id for m in await store.search_events("w0 w1")] == ["01H2", "01H1"]
            path = [
                Event("01H3", n, NOW, 1, "text", "in /usr/lib/x.so-1.5 " * n, {}) for n in (1, 99)
            ]
            await store.append_events(path)  # one small batch, then one COPYed
            await store.append_events(
                [Event("01H3", n, NOW, 1, "text", "LIB", {}) for n in range(2, 70)]
            )
            got = await store.search_events('"lib x so 1 5"', per_execution=2)
            assert [(m.execution_id, [e.seq for e in m.events]) for m in got] == [("01H3", [1, 99])]
            assert (await store.read_events("01H1"))[0].text == words
        finally:
            await store.close()


def _schema_of(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


async def _waiting(url: str) -> list[tuple[str, int]]:
    """The events of the store at ``url`` still without a search vector."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(server(), autocommit=True) as conn:
        cur = await conn.execute(
            f"SELECT execution_id, seq FROM {_schema_of(url)}.events"
            " WHERE search IS NULL AND text <> '' ORDER BY 1, 2".encode()
        )
        return [(r[0], r[1]) for r in await cur.fetchall()]


async def _wait_until(check: Any, timeout: float = 20.0) -> None:
    import anyio

    with anyio.fail_after(timeout):
        while not await check():
            await anyio.sleep(0.02)


async def test_events_are_stored_unindexed_and_indexed_behind_them_once_appends_pause() -> None:
    """No search is needed: the store's indexer gives every stored text its vector, a text
    without a word the empty one (so it is not looked at again)."""
    with fresh_schema() as url:
        writer = PostgresStore(url)
        writer.index_search = False  # stores, never indexes in the background
        await writer.open()
        try:
            await writer.append_events(
                [Event("01H1", n, NOW, 1, "text", f"line {n} ok", {}) for n in range(1, 200)]
                + [Event("01H1", 200, NOW, 1, "text", "--- ...", {})]
            )
            assert len(await _waiting(url)) == 200  # stored without vectors
        finally:
            await writer.close()
        indexer = PostgresStore(url)  # the next process to open the store takes them up
        await indexer.open()
        try:

            async def none_waiting() -> bool:
                return not await _waiting(url)

            await _wait_until(none_waiting)
            import psycopg

            async with await psycopg.AsyncConnection.connect(server()) as conn:
                cur = await conn.execute(
                    f"SELECT search::text FROM {_schema_of(url)}.events"
                    " WHERE seq IN (7, 200) ORDER BY seq".encode()
                )
                assert [r[0] for r in await cur.fetchall()] == ["'7':2 'line':1 'ok':3", ""]
        finally:
            await indexer.close()


async def test_a_search_finds_what_another_store_stored_and_never_indexed() -> None:
    with fresh_schema() as url:
        writer, reader = PostgresStore(url), PostgresStore(url)
        writer.index_search = reader.index_search = False
        await writer.open()
        await reader.open()
        try:
            await writer.append_events(
                [Event("01H1", 1, NOW, 1, "text", "deploy failed: connection refused", {})]
                + [Event("01H2", n, NOW, 1, "text", f"café {n}", {}) for n in range(1, 100)]
            )
            got = await reader.search_events("refused")
            assert [(m.execution_id, [e.seq for e in m.events]) for m in got] == [("01H1", [1])]
            assert [m.execution_id for m in await reader.search_events("cafe 42")] == ["01H2"]
            assert await _waiting(url) == []
        finally:
            await writer.close()
            await reader.close()


async def test_a_search_waits_for_the_events_another_indexer_is_indexing() -> None:
    """Rows locked by another process's batch are waited for, not skipped: once it commits,
    the search finds them."""
    import anyio
    import psycopg

    with fresh_schema() as url:
        store = PostgresStore(url)
        store.index_search = False
        await store.open()
        schema = _schema_of(url)
        try:
            await store.append_events([Event("01H1", 1, NOW, 1, "text", "needle", {})])
            async with await psycopg.AsyncConnection.connect(server()) as other:
                await other.execute(
                    f"SELECT 1 FROM {schema}.events WHERE search IS NULL FOR UPDATE".encode()
                )
                await other.execute(  # its batch, not committed yet
                    f"UPDATE {schema}.events SET search = to_tsvector('simple', text)".encode()
                )
                found: list[str] = []

                async def search() -> None:
                    found.extend(m.execution_id for m in await store.search_events("needle"))

                async with anyio.create_task_group() as tg:
                    tg.start_soon(search)

                    async def blocked() -> bool:
                        async with await psycopg.AsyncConnection.connect(server()) as c:
                            cur = await c.execute(
                                "SELECT count(*) FROM pg_stat_activity"
                                " WHERE wait_event_type = 'Lock' AND query LIKE '%%FOR UPDATE%%'"
                                " AND pid <> pg_backend_pid()"
                            )
                            row = await cur.fetchone()
                            return bool(row and row[0])

                    await _wait_until(blocked)
                    assert found == []
                    await other.commit()
            assert found == ["01H1"]
        finally:
            await store.close()
