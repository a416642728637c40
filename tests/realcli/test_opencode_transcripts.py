"""Transcripts of the genuine opencode, kept as fixtures for the fast parser tests.

Each case runs the pinned CLI directly (no agented) against the scripted fake chat-completions
API, with ``--print-logs --log-level ERROR`` as the plugin runs it; stdout and stderr are stored
in ``tests/fixtures/opencode/`` and must read the same way on every ``realcli`` run.
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
from agented_opencode import OpencodeParser
from realcli_support import cli_bin, record_or_compare, sanitize, shape_of

from fakeapi import Error, FakeModelAPI, Reply, Text, Thinking, Usage, text, tool
from fakeapi.openai_chat import OpenAIChat

pytestmark = [pytest.mark.realcli, pytest.mark.timeout(120)]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "opencode"
VERSION = clis.PINNED["opencode"].version
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
    work = tmp_path / "project"
    work.mkdir()
    with FakeModelAPI([OpenAIChat()]) as api:
        script(api)
        config = {
            "provider": {
                "fake": {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "Fake",
                    "options": {"baseURL": f"{api.url}/v1", "apiKey": "{env:FAKE_API_KEY}"},
                    "models": {
                        "priced": {"name": "Priced", "cost": {"input": 1.0, "output": 2.0}},
                        "unpriced": {"name": "Unpriced"},
                    },
                }
            }
        }
        (tmp_path / "opencode.json").write_text(json.dumps(config))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "OPENCODE_CONFIG": str(tmp_path / "opencode.json"),
            "OPENCODE_DISABLE_MODELS_FETCH": "true",
            "OPENCODE_DISABLE_AUTOUPDATE": "true",
            "FAKE_API_KEY": "sk-test-transcripts",
        }
        done = subprocess.run(
            [opencode_bin, "run", "--format", "json", "--print-logs", "--log-level", "ERROR",
             "--model", f"fake/{model}", "--thinking", "--title", "t"],
            input=b"say hi", capture_output=True, env=env, cwd=work, timeout=90,
        )  # fmt: skip
        port = api.port
    fresh = sanitize(done.stdout.decode(), tmp_path, port).splitlines()
    stderr = sanitize(done.stderr.decode(), tmp_path, port).splitlines()
    assert fresh, f"no output (exit {done.returncode}): {done.stderr.decode()[-2000:]}"
    shape = shape_of(lambda: OpencodeParser(model=f"fake/{model}"))
    record_or_compare(FIXTURES, f"opencode-{VERSION}-{case}", fresh, stderr, shape)
