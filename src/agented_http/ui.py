"""The dashboard at ``/ui/``: a static shell (HTML, ES modules, CSS) shipped in the package.

The shell loads without a key; every request it makes for data carries the key the user signs in
with (kept in the tab's ``sessionStorage``), and its event streams use short-lived stream
tokens. Plain ES modules; the streams are read with ``fetch`` (sending ``Last-Event-ID`` on
each reconnect), since ``EventSource`` only hands named events to listeners of each name and
plugins add kinds of their own: no build step, no library, no request to another host (the
Content-Security-Policy says so to the browser too). Views: ``/ui/`` (executions),
``/ui/executions/{id}``, ``/ui/bots``, ``/ui/deliveries``, ``/ui/accounts``.
"""

from __future__ import annotations

import hashlib
import html
from importlib.resources import files
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .context import Context
from .operations import PUBLIC, STRING, Operation, path_param

STATIC = "ui"
"""The package folder of the dashboard's files."""
VIEWS = ("bots", "deliveries", "accounts", "executions")
"""The views other than the executions list (``/ui/``) and one execution."""
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""Nothing but this host: no CDN, no inline script, no frame of the page elsewhere."""
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_HTML = {"description": "the dashboard's shell", "content": {"text/html": {"schema": STRING}}}
_NO_PAGE = {"description": "no such page"}
OPERATIONS = (
    Operation(
        "GET",
        "/ui/",
        "dashboard",
        "The dashboard (no key: it asks for one)",
        {"200": _HTML},
        security=PUBLIC,
    ),
    Operation(
        "GET",
        "/ui/{view}",
        "dashboardView",
        "A view of the dashboard: bots, deliveries, accounts",
        {"200": _HTML, "404": _NO_PAGE},
        security=PUBLIC,
        parameters=[path_param("view", "bots, deliveries or accounts")],
    ),
    Operation(
        "GET",
        "/ui/executions/{id}",
        "dashboardExecution",
        "The dashboard's page of one execution (the link checks and notifications use)",
        {"200": _HTML, "404": _NO_PAGE},
        security=PUBLIC,
        parameters=[path_param("id", "the execution's id")],
    ),
    Operation(
        "GET",
        "/ui/static/{file}",
        "dashboardFile",
        "A static file of the dashboard (script, style)",
        {"200": {"description": "the file"}, "404": _NO_PAGE},
        security=PUBLIC,
        parameters=[path_param("file", "the file's name")],
    ),
)
"""The dashboard's routes in the OpenAPI document."""


def static_dir() -> Traversable:
    """Where the dashboard's files are (inside the installed package)."""
    return files("agented_http").joinpath(STATIC)


def static_files() -> dict[str, bytes]:
    """Every file of the dashboard by name (a flat folder)."""
    return {
        f.name: f.read_bytes()
        for f in static_dir().iterdir()
        if f.is_file() and not f.name.startswith(".")
    }


def shell(root: str, files_: dict[str, bytes]) -> str:
    """The shell's HTML for an app mounted at ``root`` (its static files' URLs versioned)."""
    text = files_["index.html"].decode("utf-8")
    version = hashlib.sha256(b"".join(files_[k] for k in sorted(files_))).hexdigest()[:12]
    return text.replace("__ROOT__", html.escape(root, quote=True)).replace("__V__", version)


def routes(ctx: Context) -> list[Route]:
    """The dashboard's routes."""
    found = static_files()

    async def page(request: Request) -> Response:
        view = request.path_params.get("view")
        if view is not None and view not in VIEWS:
            return Response("no such view", status_code=404, media_type="text/plain")
        body = shell(ctx.url(request, ""), found)
        return Response(body, media_type=TYPES[".html"], headers=HEADERS)

    async def static(request: Request) -> Response:
        name = request.path_params["file"]
        body = found.get(name)
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        if body is None or name == "index.html" or suffix not in TYPES:
            return Response("no such file", status_code=404, media_type="text/plain")
        return Response(body, media_type=TYPES[suffix], headers=HEADERS)

    return [
        Route("/ui/", page, methods=["GET"], name="ui"),
        Route("/ui/executions/{id}", page, methods=["GET"], name="ui_execution"),
        Route("/ui/static/{file}", static, methods=["GET"], name="ui_static"),
        Route("/ui/{view}", page, methods=["GET"], name="ui_view"),
    ]
