"""The OpenAPI part of the operator routes (whoami, audit, metrics) and each route's role.

:func:`with_roles` marks every operation with ``x-agented-role`` (from
:data:`agented_http.roles.ROUTES`) and, where a key is needed, its 403 ``forbidden`` answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .roles import ANY_KEY, PUBLIC, ROLES, ROUTES

Schema = dict[str, Any]

_STRING: Schema = {"type": "string"}
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}  # fmt: skip


_E = _ref("Error")
_LIMIT = _query(
    "limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "page size"
)
# at most 18 digits: always an id the store can hold (the route refuses more)
_CURSOR = _query("cursor", {"type": "string", "pattern": "^[0-9]{1,18}$"}, "next_cursor of a page")


def components() -> dict[str, Schema]:
    """The schemas of the operator routes."""
    return {
        "WhoAmI": {
            "type": "object",
            "properties": {
                "role": {"type": "string", "enum": list(ROLES)},
                "key_id": {"type": "string", "description": "the key's id (never the key)"},
                "routes": {
                    "type": "array",
                    "items": _STRING,
                    "description": "METHOD PATH of every route the key may use",
                },
            },
            "required": ["role", "key_id", "routes"],
        },
        "AuditEntry": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "actor": {"type": "string", "description": "the key's id, or dev"},
                "role": {"type": "string"},
                "action": {"type": "string"},
                "execution_id": _NULLABLE_STRING,
                "bot": _NULLABLE_STRING,
                "rerun_of": {"type": "string", "description": "on a rerun: the source execution"},
            },
            "required": ["id", "at", "actor", "action", "execution_id"],
        },
        "AuditPage": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _ref("AuditEntry")},
                "next_cursor": _NULLABLE_STRING,
            },
            "required": ["items", "next_cursor"],
        },
    }


def paths() -> dict[str, Schema]:
    """The operator routes, by path and method."""
    unauthorized = _json(_E, "no valid API key")
    audit = _json(_ref("AuditPage"), "newest first")
    return {
        "/whoami": {
            "get": {
                "operationId": "whoami",
                "summary": "The role and id of the request's key",
                "responses": {"200": _json(_ref("WhoAmI"), "the key"), "401": unauthorized},
            }
        },
        "/audit": {
            "get": {
                "operationId": "listAudit",
                "summary": "Who ran, cancelled, paused, resumed or reran what, and when",
                "parameters": [
                    _query("execution", _STRING, "only this execution's entries"),
                    _LIMIT,
                    _CURSOR,
                ],
                "responses": {
                    "200": audit,
                    "400": _json(_E, "a bad parameter"),
                    "401": unauthorized,
                },
            }
        },
        "/executions/{id}/audit": {
            "get": {
                "operationId": "executionAudit",
                "summary": "The audit entries of one execution",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": _STRING,
                        "description": "the execution's id",
                    },
                    _LIMIT,
                    _CURSOR,
                ],
                "responses": {
                    "200": audit,
                    "400": _json(_E, "a bad parameter"),
                    "401": unauthorized,
                    "404": _json(_E, "no such execution"),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text exposition format, names agented_...)",
                "responses": {
                    "200": {
                        "description": "the metrics",
                        "content": {"text/plain": {"schema": _STRING}},
                    },
                    "401": unauthorized,
                },
            }
        },
    }


def with_roles(paths: Mapping[str, Schema], roles: Mapping[tuple[str, str], str] = ROUTES) -> None:
    """Mark each operation of ``paths`` with the role it needs, and its 403 answer (in place)."""
    forbidden = _json(_E, "the key's role may not use this route (forbidden; names the role)")
    for path, operations in paths.items():
        for method, operation in operations.items():
            role = roles.get((method.upper(), path), PUBLIC)
            operation["x-agented-role"] = role
            if role not in (PUBLIC, ANY_KEY):
                operation.setdefault("responses", {})["403"] = forbidden
