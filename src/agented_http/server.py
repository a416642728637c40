"""The reference server that ``agented serve`` runs.

A host Starlette app with the agented sub-app mounted at ``/agented``; ``/`` opens its dashboard
(``/agented/ui/``). Its lifespan opens :class:`~agented_core.Agented` with ``schedules=True`` (cron
triggers fire in the server) and leaves it gracefully on shutdown: no new runs, running ones get
``shutdown_grace`` to finish, then end as ``interrupted``. :func:`serve` runs it on uvicorn with
one worker; ``agented serve --workers N`` runs N such processes on one socket, sharing the
store (and the broker: configure a shared one, such as Redis, so live events cross them).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import shlex
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import anyio
import anyio.abc
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agented_core import Agented, Config, ManualTrigger, __version__, load_config
from agented_core.logs import RedactFilter, configure
from agented_core.plugins import Plugins

from .app import create_app
from .auth import keys_from_env
from .errors import NoApiKeyError, on_http_exception
from .settings import Settings

log = logging.getLogger("agented.http")

MOUNT = "/agented"
KEY_ENV = "AGENTED_API_KEY"  # the one key a client sends (agented --url reads it too)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOOPBACK_NAMES = ("localhost",)


class _Slot:
    """The mount point's app: the sub-app once the lifespan has opened agented, else 503."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            response = JSONResponse(
                {"error": "unavailable", "message": "agented is starting or stopping"},
                status_code=503,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_server(
    config: Config | str | Path,
    settings: Settings | None = None,
    *,
    on_ready: Callable[[Agented], None] | None = None,
    reload_on_sighup: bool = False,
    **agented_options: Any,
) -> Starlette:
    """The reference server's host app: the API at ``/agented``, ``/`` opening its dashboard.

    Its lifespan opens agented on ``config`` with ``schedules=True`` and closes it gracefully;
    ``agented_options`` go to :meth:`Agented.open`. ``on_ready`` is called once it serves.
    ``reload_on_sighup`` (the main thread only): SIGHUP reloads the configuration file.
    """
    slot = _Slot()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            Agented.open(config=config, schedules=True, **agented_options) as ag,
            anyio.create_task_group() as tg,
        ):
            if reload_on_sighup:
                await tg.start(ag.reload_on_sighup)
            slot.app = create_app(ag, settings)
            if on_ready is not None:
                on_ready(ag)
            try:
                yield
            finally:
                slot.app = None
                ag.stop_accepting()
                tg.cancel_scope.cancel()

    async def index(request: Request) -> Response:
        # the dashboard, served by the sub-app (so it works under any mount prefix)
        return RedirectResponse(f"{request.scope.get('root_path', '')}{MOUNT}/ui/", 307)

    return Starlette(
        routes=[Route("/", index, methods=["GET"]), Mount(MOUNT, app=slot)],
        lifespan=lifespan,
        exception_handlers={HTTPException: on_http_exception},
    )


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """The listening socket of a server (inheritable: ``serve --workers`` hands it on)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def hide_password(url: str) -> str:
    """``url`` with the password of its user info (``redis://:secret@host``) as ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _url(host: str, port: int) -> str:
    # a server on every address is reached, from this machine, on the loopback one
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def try_lines(api: str, bot: str, params: Sequence[str], *, key_env: str | None) -> list[str]:
    """Shell lines that start a run of ``bot`` and follow its events, to paste into a terminal.

    The key is named (``$AGENTED_API_KEY``, which ``agented ... --url`` reads too), never
    printed; the execution id is taken from the answer, so every line works as pasted.
    """
    key = f'-H "X-API-Key: ${key_env}" ' if key_env else ""
    # curl reads [ ] in a URL as a glob unless told not to (an IPv6 host)
    curl = "curl -sS -g" if "[" in api else "curl -sS"
    body = json.dumps({"params": dict.fromkeys(params, "world")})
    pick = "python3 -c 'import json, sys; print(json.load(sys.stdin)[\"execution_id\"])'"
    return [
        f"ID=$({curl} {key}-H 'Content-Type: application/json' -d {shlex.quote(body)} "
        f"{shlex.quote(f'{api}/bots/{bot}/runs')} | {pick})",
        f'{curl} -N {key}"{api}/executions/$ID/events.ndjson?follow=true"',
    ]


def banner(ag: Agented, base: str, *, dev: bool) -> str:
    """What the server prints once it serves: where to open it and how to call it."""
    config = ag.config
    api = f"{base}{MOUNT}"
    lines = [
        f"agented {__version__} serving {len(ag.bots)} bot(s) from {config.path or 'code'}",
        f"  open      {base}/",
        f"  API       {api}/   (schema: {api}/openapi.json, docs/http-api.md)",
    ]
    manual = [
        bot for bot in ag.bots.values() if any(isinstance(t, ManualTrigger) for t in bot.triggers)
    ]
    if manual:
        bot = manual[0]
        commands = try_lines(api, bot.name, bot.manual_params, key_env=None if dev else KEY_ENV)
        if dev:
            lines.append("  try       (in another terminal)")
        else:
            lines.append(
                f"  try       (in another terminal, once {KEY_ENV} holds one of the keys in "
                f"{config.http.api_keys_env})"
            )
        lines += [f"            {command}" for command in commands]
        lines.append(f"            agented executions --url {api}")
    secrets_env = config.github.webhook_secrets_env
    state = "set" if keys_from_env(secrets_env) else "NOT SET: GitHub deliveries are refused"
    lines.append(f"  webhooks  POST {api}/webhooks/github   (secrets: {secrets_env}, {state})")
    store = hide_password(config.settings.database)
    if store.startswith("sqlite:///") and not store.startswith(("sqlite:////", "sqlite:///:")):
        store += f"   (in {config.base_dir})"
    lines.append(f"  store     {store}")
    workers = os.environ.get("AGENTED_SERVE_WORKERS", "1")
    broker = config.settings.broker
    broker = hide_password(broker) if broker else "in-process (set [agented] broker to share)"
    lines.append(f"  broker    {broker}")
    lines.append(
        f"  {workers} worker(s); Ctrl-C stops it (running executions get "
        f"{config.settings.shutdown_grace:g} s to finish)"
    )
    return "\n".join(lines)


DEV_WARNING = """\
!!! WARNING: UNAUTHENTICATED DEVELOPMENT MODE (--dev) !!!
!!! Every route is open, without any key, to every process and user on this machine.
!!! Bound to 127.0.0.1 only. Never use --dev on a shared machine or in production."""


def serve(
    config: Config | str | Path,
    *,
    host: str | None = None,
    port: int = DEFAULT_PORT,
    dev: bool = False,
    settings: Settings | None = None,
    out: TextIO | None = None,
    log_level: str = "info",
    log_format: str | None = None,
    sock: socket.socket | None = None,
    quiet: bool = False,
) -> int:
    """Run the reference server on uvicorn (one worker) until SIGINT / SIGTERM; the exit code.

    ``sock`` is a listening socket to serve on instead of binding ``host:port`` (one worker of
    ``agented serve --workers N``, each a process of its own); ``quiet`` prints no banner.

    Without an API key in the configured environment variable it refuses to start, unless
    ``dev``: no auth, bound to 127.0.0.1 only, with a loud warning. Raises
    :class:`~agented_http.NoApiKeyError` or ``ValueError`` for a refused start.
    ``log_format`` (default ``[agented] log_format``): ``json`` writes every log record, uvicorn's
    too, as one JSON object a line (:mod:`agented_core.logs`); secret query values are redacted
    from the access log in either format.
    """
    import uvicorn

    out = out or sys.stdout
    cfg = (
        config if isinstance(config, Config) else load_config(config, keys=Plugins().config_keys())
    )
    http = cfg.http
    envs = (http.api_keys_env, http.operator_keys_env, http.viewer_keys_env, http.metrics_keys_env)
    keys = [key for name in envs for key in keys_from_env(name)]  # a key of any role will do
    if dev:
        if host is not None and not is_loopback(host):
            raise ValueError(f"--dev binds to 127.0.0.1 only; refusing --host {host}")
        host = host or DEFAULT_HOST
        settings = settings or Settings(unauthenticated=True)
        print(DEV_WARNING, file=sys.stderr, flush=True)
    elif not keys and (settings is None or not settings.api_keys):
        raise NoApiKeyError(
            f"no API key: set {cfg.http.api_keys_env} to one or more comma-separated keys, "
            "e.g. AGENTED_API_KEYS=$(python3 -c 'import secrets; print(secrets.token_urlsafe())'),"
            " or use --dev for an unauthenticated server on 127.0.0.1"
        )
    host = host or DEFAULT_HOST
    sock = sock or bind(host, port)
    base = _url(host, sock.getsockname()[1])

    def ready(ag: Agented) -> None:
        if not quiet:
            print(banner(ag, base, dev=dev), file=out, flush=True)

    main_thread = threading.current_thread() is threading.main_thread()
    app = create_server(cfg, settings, on_ready=ready, reload_on_sighup=main_thread)
    fmt = log_format or cfg.settings.log_format
    if fmt == "json":
        configure("json", log_level.upper())
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            lifespan="on",
            log_level=log_level,
            timeout_graceful_shutdown=5,
            workers=1,
            # json: the records go to the root handler logs.configure installed
            log_config=None if fmt == "json" else uvicorn.config.LOGGING_CONFIG,
        )
    )
    logging.getLogger("uvicorn.access").addFilter(RedactFilter())
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; a quiet
    # SIGTERM handler makes that a clean exit (0) instead of death by signal
    previous = signal.signal(signal.SIGTERM, lambda *_: None) if main_thread else None
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        sock.close()
    return 0 if server.started else 1
