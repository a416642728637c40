"""Line numbers for config problems: where a table or key of the TOML text is written.

Python's :mod:`tomllib` gives no positions, so the text is scanned lightly: table headers
(``[bots.x]``, ``[[bots.x.on]]``), keys (bare, quoted, dotted; also inside inline tables) and
the elements of arrays, skipping strings (all four kinds) and comments. Each key is recorded with
its full dotted path and line. A problem's bot and field (``on[1].actions``) are then looked up
segment by segment, an index narrowing the search to that element of the array. Where nothing
is found (a key absent from the text, a path the scan cannot follow) the problem keeps no line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

import attrs

from .errors import Problem

__all__ = ["TomlLines", "locate"]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


class _Mark(NamedTuple):
    line: int
    path: tuple[str, ...]
    element: bool  # True: the start of an array element (or of an [[array]] table)


class TomlLines:
    """The positions of the tables, keys and array elements of one TOML text."""

    def __init__(self, text: str) -> None:
        self.marks: list[_Mark] = []
        _Scanner(text, self.marks).scan()

    def line(self, bot: str | None, field: str | None) -> int | None:
        """The line of ``field`` (dotted, with ``[i]`` indexes) of ``bot``, or ``None``."""
        segments: list[tuple[str, int | None]] = [("bots", None), (bot, None)] if bot else []
        for part in _split(field or ""):
            segments.append(part)
        marks = self.marks
        path: tuple[str, ...] = ()
        best: int | None = None
        for depth, (name, index) in enumerate(segments):
            path = (*path, name)
            found = [m for m in marks if m.path[: len(path)] == path]
            if not found:
                if bot and depth < 2:
                    return None  # the bot is not written in this text
                break
            exact = [m for m in found if m.path == path]
            best = (exact or found)[0].line
            if index is None:
                continue
            starts = [i for i, m in enumerate(marks) if m.path == path and m.element]
            if index >= len(starts):
                break
            begin = starts[index]
            end = starts[index + 1] if index + 1 < len(starts) else len(marks)
            best = marks[begin].line
            marks = marks[begin:end]
        return best


def locate(problems: Iterable[Problem], text: str) -> list[Problem]:
    """``problems`` with the line of each set where the text shows it."""
    lines = TomlLines(text)
    out: list[Problem] = []
    for problem in problems:
        if problem.line is None and (problem.bot or problem.field):
            found = lines.line(problem.bot, problem.field)
            if found is not None:
                problem = attrs.evolve(problem, line=found)
        out.append(problem)
    return out


def _split(field: str) -> list[tuple[str, int | None]]:
    """``on[1].actions`` -> ``[("on", 1), ("actions", None)]`` (nested indexes keep the first)."""
    out: list[tuple[str, int | None]] = []
    for match in _SEGMENT.finditer(field):
        name, indexes = match.group(1), match.group(2)
        first = re.match(r"\[(\d+)\]", indexes) if indexes else None
        out.append((name, int(first.group(1)) if first else None))
    return out


class _Scanner:
    """One pass over the text; see the module docstring."""

    def __init__(self, text: str, marks: list[_Mark]) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.marks = marks
        self.table: tuple[str, ...] = ()
        # open inline tables and arrays: (kind, path, expecting a key or element)
        self.stack: list[list[object]] = []

    def scan(self) -> None:
        text = self.text
        expect_key = True
        last: tuple[str, ...] = ()
        while self.pos < len(text):
            char = text[self.pos]
            top = self.stack[-1] if self.stack else None
            if char == "\n":
                self.line += 1
                self.pos += 1
                if top is None:
                    expect_key = True
                continue
            if char in " \t\r":
                self.pos += 1
                continue
            if char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
                continue
            if top is not None and top[0] == "array":
                if char == "]":
                    self.stack.pop()
                    self.pos += 1
                    expect_key = False
                    continue
                if char == ",":
                    top[2] = True
                    self.pos += 1
                    continue
                if top[2]:
                    self.marks.append(_Mark(self.line, top[1], True))  # type: ignore[arg-type]
                    top[2] = False
            if top is None and expect_key and char == "[":
                self._header()
                continue
            if expect_key and (char in "\"'" or _BARE.match(char)):
                parts = self._key()
                prefix = self.table if top is None else top[1]
                last = (*prefix, *parts)  # type: ignore[misc]
                self.marks.append(_Mark(self.line, last, False))
                expect_key = False
                continue
            if char == "=":
                self.pos += 1
                continue
            if char in "\"'":
                self._string()
                continue
            if char == "{":
                path = last if top is None or top[0] == "table" else top[1]
                self.stack.append(["table", path, True])
                self.pos += 1
                expect_key = True
                continue
            if char == "[":
                path = last if top is None or top[0] == "table" else top[1]
                self.stack.append(["array", path, True])
                self.pos += 1
                continue
            if char == "}" and top is not None:
                self.stack.pop()
                self.pos += 1
                expect_key = False
                continue
            if char == "," and top is not None and top[0] == "table":
                expect_key = True
                self.pos += 1
                continue
            self.pos += 1

    def _header(self) -> None:
        double = self.text.startswith("[[", self.pos)
        self.pos += 2 if double else 1
        parts = self._key(stop="]")
        close = self.text.find("\n", self.pos)
        self.pos = len(self.text) if close < 0 else close
        self.table = tuple(parts)
        self.marks.append(_Mark(self.line, self.table, double))

    def _key(self, stop: str = "=") -> list[str]:
        """A dotted key up to ``stop`` (not consumed for ``=``): its parts."""
        text = self.text
        parts: list[str] = []
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t.":
                self.pos += 1
            elif char in "\"'":
                start = self.pos + 1
                end = text.find(char, start)
                end = len(text) if end < 0 else end
                parts.append(text[start:end])
                self.pos = end + 1
            elif (found := _BARE.match(text, self.pos)) is not None:
                parts.append(found.group())
                self.pos = found.end()
            else:
                if char == stop and stop == "]":
                    self.pos += 1
                break
        return parts

    def _string(self) -> None:
        text = self.text
        quote = text[self.pos]
        if text.startswith(quote * 3, self.pos):
            end = text.find(quote * 3, self.pos + 3)
            while quote == '"' and end > 0 and _escaped(text, end):
                end = text.find(quote * 3, end + 1)
            end = len(text) if end < 0 else end + 3
            while end < len(text) and text[end] == quote:  # up to two quotes end the content
                end += 1
        else:
            end = self.pos + 1
            while end < len(text) and text[end] not in (quote, "\n"):
                end += 2 if quote == '"' and text[end] == "\\" else 1
            end += 1
        self.line += text.count("\n", self.pos, min(end, len(text)))
        self.pos = end


def _escaped(text: str, index: int) -> bool:
    """Whether the character at ``index`` is escaped by an odd run of backslashes."""
    count = 0
    while index - count - 1 >= 0 and text[index - count - 1] == "\\":
        count += 1
    return count % 2 == 1
