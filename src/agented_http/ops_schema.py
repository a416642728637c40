"""The OpenAPI components of the operator routes (whoami, audit) and each route's role.

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


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


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


def with_roles(paths: Mapping[str, Schema], roles: Mapping[tuple[str, str], str] = ROUTES) -> None:
    """Mark each operation of ``paths`` with the role it needs, and its 403 answer (in place)."""
    forbidden = error("the key's role may not use this route (forbidden; names the role)")
    for path, operations in paths.items():
        for method, operation in operations.items():
            role = roles.get((method.upper(), path), PUBLIC)
            operation["x-agented-role"] = role
            if role not in (PUBLIC, ANY_KEY):
                operation.setdefault("responses", {})["403"] = forbidden
