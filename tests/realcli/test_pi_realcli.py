"""Contract tests: the genuine pi, run by agented against the fake chat-completions API.

Each account has its own pi folder (``PI_CODING_AGENT_DIR``): a ``models.json`` with an
OpenAI-compatible provider ``fake`` pointing here (one model with a price, one without) and
a ``settings.json`` with short retries; its key comes from the host through ``env_from``
(``models.json`` names the variable).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from contract import ChatCliContract
from realcli_support import kinds

from agented_core import Account, Event, Execution
from fakeapi import FakeModelAPI

pytestmark = [pytest.mark.realcli, pytest.mark.anyio, pytest.mark.timeout(120)]

COST = {"input": 1.0, "output": 2.0, "cacheRead": 0.1, "cacheWrite": 0.0}  # in models.json


def pi_account(name: str, folder: Path, base_url: str) -> Account:
    folder.mkdir(parents=True, exist_ok=True)
    models = {
        "providers": {
            "fake": {
                "baseUrl": f"{base_url}/v1",
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
    return Account(
        name,
        "pi",
        env={"PI_CODING_AGENT_DIR": str(folder)},
        env_from={"FAKE_API_KEY": "KEY"},
    )


class TestPi(ChatCliContract):
    provider = "pi"
    model = "fake/fake-model"
    api_key = "sk-pi-realcli-SECRET-5e0b7d"
    host_only = "host-only-SECRET-value-c3a9"

    @pytest.fixture
    def accounts(self, tmp_path: Path, api: FakeModelAPI) -> dict[str, Account]:
        return {"work": pi_account("work", tmp_path / "pi-work", api.url)}

    @pytest.fixture
    def tool_call(self, workdir: Path) -> tuple[str, dict[str, Any]]:
        return "bash", {"command": "cat notes.txt"}

    def process_marker(self, tmp_path: Path, accounts: Mapping[str, Account]) -> str:
        return f"PI_CODING_AGENT_DIR={accounts['work'].env['PI_CODING_AGENT_DIR']}"

    def more_reply(
        self, done: Execution, events: list[Event], usage: dict[str, Any], tmp_path: Path
    ) -> None:
        expected = (12 * COST["input"] + 5 * COST["output"] + 4 * COST["cacheRead"]) / 1e6
        assert usage["cost_usd"] == pytest.approx(expected)  # pi's own figure
        session = kinds(events, "session")[0].data
        assert session["session_id"] == done.session_id and done.session_id

    def more_tool(self, call: Event, result: Event) -> None:
        assert call.data["input"]["command"] == "cat notes.txt"

    def more_rate(self, events: list[Event], api: FakeModelAPI, limits: list[Any]) -> None:
        # a 429 that pi gave up on exits 0: the failure comes from its error event
        assert [e.data["attempt"] for e in kinds(events, "retry")] == [1]  # retry.maxRetries = 1
        assert len(api.model_requests()) == 2
