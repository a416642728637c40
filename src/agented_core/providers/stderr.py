"""The last lines of an attempt's stderr: evidence for an error's kind, words for its message.

A CLI that fails before it prints anything on stdout usually says why on stderr ("Not logged
in", "error loading config"). :class:`StderrTail` keeps the last few non-blank lines, each cut to
a bounded width, so a parser can name the failure ("exited with code 1 without a result:
Not logged in") and classify it, in bounded memory however much the CLI prints.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator


class StderrTail:
    """The last ``lines`` non-blank stderr lines, each cut to ``width`` characters."""

    def __init__(self, lines: int = 5, width: int = 500) -> None:
        if lines < 1 or width < 1:
            raise ValueError("a stderr tail keeps at least one line of one character")
        self.width = width
        self._lines: deque[str] = deque(maxlen=lines)

    def add(self, line: str | None) -> None:
        """Keep ``line`` (cut to the width) unless it is ``None`` or blank."""
        if line is not None and line.strip():
            self._lines.append(line[: self.width])

    @property
    def last(self) -> str | None:
        """The last line kept, ``None`` when there is none."""
        return self._lines[-1] if self._lines else None

    @property
    def text(self) -> str:
        """The lines kept, joined with newlines (``""`` when there are none)."""
        return "\n".join(self._lines)

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)
