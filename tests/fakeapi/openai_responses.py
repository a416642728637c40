"""The OpenAI Responses API: ``POST /v1/responses`` (SSE when ``stream`` is true, else JSON).

What codex speaks (``wire_api = "responses"``). A reply's text is an assistant ``message``
item, its thinking a ``reasoning`` item with a summary, a tool call a ``function_call`` item
(``call_id`` is the :class:`~fakeapi.script.ToolUse` id; ``arguments`` its input as JSON), or
a ``custom_tool_call`` with the text input of a free-form tool (``ToolUse.freeform``). A
stream is the full event sequence (``response.created`` ... ``response.completed``, with
``usage``: ``input_tokens`` counts the cached ones too, as the API does). Errors have OpenAI's
body ``{"error": {message, type, param, code}}`` (see :mod:`fakeapi._openai`); an error
inside a stream is a ``response.failed`` event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from ._openai import prompt_tokens, send_error, sse
from .script import Block, Error, Reply, Text, Thinking, Usage, next_id
from .server import Exchange, Protocol, Route

DEFAULT_MODEL = "gpt-5.5"


def _split(value: str, parts: int) -> list[str]:
    if parts <= 1 or len(value) <= 1:
        return [value]
    size = max(1, -(-len(value) // parts))
    return [value[i : i + size] for i in range(0, len(value), size)]


def usage_object(usage: Usage) -> dict[str, Any]:
    """``response.usage`` of a reply."""
    total_in = prompt_tokens(usage)
    return {
        "input_tokens": total_in,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": total_in + usage.output_tokens,
    }


def _item(block: Block, item_id: str) -> dict[str, Any]:
    if isinstance(block, Text):
        return {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": block.text, "annotations": []}],
        }
    if isinstance(block, Thinking):
        return {
            "id": item_id,
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": block.text}],
        }
    if block.freeform is not None:
        return {
            "id": item_id,
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": block.id,
            "name": block.name,
            "input": block.freeform,
        }
    return {
        "id": item_id,
        "type": "function_call",
        "status": "completed",
        "call_id": block.id,
        "name": block.name,
        "arguments": json.dumps(block.input),
    }


class OpenAIResponses(Protocol):
    """Renders scripts as OpenAI Responses API answers."""

    name = "openai-responses"

    def routes(self) -> list[Route]:
        return [Route("POST", "/v1/responses", self.responses, model_call=True)]

    async def responses(self, exchange: Exchange) -> None:
        script = exchange.script
        body = exchange.request.json if isinstance(exchange.request.json, dict) else {}
        if isinstance(script, Error):
            await send_error(exchange, script)
            return
        assert isinstance(script, Reply)
        model = script.model or str(body.get("model") or DEFAULT_MODEL)
        if body.get("stream"):
            await exchange.stream(list(self.events(script, model)), script, self)
        else:
            await exchange.json(200, self.response(script, model), reply=script)

    def response(self, reply: Reply, model: str, status: str = "completed") -> dict[str, Any]:
        """The whole response object."""
        return {
            "id": next_id("resp"),
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "model": model,
            "output": [_item(b, next_id(_prefix(b))) for b in reply.content],
            "usage": usage_object(reply.usage),
        }

    def events(self, reply: Reply, model: str) -> Iterator[bytes]:
        """The SSE events of a streamed answer, one ``bytes`` per event."""
        seq = iter(range(1, 1_000_000))
        response_id = next_id("resp")

        def event(kind: str, **data: Any) -> bytes:
            return sse({"type": kind, "sequence_number": next(seq), **data}, kind)

        shell = {
            "id": response_id,
            "object": "response",
            "created_at": int(time.time()),
            "status": "in_progress",
            "model": model,
            "output": [],
        }
        yield event("response.created", response=shell)
        yield event("response.in_progress", response=shell)
        done: list[dict[str, Any]] = []
        for index, block in enumerate(reply.content):
            item_id = next_id(_prefix(block))
            item = _item(block, item_id)
            if isinstance(block, Text):
                yield event(
                    "response.output_item.added",
                    output_index=index,
                    item={**item, "status": "in_progress", "content": []},
                )
                part = {"type": "output_text", "text": "", "annotations": []}
                where = {"item_id": item_id, "output_index": index, "content_index": 0}
                yield event("response.content_part.added", **where, part=part)
                for piece in _split(block.text, reply.text_chunks):
                    yield event("response.output_text.delta", **where, delta=piece)
                yield event("response.output_text.done", **where, text=block.text)
                yield event(
                    "response.content_part.done", **where, part={**part, "text": block.text}
                )
            elif isinstance(block, Thinking):
                yield event(
                    "response.output_item.added",
                    output_index=index,
                    item={**item, "summary": []},
                )
                where = {"item_id": item_id, "output_index": index, "summary_index": 0}
                yield event("response.reasoning_summary_text.delta", **where, delta=block.text)
                yield event("response.reasoning_summary_text.done", **where, text=block.text)
            elif block.freeform is not None:
                yield event(
                    "response.output_item.added",
                    output_index=index,
                    item={**item, "status": "in_progress", "input": ""},
                )
                where = {"item_id": item_id, "output_index": index}
                yield event("response.custom_tool_call_input.delta", **where, delta=item["input"])
                yield event("response.custom_tool_call_input.done", **where, input=item["input"])
            else:
                yield event(
                    "response.output_item.added",
                    output_index=index,
                    item={**item, "status": "in_progress", "arguments": ""},
                )
                where = {"item_id": item_id, "output_index": index}
                yield event(
                    "response.function_call_arguments.delta", **where, delta=item["arguments"]
                )
                yield event(
                    "response.function_call_arguments.done", **where, arguments=item["arguments"]
                )
            yield event("response.output_item.done", output_index=index, item=item)
            done.append(item)
        final = {**shell, "status": "completed", "output": done}
        final["usage"] = usage_object(reply.usage)
        yield event("response.completed", response=final)

    def stream_error(self, reply: Reply) -> bytes:
        error = {"code": reply.stream_error.type, "message": reply.stream_error.message}
        data = {
            "type": "response.failed",
            "response": {"id": next_id("resp"), "status": "failed", "error": error},
        }
        return sse(data, "response.failed")


def _prefix(block: Block) -> str:
    if isinstance(block, Text):
        return "msg"
    if isinstance(block, Thinking):
        return "rs"
    return "fc"
