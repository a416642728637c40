"""A secret across the cut of a long line is redacted whole; later parts keep the first's kind."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_core import Account, Bot, ManualTrigger
from agented_core.config import Config
from agented_core.run._runner import DEFAULT_MAX_LINE, LineSplitter
from conftest import OpenAgented

pytestmark = pytest.mark.anyio

SECRET = "sk-straddle-0123456789abcdef"

# one 2 MiB line with the secret across the 1 MiB cut, then a short line
PRINT_LONG_LINE = """
import os, sys
secret = os.environ["AGENT_KEY"]
half = len(secret) // 2
line = "a" * (1024 * 1024 - half) + secret + "b" * (1024 * 1024)
sys.stdout.write(line + "\\nafter\\n")
"""


async def test_a_secret_across_the_cut_of_a_2_mib_line_is_redacted(
    open_agented: OpenAgented, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORK_KEY", SECRET)
    account = Account(name="work", provider="shell", env_from={"AGENT_KEY": "WORK_KEY"})
    bot = Bot(
        name="long",
        provider="shell",
        command=(sys.executable, "-c", PRINT_LONG_LINE),
        account="work",
        triggers=(ManualTrigger(),),
    )
    async with open_agented([bot], config=Config(accounts={"work": account})) as ag:
        execution = await ag.run("long")
        events = [e async for e in ag.events(execution.id)]
    # what the store holds once every batch is written (a closed Agented has flushed them all)
    async with open_agented([bot], config=Config(accounts={"work": account}), recover=False) as ag:
        stored = await ag.store.read_events(execution.id, after=0, limit=100)
    parts = [e for e in events if e.kind in ("text", "raw") and e.text != "after"]
    assert len(parts) >= 2
    assert all(e.kind == "text" for e in parts), [e.kind for e in parts]
    assert [bool(e.data.get("continued")) for e in parts] == [False] + [True] * (len(parts) - 1)
    joined = "".join(e.text or "" for e in parts)
    assert "[redacted]" in joined
    assert joined == "a" * (1024 * 1024 - len(SECRET) // 2) + "[redacted]" + "b" * (1024 * 1024)
    half = len(SECRET) // 2
    for event in [*events, *stored]:
        text = event.text or ""
        # neither half of the secret at the edge of a part (what a split redaction left)
        assert not text.endswith(SECRET[:half]) and not text.startswith(SECRET[half:])
    kept = ("text", "raw")
    assert [e.text for e in stored if e.kind in kept] == [e.text for e in events if e.kind in kept]
    assert any(e.text == "after" for e in events)


def _split(data: bytes, max_line: int, secrets: list[str], chunk: int) -> list[tuple[str, bool]]:
    splitter = LineSplitter(max_line, secrets)
    out: list[tuple[str, bool]] = []
    for start in range(0, len(data), chunk):
        out += splitter.feed(data[start : start + chunk])
    return out + splitter.finish()


@given(
    before=st.integers(0, 60),
    after=st.integers(0, 60),
    secret=st.text("xyz0123é", min_size=6, max_size=12),
    max_line=st.integers(25, 70),
    chunk=st.integers(1, 50),
)
def test_no_part_cuts_a_secret(
    before: int, after: int, secret: str, max_line: int, chunk: int
) -> None:
    line = "-" * before + secret + "+" * after
    out = _split((line + "\n").encode(), max_line, [secret], chunk)
    assert "".join(text for text, _ in out) == line
    assert [c for _, c in out] == [False] + [True] * (len(out) - 1)
    assert any(secret in text for text, _ in out)
    for text, _ in out:
        assert len(text.encode()) <= max_line


@given(st.text(min_size=0, max_size=200), st.integers(4, 30), st.integers(1, 40))
def test_splitting_any_text_loses_nothing(text: str, max_line: int, chunk: int) -> None:
    lines = text.replace("\r", "").split("\n")
    out = _split(text.replace("\r", "").encode(), max_line, [], chunk)
    rebuilt: list[str] = []
    for part, continued in out:
        if continued:
            rebuilt[-1] += part
        else:
            rebuilt.append(part)
    expected = lines if lines[-1] else lines[:-1]
    assert rebuilt == expected


def test_lines_without_secrets_split_as_before() -> None:
    data = b"x" * (2 * DEFAULT_MAX_LINE + 5) + b"\nshort\n"
    out = _split(data, DEFAULT_MAX_LINE, [], 256 * 1024)
    assert [len(t) for t, _ in out] == [DEFAULT_MAX_LINE, DEFAULT_MAX_LINE, 5, 5]
    assert [c for _, c in out] == [False, True, True, False]


def test_a_complete_long_line_is_not_held_back_for_the_overlap() -> None:
    splitter = LineSplitter(10, ["secret-value-long"])
    assert [t for t, _ in splitter.feed(b"0123456789abc\n")] == ["0123456789", "abc"]
