"""``GET /whoami``: the role and id of the key the request came with (any key may ask)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .audit import principal
from .context import Context
from .operations import E401, Operation, json_answer, ref
from .roles import ROUTES, grants

OPERATIONS = (
    Operation(
        "GET",
        "/whoami",
        "whoami",
        "The role and id of the request's key",
        {"200": json_answer(ref("WhoAmI"), "the key"), "401": E401},
    ),
)
"""The whoami route in the OpenAPI document."""


def routes(ctx: Context) -> list[Route]:
    """The whoami route."""

    async def whoami(request: Request) -> Response:
        who = principal(request)
        allowed = sorted(
            f"{method} {path}" for (method, path), role in ROUTES.items() if grants(who.role, role)
        )
        return JSONResponse({"role": who.role, "key_id": who.id, "routes": allowed})

    return [Route("/whoami", whoami, methods=["GET"], name="whoami")]
