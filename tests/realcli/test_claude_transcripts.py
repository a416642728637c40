"""Transcripts of the genuine Claude Code CLI, kept as fixtures for the fast parser tests.

Each case runs the pinned CLI directly (no agented) against the scripted fake API and reads
its stdout with the parser. The stored transcript of the case (``tests/fixtures/claude/``) must
read the same way, so a new CLI version whose output changes shape fails here first. With
``AGENTED_REALCLI_RECORD=1`` the fresh transcripts replace the stored ones (temporary paths
become ``/home/dev``, the fake API's port ``8080``).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import clis
import pytest
from agented_claude import ClaudeParser

from fakeapi import (
    Error,
    FakeModelAPI,
    Reply,
    Text,
    Thinking,
    Usage,
    tool,
    unified_limit_headers,
)

pytestmark = [pytest.mark.realcli, pytest.mark.timeout(120)]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "claude"
VERSION = clis.PINNED["claude"].version
SONNET = ("--model", "sonnet")
RESET = 1795700000  # 2026-11-26T13:33:20Z, a fixed reset so the transcript is stable


def _bash(command: str) -> Reply:
    return tool("Bash", {"command": command, "description": "run"}, usage=Usage(12, 4))


CASES: dict[str, tuple[Callable[[FakeModelAPI], None], list[str], dict[str, str]]] = {
    "success": (
        lambda api: api.push(Reply((Text("hello from fake"),), Usage(12, 5, 7, 3))),
        [],
        {},
    ),
    "tool-round-trip": (
        lambda api: api.push(_bash("echo tool-output"), Reply((Text("done"),), Usage(30, 6))),
        ["--allowedTools", "Bash"],
        {},
    ),
    "thinking": (
        lambda api: api.push(Reply((Thinking("let me think"), Text("answer")))),
        [],
        {},
    ),
    "partial-messages": (
        lambda api: api.push(Reply((Text("hello in parts"),), Usage(12, 5), text_chunks=3)),
        ["--include-partial-messages"],
        {},
    ),
    "rate-limited-429": (
        lambda api: api.always(Error(429, retry_after=1)),
        [],
        {"CLAUDE_CODE_MAX_RETRIES": "1"},
    ),
    "subscription-limit-429": (
        lambda api: api.always(Error(429, retry_after=5, headers=unified_limit_headers(RESET))),
        [],
        {"ANTHROPIC_API_KEY": "", "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-fake-token-1234"},
    ),
    "unauthorized-401": (lambda api: api.always(Error(401)), [], {}),
    "overloaded-529": (lambda api: api.always(Error(529)), [], {}),
    "cut-stream": (
        lambda api: api.always(Reply((Text("partial " * 40),), text_chunks=8, cut_after=4)),
        [],
        {},
    ),
    "max-turns": (
        lambda api: api.always(_bash("echo again")),
        ["--allowedTools", "Bash", "--max-turns", "2"],
        {},
    ),
    "max-budget": (
        lambda api: api.always(
            tool("Bash", {"command": "echo x", "description": "x"}, usage=Usage(100_000, 10))
        ),
        ["--allowedTools", "Bash", "--max-budget-usd", "0.2"],
        {},
    ),
}


@pytest.fixture(scope="module")
def claude_bin() -> str:
    try:
        return str(clis.ensure("claude"))
    except clis.Unavailable as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"realcli cannot run under CI: {exc}")
        pytest.skip(str(exc))


def shape(lines: list[str]) -> list[str]:
    """How the parser reads a transcript: the event kinds (and error kinds), in order."""
    parser = ClaudeParser()
    out: list[str] = []
    for line in lines:
        for draft in parser.stdout(line):
            out.append(
                f"{draft.kind}:{draft.data['kind']}"
                if draft.kind in ("error", "rate_limit")
                else draft.kind
            )
    return out


def sanitize(output: str, tmp: Path, port: int) -> str:
    output = output.replace(str(tmp), "/home/dev")
    return re.sub(rf"127\.0\.0\.1:{port}\b", "127.0.0.1:8080", output)


@pytest.mark.parametrize("case", sorted(CASES))
def test_transcript_reads_like_the_stored_fixture(
    case: str, claude_bin: str, tmp_path: Path
) -> None:
    script, args, env_extra = CASES[case]
    home, work = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    work.mkdir()
    with FakeModelAPI() as api:
        script(api)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "ANTHROPIC_BASE_URL": api.url,
            "ANTHROPIC_API_KEY": "sk-test-transcripts",
            "CLAUDE_CODE_MAX_RETRIES": "0",
            "DISABLE_AUTOUPDATER": "1",
            **env_extra,
        }
        env = {k: v for k, v in env.items() if v}
        done = subprocess.run(
            [claude_bin, *args, "-p", "--output-format", "stream-json", "--verbose", *SONNET],
            input=b"say hi",
            capture_output=True,
            env=env,
            cwd=work,
            timeout=90,
        )
        port = api.port
    fresh = sanitize(done.stdout.decode(), tmp_path, port).splitlines()
    assert fresh, f"no output (exit {done.returncode}): {done.stderr.decode()[-2000:]}"
    stored = FIXTURES / f"claude-{VERSION}-{case}.jsonl"
    # Compared with what was stored before this run, in record mode too.
    kept = stored.read_text().splitlines() if stored.exists() else None
    if os.environ.get("AGENTED_REALCLI_RECORD") == "1":
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_text("\n".join(fresh) + "\n")
        kept = fresh if kept is None else kept  # a new case: nothing to compare with yet
    assert kept is not None, (
        f"no stored transcript {stored.name}: run with AGENTED_REALCLI_RECORD=1"
    )
    assert shape(fresh) == shape(kept), f"{case} reads differently from the stored transcript"
    assert "raw" not in shape(fresh), "a line the parser does not know"
