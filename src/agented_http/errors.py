"""Errors as HTTP answers: ``{"error": code, "message": text}``.

Codes (DESIGN, "HTTP surface"): ``unauthorized`` 401, ``forbidden`` 403 (a key without the
route's role), ``not_found`` 404, ``bad_request`` 400
(also 405, with an ``Allow`` header), ``invalid_signature`` 401, ``payload_too_large`` 413,
``unsupported_media_type`` 415, ``conflict`` 409; and ``internal`` 500 for a bug.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agented_core import AgentedError, ConfigError, ConflictError, NotFoundError, WebhookError

log = logging.getLogger("agented.http")

UNAUTHORIZED = "unauthorized"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
BAD_REQUEST = "bad_request"
CONFLICT = "conflict"
PAYLOAD_TOO_LARGE = "payload_too_large"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
INTERNAL = "internal"

WEBHOOK_STATUSES: Mapping[str, int] = {
    "invalid_signature": 401,
    PAYLOAD_TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    BAD_REQUEST: 400,
}
"""The HTTP status of each refused delivery's error code (:class:`WebhookError` ``.code``)."""


class NoApiKeyError(AgentedError):
    """The app was asked to start with no API key and without the unauthenticated mode."""


class ApiError(Exception):
    """An error the adapter answers itself (bad query parameter, body too large ...)."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def bad_request(message: str) -> ApiError:
    """A 400 ``bad_request``."""
    return ApiError(400, BAD_REQUEST, message)


def error_response(
    status_code: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The JSON error body every route answers with."""
    return JSONResponse({"error": code, "message": message}, status_code, headers=headers)


def status_of(exc: AgentedError) -> tuple[int, str]:
    """The HTTP status and error code of a core error."""
    if isinstance(exc, WebhookError):
        return WEBHOOK_STATUSES.get(exc.code, 400), exc.code
    if isinstance(exc, NotFoundError):
        return 404, NOT_FOUND
    if isinstance(exc, ConflictError):
        return 409, CONFLICT
    if isinstance(exc, ConfigError):
        return 400, BAD_REQUEST
    return 400, BAD_REQUEST


async def on_agented_error(request: Request, exc: Exception) -> Response:
    """Exception handler: a core error as a JSON error."""
    assert isinstance(exc, AgentedError)
    status, code = status_of(exc)
    return error_response(status, code, str(exc) or type(exc).__name__)


async def on_api_error(request: Request, exc: Exception) -> Response:
    """Exception handler: an :class:`ApiError` as a JSON error."""
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.headers)


_HTTP_CODES = {
    401: UNAUTHORIZED,
    404: NOT_FOUND,
    409: CONFLICT,
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
}


async def on_http_exception(request: Request, exc: Exception) -> Response:
    """Exception handler: Starlette's own 404 / 405 and the like as JSON errors."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, BAD_REQUEST)
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"method {request.method} is not allowed here (allowed: {allowed})"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, code, message, exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """Exception handler of last resort: a bug answers 500 without details."""
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, INTERNAL, "internal error")
