"""Contract tests: the genuine Qwen Code, run by agented against the fake chat-completions API.

An account gives its key from the host through ``env_from`` (``OPENAI_API_KEY``) and points
qwen here with ``OPENAI_BASE_URL``. It has no ``QWEN_HOME`` of its own, so it runs in a folder
the plugin keeps (under the bot's ``HOME``) with the settings the plugin writes (qwen's own
rate-limit retries off: by default it waits 60 s and more between them).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from contract import ChatCliContract
from realcli_support import kinds

from agented_core import Account, Bot, Event, Execution, Status
from agented_core.config import Price
from fakeapi import FakeModelAPI, text, tool

pytestmark = [pytest.mark.realcli, pytest.mark.anyio, pytest.mark.timeout(120)]


def qwen_account(name: str, base_url: str) -> Account:
    return Account(
        name,
        "qwen",
        env={"OPENAI_BASE_URL": f"{base_url}/v1"},
        env_from={"OPENAI_API_KEY": "KEY"},
    )


def managed(tmp_path: Path, bot: str = "qwen-bot", account: str = "work") -> Path:
    """The QWEN_HOME the plugin keeps for the account and the bot (under the bot's HOME)."""
    return tmp_path / "home" / ".local" / "state" / "agented" / "qwen" / account / bot


class TestQwen(ChatCliContract):
    """Qwen Code has no price of its own: every cost comes from ``[prices]``."""

    provider = "qwen"
    model = unpriced_model = "fake-model"
    api_key = "sk-qwen-realcli-SECRET-7a21c4"
    host_only = "host-only-SECRET-value-90bd"
    prices = {"fake-model": Price(input=1.0, output=2.0, cache_read=0.1)}
    stall_timeout = 8.0

    @pytest.fixture
    def accounts(self, api: FakeModelAPI) -> dict[str, Account]:
        return {"work": qwen_account("work", api.url)}

    @pytest.fixture
    def tool_call(self, workdir: Path) -> tuple[str, dict[str, Any]]:
        return "read_file", {"file_path": str(workdir / "notes.txt")}

    def process_marker(self, tmp_path: Path, accounts: Mapping[str, Account]) -> str:
        return f"QWEN_HOME={managed(tmp_path)}"

    def more_reply(
        self, done: Execution, events: list[Event], usage: dict[str, Any], tmp_path: Path
    ) -> None:
        assert usage["cost_usd"] == pytest.approx((12 * 1.0 + 5 * 2.0 + 4 * 0.1) / 1e6)
        session = kinds(events, "session")[0].data
        assert session["session_id"] == done.session_id and session["model"] == self.model
        settings = json.loads((managed(tmp_path) / "settings.json").read_text())
        assert settings["model"]["generationConfig"]["maxRetries"] == 0

    def more_rate(self, events: list[Event], api: FakeModelAPI, limits: list[Any]) -> None:
        assert not kinds(events, "text")  # "[API Error: ...]" is not the answer

    async def test_an_mcp_server_from_mcp_config_is_connected_and_called(
        self,
        tmp_path: Path,
        api: FakeModelAPI,
        make_bot: Callable[..., Bot],
        accounts: dict[str, Account],
    ) -> None:
        server = Path(__file__).with_name("mcp_echo.py")
        mcp = json.dumps(
            {"mcpServers": {"echo": {"command": sys.executable, "args": [str(server)]}}}
        )
        api.push(tool("mcp__echo__shout", {"text": "hello mcp"}), text("it shouted"))
        bot = make_bot(mcp_config=mcp, options={"approval_mode": "yolo"})
        done, events = await self.run_bots(tmp_path, [bot], accounts)
        assert done.status is Status.SUCCEEDED, done.error
        session = kinds(events, "session")[0].data
        assert {"name": "echo", "status": "connected"} in session["mcp_servers"]
        assert "mcp__echo__shout" in session["tools"]
        (result,) = kinds(events, "tool_result")
        assert result.data["ok"] is True and "HELLO MCP" in result.data["output"]
