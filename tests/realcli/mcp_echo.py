"""A minimal MCP server over stdio (JSON-RPC lines) with one tool, ``shout``: the contract tests
give it to a genuine CLI through a bot's ``mcp_config``."""

from __future__ import annotations

import json
import sys
from typing import Any


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


TOOL = {
    "name": "shout",
    "description": "Echo text in capitals",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
}


def answer(method: str, params: dict[str, Any]) -> dict[str, Any]:
    if method == "initialize":
        return {
            "protocolVersion": params.get("protocolVersion", "2024-11-05"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "echo", "version": "1.0"},
        }
    if method == "tools/list":
        return {"tools": [TOOL]}
    if method == "tools/call":
        text = str(params.get("arguments", {}).get("text", ""))
        return {"content": [{"type": "text", "text": text.upper()}]}
    return {}


for line in sys.stdin:
    try:
        request = json.loads(line)
    except ValueError:
        continue
    if isinstance(request, dict) and request.get("id") is not None:
        result = answer(str(request.get("method")), request.get("params") or {})
        send({"jsonrpc": "2.0", "id": request["id"], "result": result})
