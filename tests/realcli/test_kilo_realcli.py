"""Contract tests: the genuine kilo (Kilo Code's CLI, an opencode fork), run by agented against
the fake chat-completions API.

Each account has its own ``kilo.json`` (``KILO_CONFIG``: an OpenAI-compatible provider
``fake`` pointing here, one model with a price and one without) and its own data folder
(``XDG_DATA_HOME``: sessions, logs); its key comes from the host through ``env_from``.
kilo retries a retryable error up to 5 times by itself, so the tests that make it fail do so
with short ``retry-after`` waits. kilo starts slowly (a compiled Bun binary, ~10 s of CPU).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from opencode_family import OpenCodeChecks
from realcli_support import kinds

from agented_core import Account, Bot, Status
from fakeapi import FakeModelAPI, text, tool

pytestmark = [pytest.mark.realcli, pytest.mark.anyio, pytest.mark.timeout(300)]


class TestKilo(OpenCodeChecks):
    provider = "kilo"
    api_key = "sk-kilo-realcli-SECRET-b17e02"
    host_only = "host-only-SECRET-value-4d5f"
    bot_timeout = 150.0
    stall_timeout = 45.0
    wait = 240.0

    async def test_an_mcp_server_from_mcp_config_is_called(
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
        api.push(tool("echo_shout", {"text": "hello mcp"}), text("it shouted"))
        bot = make_bot(mcp_config=mcp, options={"auto_approve": True})
        done, events = await self.run_bots(tmp_path, [bot], accounts)
        assert done.status is Status.SUCCEEDED, done.error
        (result,) = kinds(events, "tool_result")
        assert result.data["ok"] is True and "HELLO MCP" in result.data["output"]
        first = api.model_requests()[0].json
        assert any("echo_shout" in json.dumps(t) for t in first.get("tools", []))
