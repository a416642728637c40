"""Transcripts of the genuine pi, kept as fixtures for the fast parser tests.

Each case runs the pinned CLI directly (no agented) against the scripted fake chat-completions
API (``--mode json -p``, prompt on stdin); stdout and stderr are stored in
``tests/fixtures/pi/`` and must read the same way on every ``realcli`` run.
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
from agented_pi import PiParser
from realcli_support import cli_bin, record_or_compare, sanitize, shape_of

from fakeapi import Error, FakeModelAPI, Reply, Text, Thinking, Usage, text, tool
from fakeapi.openai_chat import OpenAIChat

pytestmark = [pytest.mark.realcli, pytest.mark.timeout(120)]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pi"
VERSION = clis.PINNED["pi"].version
COST = {"input": 1.0, "output": 2.0, "cacheRead": 0.1, "cacheWrite": 0.0}

Script = Callable[[FakeModelAPI], None]
CASES: dict[str, tuple[Script, str]] = {
    "success": (lambda api: api.push(text("hello from fake", usage=Usage(12, 5, 4))), "fake-model"),
    "unpriced": (lambda api: api.push(text("hello", usage=Usage(1000, 100))), "unpriced-model"),
    "thinking": (
        lambda api: api.push(Reply((Thinking("let me think"), Text("answer")))),
        "fake-model",
    ),
    "tool-round-trip": (
        lambda api: api.push(
            tool("bash", {"command": "echo tool-output"}, usage=Usage(12, 4)),
            Reply((Text("done"),), Usage(30, 6)),
        ),
        "fake-model",
    ),
    "tool-error": (
        lambda api: api.push(tool("read", {"path": "/nonexistent/file"}), text("no file")),
        "fake-model",
    ),
    "rate-limited-429": (lambda api: api.always(Error(429, retry_after=0.2)), "fake-model"),
    "unauthorized-401": (lambda api: api.always(Error(401)), "fake-model"),
}


@pytest.fixture(scope="module")
def pi_bin() -> str:
    return cli_bin("pi")


@pytest.mark.parametrize("case", sorted(CASES))
def test_transcript_reads_like_the_stored_fixture(case: str, pi_bin: str, tmp_path: Path) -> None:
    script, model = CASES[case]
    work = tmp_path / "project"
    work.mkdir()
    folder = tmp_path / "pi-agent"
    folder.mkdir()
    with FakeModelAPI([OpenAIChat()]) as api:
        script(api)
        models = {
            "providers": {
                "fake": {
                    "baseUrl": f"{api.url}/v1",
                    "api": "openai-completions",
                    "apiKey": "FAKE_API_KEY",
                    "compat": {"supportsDeveloperRole": False},
                    "models": [
                        {"id": "fake-model", "reasoning": True, "cost": COST},
                        {"id": "unpriced-model"},
                    ],
                }
            }
        }
        (folder / "models.json").write_text(json.dumps(models))
        settings = {"retry": {"maxRetries": 1, "baseDelayMs": 100, "provider": {"maxRetries": 0}}}
        (folder / "settings.json").write_text(json.dumps(settings))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "PI_CODING_AGENT_DIR": str(folder),
            "PI_OFFLINE": "1",
            "FAKE_API_KEY": "sk-test-transcripts",
        }
        done = subprocess.run(
            [pi_bin, "--mode", "json", "-p", "--model", f"fake/{model}"],
            input=b"say hi", capture_output=True, env=env, cwd=work, timeout=90,
        )  # fmt: skip
        port = api.port
    fresh = sanitize(done.stdout.decode(), tmp_path, port).splitlines()
    stderr = sanitize(done.stderr.decode(), tmp_path, port).splitlines()
    assert fresh, f"no output (exit {done.returncode}): {done.stderr.decode()[-2000:]}"
    shape = shape_of(lambda: PiParser(model=f"fake/{model}"))
    record_or_compare(FIXTURES, f"pi-{VERSION}-{case}", fresh, stderr, shape)
