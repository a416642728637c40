"""Helpers of the HTTP tests: real uvicorn servers on 127.0.0.1, SSE parsing, signatures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import uvicorn
from starlette.types import ASGIApp

from agented_core import Agented, Config
from agented_http import Settings, create_server

KEY = "test-key-0123456789"
OTHER_KEY = "rotated-key-abcdef"
SECRET = "webhook-secret-42"


def sign(body: bytes, secret: str = SECRET) -> str:
    """GitHub's X-Hub-Signature-256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def bind() -> socket.socket:
    """A listening socket on a free port of 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _config(app: ASGIApp | Any, lifespan: str) -> uvicorn.Config:
    return uvicorn.Config(
        app, lifespan=lifespan, log_level="warning", timeout_graceful_shutdown=2, access_log=False
    )


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in this event loop; yields its base URL."""
    sock = bind()
    port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, "off"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
    sock.close()


@dataclass
class ThreadServer:
    """The reference server (``create_server``) on uvicorn in a thread of its own."""

    config: Config
    settings: Settings | None = None
    options: dict[str, Any] = field(default_factory=dict)
    url: str = ""
    agented: Agented | None = None
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def __enter__(self) -> ThreadServer:
        sock = bind()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        ready = threading.Event()

        def on_ready(ag: Agented) -> None:
            self.agented = ag
            ready.set()

        app = create_server(self.config, self.settings, on_ready=on_ready, **self.options)
        self._server = uvicorn.Server(_config(app, "on"))

        def run() -> None:
            try:
                assert self._server is not None
                asyncio.run(self._server.serve([sock]))
            except BaseException as exc:
                self._error = exc
                ready.set()
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name="agented-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(20) or self._error is not None:
            raise RuntimeError(f"the server did not start: {self._error!r}")
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start listening")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(30)
        assert not self._thread.is_alive(), "the server thread did not stop"


@dataclass
class Frame:
    """One SSE frame as a client sees it."""

    id: str | None
    event: str
    data: Any


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """The frames of an SSE response (comments and retry-only frames skipped)."""
    fields: dict[str, list[str]] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields:
                yield Frame(
                    fields["id"][-1] if "id" in fields else None,
                    fields.get("event", ["message"])[-1],
                    json.loads("\n".join(fields["data"])),
                )
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` (sync or async) is true; fail after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while True:
            result = predicate()
            if hasattr(result, "__await__"):
                result = await result
            if result:
                return
            await anyio.sleep(0.01)


def db_file(url: str) -> Path:
    """The file of a ``sqlite:///`` URL."""
    return Path(url.removeprefix("sqlite:///"))
