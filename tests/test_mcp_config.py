"""A bot's ``mcp_config`` read once for every provider (inline JSON or a file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agented_core import PluginError
from agented_core.providers import settings_mcp_servers
from agented_core.providers.mcp import McpServer, check_mcp_config, mcp_servers

CONFIG = {
    "mcpServers": {
        "gh": {"command": "gh-mcp", "args": ["--stdio"], "env": {"TOKEN": "x"}},
        "docs": {"type": "http", "url": "https://example.com/mcp", "headers": {"A": "b"}},
        "events": {"type": "sse", "url": "https://example.com/sse"},
    }
}


def test_inline_json_and_a_file_relative_to_the_workdir(tmp_path: Path) -> None:
    servers = mcp_servers(json.dumps(CONFIG))
    assert servers["gh"] == McpServer("gh", command="gh-mcp", args=("--stdio",), env={"TOKEN": "x"})
    assert servers["docs"].url == "https://example.com/mcp" and servers["docs"].transport == "http"
    assert servers["docs"].headers == {"A": "b"} and servers["events"].transport == "sse"
    (tmp_path / "mcp.json").write_text(json.dumps(CONFIG))
    assert mcp_servers("mcp.json", str(tmp_path)) == servers
    assert mcp_servers(json.dumps(CONFIG["mcpServers"])) == servers  # the bare table works too
    assert mcp_servers(None) == {} and mcp_servers("") == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/nonexistent/mcp.json", "mcp_config: cannot read /nonexistent/mcp.json"),
        ("{nope", "mcp_config: not valid JSON"),
        ('{"mcpServers": []}', "'mcpServers' must be an object"),
        ('{"mcpServers": {"x": 1}}', "server 'x' must be an object"),
        ('{"mcpServers": {"x": {"args": []}}}', "server 'x' needs a 'command' or a 'url'"),
        ('{"mcpServers": {"x": {"command": "c", "args": "a"}}}', "'args' must be a list"),
        ('{"mcpServers": {"x": {"command": "c", "env": {"A": 1}}}}', "env must map names"),
    ],
)
def test_what_is_wrong_is_said(value: str, message: str) -> None:
    with pytest.raises(PluginError, match=message.replace("(", r"\(")):
        mcp_servers(value)


def test_only_inline_json_is_checked_ahead() -> None:
    assert check_mcp_config('{"mcpServers": {"x": {}}}') == [
        "mcp_config: server 'x' needs a 'command' or a 'url'"
    ]
    assert check_mcp_config("/later/mcp.json") == [] and check_mcp_config(None) == []


def test_the_servers_as_gemini_style_settings() -> None:
    table = settings_mcp_servers(mcp_servers(json.dumps(CONFIG)))
    assert table == {
        "gh": {"command": "gh-mcp", "args": ["--stdio"], "env": {"TOKEN": "x"}},
        "docs": {"httpUrl": "https://example.com/mcp", "headers": {"A": "b"}},
        "events": {"url": "https://example.com/sse"},
    }
    assert settings_mcp_servers({"bare": McpServer("bare", command="x")}) == {
        "bare": {"command": "x", "args": []}
    }
