"""The fake model API server: a real HTTP server on 127.0.0.1 (a free port) in a thread.

One server carries every protocol module given (``Anthropic``, ``OpenAIResponses``,
``OpenAIChat``, ``Gemini``: each a :class:`Protocol` subclass with its routes and renderers). Tests script the answers with :meth:`FakeModelAPI.push`
(a queue, consumed in order by the model calls, optionally filtered by a predicate) and
:meth:`FakeModelAPI.always`, and read back every request in :attr:`FakeModelAPI.requests`.

It runs uvicorn in its own thread with its own event loop, so it serves a CLI subprocess
whatever the test's own loop is doing, in synchronous and asynchronous tests alike.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from .script import Error, Matcher, Reply, Script

Handler = Callable[["Exchange"], Awaitable[None]]


class StreamCut(Exception):
    """Raised inside a response to drop the connection mid-stream (a cut stream)."""


class _HideCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, StreamCut)


@dataclass
class RecordedRequest:
    """One request the fake API received."""

    protocol: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    time: float
    model_call: bool = False
    side_call: bool = False
    script: Script | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or ``None``."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Route:
    """A method and path served by a protocol. ``model_call`` routes consume scripts.

    The path is exact, or a pattern with ``{name}`` parts (one path segment or a part of one,
    no ``/``), as in ``/v1beta/models/{model}:streamGenerateContent``; the values are in
    :attr:`RecordedRequest.params`.
    """

    method: str
    path: str
    handler: Handler
    model_call: bool = False

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """The path as a regular expression, or ``None`` for an exact path."""
        if "{" not in self.path:
            return None
        parts = re.split(r"\{(\w+)\}", self.path)
        regex = "".join(
            re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+?)"
            for index, part in enumerate(parts)
        )
        return re.compile(f"{regex}/?")


class Protocol:
    """A wire protocol: the routes it serves. Subclasses render :class:`Reply` / :class:`Error`."""

    name = ""

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def stream_error(self, reply: Reply) -> bytes:
        """The bytes of an in-stream error event (``Reply.error_after``)."""
        raise NotImplementedError

    def side_call(self, request: RecordedRequest) -> Script | None:
        """The answer to a CLI's housekeeping call (a session title ...), or ``None`` when
        ``request`` is a real turn. Side calls do not take scripts from the queue."""
        return None


@dataclass
class _Entry:
    script: Script
    when: Matcher | None
    times: int | None  # None: forever


class Exchange:
    """One request being answered: the recorded request, its script, and ways to answer."""

    def __init__(self, api: FakeModelAPI, request: RecordedRequest, send: Any) -> None:
        self.api = api
        self.request = request
        self.script: Script | None = request.script
        self._send = send
        self.started = False

    async def start(self, status: int, headers: dict[str, str]) -> None:
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await self._send({"type": "http.response.start", "status": status, "headers": raw})
        self.started = True

    async def body(self, data: bytes, more: bool = False) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": more})

    async def json(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        reply: Reply | None = None,
    ) -> None:
        """Answer with a JSON body; a ``reply`` with ``cut_after`` or ``stall_after`` set sends
        half of it, then drops the connection (or stalls until shutdown)."""
        data = json.dumps(body).encode()
        if reply is not None and reply.first_byte_delay:
            await self.api.sleep(reply.first_byte_delay)
        all_headers = {"content-type": "application/json", "content-length": str(len(data))}
        all_headers.update(headers or {})
        await self.start(status, all_headers)
        if reply is not None and (reply.cut_after is not None or reply.stall_after is not None):
            await self.body(data[: len(data) // 2], more=True)
            if reply.stall_after is not None:
                await self.api.closing()
            raise StreamCut("cut in the middle of a JSON body")
        await self.body(data)

    async def stream(self, events: Sequence[bytes], reply: Reply, protocol: Protocol) -> None:
        """Send ``events`` as an SSE stream, as ``reply`` says (delays, cut, stall, error)."""
        if reply.first_byte_delay:
            await self.api.sleep(reply.first_byte_delay)
        headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
        await self.start(200, {**headers, **reply.headers})
        for index, event in enumerate(events):
            if reply.cut_after is not None and index >= reply.cut_after:
                raise StreamCut(f"cut after {index} events")
            if reply.stall_after is not None and index >= reply.stall_after:
                await self.api.closing()
                raise StreamCut("stalled stream ended by the server's shutdown")
            if reply.error_after is not None and index >= reply.error_after:
                await self.body(protocol.stream_error(reply), more=True)
                break
            if index and reply.chunk_delay:
                await self.api.sleep(reply.chunk_delay)
            await self.body(event, more=True)
        await self.body(b"")


class FakeModelAPI:
    """A scripted model API on ``127.0.0.1``; use as a context manager.

    ::

        with FakeModelAPI() as api:
            api.push(text("hello"), Error(429, retry_after=1))
            ... run a CLI against api.url ...
            assert api.model_requests()[0].json["stream"] is True

    A model call takes the first queued script whose ``when`` predicate accepts the request
    (scripts without one accept every request), then the :meth:`always` scripts, then
    :attr:`default`. With nothing to answer it gets a 500 naming the problem. A CLI's
    housekeeping calls that its protocol recognises (Claude Code's session-title request) are
    answered by the protocol and take no script (``answer_side_calls=False`` turns that off);
    they are recorded with ``side_call=True`` and are not in :meth:`model_requests`.
    """

    def __init__(
        self,
        protocols: Iterable[Protocol] | None = None,
        *,
        default: Script | None = None,
        answer_side_calls: bool = True,
    ) -> None:
        if protocols is None:
            from .anthropic import Anthropic

            protocols = (Anthropic(),)
        self.protocols = list(protocols)
        self.default = default
        self.answer_side_calls = answer_side_calls
        self._routes: dict[tuple[str, str], tuple[Protocol, Route]] = {}
        self._patterns: list[tuple[str, re.Pattern[str], Protocol, Route]] = []
        for protocol in self.protocols:
            for route in protocol.routes():
                pattern = route.pattern
                if pattern is None:
                    self._routes[(route.method, route.path)] = (protocol, route)
                else:
                    self._patterns.append((route.method, pattern, protocol, route))
        self._lock = threading.Condition()
        self._queue: list[_Entry] = []
        self._requests: list[RecordedRequest] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing_event: asyncio.Event | None = None
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.port = 0

    # scripting
    def push(self, *scripts: Script, when: Matcher | None = None, times: int = 1) -> None:
        """Queue ``scripts`` (each used ``times`` times) for the next model calls."""
        with self._lock:
            for script in scripts:
                self._queue.append(_Entry(script, when, times))

    def always(self, script: Script, when: Matcher | None = None) -> None:
        """Answer every model call (that ``when`` accepts) with ``script``, after the queue."""
        with self._lock:
            self._queue.append(_Entry(script, when, None))

    def clear(self) -> None:
        """Forget the queued scripts."""
        with self._lock:
            self._queue.clear()

    def _take(self, request: RecordedRequest) -> Script:
        with self._lock:
            ordered = [e for e in self._queue if e.times is not None] + [
                e for e in self._queue if e.times is None
            ]
            for entry in ordered:
                if entry.when is None or entry.when(request):
                    if entry.times is not None:
                        entry.times -= 1
                        if entry.times <= 0:
                            self._queue.remove(entry)
                    return entry.script
        if self.default is not None:
            return self.default
        return Error(500, message=f"fake API: nothing scripted for {request.path}")

    # what was received
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._lock:
            return list(self._requests)

    def model_requests(self, protocol: str | None = None) -> list[RecordedRequest]:
        """The requests that were model calls (they consumed a script)."""
        return [
            r
            for r in self.requests
            if r.model_call and (protocol is None or r.protocol == protocol)
        ]

    def wait_for(self, predicate: Callable[[list[RecordedRequest]], bool], timeout: float) -> bool:
        """Block until ``predicate(requests)`` holds (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(list(self._requests)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    # addresses
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash, no path)."""
        return f"http://127.0.0.1:{self.port}"

    # the server
    def __enter__(self) -> FakeModelAPI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, timeout: float = 10.0) -> None:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        logging.getLogger("uvicorn.error").addFilter(_HideCuts())
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name=f"fakeapi-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout) or self._failure is not None:
            raise RuntimeError(f"the fake model API did not start: {self._failure!r}")

    def _run(self, sock: socket.socket) -> None:
        try:
            asyncio.run(self._serve(sock))
        except BaseException as exc:  # surfaced by start()
            self._failure = exc
            self._ready.set()

    async def _serve(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._closing_event = asyncio.Event()
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            interface="asgi3",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started and not task.done():
            await asyncio.sleep(0.005)
        self._ready.set()
        await task

    def close(self, timeout: float = 10.0) -> None:
        """Stop serving: stalled streams end, connections close, the thread ends."""
        if self._loop is not None and self._closing_event is not None:
            try:
                self._loop.call_soon_threadsafe(self._closing_event.set)
            except RuntimeError:  # the loop is already closed
                pass
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
            self._thread = None

    async def closing(self) -> None:
        """Wait until the server is shutting down."""
        assert self._closing_event is not None
        await self._closing_event.wait()

    async def sleep(self, seconds: float) -> None:
        """Sleep, cut short by the server's shutdown."""
        assert self._closing_event is not None
        try:
            await asyncio.wait_for(self._closing_event.wait(), seconds)
        except TimeoutError:
            pass

    def _route(
        self, method: str, path: str
    ) -> tuple[tuple[Protocol, Route] | None, dict[str, str]]:
        found = self._routes.get((method, path)) or self._routes.get((method, path.rstrip("/")))
        if found is not None:
            return found, {}
        for route_method, pattern, protocol, route in self._patterns:
            m = pattern.fullmatch(path)
            if route_method == method and m is not None:
                return (protocol, route), m.groupdict()
        return None, {}

    # ASGI
    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        method = scope["method"]
        path = scope["path"]
        found, params = self._route(method, path)
        request = RecordedRequest(
            protocol=found[0].name if found else "",
            method=method,
            path=path,
            query=scope.get("query_string", b"").decode(),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=b"".join(chunks),
            time=time.monotonic(),
            model_call=bool(found and found[1].model_call),
            params=params,
        )
        if found is not None and request.model_call:
            side = found[0].side_call(request) if self.answer_side_calls else None
            if side is not None:
                request.model_call, request.side_call, request.script = False, True, side
            else:
                request.script = self._take(request)
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()
        exchange = Exchange(self, request, send)
        if found is None:
            await exchange.json(404, {"error": f"fake API: no route {method} {path}"})
            return
        await found[1].handler(exchange)
