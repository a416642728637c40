"""``POST /config/reload`` (admin): read the configuration file again without a restart.

The file is validated first; on any problem the old configuration stays and the answer is 422
with every problem (file, line, bot, field, message). Otherwise new runs use the new bots and
settings, running executions finish on the definition they started with, schedules are
planned again, and the reload is in the audit log with the key's id as its actor.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agented_core import ConfigError, Problem

from .audit import principal
from .context import Context
from .errors import BAD_REQUEST
from .operations import E401, E409, Operation, json_answer, ref

_NULLABLE = {"type": ["string", "null"]}
_NAMES = {"type": "array", "items": {"type": "string"}}


def components() -> dict[str, Any]:
    """The schemas of the reload answers."""
    problem = {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "file": _NULLABLE,
            "line": {"type": ["integer", "null"]},
            "bot": _NULLABLE,
            "field": _NULLABLE,
        },
        "required": ["message", "file", "line", "bot", "field"],
        "additionalProperties": False,
    }
    return {
        "ConfigProblem": problem,
        "Reloaded": {
            "type": "object",
            "properties": {
                "reloaded": {"type": "boolean", "const": True},
                "added": _NAMES,
                "removed": _NAMES,
                "changed": _NAMES,
                "warnings": {"type": "array", "items": ref("ConfigProblem")},
            },
            "required": ["reloaded", "added", "removed", "changed", "warnings"],
            "additionalProperties": False,
        },
        "ReloadRefused": {
            "type": "object",
            "properties": {
                "error": {"type": "string", "const": BAD_REQUEST},
                "message": {"type": "string"},
                "problems": {"type": "array", "items": ref("ConfigProblem")},
            },
            "required": ["error", "message", "problems"],
            "additionalProperties": False,
        },
    }


OPERATIONS = (
    Operation(
        "POST",
        "/config/reload",
        "reloadConfig",
        "Read the configuration file again, without a restart",
        {
            "200": json_answer(ref("Reloaded"), "the new configuration is in use"),
            "401": E401,
            "409": E409,
            "422": json_answer(ref("ReloadRefused"), "refused: the old configuration stays"),
        },
        description=(
            "Validates the file first (as agented check); on any problem, or a change of"
            " [agented] database or broker (a restart's), nothing changes and the answer lists"
            " every problem. Running executions finish on the bot definition they started with."
        ),
    ),
)
"""The reload route in the OpenAPI document."""


def problem_data(problem: Problem) -> dict[str, Any]:
    """A problem as JSON."""
    return {
        "message": problem.message,
        "file": problem.file,
        "line": problem.line,
        "bot": problem.bot,
        "field": problem.field,
    }


def routes(ctx: Context) -> list[Route]:
    """The reload route."""

    async def reload(request: Request) -> Response:
        who = principal(request)
        try:
            result = await ctx.agented.reload(actor=who.id)
        except ConfigError as exc:
            return JSONResponse(
                {
                    "error": BAD_REQUEST,
                    "message": "the configuration was not reloaded: "
                    f"{len(exc.problems)} problem(s); the old one stays in use",
                    "problems": [problem_data(p) for p in exc.problems],
                },
                422,
            )
        return JSONResponse(
            {
                "reloaded": True,
                "added": list(result.added),
                "removed": list(result.removed),
                "changed": list(result.changed),
                "warnings": [problem_data(p) for p in result.warnings],
            }
        )

    return [Route("/config/reload", reload, methods=["POST"], name="config_reload")]
