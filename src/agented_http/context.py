"""What every route of one app shares: the Agented, resolved settings, tokens, open streams."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define, field
from starlette.requests import Request

from agented_core import Agented

from .fanout import Fanout
from .settings import Settings
from .tokens import StreamTokens

if TYPE_CHECKING:
    from .metrics import Metrics


@define
class Context:
    """The state of one app built by :func:`agented_http.create_app`."""

    agented: Agented
    settings: Settings
    tokens: StreamTokens
    max_body_bytes: int
    fanout: Fanout
    metrics: Metrics | None = None
    """The app's Prometheus metrics (``None`` without prometheus-client)."""
    _streams: int = field(default=0, init=False)

    @property
    def streams(self) -> int:
        """SSE and NDJSON streams open now (the ``agented_sse_clients`` gauge follows it)."""
        return self._streams

    @streams.setter
    def streams(self, value: int) -> None:
        self._streams = value
        if self.metrics is not None:
            self.metrics.streams.set(value)

    def url(self, request: Request, path: str) -> str:
        """``path`` (starting with ``/``) as an absolute path under the app's mount point."""
        return f"{request.scope.get('root_path', '')}{path}"
