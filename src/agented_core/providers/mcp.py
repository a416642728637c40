"""A bot's ``mcp_config``, read once for every provider that turns it into its CLI's own form.

``mcp_config`` is Claude Code's format, inline JSON or the path of a JSON file::

    {"mcpServers": {"github": {"command": "gh-mcp", "args": ["--stdio"], "env": {"X": "1"}},
                    "docs": {"type": "http", "url": "https://example.com/mcp",
                             "headers": {"Authorization": "Bearer ..."}}}}

:func:`mcp_servers` returns the servers by name as :class:`McpServer` objects; providers of
CLIs that take MCP servers in another shape (codex ``mcp_servers`` tables, Gemini's
``mcpServers`` settings, opencode's ``mcp`` config) build theirs from these;
:func:`settings_mcp_servers` builds the ``mcpServers`` table of Gemini-style settings (gemini,
Qwen Code).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from ..errors import PluginError


@frozen
class McpServer:
    """One MCP server: a local command (``command``, ``args``, ``env``) or a remote one
    (``url``, ``transport`` ``http`` or ``sse``, ``headers``)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(factory=dict)
    url: str | None = None
    transport: str = "stdio"
    headers: Mapping[str, str] = field(factory=dict)


def _text(value: str, cwd: str | None) -> str:
    stripped = value.strip()
    if stripped.startswith("{"):
        return stripped
    path = Path(stripped).expanduser()
    if not path.is_absolute() and cwd:
        path = Path(cwd) / path
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PluginError(f"mcp_config: cannot read {path}: {exc.strerror or exc}") from None


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise PluginError(f"mcp_config: {what} must map names to strings")
    return dict(value)


def _server(name: str, spec: Any) -> McpServer:
    if not isinstance(spec, Mapping):
        raise PluginError(f"mcp_config: server {name!r} must be an object")
    kind = spec.get("type")
    url = spec.get("url")
    if isinstance(url, str) and url:
        transport = "sse" if kind == "sse" else "http"
        return McpServer(
            name, url=url, transport=transport, headers=_strings(spec.get("headers"), "headers")
        )
    command = spec.get("command")
    if not isinstance(command, str) or not command:
        raise PluginError(f"mcp_config: server {name!r} needs a 'command' or a 'url'")
    args = spec.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise PluginError(f"mcp_config: server {name!r}: 'args' must be a list of strings")
    return McpServer(name, command=command, args=tuple(args), env=_strings(spec.get("env"), "env"))


def mcp_servers(mcp_config: str | None, cwd: str | None = None) -> dict[str, McpServer]:
    """The servers of ``mcp_config`` (inline JSON, or a file relative to ``cwd``) by name.

    Raises :class:`~agented_core.errors.PluginError` with what is wrong (unreadable file, bad
    JSON, a server without a command or URL).
    """
    if not mcp_config:
        return {}
    text = _text(mcp_config, cwd)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PluginError(f"mcp_config: not valid JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise PluginError("mcp_config: expected a JSON object")
    servers = data.get("mcpServers", data)
    if not isinstance(servers, Mapping):
        raise PluginError("mcp_config: 'mcpServers' must be an object")
    return {str(name): _server(str(name), spec) for name, spec in servers.items()}


def settings_mcp_servers(servers: Mapping[str, McpServer]) -> dict[str, Any]:
    """``servers`` as the ``mcpServers`` table of a Gemini-style ``settings.json`` (gemini,
    Qwen Code): ``command``/``args``/``env`` for a local server, ``httpUrl`` (``url`` for SSE)
    and ``headers`` for a remote one; empty values left out."""
    table: dict[str, Any] = {}
    for name, server in servers.items():
        entry: dict[str, Any]
        if server.url:
            key = "url" if server.transport == "sse" else "httpUrl"
            entry = {key: server.url}
            if server.headers:
                entry["headers"] = dict(server.headers)
        else:
            entry = {"command": server.command, "args": list(server.args)}
            if server.env:
                entry["env"] = dict(server.env)
        table[name] = entry
    return table


def check_mcp_config(mcp_config: str | None) -> list[str]:
    """Problems with an inline ``mcp_config`` (``"mcp_config: ..."``); a file is read at run
    time, where it may be created later, so only inline JSON is checked here."""
    if not mcp_config or not mcp_config.strip().startswith("{"):
        return []
    try:
        mcp_servers(mcp_config)
    except PluginError as exc:
        return [str(exc)]
    return []
