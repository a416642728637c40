"""Transcripts of the genuine Gemini CLI, kept as fixtures for the fast parser tests.

Each case runs the pinned CLI directly (no agented) against the scripted fake Gemini API, its
settings as the plugin writes them (``gemini-api-key`` selected, ``maxAttempts`` 2, no
telemetry); stdout and stderr are stored in ``tests/fixtures/gemini/`` and must read the same
way on every ``realcli`` run. ``AGENTED_REALCLI_RECORD=1`` replaces the stored ones.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import clis
import pytest
from agented_gemini import GeminiParser
from agented_gemini._provider import node_options
from realcli_support import cli_bin, record_or_compare, sanitize, shape_of

from fakeapi import Error, FakeModelAPI, Reply, Text, Thinking, Usage, text, tool
from fakeapi.gemini import Gemini

pytestmark = [pytest.mark.realcli, pytest.mark.timeout(120)]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gemini"
VERSION = clis.PINNED["gemini"].version
WORDS = " ".join(f"word{i}" for i in range(80))

Script = Callable[[FakeModelAPI], None]
CASES: dict[str, tuple[Script, list[str], dict[str, str]]] = {
    "success": (lambda api: api.push(text("hello from fake", usage=Usage(12, 5, 4))), [], {}),
    "thinking": (
        lambda api: api.push(Reply((Thinking("let me think"), Text("answer"), Text(" more")))),
        [],
        {},
    ),
    "tool-round-trip": (
        lambda api: api.push(
            tool("run_shell_command", {"command": "echo tool-output"}, usage=Usage(12, 4)),
            Reply((Text("done"),), Usage(30, 6)),
        ),
        ["--approval-mode", "yolo"],
        {},
    ),
    "rate-limited-429": (lambda api: api.always(Error(429, retry_after=1)), [], {}),
    "daily-quota-429": (lambda api: api.always(Error(429, type="PerDay")), [], {}),
    "unauthorized-401": (lambda api: api.always(Error(401)), [], {}),
    "cut-stream": (
        lambda api: api.always(Reply((Text(WORDS),), text_chunks=8, cut_after=4)),
        [],
        {},
    ),
    "server-down": (lambda api: None, [], {"GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9"}),
}


@pytest.fixture(scope="module")
def gemini_bin() -> str:
    return cli_bin("gemini")


@pytest.mark.parametrize("case", sorted(CASES))
def test_transcript_reads_like_the_stored_fixture(
    case: str, gemini_bin: str, tmp_path: Path
) -> None:
    script, args, env_extra = CASES[case]
    home, work = tmp_path / "gemini-home", tmp_path / "project"
    (home / ".gemini").mkdir(parents=True)
    work.mkdir()
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"maxAttempts": 2, "enableAutoUpdate": False},
        "privacy": {"usageStatisticsEnabled": False},
    }
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    with FakeModelAPI([Gemini()]) as api:
        script(api)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "GEMINI_CLI_HOME": str(home),
            "GEMINI_API_KEY": "sk-test-transcripts",
            "GOOGLE_GEMINI_BASE_URL": api.url,
            "NODE_OPTIONS": node_options(""),
            **env_extra,
        }
        done = subprocess.run(
            [gemini_bin, "--output-format", "stream-json", "-p", "", "--skip-trust",
             "--model", "gemini-2.5-flash", *args],
            input=b"say hi", capture_output=True, env=env, cwd=work, timeout=90,
        )  # fmt: skip
        port = api.port
    fresh = sanitize(done.stdout.decode(), tmp_path, port).splitlines()
    stderr = sanitize(done.stderr.decode(), tmp_path, port).splitlines()
    assert fresh, f"no output (exit {done.returncode}): {done.stderr.decode()[-2000:]}"
    shape = shape_of(lambda: GeminiParser(model="gemini-2.5-flash"))
    record_or_compare(FIXTURES, f"gemini-{VERSION}-{case}", fresh, stderr, shape)
