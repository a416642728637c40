"""``GET /health`` (liveness) and ``GET /health/ready`` (readiness: the store answers).

With a key, the readiness answer has details: the store's check, the live streams, and the facts
of :mod:`agented_core.readiness` (each provider's CLI: path and version, or missing; the
configuration's readiness warnings). They do not change the status: a missing CLI fails the runs
that need it, not the server.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agented_core import __version__
from agented_core.readiness import cli_statuses, readiness

from .auth import AUTH_SCOPE_KEY
from .context import Context
from .operations import E401, PUBLIC, Operation, json_answer, ref

READY_TIMEOUT = 5.0


OPERATIONS = (
    Operation(
        "GET",
        "/health",
        "health",
        "Liveness",
        {"200": json_answer(ref("Health"), "alive"), "401": E401},
        security=PUBLIC,
    ),
    Operation(
        "GET",
        "/health/ready",
        "ready",
        "Readiness: the store answers (details with a key)",
        {
            "200": json_answer(ref("Ready"), "ready"),
            "401": E401,
            "503": json_answer(ref("Ready"), "not ready"),
        },
        security=PUBLIC,
    ),
)
"""The health routes in the OpenAPI document."""


def routes(ctx: Context) -> list[Route]:
    """The health routes."""

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        problem: str | None = None
        try:
            with anyio.fail_after(READY_TIMEOUT):
                await ctx.agented.ready()
        except TimeoutError:
            problem = f"the store did not answer within {READY_TIMEOUT:g} s"
        except Exception as exc:
            problem = f"the store cannot be reached: {exc}"
        body: dict[str, Any] = {"status": "unavailable" if problem else "ready"}
        if request.scope.get(AUTH_SCOPE_KEY) in ("key", "open"):
            body["checks"] = {"store": problem or "ok"}
            body["streams"] = ctx.streams
            body.update(ctx.fanout.stats())
            body["version"] = __version__
            body.update(await anyio.to_thread.run_sync(_readiness, ctx))
        return JSONResponse(body, status_code=503 if problem else 200)

    return [
        Route("/health", health, methods=["GET"], name="health"),
        Route("/health/ready", ready, methods=["GET"], name="ready"),
    ]


def _readiness(ctx: Context) -> dict[str, Any]:
    """The CLI facts and readiness warnings (probes the CLIs: run in a worker thread)."""
    agented = ctx.agented
    providers = {
        name: status.data() if status is not None else None
        for name, status in cli_statuses(agented.plugins).items()
    }
    warnings = [
        {"bot": p.bot, "field": p.field, "message": p.message}
        for p in readiness(agented.config, agented.plugins)
    ]
    return {"providers": providers, "warnings": warnings}
