"""agented_http: the Starlette adapter over agented_core's public API.

``create_app(agented, settings)`` is the sub-app (auth, REST, webhooks, SSE), mountable under any
prefix in any ASGI host, with its dashboard at ``/ui/``; ``create_server`` / ``serve`` are the
reference server that ``agented serve`` runs (``/`` opening the dashboard, the sub-app at
``/agented``, uvicorn, one worker).
``AsyncClient`` / ``Client`` are a client of that API, for hosts and for ``agented --url``.
"""

from .app import create_app
from .client import AsyncClient, Client
from .client_calls import BotInfo, ExecutionPage, SearchHit, SearchPage, SearchResult
from .client_errors import (
    AgentedHTTPError,
    BadRequestError,
    ForbiddenError,
    HTTPConflictError,
    HTTPNotFoundError,
    UnauthorizedError,
    UnreachableError,
)
from .errors import NoApiKeyError
from .server import create_server, serve
from .settings import Settings
from .tokens import StreamToken, StreamTokens

__all__ = [
    "AgentedHTTPError",
    "AsyncClient",
    "BadRequestError",
    "BotInfo",
    "Client",
    "ExecutionPage",
    "ForbiddenError",
    "HTTPConflictError",
    "HTTPNotFoundError",
    "NoApiKeyError",
    "SearchHit",
    "SearchPage",
    "SearchResult",
    "Settings",
    "StreamToken",
    "StreamTokens",
    "UnauthorizedError",
    "UnreachableError",
    "create_app",
    "create_server",
    "serve",
]
