"""Full-text search: the query language against a real FTS5 index, and ``GET /executions?q=``."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core import Bot, ManualTrigger
from agented_core.config import AgentedSettings, Config
from agented_core.store.search import (
    fts5_query,
    fts5_words_query,
    indexable,
    matches,
    parse_query,
    snippet,
    tokens,
)
from agented_http import Client, Settings
from conftest import FAKE_CLI
from http_support import KEY, ThreadServer

WORDS = ["error", "connection", "refused", "café", "deploy", "deployment", "and", "or", "near"]
word = st.sampled_from(WORDS)
noise = st.text(alphabet=st.sampled_from(" \"*():^-+.,;'\\\x00☃ÉéA_ǻß"), max_size=6)
# Python's matching (logs --grep, highlights) agrees with FTS5's unicode61 on Latin text; in
# other scripts their tables of letters and folds differ (one emoji is a letter to FTS5, the
# next is not), and the index's answer is the search's (the query is sent as typed)
latin = st.text(st.characters(max_codepoint=0x24F, exclude_categories=["Cs"]), max_size=30)
documents = st.lists(st.lists(word | noise, max_size=8).map(" ".join), min_size=1, max_size=6)
queries = st.lists(word | noise | word.map(lambda w: w[:3] + "*"), max_size=5).map(" ".join)


@pytest.fixture(scope="module")
def index() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5(text, tokenize='unicode61 remove_diacritics 2')"
    )
    yield conn
    conn.close()


@settings(max_examples=300, deadline=None)
@given(docs=documents | st.lists(latin, min_size=1, max_size=3), query=queries | latin)
def test_any_query_is_valid_fts5_and_matches_as_python_does(
    index: sqlite3.Connection, docs: list[str], query: str
) -> None:
    index.execute("DELETE FROM t")
    rows = [(i, indexable(d)) for i, d in enumerate(docs, 1)]
    index.executemany("INSERT INTO t (rowid, text) VALUES (?, ?)", rows)
    terms = parse_query(query)
    if not terms:
        assert all(not matches(terms, d) for d in docs)
        return
    expression = fts5_query(terms)
    found = {r[0] for r in index.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,))}
    assert found == {i for i, d in enumerate(docs, 1) if matches(terms, d)}, expression


def test_python_folds_each_latin_letter_as_fts5_does(index: sqlite3.Connection) -> None:
    """Letter by letter over the Latin blocks: a one-letter query finds a one-letter document
    in the index exactly when Python's matching says so (the other letters as documents)."""
    letters = [chr(c) for c in range(0x20, 0x250) if parse_query(chr(c))]
    bases = sorted({tokens(ch)[0] for ch in letters if tokens(ch)} | set("aeiouslnzcgkrtydhjw"))
    disagree = []
    for ch in letters:
        terms = parse_query(ch)
        for doc in bases:
            index.execute("DELETE FROM t")
            index.execute("INSERT INTO t (rowid, text) VALUES (1, ?)", (indexable(doc),))
            found = bool(
                index.execute("SELECT 1 FROM t WHERE t MATCH ?", (fts5_query(terms),)).fetchall()
            )
            if found != matches(terms, doc):
                disagree.append((hex(ord(ch)), doc, found))
    assert not disagree


@pytest.fixture(scope="module")
def positionless() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5(text, content='', columnsize=0, detail=none,"
        " tokenize='unicode61 remove_diacritics 2')"
    )
    yield conn
    conn.close()


@settings(max_examples=300, deadline=None)
@given(docs=documents | st.lists(latin, min_size=1, max_size=3), query=queries | latin)
def test_the_words_query_finds_every_match_and_only_them_unless_a_phrase(
    positionless: sqlite3.Connection, docs: list[str], query: str
) -> None:
    # the store's index has no positions (detail=none): it is asked for the words only, and
    # what it finds is checked by Python when a phrase's order matters
    positionless.execute("INSERT INTO t (t) VALUES ('delete-all')")  # a contentless table
    rows = [(i, indexable(d)) for i, d in enumerate(docs, 1)]
    positionless.executemany("INSERT INTO t (rowid, text) VALUES (?, ?)", rows)
    terms = parse_query(query)
    if not terms:
        return
    expression, exact = fts5_words_query(terms)
    found = {
        r[0] for r in positionless.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,))
    }
    expected = {i for i, d in enumerate(docs, 1) if matches(terms, d)}
    assert expected <= found, expression
    assert exact == all(len(t.raw) == 1 for t in terms)
    if exact:
        assert found == expected, expression
    assert {i for i in found if matches(terms, docs[i - 1])} == expected


@given(text=st.text(max_size=300), query=queries)
def test_a_snippet_is_a_piece_of_the_text_with_the_matched_words_marked(
    text: str, query: str
) -> None:
    terms = parse_query(query)
    piece, spans = snippet(text, terms, width=40)
    assert piece.strip("…") in text
    for start, end in spans:
        assert tokens(piece[start:end])
    if matches(terms, text):
        assert spans


def test_phrases_prefixes_and_folding() -> None:
    upper = parse_query('Deploy* "connection REFUSED" x')
    assert [(t.words, t.prefix) for t in upper] == [
        (t.words, t.prefix) for t in parse_query('deploy* "connection refused" X')
    ]
    assert fts5_query(upper) == '"Deploy"* AND "connection REFUSED" AND "x"'  # as typed
    terms = parse_query('"connection refused" deploy*')
    assert fts5_query(terms) == '"connection refused" AND "deploy"*'
    assert matches(terms, "Deployment failed: Connection refused!")
    assert not matches(terms, "refused connection, deployment")
    assert parse_query('"" *** -- "') == []
    assert matches(parse_query("cafe"), "un CAFÉ") and matches(parse_query("café"), "cafe")
    text = "x" * 200 + " the Connection was refused " + "y" * 200
    piece, spans = snippet(text, parse_query("connection refused"), width=80)
    assert piece.startswith("…") and piece.endswith("…")
    assert [piece[a:b] for a, b in spans] == ["Connection", "refused"]


def finished(client: Client, execution_id: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not client.get(execution_id).terminal:
        assert time.monotonic() < deadline, f"{execution_id} did not finish"
        time.sleep(0.02)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadServer]:
    bots = {
        "say": Bot(
            name="say",
            command=(FAKE_CLI, "say", "{params.text}", "done"),
            triggers=(ManualTrigger(params=("text",)),),
        ),
        "other": Bot(
            name="other",
            command=(FAKE_CLI, "say", "{params.text}"),
            triggers=(ManualTrigger(params=("text",)),),
        ),
    }
    config = Config(
        settings=AgentedSettings(database=f"sqlite:///{tmp_path / 'agented.db'}"), bots=bots
    )
    with ThreadServer(config, Settings(api_keys=(KEY,)), {"entry_points": False}) as running:
        yield running


def test_get_executions_q_finds_runs_by_their_output_with_snippets(server: ThreadServer) -> None:
    with Client(f"{server.url}/agented", api_key=KEY) as client:
        said = {
            text: client.run(bot, {"text": text})
            for bot, text in [
                ("say", "fatal: Connection refused by 10.0.0.1"),
                ("say", "all good"),
                ("other", "connection reset, then refused"),
            ]
        }
        for execution_id in said.values():
            finished(client, execution_id)
        page = client.search("connection refused")
        assert [r.execution.id for r in page.items] == [
            said["connection reset, then refused"],
            said["fatal: Connection refused by 10.0.0.1"],
        ]
        hit = page.items[1].matches[0]
        assert hit.kind == "text" and hit.snippet == "fatal: Connection refused by 10.0.0.1"
        assert [hit.snippet[a:b] for a, b in hit.highlights] == ["Connection", "refused"]
        assert [r.execution.bot for r in client.search("refused", bot="other").items] == ["other"]
        assert client.search("refused", status="failed").items == []
        first = client.search("refused", limit=1)
        assert len(first.items) == 1 and first.next_cursor is not None
        rest = client.search("refused", limit=1, cursor=first.next_cursor)
        assert [r.execution.id for r in rest.items] == [
            said["fatal: Connection refused by 10.0.0.1"]
        ]
        assert client.search('"refused connection"').items == []
        # no query text is an error of the index, whatever it holds
        for weird in ['"', "AND", "NEAR(", "x OR", "'; --", "*", "\\", "col:x", "(a", "🙂 x"]:
            assert client.search(weird).next_cursor is None
    answer = httpx.get(
        f"{server.url}/agented/executions",
        params={"q": "x" * 501},
        headers={"X-API-Key": KEY},
    )
    assert answer.status_code == 400 and answer.json()["error"] == "bad_request"
