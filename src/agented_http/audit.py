"""The audit log: who started, cancelled, paused, resumed or reran what, and when.

An entry is written by the route that did it, once it did (a refused or failed action leaves
none), with the key's id as the actor (``key-…``, see :func:`agented_http.roles.key_id`; never the
key), ``dev`` in the unauthenticated development mode. ``GET /audit`` lists them newest first
(``?execution=ID&limit=&cursor=``) and ``GET /executions/{id}/audit`` an execution's, admin only.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agented_core import Execution
from agented_core.audit import record as record_core

from .auth import DEV_PRINCIPAL, PRINCIPAL_SCOPE_KEY
from .bodies import MAX_SEQ, int_param
from .context import Context
from .errors import bad_request
from .operations import E401, LIMIT, STRING, Operation, error, json_answer, path_param, query, ref
from .roles import Principal

MAX_LIMIT = 500
ACTIONS = ("run", "cancel", "pause", "resume", "rerun", "redeliver", "clear_cooldown", "reload")
"""The audited actions."""


def principal(request: Request) -> Principal:
    """Who made ``request`` (the auth middleware noted it)."""
    found = request.scope.get(PRINCIPAL_SCOPE_KEY)
    return found if isinstance(found, Principal) else DEV_PRINCIPAL


async def record(
    ctx: Context,
    request: Request,
    action: str,
    execution: Execution,
    **detail: Any,
) -> None:
    """Note that the request's key did ``action`` to ``execution``."""
    who = principal(request)
    await record_core(ctx.agented.store, action, execution, who.id, role=who.role, **detail)


# at most 18 digits: always an id the store can hold (the route refuses more)
_CURSOR = query("cursor", {"type": "string", "pattern": "^[0-9]{1,18}$"}, "next_cursor of a page")
_PAGE = json_answer(ref("AuditPage"), "newest first")
_LIMIT = query("limit", {**LIMIT, "maximum": MAX_LIMIT}, "page size")

OPERATIONS = (
    Operation(
        "GET",
        "/audit",
        "listAudit",
        "Who ran, cancelled, paused, resumed or reran what, and when",
        {"200": _PAGE, "400": error("a bad parameter"), "401": E401},
        parameters=[query("execution", STRING, "only this execution's entries"), _LIMIT, _CURSOR],
    ),
    Operation(
        "GET",
        "/executions/{id}/audit",
        "executionAudit",
        "The audit entries of one execution",
        {
            "200": _PAGE,
            "400": error("a bad parameter"),
            "401": E401,
            "404": error("no such execution"),
        },
        parameters=[path_param("id", "the execution's id"), _LIMIT, _CURSOR],
    ),
)
"""The audit routes in the OpenAPI document."""


def routes(ctx: Context) -> list[Route]:
    """``GET /audit`` and ``GET /executions/{id}/audit``."""
    ag = ctx.agented

    async def page(request: Request, execution_id: str | None) -> Response:
        limit = int_param(request, "limit", 50, minimum=1, maximum=MAX_LIMIT)
        cursor = request.query_params.get("cursor") or None
        if cursor is not None and not (
            cursor.isascii() and cursor.isdigit() and int(cursor) <= MAX_SEQ
        ):
            raise bad_request("cursor must be the next_cursor of the previous page")
        items = await ag.store.list_audit(
            execution_id=execution_id,
            limit=limit + 1,
            before=int(cursor) if cursor is not None else None,
        )
        more = len(items) > limit
        items = items[:limit]
        next_cursor = str(items[-1]["id"]) if more else None
        return JSONResponse({"items": items, "next_cursor": next_cursor})

    async def audit(request: Request) -> Response:
        return await page(request, request.query_params.get("execution") or None)

    async def execution_audit(request: Request) -> Response:
        execution = await ag.get(request.path_params["id"])  # 404 for an unknown id
        return await page(request, execution.id)

    return [
        Route("/audit", audit, methods=["GET"], name="audit"),
        Route("/executions/{id}/audit", execution_audit, methods=["GET"], name="execution_audit"),
    ]
