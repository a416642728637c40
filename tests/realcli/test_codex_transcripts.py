"""Transcripts of the genuine Codex CLI, kept as fixtures for the fast parser tests.

Each case runs the pinned CLI directly (no agented) against the scripted fake Responses API
and reads its stdout with the parser; the stored transcript (``tests/fixtures/codex/``) must
read the same way. ``AGENTED_REALCLI_RECORD=1`` replaces the stored ones (temporary paths
become ``/home/dev``, the fake API's port ``8080``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import clis
import pytest
from agented_codex import CodexParser
from realcli_support import cli_bin, record_or_compare, sanitize, shape_of

from fakeapi import Error, FakeModelAPI, Reply, Text, Thinking, ToolUse, Usage, text, tool
from fakeapi.openai_responses import OpenAIResponses

pytestmark = [pytest.mark.realcli, pytest.mark.timeout(120)]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "codex"
VERSION = clis.PINNED["codex"].version
RESET = 1795700000  # 2026-11-26T13:33:20Z
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello from codex\n*** End Patch\n"
WORDS = " ".join(f"word{i}" for i in range(80))

Script = Callable[[FakeModelAPI], None]
CASES: dict[str, tuple[Script, list[str]]] = {
    "success": (lambda api: api.push(text("hello from fake", usage=Usage(12, 5, 4))), []),
    "thinking": (lambda api: api.push(Reply((Thinking("let me think"), Text("answer")))), []),
    "tool-round-trip": (
        lambda api: api.push(
            tool("exec_command", {"cmd": "echo tool-output"}, usage=Usage(12, 4)),
            Reply((Text("done"),), Usage(30, 6)),
        ),
        [],
    ),
    "failed-command": (
        lambda api: api.push(tool("exec_command", {"cmd": "exit 3"}), text("it failed")),
        [],
    ),
    "file-change": (
        lambda api: api.push(Reply((ToolUse("apply_patch", {}, freeform=PATCH),)), text("done")),
        ["--sandbox", "workspace-write"],
    ),
    "rate-limited-429": (lambda api: api.always(Error(429, retry_after=1)), []),
    "insufficient-quota-429": (lambda api: api.always(Error(429, type="insufficient_quota")), []),
    "usage-limit-429": (
        lambda api: api.always(
            Error(
                429,
                body={
                    "error": {
                        "type": "usage_limit_reached",
                        "message": "The usage limit has been reached",
                        "resets_at": RESET,
                    }
                },
            )
        ),
        [],
    ),
    "unauthorized-401": (lambda api: api.always(Error(401)), []),
    "cut-stream": (
        lambda api: api.always(Reply((Text(WORDS),), text_chunks=8, cut_after=6)),
        [],
    ),
}


@pytest.fixture(scope="module")
def codex_bin() -> str:
    return cli_bin("codex")


@pytest.mark.parametrize("case", sorted(CASES))
def test_transcript_reads_like_the_stored_fixture(
    case: str, codex_bin: str, tmp_path: Path
) -> None:
    script, args = CASES[case]
    home, work = tmp_path / "codex-home", tmp_path / "project"
    home.mkdir()
    work.mkdir()
    with FakeModelAPI([OpenAIResponses()]) as api:
        script(api)
        (home / "config.toml").write_text(
            'model = "gpt-5.5"\nmodel_provider = "fake"\n[model_providers.fake]\n'
            f'name = "Fake"\nbase_url = "{api.url}/v1"\nenv_key = "FAKE_API_KEY"\n'
            "request_max_retries = 1\nstream_max_retries = 1\n"
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "CODEX_HOME": str(home),
            "FAKE_API_KEY": "sk-test-transcripts",
            "TZ": "UTC",
        }
        done = subprocess.run(
            [codex_bin, "exec", "--json", "--skip-git-repo-check", *args, "-"],
            input=b"say hi",
            capture_output=True,
            env=env,
            cwd=work,
            timeout=90,
        )
        port = api.port
    fresh = sanitize(done.stdout.decode(), tmp_path, port).splitlines()
    assert fresh, f"no output (exit {done.returncode}): {done.stderr.decode()[-2000:]}"
    shape = shape_of(lambda: CodexParser(model="gpt-5.5"))
    record_or_compare(FIXTURES, f"codex-{VERSION}-{case}", fresh, None, shape)
