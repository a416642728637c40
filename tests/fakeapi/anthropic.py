"""The Anthropic Messages API: ``POST /v1/messages`` (streamed SSE or plain JSON).

Also answers ``POST /v1/messages/count_tokens`` and the connectivity check Claude Code makes
(``HEAD /``). Error bodies have the API's shape ``{"type": "error", "error": {type, message}}``;
the default error type follows the status (429 ``rate_limit_error``, 529 ``overloaded_error``,
401 ``authentication_error`` ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .script import Error, Reply, Script, Text, Thinking, ToolUse, Usage, next_id
from .server import Exchange, Protocol, RecordedRequest, Route

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

DEFAULT_MODEL = "claude-sonnet-5"


def unified_limit_headers(
    reset_epoch: int, *, status: str = "rejected", claim: str = "five_hour"
) -> dict[str, str]:
    """The subscription ("unified") rate-limit headers of a rejected (or warned) request."""
    window = {"five_hour": "5h", "seven_day": "7d"}.get(claim, claim)
    return {
        "anthropic-ratelimit-unified-status": status,
        "anthropic-ratelimit-unified-reset": str(reset_epoch),
        "anthropic-ratelimit-unified-representative-claim": claim,
        f"anthropic-ratelimit-unified-{window}-status": status,
        f"anthropic-ratelimit-unified-{window}-reset": str(reset_epoch),
        f"anthropic-ratelimit-unified-{window}-utilization": "1.0",
        "anthropic-ratelimit-unified-fallback-percentage": "0.5",
        "anthropic-ratelimit-unified-overage-status": "rejected",
        "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
    }


def _usage(usage: Usage, output: int) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": output,
    }


def _split(value: str, parts: int) -> list[str]:
    if parts <= 1 or len(value) <= 1:
        return [value]
    size = max(1, -(-len(value) // parts))
    return [value[i : i + size] for i in range(0, len(value), size)]


class Anthropic(Protocol):
    """Renders scripts as Anthropic Messages API answers."""

    name = "anthropic"

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/v1/messages", self.messages, model_call=True),
            Route("POST", "/v1/messages/count_tokens", self.count_tokens),
            Route("HEAD", "/", self.ok),
            Route("GET", "/", self.ok),
        ]

    def side_call(self, request: RecordedRequest) -> Script | None:
        """Claude Code asks for a session title (for long prompts) before the first turn."""
        body = request.json if isinstance(request.json, dict) else {}
        system = json.dumps(body.get("system", ""))
        if "Generate a concise, sentence-case title" in system:
            return Reply((Text('{"title": "Fake session title"}'),), Usage(20, 8))
        return None

    async def ok(self, exchange: Exchange) -> None:
        await exchange.json(200, {})

    async def count_tokens(self, exchange: Exchange) -> None:
        await exchange.json(200, {"input_tokens": max(1, len(exchange.request.body) // 4)})

    async def messages(self, exchange: Exchange) -> None:
        script = exchange.script
        body = exchange.request.json or {}
        model = body.get("model") if isinstance(body, dict) else None
        if isinstance(script, Error):
            await self.error(exchange, script)
            return
        assert isinstance(script, Reply)
        model = script.model or (model if isinstance(model, str) else DEFAULT_MODEL)
        if isinstance(body, dict) and body.get("stream"):
            await exchange.stream(list(self.events(script, model)), script, self)
        else:
            await exchange.json(200, self.message(script, model), reply=script)

    async def error(self, exchange: Exchange, error: Error) -> None:
        headers = dict(error.headers)
        if error.retry_after is not None:
            headers["retry-after"] = f"{error.retry_after:g}"
        headers.setdefault("request-id", next_id("req"))
        body = error.body
        if body is None:
            kind = error.type or ERROR_TYPES.get(error.status, "api_error")
            message = error.message or {
                "rate_limit_error": "This request would exceed the rate limit for your "
                "organization of 50 requests per minute.",
                "overloaded_error": "Overloaded",
                "authentication_error": "invalid x-api-key",
            }.get(kind, f"fake API error {error.status}")
            body = {"type": "error", "error": {"type": kind, "message": message}}
        await exchange.json(error.status, body, headers=headers)

    @staticmethod
    def _block(block: Text | Thinking | ToolUse) -> dict[str, Any]:
        if isinstance(block, Text):
            return {"type": "text", "text": block.text}
        if isinstance(block, Thinking):
            return {"type": "thinking", "thinking": block.text, "signature": block.signature}
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}

    def message(self, reply: Reply, model: str) -> dict[str, Any]:
        """The non-streamed answer."""
        return {
            "id": next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [self._block(b) for b in reply.content],
            "stop_reason": reply.final_stop_reason,
            "stop_sequence": None,
            "usage": _usage(reply.usage, reply.usage.output_tokens),
        }

    def events(self, reply: Reply, model: str) -> Iterator[bytes]:
        """The SSE events of a streamed answer, one ``bytes`` per event."""

        def sse(event: str, data: dict[str, Any]) -> bytes:
            return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()

        usage = reply.usage
        yield sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": next_id("msg"),
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": _usage(usage, 1),
                },
            },
        )
        for index, block in enumerate(reply.content):
            start: dict[str, Any]
            if isinstance(block, Text):
                start = {"type": "text", "text": ""}
            elif isinstance(block, Thinking):
                start = {"type": "thinking", "thinking": ""}
            else:
                start = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
            yield sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
            if isinstance(block, Text):
                for part in _split(block.text, reply.text_chunks):
                    delta = {"type": "text_delta", "text": part}
                    yield sse(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
            elif isinstance(block, Thinking):
                for delta in (
                    {"type": "thinking_delta", "thinking": block.text},
                    {"type": "signature_delta", "signature": block.signature},
                ):
                    yield sse(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
            else:
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block.input)}
                yield sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            yield sse("content_block_stop", {"type": "content_block_stop", "index": index})
        yield sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.final_stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": usage.output_tokens},
            },
        )
        yield sse("message_stop", {"type": "message_stop"})

    def stream_error(self, reply: Reply) -> bytes:
        data = {
            "type": "error",
            "error": {"type": reply.stream_error.type, "message": reply.stream_error.message},
        }
        return f"event: error\ndata: {json.dumps(data)}\n\n".encode()
