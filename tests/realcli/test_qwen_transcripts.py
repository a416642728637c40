"""Transcripts of the genuine Qwen Code, kept as fixtures for the fast parser tests.

Each case runs the pinned CLI directly (no agented) against the scripted fake chat-completions
API, with the settings the plugin writes; stdout and stderr are stored in
``tests/fixtures/qwen/`` and must read the same way on every ``realcli`` run.
``AGENTED_REALCLI_RECORD=1`` replaces the stored ones.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import clis
import pytest
from agented_qwen import QwenParser
from realcli_support import cli_bin, record_or_compare, sanitize, shape_of

from fakeapi import Error, FakeModelAPI, Reply, Text, Thinking, Usage, text, tool
from fakeapi.openai_chat import OpenAIChat

pytestmark = [pytest.mark.realcli, pytest.mark.timeout(120)]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "qwen"
VERSION = clis.PINNED["qwen"].version

Script = Callable[[FakeModelAPI], None]
CASES: dict[str, Script] = {
    "success": lambda api: api.push(text("hello from fake", usage=Usage(12, 5, 4))),
    "thinking": lambda api: api.push(Reply((Thinking("let me think"), Text("answer")))),
    "tool-round-trip": lambda api: api.push(
        tool("glob", {"pattern": "*.txt"}, usage=Usage(12, 4)),
        Reply((Text("done"),), Usage(30, 6)),
    ),
    "tool-error": lambda api: api.push(
        tool("read_file", {"file_path": "/nonexistent/file"}), text("no file")
    ),
    "rate-limited-429": lambda api: api.always(Error(429, retry_after=0.2)),
    "unauthorized-401": lambda api: api.always(Error(401)),
}


@pytest.fixture(scope="module")
def qwen_bin() -> str:
    return cli_bin("qwen")


@pytest.mark.parametrize("case", sorted(CASES))
def test_transcript_reads_like_the_stored_fixture(case: str, qwen_bin: str, tmp_path: Path) -> None:
    work = tmp_path / "project"
    work.mkdir()
    (work / "notes.txt").write_text("tool-output\n")
    home = tmp_path / "qwen-home"
    home.mkdir()
    settings = {
        "model": {"generationConfig": {"maxRetries": 0}},
        "memory": {"enableManagedAutoMemory": False},
    }
    (home / "settings.json").write_text(json.dumps(settings))
    with FakeModelAPI([OpenAIChat()]) as api:
        CASES[case](api)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "QWEN_HOME": str(home),
            "OPENAI_BASE_URL": f"{api.url}/v1",
            "OPENAI_API_KEY": "sk-test-transcripts",
        }
        args = [qwen_bin, "--output-format", "stream-json", "--model", "fake-model"]
        done = subprocess.run(
            [*args, "--auth-type", "openai"],
            input=b"say hi", capture_output=True, env=env, cwd=work, timeout=90,
        )  # fmt: skip
        port = api.port
    fresh = sanitize(done.stdout.decode(), tmp_path, port).splitlines()
    stderr = sanitize(done.stderr.decode(), tmp_path, port).splitlines()
    assert fresh, f"no output (exit {done.returncode}): {done.stderr.decode()[-2000:]}"
    shape = shape_of(lambda: QwenParser(model="fake-model"))
    record_or_compare(FIXTURES, f"qwen-{VERSION}-{case}", fresh, stderr, shape)
