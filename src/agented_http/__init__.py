"""agented_http: the Starlette adapter over agented_core's public API.

``create_app(agented, settings)`` is the sub-app (auth, REST, webhooks, SSE), mountable under any
prefix in any ASGI host; ``create_server`` / ``serve`` are the reference server that
``agented serve`` runs (index page at ``/``, the sub-app at ``/agented``, uvicorn, one worker).
"""

from .app import create_app
from .errors import NoApiKeyError
from .server import create_server, serve
from .settings import Settings
from .tokens import StreamToken, StreamTokens

__all__ = [
    "NoApiKeyError",
    "Settings",
    "StreamToken",
    "StreamTokens",
    "create_app",
    "create_server",
    "serve",
]
