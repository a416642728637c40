"""``GET /bots``, ``GET /bots/{name}`` and ``POST /bots/{name}/runs``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agented_core import Execution

from . import audit
from .bodies import json_object
from .context import Context
from .errors import bad_request
from .shapes import bot_data

RUN_FIELDS = frozenset({"params"})


def accepted(ctx: Context, request: Request, execution: Execution) -> Response:
    """202 for a queued execution: its id and where to find it and its events."""
    url = ctx.url(request, f"/executions/{execution.id}")
    return JSONResponse(
        {"execution_id": execution.id, "url": url, "events_url": f"{url}/events"},
        status_code=202,
        headers={"Location": url},
    )


def routes(ctx: Context) -> list[Route]:
    """The bot routes."""
    ag = ctx.agented

    async def list_bots(request: Request) -> Response:
        items = [bot_data(bot, ag.next_fire(name)) for name, bot in sorted(ag.bots.items())]
        return JSONResponse({"items": items})

    async def get_bot(request: Request) -> Response:
        name = request.path_params["name"]
        return JSONResponse(bot_data(ag.bot(name), ag.next_fire(name)))

    async def run_bot(request: Request) -> Response:
        name = request.path_params["name"]
        ag.bot(name)  # 404 before the body is read
        body = await json_object(request, ctx.max_body_bytes)
        unknown = sorted(set(body) - RUN_FIELDS)
        if unknown:
            raise bad_request(f"unknown field(s) {', '.join(unknown)}; expected: params")
        params = body.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise bad_request("params must be a JSON object of parameter names to values")
        execution = await ag.run(name, params)
        await audit.record(ctx, request, "run", execution)
        return accepted(ctx, request, execution)

    return [
        Route("/bots", list_bots, methods=["GET"], name="bots"),
        Route("/bots/{name}", get_bot, methods=["GET"], name="bot"),
        Route("/bots/{name}/runs", run_bot, methods=["POST"], name="run_bot"),
    ]
