"""``create_app``: the Starlette sub-app over an open :class:`~agented_core.Agented`.

Routes, middleware and error handlers, readable top to bottom::

    async with Agented.open(config="agented.toml", schedules=True) as ag:
        app = create_app(ag)            # mount it anywhere: Mount("/agented", app)

The app holds no state of its own beyond short-lived stream bookkeeping; the Agented (opened and
closed by the host) owns runs, events and the store.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from agented_core import Agented, AgentedError
from agented_core.config import HttpSettings
from agented_core.logs import LogContext

from . import accounts, audit, bots, executions, health, openapi, reload, sse, ui, webhooks, whoami
from .auth import AuthMiddleware, keys_from_env
from .context import Context
from .cors import JsonCORSMiddleware
from .errors import (
    ApiError,
    NoApiKeyError,
    on_agented_error,
    on_api_error,
    on_http_exception,
    on_unexpected,
)
from .fanout import Fanout
from .operations import mismatch
from .roles import ADMIN, METRICS, OPERATOR, VIEWER, RoleKeys, RouteRoles
from .settings import Settings
from .tokens import StreamTokens

LOG_CONTEXT = "agented-log-context"


def create_app(agented: Agented, settings: Settings | None = None) -> Starlette:
    """The HTTP sub-app (REST, webhooks, SSE) over ``agented``, mountable under any prefix.

    Raises :class:`NoApiKeyError` when no API key of any role is configured
    (``settings.api_keys``, else the environment variable ``[http] api_keys_env`` names, and
    alike for the other roles) unless ``settings.unauthenticated``.
    """
    settings = settings or Settings()
    http = agented.config.http
    by_role = role_keys(settings, http)
    keys = tuple(k for role in (ADMIN, OPERATOR, VIEWER, METRICS) for k in by_role[role])
    if not keys and not settings.unauthenticated:
        raise NoApiKeyError(
            f"no API key: set {http.api_keys_env} (comma-separated keys) in the environment, "
            "or opt into the unauthenticated development mode"
        )
    tokens = (
        StreamTokens(settings.token_secret, settings.stream_token_ttl)
        if settings.token_secret
        else StreamTokens.for_keys(keys, settings.stream_token_ttl)
    )
    ctx = Context(
        agented=agented,
        settings=settings,
        tokens=tokens,
        max_body_bytes=settings.max_body_bytes or http.max_body_bytes,
        fanout=Fanout(agented, sse.encode),
    )
    routes = [
        *health.routes(ctx),
        *bots.routes(ctx),
        *sse.routes(ctx),
        *executions.routes(ctx),
        *webhooks.routes(ctx),
        *openapi.routes(ctx),
        *whoami.routes(ctx),
        *audit.routes(ctx),
        *accounts.routes(ctx),
        *ui.routes(ctx),
        *reload.routes(ctx),
        *_metrics_routes(ctx),
    ]
    roles = RouteRoles()
    missing = roles.missing((m, r.path) for r in routes for m in getattr(r, "methods", None) or ())
    if missing:  # a bug: every route needs its role in agented_http.roles.ROUTES
        raise RuntimeError(f"routes without a role in agented_http.roles.ROUTES: {missing}")
    undocumented, absent = mismatch(
        ((m, r.path) for r in routes for m in getattr(r, "methods", None) or ()),
        openapi.operations(),
    )
    if undocumented or absent:  # a bug: OPERATIONS beside each route module's routes()
        raise RuntimeError(
            f"routes without an operation: {undocumented}; operations without a route: {absent}"
        )
    origins = settings.cors_origins if settings.cors_origins is not None else http.cors_origins
    middleware = []
    if origins:
        middleware.append(
            Middleware(
                JsonCORSMiddleware,
                allow_origins=list(origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "X-API-Key", "Content-Type", "Last-Event-ID"],
                expose_headers=["Location"],
                max_age=600,
            )
        )
    middleware.append(
        Middleware(
            AuthMiddleware,
            keys=RoleKeys(by_role),
            tokens=tokens,
            unauthenticated=settings.unauthenticated,
            roles=roles,
        )
    )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            AgentedError: on_agented_error,
            ApiError: on_api_error,
            HTTPException: on_http_exception,
            Exception: on_unexpected,
        },
    )
    app.state.agented_http = ctx
    return app


def role_keys(settings: Settings, http: HttpSettings) -> dict[str, tuple[str, ...]]:
    """Each role's keys: from ``settings``, else from the environment variable ``[http]`` names."""
    chosen = {
        ADMIN: (settings.api_keys, http.api_keys_env),
        OPERATOR: (settings.operator_keys, http.operator_keys_env),
        VIEWER: (settings.viewer_keys, http.viewer_keys_env),
        METRICS: (settings.metrics_keys, http.metrics_keys_env),
    }
    return {
        role: tuple(k for k in (keys if keys is not None else keys_from_env(env)) if k)
        for role, (keys, env) in chosen.items()
    }


def _metrics_routes(ctx: Context) -> list[Route]:
    """``GET /metrics``, its metrics registered with the Agented's plugins and store."""
    from . import metrics

    ctx.metrics = found = metrics.Metrics()
    manager = ctx.agented.plugins.manager
    manager.register(found, name=f"agented-http-metrics-{id(found)}")
    if not manager.has_plugin(LOG_CONTEXT):
        manager.register(LogContext(), name=LOG_CONTEXT)
    found.time_store(ctx.agented.store)
    return metrics.routes(found, ctx.agented, lambda: ctx.streams)
