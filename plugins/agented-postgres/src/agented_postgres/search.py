"""Full-text search on PostgreSQL: a ``tsvector`` per event built here, a GIN index, ``@@``.

The words are those of :func:`agented_core.store.search.tokens` (letters and digits, case and
accents folded, as SQLite's FTS5 sees them), not PostgreSQL's text parser's, which keeps paths,
URLs and hyphenated words whole and depends on the database's locale. An ASCII text (nearly
every line of output) is lowered here with every other character a space (:func:`plain_text`,
one ``str.translate``), which the server's parser then splits into exactly those words
(:data:`PLAIN_VECTOR`), at little cost to the event loop. Any other text's vector is written
here (:func:`vector_text`, each word quoted with its positions). The query is a ``tsquery`` of
quoted words (:func:`query_text`): nothing a user types is query syntax.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agented_core.store.search import Term, tokens

__all__ = [
    "MAX_POSITION",
    "MAX_WORD_BYTES",
    "PLAIN_VECTOR",
    "plain_text",
    "query_text",
    "vector_text",
]

MAX_POSITION = 16383
"""PostgreSQL's largest word position; words after it all stand at it (found, but a phrase
reaching past it may match loosely)."""
MAX_WORD_BYTES = 2047
"""PostgreSQL's longest lexeme; a longer word (a blob) is not indexed."""
_MAX_VECTOR_CHARS = 900_000
"""A ``tsvector`` holds at most 1 MB: the words of a longer text stop being indexed there."""
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
PLAIN_VECTOR = "to_tsvector('simple', {})"
"""The SQL of an ASCII text's vector, made on the server from its :func:`plain_text` (``{}``)."""
_PLAIN = str.maketrans({chr(c): (chr(c).lower() if chr(c).isalnum() else " ") for c in range(128)})


_MAX_PLAIN_CHARS = 250_000
"""How much of an ASCII text is indexed: its vector then stays well under the 1 MB limit."""


def plain_text(text: str) -> str:
    """An ASCII text's words (letters and digits, lower case) between spaces; of a huge text,
    those of its first :data:`_MAX_PLAIN_CHARS` characters."""
    if len(text) > _MAX_PLAIN_CHARS:
        text = text[: text.rfind(" ", 0, _MAX_PLAIN_CHARS) + 1 or _MAX_PLAIN_CHARS]
    return text.translate(_PLAIN)


def _words(text: str) -> list[str]:
    if text.isascii():  # the common case, without the Unicode folding's cost
        return _ASCII_WORD.findall(text.lower())
    return tokens(text)


def _quote(word: str) -> str:
    # the words hold letters and digits only; escaping anyway keeps a quote from ever closing
    if "'" in word or "\\" in word:
        word = word.replace("\\", "\\\\").replace("'", "''")
    return "'" + word + "'"


def vector_text(text: str | None) -> str | None:
    """The ``tsvector`` literal of an event's text (None when it has no word)."""
    if not text:
        return None
    positions: dict[str, list[str]] = {}
    n = 0
    for word in _words(text):
        at = positions.get(word)
        if at is None:
            # left out without taking a position, as PostgreSQL's parser does
            if len(word) * 4 > MAX_WORD_BYTES and len(word.encode()) > MAX_WORD_BYTES:
                continue
            positions[word] = at = []
        n += 1
        if len(at) < 256:  # PostgreSQL keeps 256 positions of a word
            at.append(str(min(n, MAX_POSITION)))
    if not positions:
        return None
    parts: list[str] = []
    size = 0
    for word, at in positions.items():
        part = _quote(word) + ":" + ",".join(at)
        size += len(part) + 1
        if size > _MAX_VECTOR_CHARS:
            break
        parts.append(part)
    return " ".join(parts)


def query_text(terms: Sequence[Term]) -> str:
    """The ``tsquery`` literal requiring every term: a phrase's words ``<->`` in order, a
    prefix's last word ``:*``."""
    out = []
    for term in terms:
        words = [_quote(w) for w in term.words]
        if term.prefix:
            words[-1] += ":*"
        phrase = " <-> ".join(words)
        out.append(f"({phrase})" if len(words) > 1 else phrase)
    return " & ".join(out)
