"""Reading requests: bodies under a size limit, JSON bodies, query parameters."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request

from agented_core import WebhookError
from agented_core.storable import require_storable_json, unstorable

from .errors import PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, ApiError, bad_request

JSON_TYPES = ("application/json",)
MAX_SEQ = 2**63 - 1
"""The largest event seq there can be (SQLite's integers are 64-bit): a bound for cursors."""
FORM_TYPE = "application/x-www-form-urlencoded"


def media_type(request: Request) -> str:
    """The request's content type without parameters, lower case ('' when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json(kind: str) -> bool:
    """True for ``application/json`` and ``application/*+json``."""
    return kind in JSON_TYPES or (kind.startswith("application/") and kind.endswith("+json"))


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body; 413 as soon as it is known to be over ``limit`` bytes.

    A ``Content-Length`` over the limit is refused before a byte is read; a body without one
    is read only up to the limit. Either way the 413 closes the connection, so the server
    reads no more of the body.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise bad_request(f"Content-Length is not a number: {declared!r}") from None
        if size > limit:
            raise _too_large(size, limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _too_large(total, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> ApiError:
    # the connection closes after the answer: the rest of the body is never read
    return ApiError(
        413,
        PAYLOAD_TOO_LARGE,
        f"body of {size}+ bytes is over the limit of {limit} bytes",
        headers={"Connection": "close"},
    )


async def json_object(request: Request, limit: int) -> dict[str, Any]:
    """A JSON object body; an empty body is ``{}``. 415 for another type, 400 for bad JSON."""
    body = await read_body(request, limit)
    if not body.strip():
        return {}
    kind = media_type(request)
    if kind and not is_json(kind):
        raise ApiError(
            415,
            UNSUPPORTED_MEDIA_TYPE,
            f"send JSON (Content-Type: application/json), not {kind}",
        )
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise bad_request(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object")
    _storable(body, data, "the body")
    return data


def _storable(raw: bytes, value: Any, what: str) -> None:
    """400 for a string nothing can store (a lone surrogate such as ``"\ud800"``)."""
    try:
        require_storable_json(raw, value, what)
    except WebhookError:
        where = unstorable(value)
        raise bad_request(f"{what} has a string that is not valid Unicode at {where!r}") from None


def parse_payload(body: bytes, kind: str) -> Any:
    """A webhook payload: a JSON body, or the ``payload`` field of a form-encoded one."""
    if is_json(kind):
        text = body
    elif kind == FORM_TYPE:
        try:
            fields = parse_qs(body.decode("utf-8"), strict_parsing=False)
        except UnicodeDecodeError:
            raise bad_request("the form body is not UTF-8") from None
        if "payload" not in fields:
            raise bad_request("a form-encoded delivery needs a 'payload' field")
        text = fields["payload"][-1].encode()
    else:
        raise ApiError(
            415,
            UNSUPPORTED_MEDIA_TYPE,
            f"send application/json or {FORM_TYPE} (payload=...), not {kind or 'no type'}",
        )
    try:
        payload = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise bad_request(f"the payload is not valid JSON: {exc}") from None
    _storable(text, payload, "the payload")
    return payload


def int_param(
    request: Request, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
) -> int:
    """An integer query parameter within bounds; 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise bad_request(f"{name} must be at least {minimum}{upper}, got {value}")
    return value


def bool_param(request: Request, name: str) -> bool:
    """A boolean query parameter (``true``/``false``/``1``/``0``; absent is false)."""
    raw = request.query_params.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise bad_request(f"{name} must be true or false, got {raw!r}")
