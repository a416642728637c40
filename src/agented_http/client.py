"""A client of agented's HTTP API, on httpx: :class:`AsyncClient` and :class:`Client`.

Shaped like httpx's own clients, and usable as context managers::

    async with AsyncClient("https://bots.example.com/agented", api_key=key) as client:
        execution_id = await client.run("deploy-notes", {"message": "v1.2"})
        async for event in client.follow(execution_id):
            print(event.kind, event.text)

Answers are the core's models (:class:`~agented_core.Execution`, :class:`~agented_core.Event`
...), read with the converter the server writes them with; error answers are
:mod:`agented_http.client_errors` (a 404 is also a :class:`~agented_core.NotFoundError`, a
409 a :class:`~agented_core.ConflictError`). Both flavours send the same calls
(:mod:`agented_http.client_calls`) and resume a followed stream alike
(:mod:`agented_http.client_sse`); the sync one has no thread or event loop of its own.

The API key travels as ``Authorization: Bearer``, a header httpx never shows in a repr; no
repr or log line of the client holds it.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import httpx

from agented_core import Event, Execution, SpendTotals, TriggerKind
from agented_core.triggers import DryRun

from . import client_calls as calls
from .client_calls import BotInfo, Call, ExecutionPage, SearchPage, StatusFilter
from .client_errors import error_for, unreachable
from .client_sse import Follow, FrameDecoder
from .tokens import StreamToken

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
RECONNECT_FOR = 30.0
"""How long :meth:`AsyncClient.follow` keeps trying to reconnect before it gives up (s)."""
IDLE_TIMEOUT = 60.0
"""Seconds without a byte (the server sends a comment every 15 s) before a stream counts as
dropped and is reopened."""
RETRY_DELAY = 2.0
"""The delay before reconnecting until the server suggests one (SSE ``retry:``)."""
RETRYABLE = frozenset({502, 503, 504})
"""Answers of a server that is restarting or behind a proxy that lost it: tried again."""


def _headers(api_key: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    out = {"Accept": "application/json", **(headers or {})}
    if api_key:
        out["Authorization"] = f"Bearer {api_key}"
    return out


def _stream_timeout(timeout: httpx.Timeout, idle: float) -> httpx.Timeout:
    return httpx.Timeout(connect=timeout.connect, read=idle, write=timeout.write, pool=timeout.pool)


class _Reconnects:
    """When a follower tries again, and when it gives up."""

    def __init__(self, base_url: str, reconnect_for: float) -> None:
        self.base_url = base_url
        self.reconnect_for = reconnect_for
        self.failing_since: float | None = None
        self.delay = RETRY_DELAY

    def answered(self, decoder: FrameDecoder) -> None:
        """Bytes came: the clock of failures starts again."""
        self.failing_since = None
        if decoder.retry_ms is not None:
            self.delay = decoder.retry_ms / 1000

    def failed(self, error: Exception) -> None:
        """No answer (or a retryable one): raise once that has gone on too long."""
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = now
        elif now - self.failing_since > self.reconnect_for:
            if isinstance(error, httpx.TransportError):
                raise unreachable(self.base_url, error) from error
            raise error


class AsyncClient:
    """An async client of an agented server at ``base_url`` (its mount point, e.g.
    ``http://127.0.0.1:8000/agented``).

    ``transport`` and ``timeout`` are httpx's (an ``httpx.ASGITransport(app)`` serves an app in
    process); ``headers`` are sent with every request.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=_headers(api_key, headers),
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"<AsyncClient {self.base_url!r}>"

    async def __aenter__(self) -> Self:
        await self._http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method, call.path, params=call.params, json=call.json, headers=call.headers
            )
        except httpx.TransportError as exc:
            raise unreachable(self.base_url, exc) from exc
        if response.status_code not in call.ok:
            raise error_for(response)
        return call.read(response)

    async def health(self) -> dict[str, Any]:
        """Liveness: ``{"status": "ok"}``."""
        return await self._send(calls.health())

    async def ready(self) -> dict[str, Any]:
        """Readiness: ``status`` is ``ready`` or ``unavailable``, with details for a key."""
        return await self._send(calls.ready())

    async def bots(self) -> builtins.list[BotInfo]:
        """Every bot, by name."""
        return await self._send(calls.bots())

    async def bot(self, name: str) -> BotInfo:
        """One bot."""
        return await self._send(calls.bot(name))

    async def run(self, name: str, params: Mapping[str, Any] | None = None) -> str:
        """Queue a run of bot ``name``; the new execution's id."""
        return await self._send(calls.run(name, params))

    async def list(
        self,
        *,
        bot: str | None = None,
        status: StatusFilter = None,
        prefix: str | None = None,
        trigger: TriggerKind | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> ExecutionPage:
        """One page of executions, newest first, filtered alike (``prefix``: ids starting so;
        ``trigger``: only those it started, a page then perhaps shorter than ``limit``)."""
        return await self._send(
            calls.executions(
                bot=bot, status=status, prefix=prefix, limit=limit, cursor=cursor, trigger=trigger
            )
        )

    async def search(
        self,
        text: str,
        *,
        bot: str | None = None,
        status: StatusFilter = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SearchPage:
        """Executions whose events' text matches ``text`` (every word; ``"phrases"``;
        ``word*``), most recently written first, each with snippets of its matching events."""
        return await self._send(
            calls.search(text, bot=bot, status=status, limit=limit, cursor=cursor)
        )

    async def pages(
        self,
        *,
        bot: str | None = None,
        status: StatusFilter = None,
        prefix: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> AsyncIterator[ExecutionPage]:
        """Every page of the listing, from ``cursor`` on (``limit`` executions a page)."""
        while True:
            page = await self.list(
                bot=bot, status=status, prefix=prefix, limit=limit, cursor=cursor
            )
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get(self, execution_id: str) -> Execution:
        """One execution, whole."""
        return await self._send(calls.execution(execution_id))

    async def cancel(self, execution_id: str) -> Execution:
        """Ask for an execution to be cancelled; the execution as it is now."""
        return await self._send(calls.control(execution_id, "cancel"))

    async def pause(self, execution_id: str) -> Execution:
        """Pause a running execution; the execution as it is now."""
        return await self._send(calls.control(execution_id, "pause"))

    async def resume(self, execution_id: str) -> Execution:
        """Resume a paused execution; the execution as it is now."""
        return await self._send(calls.control(execution_id, "resume"))

    async def rerun(self, execution_id: str) -> str:
        """Start a new execution like this one; the new execution's id."""
        return await self._send(calls.rerun(execution_id))

    async def events(self, execution_id: str, *, after: int = 0) -> builtins.list[Event]:
        """The stored events after seq ``after`` (NDJSON); a finished execution's all."""
        return await self._send(calls.events(execution_id, after))

    async def follow(
        self,
        execution_id: str,
        *,
        after: int = 0,
        reconnect_for: float = RECONNECT_FOR,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> AsyncIterator[Event]:
        """The events after seq ``after``, live over SSE, until the execution ends.

        A dropped connection (or a restarting server) is reopened after the last seq received,
        so no event is missed or repeated; after ``reconnect_for`` seconds without an answer it
        raises :class:`UnreachableError`. Events that were pruned are announced by an event of
        kind ``resync``.
        """
        state = Follow(execution_id, after)
        retries = _Reconnects(self.base_url, reconnect_for)
        timeout = _stream_timeout(self._http.timeout, idle_timeout)
        path = calls.events_path(execution_id)
        while not state.done:
            decoder = FrameDecoder()
            try:
                async with self._http.stream(
                    "GET", path, headers=state.headers(), timeout=timeout
                ) as response:
                    if response.status_code == 204:
                        return  # finished, and nothing after ``state.last``
                    if response.status_code != 200:
                        await response.aread()
                        error = error_for(response)
                        if response.status_code not in RETRYABLE:
                            raise error
                        retries.failed(error)
                    else:
                        async for chunk in response.aiter_bytes():
                            for frame in decoder.feed(chunk):
                                event = state.accept(frame)
                                if event is not None:
                                    yield event
                            retries.answered(decoder)
            except httpx.TransportError as exc:
                retries.failed(exc)
            if not state.done:
                await anyio.sleep(retries.delay)

    async def stream_token(self, execution_id: str) -> StreamToken:
        """A short-lived token for the execution's SSE route (``?token=``), for a browser."""
        return await self._send(calls.stream_token(execution_id))

    async def dry_run(self, event: str, payload: Mapping[str, Any]) -> DryRun:
        """Which bots a GitHub delivery of ``event`` would start, with prompts; runs nothing."""
        return await self._send(calls.dry_run(event, payload))

    async def deliveries(self, limit: int = 50) -> builtins.list[dict[str, Any]]:
        """The newest webhook deliveries and what each started or why not."""
        return await self._send(calls.deliveries(limit))

    async def redeliver(self, delivery_id: str) -> dict[str, Any]:
        """Match a stored delivery's payload again as a new delivery; what it started."""
        return await self._send(calls.redeliver(delivery_id))

    async def accounts(self) -> dict[str, Any]:
        """Accounts (cooldowns, breakers, spend) and every provider's breaker."""
        return await self._send(calls.accounts())

    async def spend(self) -> builtins.list[SpendTotals]:
        """Every bot's and account's spend today and this month with its caps, bots first (as
        :meth:`agented_core.Agented.spend`; from ``GET /bots`` and ``GET /accounts``; what
        an older server does not show is left out)."""
        return calls.spend_totals(await self.bots(), await self.accounts())

    async def clear_account(self, name: str) -> dict[str, Any]:
        """End an account's cooldown now; the account as it is now."""
        return await self._send(calls.clear_account(name))

    async def cancel_many(
        self, *, bot: str | None = None, status: StatusFilter = None
    ) -> dict[str, Any]:
        """Cancel every execution of ``bot`` and/or ``status``; ``cancelled`` and ``failed``."""
        return await self._send(calls.cancel_many(bot, status))


class Client:
    """The blocking twin of :class:`AsyncClient`: the same methods, on ``httpx.Client``.

    For scripts and synchronous hosts (Flask, Django); ``transport`` is a sync httpx transport.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=_headers(api_key, headers),
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"<Client {self.base_url!r}>"

    def __enter__(self) -> Self:
        self._http.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.__exit__(exc_type, exc, tb)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        try:
            response = self._http.request(
                call.method, call.path, params=call.params, json=call.json, headers=call.headers
            )
        except httpx.TransportError as exc:
            raise unreachable(self.base_url, exc) from exc
        if response.status_code not in call.ok:
            raise error_for(response)
        return call.read(response)

    def health(self) -> dict[str, Any]:
        """See :meth:`AsyncClient.health`."""
        return self._send(calls.health())

    def ready(self) -> dict[str, Any]:
        """See :meth:`AsyncClient.ready`."""
        return self._send(calls.ready())

    def bots(self) -> builtins.list[BotInfo]:
        """See :meth:`AsyncClient.bots`."""
        return self._send(calls.bots())

    def bot(self, name: str) -> BotInfo:
        """See :meth:`AsyncClient.bot`."""
        return self._send(calls.bot(name))

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> str:
        """See :meth:`AsyncClient.run`."""
        return self._send(calls.run(name, params))

    def list(
        self,
        *,
        bot: str | None = None,
        status: StatusFilter = None,
        prefix: str | None = None,
        trigger: TriggerKind | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> ExecutionPage:
        """See :meth:`AsyncClient.list`."""
        return self._send(
            calls.executions(
                bot=bot, status=status, prefix=prefix, limit=limit, cursor=cursor, trigger=trigger
            )
        )

    def search(
        self,
        text: str,
        *,
        bot: str | None = None,
        status: StatusFilter = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SearchPage:
        """See :meth:`AsyncClient.search`."""
        return self._send(calls.search(text, bot=bot, status=status, limit=limit, cursor=cursor))

    def pages(
        self,
        *,
        bot: str | None = None,
        status: StatusFilter = None,
        prefix: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Iterator[ExecutionPage]:
        """See :meth:`AsyncClient.pages`."""
        while True:
            page = self.list(bot=bot, status=status, prefix=prefix, limit=limit, cursor=cursor)
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get(self, execution_id: str) -> Execution:
        """See :meth:`AsyncClient.get`."""
        return self._send(calls.execution(execution_id))

    def cancel(self, execution_id: str) -> Execution:
        """See :meth:`AsyncClient.cancel`."""
        return self._send(calls.control(execution_id, "cancel"))

    def pause(self, execution_id: str) -> Execution:
        """See :meth:`AsyncClient.pause`."""
        return self._send(calls.control(execution_id, "pause"))

    def resume(self, execution_id: str) -> Execution:
        """See :meth:`AsyncClient.resume`."""
        return self._send(calls.control(execution_id, "resume"))

    def rerun(self, execution_id: str) -> str:
        """See :meth:`AsyncClient.rerun`."""
        return self._send(calls.rerun(execution_id))

    def events(self, execution_id: str, *, after: int = 0) -> builtins.list[Event]:
        """See :meth:`AsyncClient.events`."""
        return self._send(calls.events(execution_id, after))

    def follow(
        self,
        execution_id: str,
        *,
        after: int = 0,
        reconnect_for: float = RECONNECT_FOR,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> Iterator[Event]:
        """See :meth:`AsyncClient.follow`."""
        state = Follow(execution_id, after)
        retries = _Reconnects(self.base_url, reconnect_for)
        timeout = _stream_timeout(self._http.timeout, idle_timeout)
        path = calls.events_path(execution_id)
        while not state.done:
            decoder = FrameDecoder()
            try:
                with self._http.stream(
                    "GET", path, headers=state.headers(), timeout=timeout
                ) as response:
                    if response.status_code == 204:
                        return
                    if response.status_code != 200:
                        response.read()
                        error = error_for(response)
                        if response.status_code not in RETRYABLE:
                            raise error
                        retries.failed(error)
                    else:
                        for chunk in response.iter_bytes():
                            for frame in decoder.feed(chunk):
                                event = state.accept(frame)
                                if event is not None:
                                    yield event
                            retries.answered(decoder)
            except httpx.TransportError as exc:
                retries.failed(exc)
            if not state.done:
                time.sleep(retries.delay)

    def stream_token(self, execution_id: str) -> StreamToken:
        """See :meth:`AsyncClient.stream_token`."""
        return self._send(calls.stream_token(execution_id))

    def dry_run(self, event: str, payload: Mapping[str, Any]) -> DryRun:
        """See :meth:`AsyncClient.dry_run`."""
        return self._send(calls.dry_run(event, payload))

    def deliveries(self, limit: int = 50) -> builtins.list[dict[str, Any]]:
        """See :meth:`AsyncClient.deliveries`."""
        return self._send(calls.deliveries(limit))

    def redeliver(self, delivery_id: str) -> dict[str, Any]:
        """See :meth:`AsyncClient.redeliver`."""
        return self._send(calls.redeliver(delivery_id))

    def accounts(self) -> dict[str, Any]:
        """See :meth:`AsyncClient.accounts`."""
        return self._send(calls.accounts())

    def spend(self) -> builtins.list[SpendTotals]:
        """See :meth:`AsyncClient.spend`."""
        return calls.spend_totals(self.bots(), self.accounts())

    def clear_account(self, name: str) -> dict[str, Any]:
        """See :meth:`AsyncClient.clear_account`."""
        return self._send(calls.clear_account(name))

    def cancel_many(self, *, bot: str | None = None, status: StatusFilter = None) -> dict[str, Any]:
        """See :meth:`AsyncClient.cancel_many`."""
        return self._send(calls.cancel_many(bot, status))
