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
