"""``GET /whoami``: the role and id of the key the request came with (any key may ask)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .audit import principal
from .context import Context
from .roles import ROUTES, grants


def routes(ctx: Context) -> list[Route]:
    """The whoami route."""

    async def whoami(request: Request) -> Response:
        who = principal(request)
        allowed = sorted(
            f"{method} {path}" for (method, path), role in ROUTES.items() if grants(who.role, role)
        )
        return JSONResponse({"role": who.role, "key_id": who.id, "routes": allowed})

    return [Route("/whoami", whoami, methods=["GET"], name="whoami")]
