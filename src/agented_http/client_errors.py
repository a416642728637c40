"""The errors of :mod:`agented_http.client`: the server's error answers as exceptions.

Every one is an :class:`AgentedHTTPError`, carrying the HTTP status and the ``{"error",
"message"}`` body, and also the core's exception for the same failure, so a host catches
``NotFoundError`` alike whether it runs agented in process or talks to a server:

=========  ===========================  ======================================
status     class                        also a
=========  ===========================  ======================================
400        :class:`BadRequestError`     :class:`~agented_core.ConfigError`
401        :class:`UnauthorizedError`
403        :class:`ForbiddenError`
404        :class:`HTTPNotFoundError`   :class:`~agented_core.NotFoundError`
409        :class:`HTTPConflictError`   :class:`~agented_core.ConflictError`
none       :class:`UnreachableError`    (no answer: refused, reset, timed out)
=========  ===========================  ======================================

Any other error status is a plain :class:`AgentedHTTPError`.
"""

from __future__ import annotations

from typing import Any

import httpx

from agented_core import AgentedError, ConfigError, ConflictError, NotFoundError, Problem


class AgentedHTTPError(AgentedError):
    """The server answered with an error. ``str()`` is the server's message.

    ``status_code`` is the HTTP status (0 when there was no answer), ``code`` the body's
    ``error`` code (``not_found``, ``conflict`` ...), ``body`` the decoded body (``None`` when
    it was not JSON).
    """

    def __init__(
        self, message: str, *, status_code: int = 0, code: str = "", body: Any = None
    ) -> None:
        Exception.__init__(self, message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.body = body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_code}, {self.code!r}, {self.message!r})"


class BadRequestError(AgentedHTTPError, ConfigError):
    """400: the request is malformed, or its parameters are not the bot's (one problem)."""

    def __init__(
        self, message: str, *, status_code: int = 400, code: str = "", body: Any = None
    ) -> None:
        super().__init__(message, status_code=status_code, code=code, body=body)
        self.problems = [Problem(message)]


class UnauthorizedError(AgentedHTTPError):
    """401: no API key, or one the server does not know."""


class ForbiddenError(AgentedHTTPError):
    """403: the key's role may not do this."""


class HTTPNotFoundError(AgentedHTTPError, NotFoundError):
    """404: no such bot, execution or route."""


class HTTPConflictError(AgentedHTTPError, ConflictError):
    """409: the execution's state does not allow it (resume of a finished run ...)."""


class UnreachableError(AgentedHTTPError):
    """No answer: the connection was refused, dropped or timed out."""


_BY_STATUS: dict[int, type[AgentedHTTPError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: HTTPNotFoundError,
    409: HTTPConflictError,
}


def error_for(response: httpx.Response) -> AgentedHTTPError:
    """The exception of an error answer (its body must have been read)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    message = ""
    code = ""
    if isinstance(body, dict):
        message = str(body.get("message") or "")
        code = str(body.get("error") or "")
    cls = _BY_STATUS.get(response.status_code, AgentedHTTPError)
    return cls(
        message or response.reason_phrase or f"HTTP {response.status_code}",
        status_code=response.status_code,
        code=code,
        body=body,
    )


def unreachable(base_url: str, exc: httpx.TransportError) -> UnreachableError:
    """The exception of a request that got no answer, with the system's reason when known."""
    reason = str(exc) or type(exc).__name__
    cause: BaseException | None = exc
    while cause is not None:  # "All connection attempts failed" hides "[Errno 111] ..."
        if isinstance(cause, OSError) and cause.errno is not None:
            reason = str(cause)
        cause = cause.__cause__ or cause.__context__
    return UnreachableError(f"cannot reach {base_url}: {reason}", code="unreachable")
