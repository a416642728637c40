"""``GET /bots``, ``GET /bots/{name}`` and ``POST /bots/{name}/runs``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agented_core import Execution

from . import audit
from .accounts import spend_by_name
from .bodies import json_object
from .context import Context
from .errors import bad_request
from .operations import (
    BOT_NAME,
    E400,
    E401,
    E404,
    E413,
    E415,
    Operation,
    error,
    json_answer,
    ref,
)
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


ACCEPTED = json_answer(ref("Accepted"), "queued: the new execution's id and URL")
"""The answer of a route that queues an execution (:func:`accepted`)."""

OPERATIONS = (
    Operation(
        "GET",
        "/bots",
        "listBots",
        "Bots with their triggers and next scheduled fire",
        {"200": json_answer(ref("BotList"), "the bots"), "401": E401},
    ),
    Operation(
        "GET",
        "/bots/{name}",
        "getBot",
        "One bot",
        {"200": json_answer(ref("Bot"), "the bot"), "401": E401, "404": E404},
        parameters=[BOT_NAME],
    ),
    Operation(
        "POST",
        "/bots/{name}/runs",
        "runBot",
        "Queue a run of a bot",
        {
            "202": ACCEPTED,
            "400": E400,
            "401": E401,
            "404": E404,
            "409": error("agented is shutting down"),
            "413": E413,
            "415": E415,
        },
        parameters=[BOT_NAME],
        request_body={
            "required": False,
            "content": {"application/json": {"schema": ref("RunRequest")}},
        },
    ),
)
"""The bot routes in the OpenAPI document."""


def routes(ctx: Context) -> list[Route]:
    """The bot routes."""
    ag = ctx.agented

    async def list_bots(request: Request) -> Response:
        spend = await spend_by_name(ag, "bot")
        items = [
            {**bot_data(bot, ag.next_fire(name)), "spend": spend.get(name)}
            for name, bot in sorted(ag.bots.items())
        ]
        return JSONResponse({"items": items})

    async def get_bot(request: Request) -> Response:
        name = request.path_params["name"]
        bot = ag.bot(name)
        spend = await spend_by_name(ag, "bot")
        return JSONResponse({**bot_data(bot, ag.next_fire(name)), "spend": spend.get(name)})

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
