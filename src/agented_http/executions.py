"""Executions: list, show, control (cancel, pause, resume, rerun), stream tokens, NDJSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agented_core import Execution, NotFoundError, Status, to_data

from . import audit
from .bodies import MAX_SEQ, bool_param, int_param
from .bots import ACCEPTED, accepted
from .context import Context
from .errors import bad_request
from .fanout import close
from .operations import (
    E400,
    E401,
    E404,
    E409,
    EXECUTION_ID,
    STRING,
    Operation,
    json_answer,
    query,
    ref,
)
from .shapes import event_data, execution_data, execution_summary

NDJSON = "application/x-ndjson"
PAGE = 1000
MAX_LIMIT = 500


def _statuses(request: Request) -> list[Status]:
    names = [
        part.strip()
        for value in request.query_params.getlist("status")
        for part in value.split(",")
        if part.strip()
    ]
    try:
        return [Status(name) for name in names]
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise bad_request(f"unknown status in {names}; known: {known}") from None


SEQ_PARAM = query(
    "after", {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}, "the last seq seen"
)
EXECUTION = json_answer(ref("Execution"), "the execution")
CONTROLS = {
    "cancel": "Cancel a queued, running, paused or waiting execution (its whole process group)",
    "pause": "Pause a running execution",
    "resume": "Resume a paused execution",
}

OPERATIONS = (
    Operation(
        "GET",
        "/executions",
        "listExecutions",
        "Executions, newest first, a page at a time",
        {"200": json_answer(ref("ExecutionPage"), "a page"), "400": E400, "401": E401},
        parameters=[
            query("bot", STRING, "only this bot's"),
            {
                **query(
                    "status",
                    {
                        "type": "array",
                        "items": {"type": "string", "enum": [s.value for s in Status]},
                    },
                    "only these statuses (comma-separated, or the parameter repeated)",
                ),
                "style": "form",
                "explode": False,
            },
            query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
                "page size",
            ),
            query("cursor", STRING, "next_cursor of the previous page"),
            query("prefix", STRING, "only executions whose id starts with this (case-sensitive)"),
        ],
    ),
    Operation(
        "GET",
        "/executions/{id}",
        "getExecution",
        "One execution",
        {"200": EXECUTION, "401": E401, "404": E404},
        parameters=[EXECUTION_ID],
    ),
    *(
        Operation(
            "POST",
            f"/executions/{{id}}/{action}",
            f"{action}Execution",
            summary,
            {"200": EXECUTION, "401": E401, "404": E404, "409": E409},
            parameters=[EXECUTION_ID],
        )
        for action, summary in CONTROLS.items()
    ),
    Operation(
        "POST",
        "/executions/{id}/rerun",
        "rerunExecution",
        "A new execution of the same bot, params and trigger context",
        {"202": ACCEPTED, "400": E400, "401": E401, "404": E404, "409": E409},
        parameters=[EXECUTION_ID],
    ),
    Operation(
        "POST",
        "/executions/{id}/stream-token",
        "streamToken",
        "A short-lived token for this execution's SSE stream (?token=)",
        {"200": json_answer(ref("StreamToken"), "the token"), "401": E401, "404": E404},
        parameters=[EXECUTION_ID],
    ),
    Operation(
        "GET",
        "/executions/{id}/events.ndjson",
        "eventsNdjson",
        "The execution's events as NDJSON",
        {
            "200": {
                "description": "one event (JSON) a line",
                "content": {NDJSON: {"schema": STRING}},
            },
            "400": E400,
            "401": E401,
            "404": E404,
        },
        description="The events stored so far; with follow=true, until it ends.",
        parameters=[
            EXECUTION_ID,
            SEQ_PARAM,
            query("follow", {"type": "boolean"}, "stream until the execution ends"),
        ],
    ),
)
"""The execution routes in the OpenAPI document."""


def _ndjson_line(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def routes(ctx: Context) -> list[Route]:
    """The execution routes (the SSE route lives in :mod:`agented_http.sse`)."""
    ag = ctx.agented

    async def list_executions(request: Request) -> Response:
        limit = int_param(request, "limit", 50, minimum=1, maximum=MAX_LIMIT)
        bot = request.query_params.get("bot") or None
        cursor = request.query_params.get("cursor") or None
        prefix = request.query_params.get("prefix")
        if prefix:
            return JSONResponse(await with_prefix(prefix, bot, cursor, limit, request))
        items, next_cursor = await ag.list(
            bot=bot, status=_statuses(request), limit=limit, cursor=cursor
        )
        return JSONResponse(
            {"items": [execution_summary(e) for e in items], "next_cursor": next_cursor}
        )

    async def with_prefix(
        prefix: str, bot: str | None, cursor: str | None, limit: int, request: Request
    ) -> dict[str, object]:
        # resolving a short id (``agented show 01JX``): the id range it starts, filtered alike
        ids = await ag.store.ids_with_prefix(
            prefix, limit + 1, bot=bot, status=_statuses(request), before=cursor
        )
        found: list[Execution] = []
        for execution_id in ids[:limit]:
            try:
                found.append(await ag.get(execution_id))
            except NotFoundError:  # pruned in between
                continue
        return {
            "items": [execution_summary(e) for e in found],
            "next_cursor": ids[limit - 1] if len(ids) > limit else None,
        }

    async def get_execution(request: Request) -> Response:
        return JSONResponse(execution_data(await ag.get(request.path_params["id"])))

    Endpoint = Callable[[Request], Awaitable[Response]]

    def control(name: str, action: Callable[[str], Awaitable[Execution]]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            execution = await action(request.path_params["id"])
            await audit.record(ctx, request, name, execution)
            return JSONResponse(execution_data(execution))

        return endpoint

    async def rerun(request: Request) -> Response:
        source = request.path_params["id"]
        execution = await ag.rerun(source)
        await audit.record(ctx, request, "rerun", execution, rerun_of=source)
        return accepted(ctx, request, execution)

    async def stream_token(request: Request) -> Response:
        execution = await ag.get(request.path_params["id"])
        issued = ctx.tokens.issue(execution.id)
        events = ctx.url(request, f"/executions/{execution.id}/events")
        return JSONResponse(
            {
                "token": issued.token,
                "expires_at": to_data(issued.expires_at),
                "url": f"{events}?token={issued.token}",
            }
        )

    async def ndjson(request: Request) -> Response:
        execution_id = request.path_params["id"]
        after = int_param(request, "after", 0, maximum=MAX_SEQ)
        follow = bool_param(request, "follow")
        execution = await ag.get(execution_id)  # 404 before the stream starts

        async def snapshot() -> AsyncIterator[bytes]:
            # a running execution: what is stored now (the last few ms may still be in flight)
            last = after
            while True:
                page = await ag.store.read_events(execution_id, after=last, limit=PAGE)
                for event in page:
                    yield _ndjson_line(event_data(event))
                    last = event.seq
                if len(page) < PAGE:
                    return

        async def followed() -> AsyncIterator[bytes]:
            ctx.streams += 1
            events = ag.events(execution_id, after)
            try:
                async for event in events:
                    yield _ndjson_line(event_data(event))
            finally:
                ctx.streams -= 1
                await close(events)

        # a finished execution's stream ends by itself, and includes events not yet written
        body = followed() if follow or execution.status.terminal else snapshot()
        return StreamingResponse(body, media_type=NDJSON, headers={"X-Accel-Buffering": "no"})

    return [
        Route("/executions", list_executions, methods=["GET"], name="executions"),
        Route("/executions/{id}", get_execution, methods=["GET"], name="execution"),
        Route(
            "/executions/{id}/cancel", control("cancel", ag.cancel), methods=["POST"], name="cancel"
        ),
        Route("/executions/{id}/pause", control("pause", ag.pause), methods=["POST"], name="pause"),
        Route(
            "/executions/{id}/resume", control("resume", ag.resume), methods=["POST"], name="resume"
        ),
        Route("/executions/{id}/rerun", rerun, methods=["POST"], name="rerun"),
        Route("/executions/{id}/stream-token", stream_token, methods=["POST"], name="stream_token"),
        Route("/executions/{id}/events.ndjson", ndjson, methods=["GET"], name="events_ndjson"),
    ]
