"""The OpenAPI components of the operator routes (whoami, audit, accounts, bulk cancel) and each
route's role.

:func:`with_roles` marks every operation with ``x-agented-role`` (from
:data:`agented_http.roles.ROUTES`) and, where a key is needed, its 403 ``forbidden`` answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .operations import error
from .roles import ANY_KEY, PUBLIC, ROLES, ROUTES

Schema = dict[str, Any]

_STRING: Schema = {"type": "string"}
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}
_NULLABLE_NUMBER: Schema = {"type": ["number", "null"]}
_CANCELLABLE = ["queued", "running", "paused", "waiting"]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


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
        "Cooldown": {
            "type": ["object", "null"],
            "properties": {"until": {"type": "string", "format": "date-time"}, "reason": _STRING},
            "required": ["until", "reason"],
        },
        "Breaker": {
            "type": "object",
            "properties": {
                "provider": _STRING,
                "state": {"type": "string", "enum": ["open", "closed"]},
                "failures": {"type": "integer", "description": "transient failures counted"},
                "until": _NULLABLE_STRING,
                "reason": _NULLABLE_STRING,
            },
            "required": ["provider", "state", "failures", "until", "reason"],
        },
        "Account": {
            "type": "object",
            "properties": {
                "name": _STRING,
                "provider": _STRING,
                "cooling": {"type": "boolean"},
                "cooldown": _ref("Cooldown"),
                "breaker": _ref("Breaker"),
                "spend": _nullable(_ref("Spend")),
                "headroom": _nullable(_ref("Headroom")),
            },
            "required": ["name", "provider", "cooling", "cooldown", "breaker", "spend", "headroom"],
        },
        "Spend": {
            "type": "object",
            "description": "spend today and this month (configured timezone) against the caps",
            "properties": {
                "day_usd": {"type": "number"},
                "month_usd": {"type": "number"},
                "max_cost_usd_per_day": _NULLABLE_NUMBER,
                "max_cost_usd_per_month": _NULLABLE_NUMBER,
                "over": {"type": "boolean", "description": "a cap is reached: runs are skipped"},
            },
            "required": [
                "day_usd",
                "month_usd",
                "max_cost_usd_per_day",
                "max_cost_usd_per_month",
                "over",
            ],
            "additionalProperties": False,
        },
        "Headroom": {
            "type": "object",
            "description": "the account's usage window as its CLI last reported it",
            "properties": {
                "window": _NULLABLE_STRING,
                "status": _NULLABLE_STRING,
                "utilization": _NULLABLE_NUMBER,
                "resets_at": _NULLABLE_STRING,
                "observed_at": _NULLABLE_STRING,
                "low": {"type": "boolean", "description": "about to be cut off"},
            },
            "required": ["window", "status", "utilization", "resets_at", "observed_at", "low"],
            "additionalProperties": False,
        },
        "AccountList": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _ref("Account")},
                "breakers": {"type": "array", "items": _ref("Breaker")},
            },
            "required": ["items", "breakers"],
        },
        "BulkCancelRequest": {
            "type": "object",
            "properties": {
                "bot": {"type": "string", "minLength": 1},
                "status": {
                    "oneOf": [
                        {"type": "string", "enum": _CANCELLABLE},
                        {
                            "type": "array",
                            "items": {"type": "string", "enum": _CANCELLABLE},
                            "minItems": 1,
                        },
                    ]
                },
            },
            "minProperties": 1,
            "additionalProperties": False,
        },
        "BulkCancel": {
            "type": "object",
            "properties": {
                "cancelled": {"type": "array", "items": _STRING},
                "failed": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"id": _STRING, "error": _STRING},
                        "required": ["id", "error"],
                    },
                },
            },
            "required": ["cancelled", "failed"],
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


def with_roles(paths: Mapping[str, Schema], roles: Mapping[tuple[str, str], str] = ROUTES) -> None:
    """Mark each operation of ``paths`` with the role it needs, and its 403 answer (in place)."""
    forbidden = error("the key's role may not use this route (forbidden; names the role)")
    for path, operations in paths.items():
        for method, operation in operations.items():
            role = roles.get((method.upper(), path), PUBLIC)
            operation["x-agented-role"] = role
            if role not in (PUBLIC, ANY_KEY):
                operation.setdefault("responses", {})["403"] = forbidden
