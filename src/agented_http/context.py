"""What every route of one app shares: the Agented, resolved settings, tokens, open streams."""

from __future__ import annotations

from attrs import define
from starlette.requests import Request

from agented_core import Agented

from .fanout import Fanout
from .settings import Settings
from .tokens import StreamTokens


@define
class Context:
    """The state of one app built by :func:`agented_http.create_app`."""

    agented: Agented
    settings: Settings
    tokens: StreamTokens
    max_body_bytes: int
    fanout: Fanout
    streams: int = 0
    """SSE and NDJSON streams open now."""

    def url(self, request: Request, path: str) -> str:
        """``path`` (starting with ``/``) as an absolute path under the app's mount point."""
        return f"{request.scope.get('root_path', '')}{path}"
