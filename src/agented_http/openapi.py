"""``GET /openapi.json``: the OpenAPI 3.1 schema of every route.

The shapes of executions, events and bots are derived from the core's attrs models, so the schema
follows the models as they grow; the rest is written out here, next to nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agented_core import Bot, Event, Execution, Status, __version__

from . import ops_schema
from .bodies import MAX_SEQ
from .context import Context
from .shapes import SUMMARY_OMITS
from .wire import WireSchemas, ref

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


_ref = ref


def _obj(properties: Mapping[str, Schema], required: Sequence[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties if required is None else required),
        "additionalProperties": False,
    }


STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}


def components() -> dict[str, Schema]:
    """Every schema the routes refer to."""
    models = WireSchemas()
    models.of(Execution)
    models.of(Event)
    models.of(Bot)
    schemas = models.schemas
    execution = schemas["Execution"]
    schemas["ExecutionSummary"] = {
        **execution,
        "properties": {k: v for k, v in execution["properties"].items() if k not in SUMMARY_OMITS},
        "required": [k for k in execution["required"] if k not in SUMMARY_OMITS],
        "description": "An execution without its trigger context.",
    }
    bot = schemas["Bot"]
    bot["properties"]["params"] = {
        "type": "array",
        "items": _ref("Param"),
        "description": "every parameter the bot's manual triggers declare",
    }
    bot["properties"]["next_fire"] = {"type": ["string", "null"], "format": "date-time"}
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
                    "items": {"type": "array", "items": _ref("ExecutionSummary")},
                    "next_cursor": NULLABLE_STRING,
                }
            ),
            "BotList": _obj({"items": {"type": "array", "items": _ref("Bot")}}),
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
                }
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


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> Schema:
    return _json(_ref("Error"), description)


E400 = _error("bad request: a parameter or the body is not valid")
E401 = _error("no valid API key")
E404 = _error("no such object")
E409 = _error("not possible in the object's current state")
E413 = _error("the body is over the size limit")
E415 = _error("the body's content type is not accepted")


def _path_param(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": STRING,
    }


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}  # fmt: skip


def _header(
    name: str, description: str, required: bool = False, pattern: str | None = None
) -> Schema:
    schema = {"type": "string", "pattern": pattern} if pattern else STRING
    return {"name": name, "in": "header", "required": required, "description": description,
            "schema": schema}  # fmt: skip


EVENT_NAME = "^[A-Za-z0-9_.-]+$"
SEQ: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}


EXECUTION_ID = _path_param("id", "the execution's id")
BOT_NAME = _path_param("name", "the bot's name")
PUBLIC: list[Any] = []
TOKEN_OR_KEY: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}, {"StreamToken": []}]


def _webhook_body() -> Schema:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/x-www-form-urlencoded": {
                "schema": _obj(
                    {
                        "payload": {
                            "type": "string",
                            "description": "the payload as JSON text",
                            "contentMediaType": "application/json",
                            "contentSchema": {"type": "object"},
                        }
                    }
                ),
            },
        },
    }


def paths() -> dict[str, Schema]:
    """Every route, by path and method."""
    execution = _json(_ref("Execution"), "the execution")
    accepted = _json(_ref("Accepted"), "queued: the new execution's id and URL")
    control = {
        "cancel": "Cancel a queued, running, paused or waiting execution (its whole process group)",
        "pause": "Pause a running execution",
        "resume": "Resume a paused execution",
    }
    delivery = {
        "200": _json(_ref("DeliveryAnswer"), "nothing started: a duplicate, or a reason"),
        "202": _json(_ref("DeliveryAnswer"), "runs started in the background"),
        "400": E400,
        "401": _error("the signature is missing or does not match (invalid_signature)"),
        "413": E413,
        "415": E415,
    }
    out: dict[str, Schema] = {
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness",
                "security": PUBLIC,
                "responses": {"200": _json(_ref("Health"), "alive"), "401": E401},
            }
        },
        "/health/ready": {
            "get": {
                "operationId": "ready",
                "summary": "Readiness: the store answers (details with a key)",
                "security": PUBLIC,
                "responses": {
                    "200": _json(_ref("Ready"), "ready"),
                    "401": E401,
                    "503": _json(_ref("Ready"), "not ready"),
                },
            }
        },
        "/bots": {
            "get": {
                "operationId": "listBots",
                "summary": "Bots with their triggers and next scheduled fire",
                "responses": {"200": _json(_ref("BotList"), "the bots"), "401": E401},
            }
        },
        "/bots/{name}": {
            "get": {
                "operationId": "getBot",
                "summary": "One bot",
                "parameters": [BOT_NAME],
                "responses": {"200": _json(_ref("Bot"), "the bot"), "401": E401, "404": E404},
            }
        },
        "/bots/{name}/runs": {
            "post": {
                "operationId": "runBot",
                "summary": "Queue a run of a bot",
                "parameters": [BOT_NAME],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("RunRequest")}},
                },
                "responses": {
                    "202": accepted,
                    "400": E400,
                    "401": E401,
                    "404": E404,
                    "409": _error("agented is shutting down"),
                    "413": E413,
                    "415": E415,
                },
            }
        },
        "/executions": {
            "get": {
                "operationId": "listExecutions",
                "summary": "Executions, newest first, a page at a time",
                "parameters": [
                    _query("bot", STRING, "only this bot's"),
                    {
                        **_query(
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
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                        "page size",
                    ),
                    _query("cursor", STRING, "next_cursor of the previous page"),
                    _query(
                        "prefix",
                        STRING,
                        "only executions whose id starts with this (case-sensitive)",
                    ),
                ],
                "responses": {
                    "200": _json(_ref("ExecutionPage"), "a page"),
                    "400": E400,
                    "401": E401,
                },
            }
        },
        "/executions/{id}": {
            "get": {
                "operationId": "getExecution",
                "summary": "One execution",
                "parameters": [EXECUTION_ID],
                "responses": {"200": execution, "401": E401, "404": E404},
            }
        },
        "/executions/{id}/rerun": {
            "post": {
                "operationId": "rerunExecution",
                "summary": "A new execution of the same bot, params and trigger context",
                "parameters": [EXECUTION_ID],
                "responses": {
                    "202": accepted,
                    "400": E400,
                    "401": E401,
                    "404": E404,
                    "409": E409,
                },
            }
        },
        "/executions/{id}/events": {
            "get": {
                "operationId": "streamEvents",
                "summary": "The execution's events over Server-Sent Events",
                "description": "Frames: `id:` seq, `event:` kind, `data:` the event as JSON. "
                "Resume with Last-Event-ID or ?after=; a `resync` event comes first when the "
                "events asked for were pruned. Ends after the terminal status; 204 when a "
                "finished stream has nothing left.",
                "security": TOKEN_OR_KEY,
                "parameters": [
                    EXECUTION_ID,
                    _query("after", SEQ, "the last seq seen"),
                    _query("token", STRING, "a stream token (instead of an API key)"),
                    {
                        **_header("Last-Event-ID", "the last seq seen (wins over ?after=)"),
                        # at most 18 digits: always within MAX_SEQ (the route refuses more)
                        "schema": {"type": "string", "pattern": "^[0-9]{0,18}$"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the event stream",
                        "content": {"text/event-stream": {"schema": STRING}},
                    },
                    "204": {"description": "the execution has ended and nothing is left"},
                    "400": E400,
                    "401": E401,
                    "404": E404,
                },
            }
        },
        "/executions/{id}/events.ndjson": {
            "get": {
                "operationId": "eventsNdjson",
                "summary": "The execution's events as NDJSON",
                "description": "The events stored so far; with follow=true, until it ends.",
                "parameters": [
                    EXECUTION_ID,
                    _query("after", SEQ, "the last seq seen"),
                    _query("follow", {"type": "boolean"}, "stream until the execution ends"),
                ],
                "responses": {
                    "200": {
                        "description": "one event (JSON) a line",
                        "content": {"application/x-ndjson": {"schema": STRING}},
                    },
                    "400": E400,
                    "401": E401,
                    "404": E404,
                },
            }
        },
        "/executions/{id}/stream-token": {
            "post": {
                "operationId": "streamToken",
                "summary": "A short-lived token for this execution's SSE stream (?token=)",
                "parameters": [EXECUTION_ID],
                "responses": {
                    "200": _json(_ref("StreamToken"), "the token"),
                    "401": E401,
                    "404": E404,
                },
            }
        },
        "/webhooks/github": {
            "post": {
                "operationId": "githubWebhook",
                "summary": "A GitHub delivery (signature-verified, no key)",
                "security": PUBLIC,
                "parameters": [
                    _header("X-GitHub-Event", "the event name"),
                    _header("X-GitHub-Delivery", "the delivery's GUID (deduplicated)"),
                    _header("X-Hub-Signature-256", "sha256= HMAC of the body"),
                ],
                "requestBody": _webhook_body(),
                "responses": delivery,
            }
        },
        "/webhooks/github/dry-run": {
            "post": {
                "operationId": "githubDryRun",
                "summary": "Which bots a GitHub delivery would start, with their prompts",
                "parameters": [
                    _header("X-GitHub-Event", "the event name", required=True, pattern=EVENT_NAME)
                ],
                "requestBody": _webhook_body(),
                "responses": {
                    "200": _json(_ref("DryRun"), "what would happen"),
                    "400": E400,
                    "401": E401,
                    "413": E413,
                    "415": E415,
                },
            }
        },
        "/webhooks/{source}": {
            "post": {
                "operationId": "webhook",
                "summary": "A delivery to a generic source ([webhooks.NAME])",
                "security": PUBLIC,
                "parameters": [_path_param("source", "the source's name")],
                "requestBody": _webhook_body(),
                "responses": {**delivery, "404": E404},
            }
        },
        "/deliveries": {
            "get": {
                "operationId": "listDeliveries",
                "summary": "Recent deliveries and what each started or why not",
                "parameters": [
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                        "how many",
                    )
                ],
                "responses": {
                    "200": _json(_ref("DeliveryList"), "newest first"),
                    "400": E400,
                    "401": E401,
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This schema",
                "responses": {
                    "200": {"description": "the schema", "content": {"application/json": {}}},
                    "401": E401,
                },
            }
        },
    }
    for action, summary in control.items():
        out[f"/executions/{{id}}/{action}"] = {
            "post": {
                "operationId": f"{action}Execution",
                "summary": summary,
                "parameters": [EXECUTION_ID],
                "responses": {"200": execution, "401": E401, "404": E404, "409": E409},
            }
        }
    return out


def document(title: str, server_url: str) -> Schema:
    """The whole OpenAPI document, served under ``server_url``."""
    every_path = {**paths(), **ops_schema.paths()}
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
            "schemas": {**components(), **ops_schema.components()},
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
