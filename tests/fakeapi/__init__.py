"""A fake model API for tests: a real HTTP server on 127.0.0.1, scripted per test.

::

    from fakeapi import FakeModelAPI, Error, text, tool

    with FakeModelAPI() as api:
        api.push(tool("Bash", {"command": "echo hi"}), text("done"))
        env = {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "sk-test"}
        ...
        assert len(api.model_requests()) == 2

Protocols, each a module with a :class:`Protocol` subclass, passed to ``FakeModelAPI``:
:class:`Anthropic` (Messages API: Claude Code), :class:`OpenAIResponses` (``/v1/responses``:
codex), :class:`OpenAIChat` (``/v1/chat/completions``: opencode and other OpenAI-compatible
clients) and :class:`Gemini` (``streamGenerateContent``: the Gemini CLI)::

    with FakeModelAPI([OpenAIResponses()]) as api: ...
"""

from .anthropic import Anthropic, unified_limit_headers
from .gemini import Gemini
from .openai_chat import OpenAIChat
from .openai_responses import OpenAIResponses
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
    "Gemini",
    "OpenAIChat",
    "OpenAIResponses",
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
