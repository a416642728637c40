"""OpenAI chat completions: ``POST /v1/chat/completions`` (SSE chunks when ``stream`` is true).

What opencode speaks through ``@ai-sdk/openai-compatible``. A stream is a sequence of
``chat.completion.chunk`` objects: the role, the text in ``text_chunks`` content deltas,
thinking as ``reasoning_content`` deltas, each tool call as ``tool_calls`` deltas (``id`` is
the :class:`~fakeapi.script.ToolUse` id), a last chunk with ``finish_reason`` (``tool_calls``
or ``stop``), then a chunk with ``usage`` (when the request asks for it with
``stream_options.include_usage``, as opencode does) and ``data: [DONE]``. ``prompt_tokens``
counts the cached ones too (``prompt_tokens_details.cached_tokens``), as the API does.

opencode asks the same model for a session title first unless ``--title`` is given: that call
(its system prompt starts "You are a title generator") is a side call, answered without taking
a script.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from ._openai import prompt_tokens, send_error, sse
from .script import Error, Reply, Script, Text, Thinking, ToolUse, Usage, next_id
from .server import Exchange, Protocol, RecordedRequest, Route

DEFAULT_MODEL = "fake-model"


def _split(value: str, parts: int) -> list[str]:
    if parts <= 1 or len(value) <= 1:
        return [value]
    size = max(1, -(-len(value) // parts))
    return [value[i : i + size] for i in range(0, len(value), size)]


def usage_object(usage: Usage) -> dict[str, Any]:
    """The ``usage`` of a completion."""
    prompt = prompt_tokens(usage)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
    }


class OpenAIChat(Protocol):
    """Renders scripts as OpenAI chat-completions answers."""

    name = "openai-chat"

    def routes(self) -> list[Route]:
        return [Route("POST", "/v1/chat/completions", self.completions, model_call=True)]

    def side_call(self, request: RecordedRequest) -> Script | None:
        """opencode's and kilo's session-title request, qwen-code's background memory
        extraction (a subagent call after the turn)."""
        body = request.json if isinstance(request.json, dict) else {}
        messages = body.get("messages")
        if isinstance(messages, list) and messages:
            first = messages[0] if isinstance(messages[0], dict) else {}
            system = json.dumps(first.get("content", "")) if first.get("role") == "system" else ""
            if "title generator" in system:
                return Reply((Text("Fake session title"),), Usage(20, 4))
            if "managed memory extraction subagent" in system:
                return Reply((Text("Nothing to remember."),), Usage(20, 4))
        return None

    async def completions(self, exchange: Exchange) -> None:
        script = exchange.script
        body = exchange.request.json if isinstance(exchange.request.json, dict) else {}
        if isinstance(script, Error):
            await send_error(exchange, script)
            return
        assert isinstance(script, Reply)
        model = script.model or str(body.get("model") or DEFAULT_MODEL)
        if body.get("stream"):
            options = body.get("stream_options")
            with_usage = isinstance(options, dict) and options.get("include_usage") is True
            await exchange.stream(list(self.events(script, model, with_usage)), script, self)
        else:
            await exchange.json(200, self.completion(script, model), reply=script)

    @staticmethod
    def _finish(reply: Reply) -> str:
        return "tool_calls" if any(isinstance(b, ToolUse) for b in reply.content) else "stop"

    def completion(self, reply: Reply, model: str) -> dict[str, Any]:
        """The non-streamed answer."""
        message: dict[str, Any] = {"role": "assistant", "content": None}
        texts = [b.text for b in reply.content if isinstance(b, Text)]
        if texts:
            message["content"] = "".join(texts)
        thoughts = [b.text for b in reply.content if isinstance(b, Thinking)]
        if thoughts:
            message["reasoning_content"] = "".join(thoughts)
        calls = [
            {
                "id": b.id,
                "type": "function",
                "function": {"name": b.name, "arguments": json.dumps(b.input)},
            }
            for b in reply.content
            if isinstance(b, ToolUse)
        ]
        if calls:
            message["tool_calls"] = calls
        return {
            "id": next_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": self._finish(reply)}],
            "usage": usage_object(reply.usage),
        }

    def events(self, reply: Reply, model: str, with_usage: bool = True) -> Iterator[bytes]:
        """The SSE chunks of a streamed answer, one ``bytes`` per chunk."""
        ident = next_id("chatcmpl")
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return sse(
                {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
            )

        yield chunk({"role": "assistant", "content": ""})
        calls = 0
        for block in reply.content:
            if isinstance(block, Text):
                for piece in _split(block.text, reply.text_chunks):
                    yield chunk({"content": piece})
            elif isinstance(block, Thinking):
                yield chunk({"reasoning_content": block.text})
            else:
                call = {
                    "index": calls,
                    "id": block.id,
                    "type": "function",
                    "function": {"name": block.name, "arguments": json.dumps(block.input)},
                }
                calls += 1
                yield chunk({"tool_calls": [call]})
        yield chunk({}, self._finish(reply))
        if with_usage:
            yield sse(
                {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage_object(reply.usage),
                }
            )
        yield b"data: [DONE]\n\n"

    def stream_error(self, reply: Reply) -> bytes:
        error = {
            "error": {
                "message": reply.stream_error.message,
                "type": reply.stream_error.type,
                "param": None,
                "code": None,
            }
        }
        return sse(error)
