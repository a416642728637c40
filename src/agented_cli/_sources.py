"""Where the inspecting commands read from: the local store, or a server (``--url``).

Both sources offer the same async methods, so ``executions``, ``show``, ``logs``, ``cancel``,
``pause`` and ``resume`` work alike against either, and take the start of an id for the id.
The local one opens the store without taking over anything (no recovery, no waking of waiting
runs); the remote one speaks the HTTP API with the key from ``AGENTED_API_KEY``, using only the
standard library.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import anyio
import anyio.to_thread

from agented_core.agented import Agented
from agented_core.config import load_config
from agented_core.converter import from_data
from agented_core.errors import AgentedError, ConflictError, NotFoundError
from agented_core.models import Event, Execution, Status

KEY_ENV = "AGENTED_API_KEY"
SHOWN_CANDIDATES = 10


class Source(Protocol):
    """What the inspecting commands need."""

    async def list(
        self, *, bot: str | None, status: Status | None, limit: int
    ) -> list[Execution]: ...

    async def get(self, execution_id: str) -> Execution: ...

    def events(self, execution_id: str, *, follow: bool) -> AsyncIterator[Event]: ...

    async def cancel(self, execution_id: str) -> Execution: ...

    async def pause(self, execution_id: str) -> Execution: ...

    async def resume(self, execution_id: str) -> Execution: ...

    async def resolve(self, given: str) -> str: ...


async def resolve_id(
    given: str,
    exists: Callable[[str], Awaitable[bool]],
    with_prefix: Callable[[str, int], Awaitable[list[str]]],
) -> str:
    """The execution id that ``given`` names: the id itself, or the one id it begins.

    Ids are ULIDs, upper case; a lower-case prefix is tried upper-cased too. No match is a
    :class:`NotFoundError`; several are a usage error (exit 2) listing them.
    """
    if not given:
        raise AgentedError("an execution id (or the start of one) is needed")
    if await exists(given):
        return given
    for prefix in dict.fromkeys((given, given.upper())):
        found = await with_prefix(prefix, SHOWN_CANDIDATES + 1)
        if len(found) == 1:
            return found[0]
        if found:
            listed = ", ".join(found[:SHOWN_CANDIDATES])
            more = " and more" if len(found) > SHOWN_CANDIDATES else ""
            raise AgentedError(
                f"{given!r} starts several executions: {listed}{more}; give more of the id"
            )
    raise NotFoundError(f"no execution {given!r}")


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

    async def pause(self, execution_id: str) -> Execution:
        return await self.agented.pause(execution_id)

    async def resume(self, execution_id: str) -> Execution:
        return await self.agented.resume(execution_id)

    async def resolve(self, given: str) -> str:
        store = self.agented.store

        async def exists(execution_id: str) -> bool:
            return await store.get_execution(execution_id) is not None

        return await resolve_id(given, exists, store.ids_with_prefix)


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

    async def _control(self, execution_id: str, action: str) -> Execution:
        path = f"/executions/{_quote(execution_id)}/{action}"
        return from_data(await self._json("POST", path), Execution)

    async def cancel(self, execution_id: str) -> Execution:
        return await self._control(execution_id, "cancel")

    async def pause(self, execution_id: str) -> Execution:
        return await self._control(execution_id, "pause")

    async def resume(self, execution_id: str) -> Execution:
        return await self._control(execution_id, "resume")

    async def rerun(self, execution_id: str) -> str:
        """Start a new execution like this one on the server; the new id."""
        data = await self._json("POST", f"/executions/{_quote(execution_id)}/rerun")
        return str(data["execution_id"])

    async def resolve(self, given: str) -> str:
        async def exists(execution_id: str) -> bool:
            try:
                await self.get(execution_id)
            except NotFoundError:
                return False
            return True

        async def with_prefix(prefix: str, limit: int) -> list[str]:
            data = await self._json("GET", "/executions", {"prefix": prefix, "limit": limit})
            # a server that ignores ``prefix`` lists everything: keep only real matches
            ids = [str(item["id"]) for item in data["items"]]
            return [i for i in ids if i.startswith(prefix)]

        return await resolve_id(given, exists, with_prefix)

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
