"""Webhooks: ``POST /webhooks/github``, its dry run, ``POST /webhooks/{source}``, deliveries.

A delivery is answered as soon as its runs are queued: they run in the background. Checks come
in DESIGN's order: a body over the limit gets 413 before anything else (it is not even read when
its ``Content-Length`` says so), then the signature (401 ``invalid_signature``), then the body's
format (415 / 400). The source name ``github`` is reserved for GitHub's own route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .bodies import int_param, media_type, parse_payload, read_body
from .context import Context
from .errors import bad_request

MAX_DELIVERIES = 500


class _Delivered(Protocol):
    @property
    def delivery_id(self) -> str | None: ...
    @property
    def execution_ids(self) -> Sequence[str]: ...
    @property
    def duplicate(self) -> bool: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def skipped(self) -> Sequence[Mapping[str, str]]: ...


def _outcome(result: _Delivered) -> str:
    if result.execution_ids:
        return "started"
    return "duplicate" if result.duplicate else "ignored"


def _answer(result: _Delivered) -> Response:
    body = {
        "execution_ids": list(result.execution_ids),
        "delivery": result.delivery_id,
        "duplicate": result.duplicate,
        "reason": result.reason,
        "skipped": [dict(s) for s in result.skipped],
    }
    return JSONResponse(body, status_code=202 if result.execution_ids else 200)


def routes(ctx: Context) -> list[Route]:
    """The webhook and delivery routes."""
    ag = ctx.agented

    async def counted(source: str, deliver: Awaitable[_Delivered]) -> Response:
        try:
            result = await deliver
        except Exception:
            if ctx.metrics is not None:
                ctx.metrics.delivery(source, "rejected")
            raise
        if ctx.metrics is not None:
            ctx.metrics.delivery(source, _outcome(result))
        return _answer(result)

    async def github(request: Request) -> Response:
        body = await read_body(request, ctx.max_body_bytes)
        return await counted("github", ag.deliveries.github(body, request.headers))

    async def dry_run(request: Request) -> Response:
        body = await read_body(request, ctx.max_body_bytes)
        event = request.headers.get("x-github-event", "").strip()
        if not event:
            raise bad_request("a dry run needs the X-GitHub-Event header")
        payload = parse_payload(body, media_type(request))
        if not isinstance(payload, dict):
            raise bad_request("the payload must be a JSON object")
        result = ag.deliveries.dry_run_github(event, payload)
        return JSONResponse({"event": event, "matches": result.matches, "skipped": result.skipped})

    async def generic(request: Request) -> Response:
        source = request.path_params["source"]
        body = await read_body(request, ctx.max_body_bytes)
        return await counted(source, ag.deliveries.generic(source, body, request.headers))

    async def deliveries(request: Request) -> Response:
        limit = int_param(request, "limit", 50, minimum=1, maximum=MAX_DELIVERIES)
        return JSONResponse({"items": await ag.recent_deliveries(limit)})

    return [
        Route("/webhooks/github/dry-run", dry_run, methods=["POST"], name="github_dry_run"),
        Route("/webhooks/github", github, methods=["POST"], name="github_webhook"),
        Route("/webhooks/{source}", generic, methods=["POST"], name="webhook"),
        Route("/deliveries", deliveries, methods=["GET"], name="deliveries"),
    ]
