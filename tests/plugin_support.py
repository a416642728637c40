"""What the provider plugins' tests (tests/plugins) share: feeding a parser lines and reading
the drafts it made, the lines of a recorded transcript, the CLI versions realcli pins."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from agented_core import EventDraft
from agented_core.providers import LineParser


def drive(
    parser: LineParser, lines: Sequence[str], stderr: Sequence[str] = (), exit_code: int | None = 0
) -> list[EventDraft]:
    """The drafts of ``parser`` given ``lines`` on stdout, then ``stderr``, then the exit."""
    out: list[EventDraft] = []
    for line in lines:
        out.extend(parser.stdout(line))
    for line in stderr:
        out.extend(parser.stderr(line))
    out.extend(parser.finish(exit_code))
    return out


def recorded(folder: Path, stem: str) -> tuple[list[str], list[str]]:
    """The stdout lines of ``folder/stem.jsonl`` and the stderr ones of ``stem.stderr.txt``
    (none when it is absent)."""
    lines = (folder / f"{stem}.jsonl").read_text().splitlines()
    err = folder / f"{stem}.stderr.txt"
    return lines, err.read_text().splitlines() if err.exists() else []


def of(events: Sequence[EventDraft], kind: str) -> list[EventDraft]:
    """The drafts of ``kind``."""
    return [e for e in events if e.kind == kind]


def pinned_version(cli: str) -> str:
    """The version of ``cli`` the contract tests install (``tests/realcli/clis.py``)."""
    folder = str(Path(__file__).parent / "realcli")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import clis

    return clis.PINNED[cli].version
