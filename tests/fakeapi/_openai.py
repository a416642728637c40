"""What the two OpenAI protocols share: error bodies, usage figures, SSE framing."""

from __future__ import annotations

import json
from typing import Any

from .script import Error, Usage, next_id
from .server import Exchange

ERROR_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", "server_is_overloaded"),
}
"""The OpenAI ``error.type`` and ``error.code`` of a status."""

MESSAGES = {
    "rate_limit_exceeded": "Rate limit reached for requests. Please try again in {wait}.",
    "invalid_api_key": "Incorrect API key provided: sk-test. You can find your API key at "
    "https://platform.openai.com/account/api-keys.",
    "insufficient_quota": "You exceeded your current quota, please check your plan and "
    "billing details.",
    "server_is_overloaded": "The server is overloaded. Please try again later.",
    "model_not_found": "The model does not exist or you do not have access to it.",
}


def sse(data: dict[str, Any], event: str | None = None) -> bytes:
    """One SSE event (``event:`` line optional, as the OpenAI APIs send it)."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def error_body(error: Error) -> dict[str, Any]:
    """The OpenAI error body ``{"error": {message, type, param, code}}`` of an :class:`Error`.

    ``Error.type`` is the ``code`` (``insufficient_quota``, ``rate_limit_exceeded`` ...); the
    default follows the status.
    """
    kind, code = ERROR_TYPES.get(error.status, ("api_error", None))
    if error.type is not None:
        code = error.type
        kind = "insufficient_quota" if code == "insufficient_quota" else kind
    wait = f"{error.retry_after:g}s" if error.retry_after is not None else "20s"
    message = error.message or MESSAGES.get(code or "", f"fake API error {error.status}")
    return {
        "error": {
            "message": message.format(wait=wait),
            "type": kind,
            "param": None,
            "code": code,
        }
    }


async def send_error(exchange: Exchange, error: Error) -> None:
    """Answer with an OpenAI error: its body (or ``Error.body``) and headers."""
    headers = dict(error.headers)
    if error.retry_after is not None:
        headers["retry-after"] = f"{error.retry_after:g}"
        headers.setdefault("x-ratelimit-reset-requests", f"{error.retry_after:g}s")
    headers.setdefault("x-request-id", next_id("req"))
    body = error.body if error.body is not None else error_body(error)
    await exchange.json(error.status, body, headers=headers)


def prompt_tokens(usage: Usage) -> int:
    """OpenAI's input count includes the cached tokens (agented's ``input_tokens`` do not)."""
    return usage.input_tokens + usage.cache_read_tokens
