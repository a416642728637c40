"""A fake model API for tests: a real HTTP server on 127.0.0.1, scripted per test.

::

    from fakeapi import FakeModelAPI, Error, text, tool

    with FakeModelAPI() as api:
        api.push(tool("Bash", {"command": "echo hi"}), text("done"))
        env = {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "sk-test"}
        ...
        assert len(api.model_requests()) == 2

Protocols: :class:`Anthropic` (Messages API). Each protocol is a module with a
:class:`Protocol` subclass, so the OpenAI Responses, OpenAI chat completions and Gemini
``streamGenerateContent`` protocols are added next to it and passed to ``FakeModelAPI``.
"""

from .anthropic import Anthropic, unified_limit_headers
from .script import (
    Error,
    Reply,
    Script,
    StreamError,
    Text,
    Thinking,
    ToolUse,
    Usage,
    text,
    tool,
)
from .server import Exchange, FakeModelAPI, Protocol, RecordedRequest, Route

__all__ = [
    "Anthropic",
    "Error",
    "Exchange",
    "FakeModelAPI",
    "Protocol",
    "RecordedRequest",
    "Reply",
    "Route",
    "Script",
    "StreamError",
    "Text",
    "Thinking",
    "ToolUse",
    "Usage",
    "text",
    "tool",
    "unified_limit_headers",
]
