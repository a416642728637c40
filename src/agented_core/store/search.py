"""Full-text search over event text: the query language, matching and snippets.

A query is words and ``"quoted phrases"``; an event matches when its text holds every one of
them (case and accents ignored, punctuation separating words as in SQLite FTS5's
``unicode61`` tokenizer). A word ending in ``*`` matches every word it begins. Nothing a user
types is query syntax: the words are taken apart here and handed to a backend as quoted
tokens (:func:`fts5_query`), so no input is an FTS syntax error or an injection.

Backends index events whose text is not empty; :func:`matches` and :func:`snippet` do the same
in Python (``agented logs --grep``, the snippets of ``GET /executions?q=``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from attrs import frozen

from ..models import Event

__all__ = [
    "SearchMatch",
    "Term",
    "fts5_query",
    "fts5_words_query",
    "indexable",
    "matches",
    "parse_query",
    "snippet",
    "tokens",
]

_TOKEN = re.compile(r"[^\W_]+")
_PART = re.compile(r'"([^"]*)"?|(\S+)')


@frozen
class Term:
    """One part of a query: its words in order (a phrase when more than one), and whether the
    last word is a prefix (``deploy*``)."""

    words: tuple[str, ...]
    prefix: bool = False
    raw: tuple[str, ...] = ()
    """The words as typed (the index folds them itself; Python matching uses ``words``)."""


@frozen
class SearchMatch:
    """An execution whose events match a search, with some of the matching events (seq order)."""

    execution_id: str
    events: tuple[Event, ...]


def _fold(text: str) -> str:
    """Lower case without accents, as ``unicode61`` with ``remove_diacritics 2`` folds.

    unicode61 takes the marks off a letter whose base is an ASCII letter (``é`` is ``e``), not
    off others (``ǣ`` stays); ``ǡ`` stays too, and the long s is an s. The tests check this
    letter by letter over the Latin blocks against a real FTS5 index.
    """
    lowered = text.lower().replace("\u017f", "s")  # the long s
    if lowered.isascii():
        return lowered
    return "".join(_fold_letter(c) for c in lowered)


def _fold_letter(letter: str) -> str:
    if letter.isascii() or letter == "\u01e1":  # ǡ
        return letter
    decomposed = unicodedata.normalize("NFD", letter)
    if decomposed[0].isascii():
        return "".join(c for c in decomposed if not unicodedata.combining(c))
    return letter


def indexable(text: str) -> str:
    """The text as a backend indexes it: a NUL (which would end the text there) is a space."""
    return text.replace("\x00", " ")


def tokens(text: str) -> list[str]:
    """The words of ``text`` as the index sees them: letters and digits, folded."""
    return _TOKEN.findall(_fold(text))


def parse_query(query: str) -> list[Term]:
    """The terms of a user's query; an empty list when it has no word at all."""
    terms: list[Term] = []
    for match in _PART.finditer(query):
        quoted, bare = match.group(1), match.group(2)
        raw = quoted if quoted is not None else bare
        typed = tuple(_TOKEN.findall(raw))
        words = tuple(w for t in typed for w in tokens(t))
        if not words:
            continue
        prefix = quoted is None and raw.endswith("*") and bool(_TOKEN.search(raw[-2:-1]))
        terms.append(Term(words, prefix, typed))
    return terms


def fts5_query(terms: Sequence[Term]) -> str:
    """An FTS5 MATCH expression for ``terms``: each a quoted phrase, all of them required.

    The words hold only letters and digits, so quoting cannot be broken out of.
    """
    parts = []
    for term in terms:
        phrase = '"' + " ".join(term.raw or term.words) + '"'
        parts.append(phrase + ("*" if term.prefix else ""))
    return " AND ".join(parts)


def fts5_words_query(
    terms: Sequence[Term], expansions: Mapping[int, Sequence[str]] | None = None
) -> tuple[str, bool]:
    """An FTS5 MATCH expression requiring every word of ``terms`` but not their order (for an
    index without positions, ``detail=none``, which refuses phrases), and whether its answer
    is exact: it is when no term is a phrase; otherwise each event it finds must still be
    checked with :func:`matches`.

    ``expansions`` gives, by the index of a prefix term, the indexed words its prefix stands
    for (at least one): they are asked for instead of the prefix (an index without positions
    answers a prefix by merging every such word's whole list; a few words ``OR``-ed stop at
    the first rows wanted).
    """
    parts = []
    exact = True
    for number, term in enumerate(terms):
        words = term.raw or term.words
        exact = exact and len(words) == 1
        parts += [f'"{w}"' for w in words[:-1]]
        expanded = (expansions or {}).get(number) if term.prefix else None
        if expanded:
            parts.append("(" + " OR ".join(f'"{w}"' for w in expanded) + ")")
        else:
            parts.append(f'"{words[-1]}"' + ("*" if term.prefix else ""))
    return " AND ".join(parts), exact


def _term_spans(folded_words: list[str], term: Term) -> list[int]:
    """Indexes (into the word list) where ``term`` starts."""
    n = len(term.words)
    starts = []
    for i in range(len(folded_words) - n + 1):
        head = folded_words[i : i + n - 1]
        last = folded_words[i + n - 1]
        if list(term.words[:-1]) != head:
            continue
        if last == term.words[-1] or (term.prefix and last.startswith(term.words[-1])):
            starts.append(i)
    return starts


def matches(terms: Sequence[Term], text: str | None) -> bool:
    """Whether ``text`` holds every term (an empty query matches nothing)."""
    if not terms or not text:
        return False
    words = tokens(text)
    return all(_term_spans(words, term) for term in terms)


def snippet(
    text: str, terms: Sequence[Term], *, width: int = 160
) -> tuple[str, list[tuple[int, int]]]:
    """A piece of ``text`` around its first match, at most about ``width`` characters, and the
    spans (start, end) of every matched word within that piece. ``…`` marks a cut."""
    located = [(m.start(), m.end(), _fold(m.group())) for m in _TOKEN.finditer(text)]
    # _fold may split one character into several: match on the folded words, map back by index
    words = [w for _, _, w in located]
    hit_words: set[int] = set()
    for term in terms:
        for start in _term_spans(words, term):
            hit_words.update(range(start, start + len(term.words)))
    if not hit_words:
        head = text[:width]
        return head + ("…" if len(text) > width else ""), []
    first = located[min(hit_words)][0]
    begin = max(0, first - width // 3)
    end = min(len(text), begin + width)
    begin = max(0, min(begin, end - width))
    piece = text[begin:end]
    lead = "…" if begin > 0 else ""
    tail = "…" if end < len(text) else ""
    spans = [
        (located[i][0] - begin + len(lead), located[i][1] - begin + len(lead))
        for i in sorted(hit_words)
        if located[i][0] >= begin and located[i][1] <= end
    ]
    return lead + piece + tail, spans
