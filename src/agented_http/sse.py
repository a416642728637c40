"""``GET /executions/{id}/events``: an execution's events over Server-Sent Events.

Each event is one frame: ``id:`` its seq, ``event:`` its kind, ``data:`` the event as JSON. A
client resumes exactly where it stopped with ``Last-Event-ID`` (browsers send it on their own when
they reconnect) or ``?after=SEQ``; when the events it asks for were pruned, a ``resync`` event
``{"first_available_seq": N}`` comes first. Comments keep idle connections open. The stream ends
after the terminal ``status`` event (a ``waiting`` execution keeps it open); asking again for a
finished stream with nothing left answers 204, which tells an ``EventSource`` to stop
reconnecting. A client that goes away frees its subscription at once.

Every client of an execution shares one follower and the same encoded frames
(:mod:`agented_http.fanout`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from agented_core import Event, EventKind

from .bodies import MAX_SEQ, int_param
from .context import Context
from .errors import bad_request
from .executions import SEQ_PARAM
from .fanout import close
from .operations import (
    E400,
    E401,
    E404,
    EXECUTION_ID,
    STRING,
    TOKEN_OR_KEY,
    Operation,
    header,
    query,
)
from .shapes import event_data

log = logging.getLogger("agented.http")


def _field(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def encode(event: Event) -> bytes:
    """One SSE frame for ``event``."""
    data = json.dumps(event_data(event), ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.seq}\nevent: {_field(event.kind)}\ndata: {data}\n\n".encode()


def resync(first_seq: int) -> bytes:
    """The ``resync`` frame: the events before ``first_seq`` are gone."""
    data = json.dumps({"first_available_seq": first_seq})
    return f"id: {first_seq - 1}\nevent: {EventKind.RESYNC}\ndata: {data}\n\n".encode()


def resume_point(request: Request) -> int:
    """The seq the client has: ``Last-Event-ID`` wins over ``?after=``."""
    header = request.headers.get("last-event-id")
    if header is not None and header.strip():
        try:
            value = int(header.strip())
        except ValueError:
            raise bad_request(f"Last-Event-ID must be an event seq, got {header!r}") from None
        if not 0 <= value <= MAX_SEQ:
            raise bad_request(f"Last-Event-ID must be an event seq (0 to {MAX_SEQ}), got {value}")
        return value
    return int_param(request, "after", 0, maximum=MAX_SEQ)


class _Response(EventSourceResponse):
    """An SSE response that ends quietly when a client stops reading for too long."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            log.info("an SSE client stopped reading; its stream was closed")


def _ping() -> ServerSentEvent:
    return ServerSentEvent(comment="ping", sep="\n")


OPERATIONS = (
    Operation(
        "GET",
        "/executions/{id}/events",
        "streamEvents",
        "The execution's events over Server-Sent Events",
        {
            "200": {
                "description": "the event stream",
                "content": {"text/event-stream": {"schema": STRING}},
            },
            "204": {"description": "the execution has ended and nothing is left"},
            "400": E400,
            "401": E401,
            "404": E404,
        },
        description="Frames: `id:` seq, `event:` kind, `data:` the event as JSON. "
        "Resume with Last-Event-ID or ?after=; a `resync` event comes first when the "
        "events asked for were pruned. Ends after the terminal status; 204 when a "
        "finished stream has nothing left.",
        security=TOKEN_OR_KEY,
        parameters=[
            EXECUTION_ID,
            SEQ_PARAM,
            query("token", STRING, "a stream token (instead of an API key)"),
            {
                **header("Last-Event-ID", "the last seq seen (wins over ?after=)"),
                # at most 18 digits: always within MAX_SEQ (the route refuses more)
                "schema": {"type": "string", "pattern": "^[0-9]{0,18}$"},
            },
        ],
    ),
)
"""The SSE route in the OpenAPI document."""


def routes(ctx: Context) -> list[Route]:
    """The SSE route."""
    ag = ctx.agented

    async def events(request: Request) -> Response:
        execution_id = request.path_params["id"]
        after = resume_point(request)
        execution = await ag.get(execution_id)
        if execution.status.terminal and 0 < execution.last_seq <= after:
            return Response(status_code=204)
        first = await ag.first_seq(execution_id)

        async def stream() -> AsyncIterator[bytes]:
            ctx.streams += 1
            followed = ctx.fanout.follow(execution_id, after)
            try:
                yield f"retry: {ctx.settings.retry_ms}\n\n".encode()
                if first > after + 1:
                    yield resync(first)
                async for chunk in followed:
                    yield chunk
            finally:
                ctx.streams -= 1
                await close(followed)

        return _Response(
            stream(),
            ping=ctx.settings.heartbeat,
            sep="\n",
            ping_message_factory=_ping,
            send_timeout=ctx.settings.send_timeout,
        )

    return [Route("/executions/{id}/events", events, methods=["GET"], name="events")]
