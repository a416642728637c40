"""Transcripts of the genuine opencode, kept as fixtures for the fast parser tests.

Each case runs the pinned CLI directly (no agented) against the scripted fake chat-completions
API, with ``--print-logs --log-level ERROR`` as the plugin runs it; stdout and stderr are stored
in ``tests/fixtures/opencode/`` and must read the same way on every ``realcli`` run.
``AGENTED_REALCLI_RECORD=1`` replaces the stored ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from agented_opencode import OpencodeParser
from opencode_family import check_transcript
from realcli_support import cli_bin

from fakeapi import Error, FakeModelAPI, Reply, Text, Thinking, Usage, text, tool

pytestmark = [pytest.mark.realcli, pytest.mark.timeout(120)]

WORDS = " ".join(f"word{i}" for i in range(80))

Script = Callable[[FakeModelAPI], None]
CASES: dict[str, tuple[Script, str]] = {
    "success": (lambda api: api.push(text("hello from fake", usage=Usage(12, 5, 4))), "priced"),
    "unpriced": (lambda api: api.push(text("hello", usage=Usage(1000, 100))), "unpriced"),
    "thinking": (
        lambda api: api.push(Reply((Thinking("let me think"), Text("answer")))),
        "priced",
    ),
    "tool-round-trip": (
        lambda api: api.push(
            tool("bash", {"command": "echo tool-output", "description": "run"}, usage=Usage(12, 4)),
            Reply((Text("done"),), Usage(30, 6)),
        ),
        "priced",
    ),
    "tool-error": (
        lambda api: api.push(tool("read", {"filePath": "/nonexistent/file"}), text("no file")),
        "priced",
    ),
    "rate-limited-429": (lambda api: api.always(Error(429, retry_after=0.5)), "priced"),
    "unauthorized-401": (lambda api: api.always(Error(401)), "priced"),
}


@pytest.fixture(scope="module")
def opencode_bin() -> str:
    return cli_bin("opencode")


@pytest.mark.parametrize("case", sorted(CASES))
def test_transcript_reads_like_the_stored_fixture(
    case: str, opencode_bin: str, tmp_path: Path
) -> None:
    script, model = CASES[case]
    env = {"OPENCODE_DISABLE_MODELS_FETCH": "true", "OPENCODE_DISABLE_AUTOUPDATE": "true"}
    check_transcript(
        "opencode",
        opencode_bin,
        lambda m: OpencodeParser(model=m),
        case,
        script,
        model,
        tmp_path,
        env=env,
        timeout=90,
    )
