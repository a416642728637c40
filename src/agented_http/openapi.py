"""``GET /openapi.json``: the OpenAPI 3.1 schema of every route.

The paths come from the ``OPERATIONS`` each route module declares beside its routes
(:func:`operations`; :func:`agented_http.create_app` checks that they match the routes), each
marked with its role (:data:`agented_http.roles.ROUTES`). The shapes of executions, events and
bots are made by :mod:`agented_http.wire` from the converter's rules, so what ``to_data`` writes
is what the schema says; the answers that are no model are written out here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agented_core import Bot, Event, Execution, __version__

from . import ops_schema
from .context import Context
from .operations import E401, NULLABLE_STRING, STRING, Operation, paths, ref
from .shapes import LINK, SUMMARY_OMITS
from .wire import WireSchemas

Schema = dict[str, Any]

ERROR_CODES = [
    "unauthorized",
    "forbidden",
    "not_found",
    "bad_request",
    "invalid_signature",
    "payload_too_large",
    "unsupported_media_type",
    "conflict",
    "internal",
]


def _obj(properties: Mapping[str, Schema], required: Sequence[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties if required is None else required),
        "additionalProperties": False,
    }


def components() -> dict[str, Schema]:
    """Every schema the routes refer to."""
    models = WireSchemas()
    models.of(Execution)
    models.of(Event)
    models.of(Bot)
    schemas = models.schemas
    execution = schemas["Execution"]
    summary_link = {
        "type": ["object", "null"],
        "description": "the PR or issue that started it",
        "properties": {"label": STRING, "url": STRING},
        "required": ["label", "url"],
    }
    schemas["ExecutionSummary"] = {
        **execution,
        "properties": {
            **{k: v for k, v in execution["properties"].items() if k not in SUMMARY_OMITS},
            LINK: summary_link,
        },
        "required": [k for k in execution["required"] if k not in SUMMARY_OMITS],
        "description": "An execution without its trigger context.",
    }
    bot = schemas["Bot"]
    bot["properties"]["params"] = {
        "type": "array",
        "items": ref("Param"),
        "description": "every parameter the bot's manual triggers declare",
    }
    bot["properties"]["next_fire"] = {"type": ["string", "null"], "format": "date-time"}
    bot["properties"]["spend"] = {
        "anyOf": [ref("Spend"), {"type": "null"}],
        "description": "spend against the bot's caps (GET /bots and GET /bots/{name})",
    }
    bot["required"] = [*bot["required"], "params", "next_fire"]
    schemas["Param"]["properties"]["default"] = {
        "description": "a value of the parameter's type; null when it has no default",
    }
    bot_pair = _obj({"bot": STRING, "reason": STRING})
    schemas.update(
        {
            "Error": _obj({"error": {"type": "string", "enum": ERROR_CODES}, "message": STRING}),
            "ExecutionPage": _obj(
                {
                    "items": {"type": "array", "items": ref("ExecutionSummary")},
                    "next_cursor": NULLABLE_STRING,
                }
            ),
            "SearchHit": _obj(
                {
                    "seq": {"type": "integer"},
                    "kind": STRING,
                    "time": {"type": "string", "format": "date-time"},
                    "snippet": {
                        "type": "string",
                        "description": "the event's text around its first match (… marks a cut)",
                    },
                    "highlights": {
                        "type": "array",
                        "items": {
                            "type": "array",
                            "items": {"type": "integer"},
                            "minItems": 2,
                            "maxItems": 2,
                        },
                        "description": "[start, end) of each matched word in the snippet",
                    },
                }
            ),
            "SearchPage": _obj(
                {
                    "items": {
                        "type": "array",
                        "items": _obj(
                            {
                                "execution": ref("ExecutionSummary"),
                                "matches": {"type": "array", "items": ref("SearchHit")},
                            }
                        ),
                    },
                    "next_cursor": NULLABLE_STRING,
                }
            ),
            "BotList": _obj({"items": {"type": "array", "items": ref("Bot")}}),
            "RunRequest": {
                "type": "object",
                "properties": {
                    "params": {
                        "type": "object",
                        "description": (
                            "values of the parameters the bot's manual triggers declare, each "
                            "of its type (Bot.params); an unknown name, a missing required "
                            "parameter or a wrong type is a 400 naming it"
                        ),
                        "additionalProperties": True,
                    }
                },
                "additionalProperties": False,
            },
            "Accepted": _obj(
                {"execution_id": STRING, "url": STRING, "events_url": STRING},
            ),
            "StreamToken": _obj(
                {
                    "token": STRING,
                    "expires_at": {"type": "string", "format": "date-time"},
                    "url": STRING,
                }
            ),
            "DeliveryAnswer": _obj(
                {
                    "execution_ids": {"type": "array", "items": STRING},
                    "delivery": NULLABLE_STRING,
                    "duplicate": {"type": "boolean"},
                    "reason": NULLABLE_STRING,
                    "skipped": {"type": "array", "items": bot_pair},
                    "redelivery_of": {
                        "type": "string",
                        "description": "on a redelivery: the delivery it repeats",
                    },
                },
                required=["execution_ids", "delivery", "duplicate", "reason", "skipped"],
            ),
            "DryRun": _obj(
                {
                    "event": STRING,
                    "matches": {
                        "type": "array",
                        "items": _obj({"bot": STRING, "prompt": STRING}),
                    },
                    "skipped": {"type": "array", "items": bot_pair},
                }
            ),
            "DeliveryList": _obj(
                {"items": {"type": "array", "items": {"type": "object"}}},
            ),
            "Health": _obj({"status": {"type": "string", "enum": ["ok"]}}),
            "Ready": _obj(
                {
                    "status": {"type": "string", "enum": ["ready", "unavailable"]},
                    "checks": {"type": "object", "additionalProperties": STRING},
                    "streams": {"type": "integer"},
                    "channels": {"type": "integer"},
                    "version": STRING,
                    "providers": {
                        "type": "object",
                        "description": "each provider's CLI (null: it runs none)",
                        "additionalProperties": {
                            "oneOf": [
                                {"type": "null"},
                                _obj(
                                    {
                                        "executable": STRING,
                                        "path": NULLABLE_STRING,
                                        "version": NULLABLE_STRING,
                                        "supported": {
                                            "type": ["array", "null"],
                                            "items": STRING,
                                        },
                                        "problem": NULLABLE_STRING,
                                    }
                                ),
                            ]
                        },
                    },
                    "warnings": {
                        "type": "array",
                        "description": "readiness warnings of the configuration",
                        "items": _obj(
                            {
                                "bot": NULLABLE_STRING,
                                "field": NULLABLE_STRING,
                                "message": STRING,
                            }
                        ),
                    },
                },
                required=["status"],
            ),
        }
    )
    return schemas


OPERATIONS = (
    Operation(
        "GET",
        "/openapi.json",
        "openapi",
        "This schema",
        {"200": {"description": "the schema", "content": {"application/json": {}}}, "401": E401},
    ),
)
"""The schema route in the OpenAPI document."""


def operations() -> tuple[Operation, ...]:
    """Every route's operation, as the route modules declare them beside their routes."""
    # imported when called: app.py imports this module before the route modules are needed,
    # and metrics (prometheus_client) only when an app or the schema is made
    from . import (
        accounts,
        audit,
        bots,
        executions,
        health,
        metrics,
        reload,
        sse,
        ui,
        webhooks,
        whoami,
    )

    return (
        *health.OPERATIONS,
        *bots.OPERATIONS,
        *executions.OPERATIONS,
        *sse.OPERATIONS,
        *webhooks.OPERATIONS,
        *OPERATIONS,
        *whoami.OPERATIONS,
        *audit.OPERATIONS,
        *accounts.OPERATIONS,
        *reload.OPERATIONS,
        *metrics.OPERATIONS,
        *ui.OPERATIONS,
    )


def reload_components() -> Schema:
    """The schemas of ``POST /config/reload``'s answers."""
    from . import reload

    return reload.components()


def document(title: str, server_url: str) -> Schema:
    """The whole OpenAPI document, served under ``server_url``."""
    every_path = paths(operations())
    ops_schema.with_roles(every_path)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": __version__,
            "description": "Run AI coding agents as bots: REST, webhooks and SSE.",
        },
        "servers": [{"url": server_url or "/"}],
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "paths": every_path,
        "components": {
            "schemas": {**components(), **ops_schema.components(), **reload_components()},
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
                "StreamToken": {"type": "apiKey", "in": "query", "name": "token"},
            },
        },
    }


def routes(ctx: Context) -> list[Route]:
    """The schema route."""
    cache: dict[str, Schema] = {}

    async def openapi(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        if root not in cache:
            cache[root] = document(ctx.settings.title, root)
        return JSONResponse(cache[root])

    return [Route("/openapi.json", openapi, methods=["GET"], name="openapi")]
