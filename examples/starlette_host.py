"""Embedding agented in your own Starlette app: your routes, plus agented's API under a prefix.

    AGENTED_API_KEYS=change-me python examples/starlette_host.py   # port 8001 (PORT= to change)
    curl -X POST -H 'X-API-Key: change-me' -H 'Content-Type: application/json' \\
         -d '{"params": {"message": "from my app"}}' http://127.0.0.1:8001/bots-api/bots/hello/runs

The sub-app is created once agented is open (in the host's lifespan) and closed with it, so a
shutdown of the host is a graceful shutdown of every run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from agented_core import Agented
from agented_http import Settings, create_app

CONFIG = Path(__file__).with_name("agented.toml")


class AgentedMount:
    """An ASGI app that forwards to agented's sub-app once it exists."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            response = JSONResponse({"error": "unavailable", "message": "starting"}, 503)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build(config: Path = CONFIG) -> Starlette:
    """The host app: its own ``/`` route, agented's API at ``/bots-api``."""
    mount = AgentedMount()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with Agented.open(config=config, schedules=True) as agented:
            mount.app = create_app(agented, Settings())  # keys from AGENTED_API_KEYS
            app.state.agented = agented
            yield
            mount.app = None

    async def home(request: Request) -> Response:
        agented: Agented = request.app.state.agented
        return JSONResponse({"app": "my host app", "bots": sorted(agented.bots)})

    return Starlette(
        routes=[Route("/", home), Mount("/bots-api", app=mount)],
        lifespan=lifespan,
    )


app = build()

if __name__ == "__main__":
    import uvicorn

    # 8001, so it runs next to `agented serve` (8000)
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8001")), workers=1)
