"""Where the inspecting commands read from: the local store, or a server (``--url``).

Both sources offer the same async methods, so ``executions``, ``show``, ``logs`` and ``cancel``
work alike against either. The local one opens the store without taking over anything
(no recovery, no waking of waiting runs); the remote one speaks the HTTP API with the key from
``AGENTED_API_KEY``, using only the standard library.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import anyio
import anyio.to_thread

from ..agented import Agented
from ..config import load_config
from ..converter import from_data
from ..errors import AgentedError, ConflictError, NotFoundError
from ..models import Event, Execution, Status

KEY_ENV = "AGENTED_API_KEY"


class Source(Protocol):
    """What the inspecting commands need."""

    async def list(
        self, *, bot: str | None, status: Status | None, limit: int
    ) -> list[Execution]: ...

    async def get(self, execution_id: str) -> Execution: ...

    def events(self, execution_id: str, *, follow: bool) -> AsyncIterator[Event]: ...

    async def cancel(self, execution_id: str) -> Execution: ...


def open_source(config: str, url: str | None) -> AbstractAsyncContextManager[Source]:
    """The local store of ``config``, or the server at ``url``."""
    if url:
        return _remote(url)
    return _local(config)


@asynccontextmanager
async def _local(config_path: str) -> AsyncIterator[Source]:
    config = load_config(config_path)
    async with Agented.open(config=config, wake=False, recover=False) as ag:
        yield LocalSource(ag)


@asynccontextmanager
async def _remote(url: str) -> AsyncIterator[Source]:
    yield RemoteSource(url, os.environ.get(KEY_ENV))


class LocalSource:
    """The executions in the local store."""

    def __init__(self, agented: Agented) -> None:
        self.agented = agented

    async def list(self, *, bot: str | None, status: Status | None, limit: int) -> list[Execution]:
        items, _ = await self.agented.list(bot=bot, status=status, limit=limit)
        return items

    async def get(self, execution_id: str) -> Execution:
        return await self.agented.get(execution_id)

    async def events(self, execution_id: str, *, follow: bool) -> AsyncIterator[Event]:
        if follow:
            async for event in self.agented.events(execution_id):
                yield event
            return
        await self.agented.get(execution_id)
        for event in await self.agented.store.read_events(execution_id):
            yield event

    async def cancel(self, execution_id: str) -> Execution:
        return await self.agented.cancel(execution_id)


class RemoteSource:
    """The executions of a server, through its HTTP API."""

    def __init__(self, url: str, key: str | None) -> None:
        self.url = url.rstrip("/")
        self.key = key

    def _request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        accept: str = "application/json",
    ) -> Any:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        target = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        headers = {"Accept": accept}
        if self.key:
            headers["X-API-Key"] = self.key
        request = urllib.request.Request(target, method=method, headers=headers)
        if method == "POST":
            request.data = b"{}"
            request.add_header("Content-Type", "application/json")
        return urllib.request.urlopen(request, timeout=30)

    async def _json(self, method: str, path: str, query: dict[str, Any] | None = None) -> Any:
        def call() -> Any:
            try:
                with self._request(method, path, query) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                raise _http_error(exc) from None
            except urllib.error.URLError as exc:
                raise AgentedError(f"cannot reach {self.url}: {exc.reason}") from None

        return await anyio.to_thread.run_sync(call)

    async def list(self, *, bot: str | None, status: Status | None, limit: int) -> list[Execution]:
        query = {"bot": bot, "status": status.value if status else None, "limit": limit}
        data = await self._json("GET", "/executions", query)
        return [from_data(item, Execution) for item in data["items"]]

    async def get(self, execution_id: str) -> Execution:
        return from_data(await self._json("GET", f"/executions/{_quote(execution_id)}"), Execution)

    async def cancel(self, execution_id: str) -> Execution:
        path = f"/executions/{_quote(execution_id)}/cancel"
        return from_data(await self._json("POST", path), Execution)

    async def events(self, execution_id: str, *, follow: bool) -> AsyncIterator[Event]:
        path = f"/executions/{_quote(execution_id)}/events"
        accept = "text/event-stream"
        if not follow:
            path += ".ndjson"
            accept = "application/x-ndjson"
        try:
            response = await anyio.to_thread.run_sync(
                lambda: self._request("GET", path, accept=accept)
            )
        except urllib.error.HTTPError as exc:
            raise _http_error(exc) from None
        except urllib.error.URLError as exc:
            raise AgentedError(f"cannot reach {self.url}: {exc.reason}") from None
        try:
            read: Callable[[], bytes] = response.readline
            if follow:
                async for event in _sse_events(read):
                    yield event
            else:
                while line := await anyio.to_thread.run_sync(read):
                    if line.strip():
                        yield from_data(json.loads(line), Event)
        finally:
            response.close()


async def _sse_events(read: Callable[[], bytes]) -> AsyncIterator[Event]:
    """Events from a ``text/event-stream``: blocks of ``field: value`` lines, blank-separated."""
    data: list[str] = []
    kind = "message"
    while True:
        raw = await anyio.to_thread.run_sync(read)
        if not raw:
            return
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data and kind not in ("resync", "ping"):
                yield from_data(json.loads("\n".join(data)), Event)
            data, kind = [], "message"
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            kind = value


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _http_error(exc: urllib.error.HTTPError) -> AgentedError:
    try:
        body = json.loads(exc.read() or b"{}")
        message = body.get("message") or exc.reason
    except ValueError:
        message = exc.reason
    if exc.code == 404:
        return NotFoundError(str(message))
    if exc.code == 409:
        return ConflictError(str(message))
    if exc.code == 401:
        return AgentedError(f"unauthorized: set {KEY_ENV} to an API key of the server")
    return AgentedError(f"the server answered {exc.code}: {message}")
