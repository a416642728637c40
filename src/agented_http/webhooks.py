"""Webhooks: ``POST /webhooks/github``, its dry run, ``POST /webhooks/{source}``, deliveries.

A delivery is answered as soon as its runs are queued: they run in the background. Checks come
in DESIGN's order: a body over the limit gets 413 before anything else (it is not even read when
its ``Content-Length`` says so), then the signature (401 ``invalid_signature``), then the body's
format (415 / 400). The source name ``github`` is reserved for GitHub's own route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import audit
from .bodies import int_param, media_type, parse_payload, read_body
from .context import Context
from .errors import bad_request
from .operations import (
    E400,
    E401,
    E404,
    E413,
    E415,
    LIMIT,
    PUBLIC,
    Operation,
    Schema,
    error,
    header,
    json_answer,
    path_param,
    query,
    ref,
)
from .roles import ADMIN

MAX_DELIVERIES = 500
EVENT_NAME = "^[A-Za-z0-9_.-]+$"

_PAYLOAD_BODY: Schema = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {
                    "payload": {
                        "type": "string",
                        "description": "the payload as JSON text",
                        "contentMediaType": "application/json",
                        "contentSchema": {"type": "object"},
                    }
                },
                "required": ["payload"],
            },
        },
    },
}
_DELIVERED: dict[str, Schema] = {
    "200": json_answer(ref("DeliveryAnswer"), "nothing started: a duplicate, or a reason"),
    "202": json_answer(ref("DeliveryAnswer"), "runs started in the background"),
    "400": E400,
    "401": error("the signature is missing or does not match (invalid_signature)"),
    "413": E413,
    "415": E415,
}

OPERATIONS = (
    Operation(
        "POST",
        "/webhooks/github",
        "githubWebhook",
        "A GitHub delivery (signature-verified, no key)",
        _DELIVERED,
        security=PUBLIC,
        parameters=[
            header("X-GitHub-Event", "the event name"),
            header("X-GitHub-Delivery", "the delivery's GUID (deduplicated)"),
            header("X-Hub-Signature-256", "sha256= HMAC of the body"),
        ],
        request_body=_PAYLOAD_BODY,
    ),
    Operation(
        "POST",
        "/webhooks/github/dry-run",
        "githubDryRun",
        "Which bots a GitHub delivery would start, with their prompts",
        {
            "200": json_answer(ref("DryRun"), "what would happen"),
            "400": E400,
            "401": E401,
            "413": E413,
            "415": E415,
        },
        parameters=[header("X-GitHub-Event", "the event name", required=True, pattern=EVENT_NAME)],
        request_body=_PAYLOAD_BODY,
    ),
    Operation(
        "POST",
        "/webhooks/{source}",
        "webhook",
        "A delivery to a generic source ([webhooks.NAME])",
        {**_DELIVERED, "404": E404},
        security=PUBLIC,
        parameters=[path_param("source", "the source's name")],
        request_body=_PAYLOAD_BODY,
    ),
    Operation(
        "GET",
        "/deliveries",
        "listDeliveries",
        "Recent deliveries and what each started or why not",
        {"200": json_answer(ref("DeliveryList"), "newest first"), "400": E400, "401": E401},
        description="Each entry's stored `payload` is shown to admin keys only.",
        parameters=[query("limit", {**LIMIT, "maximum": MAX_DELIVERIES}, "how many")],
    ),
    Operation(
        "POST",
        "/deliveries/{id}/redeliver",
        "redeliverDelivery",
        "Match a stored delivery's payload again, as a new delivery (audited)",
        {
            "200": json_answer(ref("DeliveryAnswer"), "nothing started, and why"),
            "202": json_answer(ref("DeliveryAnswer"), "runs started in the background"),
            "401": E401,
            "404": E404,
        },
        description="The new delivery gets a fresh id (`delivery` in the answer) and its log "
        "entry names the one it repeats (`redelivery_of`); the bots are matched as configured "
        "now. Only the newest 500 deliveries can be redelivered.",
        parameters=[path_param("id", "the delivery's id (X-GitHub-Delivery, or the source's)")],
    ),
)
"""The webhook and delivery routes in the OpenAPI document."""


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


class _DryRun(Protocol):
    @property
    def matches(self) -> Sequence[Mapping[str, str]]: ...
    @property
    def skipped(self) -> Sequence[Mapping[str, str]]: ...


def _outcome(result: _Delivered) -> str:
    if result.execution_ids:
        return "started"
    return "duplicate" if result.duplicate else "ignored"


def delivery_data(result: _Delivered) -> dict[str, Any]:
    """A delivery's answer (``DeliveryAnswer``): what it started, or why nothing."""
    return {
        "execution_ids": list(result.execution_ids),
        "delivery": result.delivery_id,
        "duplicate": result.duplicate,
        "reason": result.reason,
        "skipped": [dict(s) for s in result.skipped],
    }


def dry_run_data(event: str, result: _DryRun) -> dict[str, Any]:
    """A dry run's answer (``DryRun``): the bots it would start, with their prompts, and why
    the others would not."""
    return {"event": event, "matches": result.matches, "skipped": result.skipped}


def _answer(result: _Delivered) -> Response:
    return JSONResponse(delivery_data(result), status_code=202 if result.execution_ids else 200)


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
        files = await ag.deliveries.changed_files_of(event, payload)
        result = ag.deliveries.dry_run_github(event, payload, changed_files=files)
        return JSONResponse(dry_run_data(event, result))

    async def generic(request: Request) -> Response:
        source = request.path_params["source"]
        body = await read_body(request, ctx.max_body_bytes)
        return await counted(source, ag.deliveries.generic(source, body, request.headers))

    async def deliveries(request: Request) -> Response:
        limit = int_param(request, "limit", 50, minimum=1, maximum=MAX_DELIVERIES)
        items = await ag.recent_deliveries(limit)
        shown = (
            items if audit.principal(request).role == ADMIN else [without_payload(i) for i in items]
        )
        return JSONResponse({"items": shown})

    async def redeliver(request: Request) -> Response:
        source_id = request.path_params["id"]
        result = await ag.deliveries.redeliver(source_id)
        for execution_id in result.execution_ids:
            execution = await ag.get(execution_id)
            await audit.record(ctx, request, "redeliver", execution, redelivery_of=source_id)
        if ctx.metrics is not None:
            ctx.metrics.delivery(result.source, _outcome(result))
        answer = delivery_data(result)
        answer["redelivery_of"] = source_id
        return JSONResponse(answer, status_code=202 if result.execution_ids else 200)

    return [
        Route("/webhooks/github/dry-run", dry_run, methods=["POST"], name="github_dry_run"),
        Route("/webhooks/github", github, methods=["POST"], name="github_webhook"),
        Route("/webhooks/{source}", generic, methods=["POST"], name="webhook"),
        Route("/deliveries", deliveries, methods=["GET"], name="deliveries"),
        Route("/deliveries/{id}/redeliver", redeliver, methods=["POST"], name="redeliver"),
    ]


def without_payload(entry: dict[str, Any]) -> dict[str, Any]:
    """A delivery-log entry as a non-admin key sees it: without the stored payload."""
    return {k: v for k, v in entry.items() if k != "payload"}
