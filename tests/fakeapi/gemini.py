"""The Gemini API: ``POST /v1beta/models/{model}:streamGenerateContent`` (SSE, ``alt=sse``)
and ``:generateContent`` (one JSON answer).

What the Gemini CLI speaks with an API key (``GOOGLE_GEMINI_BASE_URL`` pointing here). A reply
is a stream of ``GenerateContentResponse`` chunks: text parts (``text_chunks`` of them),
thinking as parts with ``thought: true``, a tool call as a ``functionCall`` part; the last chunk
has ``finishReason`` (``STOP``) and ``usageMetadata`` (``promptTokenCount`` counts the cached
tokens too, as the API does). Errors have Google's body ``{"error": {code, message, status,
details}}``; a ``retry_after`` adds a ``google.rpc.RetryInfo`` detail (the CLI reads that, not
the ``retry-after`` header, which is sent as well). ``Error.type`` names a quota: ``PerDay``
(a daily quota, terminal) or ``PerMinute``, as a ``google.rpc.QuotaFailure`` detail.

The Gemini CLI's model router (model ``auto``) asks ``:generateContent`` for a JSON
complexity score first: a side call, answered without taking a script.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .script import Error, Reply, Script, Text, Thinking, ToolUse, Usage, next_id
from .server import Exchange, Protocol, RecordedRequest, Route

STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "API key not valid. Please pass a valid API key.",
    403: "The caller does not have permission",
    404: "models/unknown is not found for API version v1beta.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred.",
    503: "The model is overloaded. Please try again later.",
}

ROUTER_ANSWER = json.dumps(
    {"complexity_reasoning": "a simple request", "complexity_score": 1}, separators=(",", ":")
)


def _split(value: str, parts: int) -> list[str]:
    if parts <= 1 or len(value) <= 1:
        return [value]
    size = max(1, -(-len(value) // parts))
    return [value[i : i + size] for i in range(0, len(value), size)]


def usage_metadata(usage: Usage) -> dict[str, Any]:
    """``usageMetadata`` of a reply."""
    prompt = usage.input_tokens + usage.cache_read_tokens
    data = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": usage.output_tokens,
        "totalTokenCount": prompt + usage.output_tokens,
    }
    if usage.cache_read_tokens:
        data["cachedContentTokenCount"] = usage.cache_read_tokens
    return data


def error_body(error: Error) -> dict[str, Any]:
    """Google's error body for an :class:`Error`."""
    details: list[dict[str, Any]] = []
    if error.type in ("PerDay", "PerMinute"):
        quota = f"GenerateRequestsPer{error.type[3:]}PerProjectPerModel-FreeTier"
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content"
                        "_free_tier_requests",
                        "quotaId": quota,
                        "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                        "quotaValue": "50" if error.type == "PerDay" else "10",
                    }
                ],
            }
        )
    if error.retry_after is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{error.retry_after:g}s",
            }
        )
    message = error.message or MESSAGES.get(error.status, f"fake API error {error.status}")
    body: dict[str, Any] = {
        "code": error.status,
        "message": message,
        "status": STATUSES.get(error.status, "UNKNOWN"),
    }
    if details:
        body["details"] = details
    return {"error": body}


class Gemini(Protocol):
    """Renders scripts as Gemini API answers."""

    name = "gemini"

    def routes(self) -> list[Route]:
        base = "/v1beta/models/{model}"
        return [
            Route("POST", base + ":streamGenerateContent", self.stream, model_call=True),
            Route("POST", base + ":generateContent", self.generate, model_call=True),
            Route("POST", base + ":countTokens", self.count_tokens),
        ]

    def side_call(self, request: RecordedRequest) -> Script | None:
        """The model router's complexity question (model ``auto``)."""
        body = request.json if isinstance(request.json, dict) else {}
        config = body.get("generationConfig")
        if isinstance(config, dict) and "complexity_score" in json.dumps(
            config.get("responseJsonSchema") or config.get("responseSchema") or {}
        ):
            return Reply((Text(ROUTER_ANSWER),), Usage(12, 5))
        return None

    async def count_tokens(self, exchange: Exchange) -> None:
        await exchange.json(200, {"totalTokens": max(1, len(exchange.request.body) // 4)})

    async def stream(self, exchange: Exchange) -> None:
        script = exchange.script
        if isinstance(script, Error):
            await self.error(exchange, script)
            return
        assert isinstance(script, Reply)
        model = script.model or exchange.request.params.get("model", "gemini-2.5-flash")
        await exchange.stream(list(self.events(script, model)), script, self)

    async def generate(self, exchange: Exchange) -> None:
        script = exchange.script
        if isinstance(script, Error):
            await self.error(exchange, script)
            return
        assert isinstance(script, Reply)
        model = script.model or exchange.request.params.get("model", "gemini-2.5-flash")
        parts = [p for block in script.content for p in self._parts(block, 1)]
        answer = self._chunk(parts, model, finish=True, usage=script.usage)
        await exchange.json(200, answer, reply=script)

    async def error(self, exchange: Exchange, error: Error) -> None:
        headers = dict(error.headers)
        if error.retry_after is not None:
            headers["retry-after"] = f"{error.retry_after:g}"
        body = error.body if error.body is not None else error_body(error)
        await exchange.json(error.status, body, headers=headers)

    @staticmethod
    def _parts(block: Text | Thinking | ToolUse, chunks: int) -> list[dict[str, Any]]:
        if isinstance(block, Text):
            return [{"text": piece} for piece in _split(block.text, chunks)]
        if isinstance(block, Thinking):
            return [{"text": block.text, "thought": True}]
        return [
            {
                "functionCall": {"id": block.id, "name": block.name, "args": dict(block.input)},
                "thoughtSignature": "fake-signature",
            }
        ]

    @staticmethod
    def _chunk(
        parts: list[dict[str, Any]], model: str, *, finish: bool, usage: Usage | None
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            candidate["finishReason"] = "STOP"
        chunk: dict[str, Any] = {
            "candidates": [candidate],
            "modelVersion": model,
            "responseId": next_id("resp"),
        }
        if usage is not None:
            chunk["usageMetadata"] = usage_metadata(usage)
        return chunk

    def events(self, reply: Reply, model: str) -> Iterator[bytes]:
        """The SSE events of a streamed answer: one chunk per part, the last one finished."""
        parts = [p for block in reply.content for p in self._parts(block, reply.text_chunks)]
        if not parts:
            parts = [{"text": ""}]
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            chunk = self._chunk([part], model, finish=last, usage=reply.usage if last else None)
            yield f"data: {json.dumps(chunk)}\r\n\r\n".encode()

    def stream_error(self, reply: Reply) -> bytes:
        error = Error(503, message=reply.stream_error.message)
        return f"data: {json.dumps(error_body(error))}\r\n\r\n".encode()
