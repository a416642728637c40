"""Executions: list, show, control (cancel, pause, resume, rerun), stream tokens, NDJSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agented_core import ConflictError, Execution, NotFoundError, Status, TriggerKind, to_data
from agented_core.store.search import parse_query

from . import audit
from .bodies import MAX_SEQ, bool_param, int_param, json_object
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
from .shapes import event_data, execution_data, execution_summary, search_hit

NDJSON = "application/x-ndjson"
PAGE = 1000
MAX_LIMIT = 500
MAX_QUERY = 500
SEARCH_LIMIT = 100


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


def _trigger(request: Request) -> TriggerKind | None:
    name = request.query_params.get("trigger") or None
    if name is None:
        return None
    try:
        return TriggerKind(name)
    except ValueError:
        known = ", ".join(t.value for t in TriggerKind)
        raise bad_request(f"unknown trigger {name!r}; known: {known}") from None


SEQ_PARAM = query(
    "after", {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}, "the last seq seen"
)
EXECUTION = json_answer(ref("Execution"), "the execution")
CONTROLS = {
    "cancel": "Cancel a queued, running, paused or waiting execution (its whole process group)",
    "pause": "Pause a running execution",
    "resume": "Resume a paused execution",
}

CANCELLABLE = (Status.QUEUED, Status.RUNNING, Status.PAUSED, Status.WAITING)
"""The statuses a bulk cancel acts on (all of them unless the body narrows it)."""
BULK_FIELDS = frozenset({"bot", "status"})

OPERATIONS = (
    Operation(
        "POST",
        "/executions/cancel",
        "cancelExecutions",
        "Cancel every execution of a bot and/or status (audited, each)",
        {
            "200": json_answer(ref("BulkCancel"), "what was asked to cancel, and what was not"),
            "400": E400,
            "401": E401,
            "404": E404,
        },
        description="Body: `bot` (a bot's name) and/or `status` (one status or a list of "
        "queued, running, paused, waiting; default all four). An empty body is refused: "
        "name a bot or a status.",
        request_body={
            "required": True,
            "content": {"application/json": {"schema": ref("BulkCancelRequest")}},
        },
    ),
    Operation(
        "GET",
        "/executions",
        "listExecutions",
        "Executions, newest first, a page at a time",
        {
            "200": json_answer(
                {"anyOf": [ref("ExecutionPage"), ref("SearchPage")]},
                "a page; with q, a SearchPage: each execution with its matching events",
            ),
            "400": E400,
            "401": E401,
        },
        description=(
            "With q: full-text search over the events' text. Every word must occur (case and"
            ' accents ignored), "quoted phrases" as phrases, a word ending in * as a prefix;'
            " nothing in q is query syntax beyond that. Executions most recently written first,"
            " each with up to three of its latest matching events as snippets."
        ),
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
            query(
                "trigger",
                {"type": "string", "enum": [t.value for t in TriggerKind]},
                "only executions of this trigger (a page may then hold fewer than limit and"
                " still go on from next_cursor: up to 5,000 executions are read a page)",
            ),
            query("q", {"type": "string", "maxLength": MAX_QUERY}, "full-text search words"),
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
        text = request.query_params.get("q")
        trigger = _trigger(request)
        if text is not None and text.strip():
            if len(text) > MAX_QUERY:
                raise bad_request(f"q is longer than {MAX_QUERY} characters")
            found = await search(text, bot, cursor, min(limit, SEARCH_LIMIT), request, trigger)
            return JSONResponse(found)
        if prefix:
            return JSONResponse(await with_prefix(prefix, bot, cursor, limit, request, trigger))
        items, next_cursor = await ag.list(
            bot=bot, status=_statuses(request), trigger=trigger, limit=limit, cursor=cursor
        )
        return JSONResponse(
            {"items": [execution_summary(e) for e in items], "next_cursor": next_cursor}
        )

    async def with_prefix(
        prefix: str,
        bot: str | None,
        cursor: str | None,
        limit: int,
        request: Request,
        trigger: TriggerKind | None,
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
            "items": [execution_summary(e) for e in found if trigger in (None, e.trigger)],
            "next_cursor": ids[limit - 1] if len(ids) > limit else None,
        }

    async def search(
        text: str,
        bot: str | None,
        cursor: str | None,
        limit: int,
        request: Request,
        trigger: TriggerKind | None,
    ) -> dict[str, object]:
        found, next_cursor = await ag.search(
            text, bot=bot, status=_statuses(request), limit=limit, cursor=cursor
        )
        terms = parse_query(text)
        return {
            "items": [
                {
                    "execution": execution_summary(execution),
                    "matches": [search_hit(event, terms) for event in events],
                }
                for execution, events in found
                if trigger in (None, execution.trigger)
            ],
            "next_cursor": next_cursor,
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

    async def cancel_many(request: Request) -> Response:
        body = await json_object(request, ctx.max_body_bytes)
        bot, statuses = bulk_filter(body)
        if bot is not None:
            ag.bot(bot)  # 404 for a bot that does not exist
        targets: list[str] = []
        cursor: str | None = None
        while True:
            items, cursor = await ag.list(bot=bot, status=statuses, limit=MAX_LIMIT, cursor=cursor)
            targets += [e.id for e in items]
            if cursor is None:
                break
        cancelled: list[str] = []
        failed: list[dict[str, str]] = []
        for execution_id in targets:
            try:
                execution = await ag.cancel(execution_id)
            except (ConflictError, NotFoundError) as exc:  # it ended in between
                failed.append({"id": execution_id, "error": str(exc)})
                continue
            await audit.record(ctx, request, "cancel", execution, bulk=True)
            cancelled.append(execution_id)
        return JSONResponse({"cancelled": cancelled, "failed": failed})

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
        Route("/executions/cancel", cancel_many, methods=["POST"], name="cancel_many"),
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


def bulk_filter(body: dict[str, object]) -> tuple[str | None, list[Status]]:
    """The bot and statuses of a bulk cancel's body; 400 for anything else."""
    unknown = sorted(set(body) - BULK_FIELDS)
    if unknown:
        raise bad_request(f"unknown field(s) {', '.join(unknown)}; expected: bot, status")
    bot = body.get("bot")
    if bot is not None and (not isinstance(bot, str) or not bot):
        raise bad_request("bot must be a bot's name")
    raw = body.get("status")
    if (raw is None or raw == []) and bot is None:
        raise bad_request("name a bot, a status or both: an empty filter would cancel everything")
    names = [raw] if isinstance(raw, str) else raw if raw is not None else []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise bad_request("status must be a status or a list of statuses")
    allowed = ", ".join(s.value for s in CANCELLABLE)
    statuses: list[Status] = []
    for name in names:
        try:
            status = Status(name)
        except ValueError:
            raise bad_request(f"unknown status {name!r}; a bulk cancel takes {allowed}") from None
        if status not in CANCELLABLE:
            raise bad_request(f"{name} executions have ended; a bulk cancel takes {allowed}")
        statuses.append(status)
    return (bot if isinstance(bot, str) else None), statuses or list(CANCELLABLE)
