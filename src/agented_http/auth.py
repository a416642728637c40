"""The one auth middleware in front of every route.

A request passes with an API key (``X-API-Key: KEY`` or ``Authorization: Bearer KEY``, compared in
constant time against every configured key), or when it is on the allowlist DESIGN gives
(``GET /health``, ``GET /health/ready``, ``POST /webhooks/github``, ``POST /webhooks/{source}``:
the webhooks check their own signatures; and the dashboard's static shell under ``GET /ui/``),
or, on the SSE route only, with a stream token for that execution (``?token=``). Everything
else, unknown paths included, answers 401.

A key has a role (:mod:`agented_http.roles`); a route whose role the key lacks answers 403
``forbidden``, naming the role it needs. The request's :class:`~agented_http.roles.Principal` is
noted in the scope under :data:`PRINCIPAL_SCOPE_KEY`.

In the unauthenticated development mode every route is open, to loopback clients only, as admin.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import FORBIDDEN, UNAUTHORIZED
from .roles import ADMIN, VIEWER, Principal, RoleKeys, RouteRoles, grants
from .tokens import StreamTokens

AUTH_SCOPE_KEY = "agented.auth"
"""Where the middleware notes how a request got in: ``key``, ``token``, ``public`` or ``open``."""
PRINCIPAL_SCOPE_KEY = "agented.principal"
"""Where the middleware notes who the request is (a :class:`Principal`), when known."""
DEV_PRINCIPAL = Principal(ADMIN, "dev")
"""Who a request is in the unauthenticated development mode."""
TOKEN_PRINCIPAL = Principal(VIEWER, "stream-token")
"""Who a request with a stream token is (it opens one execution's SSE stream only)."""

_PUBLIC: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = (
    (frozenset({"GET", "HEAD"}), re.compile(r"/health")),
    (frozenset({"GET", "HEAD"}), re.compile(r"/health/ready")),
    (frozenset({"POST"}), re.compile(r"/webhooks/[^/]+")),
    # the dashboard's static shell: every request it makes for data carries a key
    (frozenset({"GET", "HEAD"}), re.compile(r"/ui/(?:[^/]+|executions/[^/]+|static/[^/]+)?")),
)
_SSE = re.compile(r"/executions/(?P<id>[^/]+)/events")


def keys_from_env(name: str, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The comma-separated API keys in environment variable ``name`` (blank ones ignored)."""
    value = (os.environ if env is None else env).get(name, "")
    return tuple(part.strip() for part in value.split(",") if part.strip())


def route_path(scope: Scope) -> str:
    """The request's path inside the app, whatever prefix it is mounted under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


def is_public(method: str, path: str) -> bool:
    """True for the routes that go without a key."""
    return any(method in methods and rx.fullmatch(path) for methods, rx in _PUBLIC)


def _credential(scope: Scope) -> str | None:
    api_key: str | None = None
    bearer: str | None = None
    for name, value in scope.get("headers", ()):
        if name == b"x-api-key":
            api_key = value.decode("latin-1").strip()
        elif name == b"authorization":
            scheme, _, rest = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer":
                bearer = rest.strip()
    return api_key or bearer


def _is_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return True  # a unix socket or an in-process call
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


class AuthMiddleware:
    """Pure ASGI middleware: lets a request through or answers 401 or 403 itself."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: RoleKeys,
        tokens: StreamTokens,
        unauthenticated: bool = False,
        roles: RouteRoles | None = None,
    ) -> None:
        self.app = app
        self.keys = keys
        self.tokens = tokens
        self.unauthenticated = unauthenticated
        self.roles = roles or RouteRoles()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        how, why, principal = self._admit(scope)
        if how is None:
            await _deny(send, why)
            return
        if principal is not None and how == "key":
            needed = self.roles.needed(scope["method"], route_path(scope))
            if needed is not None and not grants(principal.role, needed):
                message = f"this route needs the {needed} role; the key has {principal.role}"
                await _deny(send, message, status=403, role=needed)
                return
        scope[AUTH_SCOPE_KEY] = how
        if principal is not None:
            scope[PRINCIPAL_SCOPE_KEY] = principal
        await self.app(scope, receive, send)

    def _admit(self, scope: Scope) -> tuple[str | None, str, Principal | None]:
        if self.unauthenticated:
            if _is_loopback(scope):
                return "open", "", DEV_PRINCIPAL
            return None, "the unauthenticated development mode serves loopback clients only", None
        credential = _credential(scope)
        principal = self.keys.check(credential) if credential else None
        if principal is not None:
            return "key", "", principal
        path = route_path(scope)
        method: str = scope["method"]
        if is_public(method, path):
            return "public", "", None  # a webhook may carry a sender's own Authorization header
        if credential:
            return None, "the API key is not valid", None
        sse = _SSE.fullmatch(path) if method in ("GET", "HEAD") else None
        if sse is not None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            token = (query.get("token") or [""])[-1]
            if token:
                if self.tokens.check(token, sse.group("id")):
                    return "token", "", TOKEN_PRINCIPAL
                return (
                    None,
                    "the stream token is not valid for this execution, or has expired",
                    None,
                )
        return None, "an API key is needed (X-API-Key or Authorization: Bearer)", None


async def _deny(send: Send, message: str, status: int = 401, role: str | None = None) -> None:
    data = {"error": UNAUTHORIZED if status == 401 else FORBIDDEN, "message": message}
    if role is not None:
        data["role"] = role
    body = json.dumps(data).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="agented"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
