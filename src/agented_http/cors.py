"""CORS: Starlette's middleware, with its preflight refusal in the adapter's JSON error shape."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from .errors import BAD_REQUEST, error_response


class JsonCORSMiddleware(CORSMiddleware):
    """:class:`~starlette.middleware.cors.CORSMiddleware` whose refused preflight answers
    ``{"error": "bad_request", "message": "Disallowed CORS origin"}`` instead of plain text."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-type")
        }
        message = bytes(response.body).decode("utf-8", "replace")
        return error_response(response.status_code, BAD_REQUEST, message, headers)
