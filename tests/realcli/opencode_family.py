"""The contract of opencode and of its fork kilo: what both add to :class:`ChatCliContract`,
and how their transcripts are recorded."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import clis
import pytest
from contract import OPENCODE_COST, ChatCliContract, opencode_account
from realcli_support import kinds, record_or_compare, sanitize, shape_of

from agented_core import Account, Event, Execution
from fakeapi import FakeModelAPI
from fakeapi.openai_chat import OpenAIChat


class OpenCodeChecks(ChatCliContract):
    """What opencode and its fork kilo add to the contract (a ``TestX`` subclass runs it)."""

    model = "fake/fake-model"
    retry_after = 0.5

    @pytest.fixture
    def accounts(self, tmp_path: Path, api: FakeModelAPI) -> dict[str, Account]:
        return {"work": opencode_account(self.provider, "work", tmp_path / "work-acc", api.url)}

    @pytest.fixture
    def tool_call(self, workdir: Path) -> tuple[str, dict[str, Any]]:
        return "bash", {"command": "cat notes.txt", "description": "read"}

    def process_marker(self, tmp_path: Path, accounts: Mapping[str, Account]) -> str:
        variable = f"{self.provider.upper()}_CONFIG"
        return f"{variable}={accounts['work'].env[variable]}"

    def more_reply(
        self, done: Execution, events: list[Event], usage: dict[str, Any], tmp_path: Path
    ) -> None:
        cost = OPENCODE_COST
        expected = (12 * cost["input"] + 5 * cost["output"] + 4 * cost["cache_read"]) / 1e6
        assert usage["cost_usd"] == pytest.approx(expected)  # the CLI's own figure
        session = kinds(events, "session")[0].data
        assert session["session_id"] == done.session_id and session["session_id"].startswith("ses_")
        # --title: no title request came before the one check_reply counted

    def more_tool(self, call: Event, result: Event) -> None:
        assert call.data["input"]["command"] == "cat notes.txt" and result.data["exit_code"] == 0

    def more_rate(self, events: list[Event], api: FakeModelAPI, limits: list[Any]) -> None:
        assert kinds(events, "error")[0].data["retryable"] is True
        assert limits[0]["retry_after"] == 0.5
        # its own retries, visible on stderr through --print-logs: 6 requests, 6 failed attempts
        assert len(api.model_requests()) == 6
        assert [e.data["attempt"] for e in kinds(events, "retry")] == [1, 2, 3, 4, 5, 6]

    def more_auth(self, events: list[Event]) -> None:
        (failure,) = kinds(events, "error")
        assert failure.data["status"] == 401 and failure.data["retryable"] is False


def check_transcript(
    provider: str,
    executable: str,
    parser: Callable[[str], Any],
    case: str,
    script: Callable[[FakeModelAPI], None],
    model: str,
    tmp_path: Path,
    *,
    env: Mapping[str, str],
    timeout: float,
) -> None:
    """Run the pinned CLI of ``provider`` directly for transcript ``case`` (``run --format json --print-logs``, as the
    plugin runs it) against the fake API scripted by ``script``, with model ``fake/<model>``
    (``priced`` or ``unpriced``); its output must read like the stored fixture."""
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
        (tmp_path / f"{provider}.json").write_text(json.dumps(config))
        variables = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            f"{provider.upper()}_CONFIG": str(tmp_path / f"{provider}.json"),
            "FAKE_API_KEY": "sk-test-transcripts",
            **env,
        }
        done = subprocess.run(
            [executable, "run", "--format", "json", "--print-logs", "--log-level", "ERROR",
             "--model", f"fake/{model}", "--thinking", "--title", "t"],
            input=b"say hi", capture_output=True, env=variables, cwd=work, timeout=timeout,
        )  # fmt: skip
        port = api.port
    fresh = sanitize(done.stdout.decode(), tmp_path, port).splitlines()
    stderr = sanitize(done.stderr.decode(), tmp_path, port).splitlines()
    assert fresh, f"no output (exit {done.returncode}): {done.stderr.decode()[-2000:]}"
    shape = shape_of(lambda: parser(f"fake/{model}"))
    fixtures = Path(__file__).parent.parent / "fixtures" / provider
    version = clis.PINNED[provider].version
    record_or_compare(fixtures, f"{provider}-{version}-{case}", fresh, stderr, shape)
