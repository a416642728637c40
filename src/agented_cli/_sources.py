"""Where the inspecting commands read from: the local store, or a server (``--url``).

Both sources offer the same async methods, so ``executions``, ``show``, ``logs``, ``cancel``,
``pause`` and ``resume`` work alike against either, and take the start of an id for the id.
The local one opens the store without taking over anything (no recovery, no waking of waiting
runs); the remote one speaks the HTTP API with the key from ``AGENTED_API_KEY``, through
:class:`agented_http.AsyncClient` (the HTTP extra).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, NamedTuple, Protocol

from agented_core import SpendTotals, audit
from agented_core.agented import Agented
from agented_core.config import load_config
from agented_core.errors import AgentedError, ConflictError, NotFoundError
from agented_core.models import Event, EventKind, Execution, Status, TriggerKind
from agented_core.plugins import Plugins
from agented_core.store.search import parse_query, snippet

if TYPE_CHECKING:
    from agented_http import AsyncClient

KEY_ENV = "AGENTED_API_KEY"
SHOWN_CANDIDATES = 10


class Hit(NamedTuple):
    """A matching event as ``logs --grep`` prints it."""

    seq: int
    kind: str
    snippet: str


Found = list[tuple[Execution, list[Hit]]]
Spend = list[SpendTotals]


class Source(Protocol):
    """What the inspecting commands need."""

    async def search(self, text: str, *, limit: int) -> Found: ...

    async def spend(self, execution: Execution) -> Spend: ...

    async def list(
        self,
        *,
        bot: str | None,
        status: Status | None,
        limit: int,
        trigger: TriggerKind | None = None,
    ) -> list[Execution]: ...

    async def get(self, execution_id: str) -> Execution: ...

    def events(self, execution_id: str, *, follow: bool) -> AsyncIterator[Event]: ...

    async def cancel(self, execution_id: str) -> Execution: ...

    async def pause(self, execution_id: str) -> Execution: ...

    async def resume(self, execution_id: str) -> Execution: ...

    async def resolve(self, given: str) -> str: ...

    async def cancel_many(
        self, *, bot: str | None, status: Sequence[Status]
    ) -> builtins.list[str]: ...


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
    config = load_config(config_path, keys=Plugins().config_keys())
    async with Agented.open(config=config, wake=False, recover=False) as ag:
        yield LocalSource(ag)


def _remote(url: str) -> AbstractAsyncContextManager[Source]:
    return remote_source(url)


@asynccontextmanager
async def remote_source(url: str) -> AsyncIterator[RemoteSource]:
    """The server at ``url``, with the key from ``AGENTED_API_KEY``."""
    try:
        from agented_http import AsyncClient
    except ImportError as exc:
        raise AgentedError(
            f"--url needs the HTTP extra: pip install 'agented[http]' ({exc})"
        ) from None
    async with AsyncClient(url, api_key=os.environ.get(KEY_ENV)) as client:
        yield RemoteSource(client)


async def _audited(action: str, agented: Agented, execution: Execution) -> Execution:
    await audit.record(agented.store, action, execution, audit.cli_actor())
    return execution


Page = Callable[[int, str | None], Awaitable[tuple[list[Execution], str | None]]]


async def _up_to(limit: int, page: Page) -> list[Execution]:
    """Up to ``limit`` executions, newest first, from ``page(size, cursor)`` called until it
    has given that many or has no more (by trigger, a page may hold fewer than asked and still
    have a cursor)."""
    items: list[Execution] = []
    cursor: str | None = None
    while True:
        found, cursor = await page(limit - len(items), cursor)
        items.extend(found)
        if cursor is None or len(items) >= limit:
            return items


class LocalSource:
    """The executions in the local store."""

    def __init__(self, agented: Agented) -> None:
        self.agented = agented

    async def list(
        self,
        *,
        bot: str | None,
        status: Status | None,
        limit: int,
        trigger: TriggerKind | None = None,
    ) -> list[Execution]:
        async def page(size: int, cursor: str | None) -> tuple[list[Execution], str | None]:
            return await self.agented.list(
                bot=bot, status=status, trigger=trigger, limit=size, cursor=cursor
            )

        return await _up_to(limit, page)

    async def get(self, execution_id: str) -> Execution:
        return await self.agented.get(execution_id)

    async def spend(self, execution: Execution) -> Spend:
        """The spend of the execution's bot and account against their caps."""
        wanted = {("bot", execution.bot), ("account", execution.account)}
        return [t for t in await self.agented.spend() if (t.scope, t.name) in wanted]

    async def search(self, text: str, *, limit: int) -> Found:
        terms = parse_query(text)
        found, _ = await self.agented.search(text, limit=limit)
        return [
            (execution, [Hit(e.seq, e.kind, snippet(e.text or "", terms)[0]) for e in events])
            for execution, events in found
        ]

    async def events(self, execution_id: str, *, follow: bool) -> AsyncIterator[Event]:
        if follow:
            async for event in self.agented.events(execution_id):
                yield event
            return
        await self.agented.get(execution_id)
        for event in await self.agented.store.read_events(execution_id):
            yield event

    async def cancel(self, execution_id: str) -> Execution:
        return await _audited("cancel", self.agented, await self.agented.cancel(execution_id))

    async def pause(self, execution_id: str) -> Execution:
        return await _audited("pause", self.agented, await self.agented.pause(execution_id))

    async def resume(self, execution_id: str) -> Execution:
        return await _audited("resume", self.agented, await self.agented.resume(execution_id))

    async def cancel_many(self, *, bot: str | None, status: Sequence[Status]) -> builtins.list[str]:
        """Cancel every execution of ``bot`` and/or ``status`` (each audited); their ids."""
        if bot is not None:
            self.agented.bot(bot)  # not found: exit 1
        targets: builtins.list[str] = []
        cursor: str | None = None
        while True:
            items, cursor = await self.agented.list(
                bot=bot, status=status, limit=500, cursor=cursor
            )
            targets += [e.id for e in items]
            if cursor is None:
                break
        done: builtins.list[str] = []
        for execution_id in targets:
            try:
                await self.cancel(execution_id)
            except (ConflictError, NotFoundError):  # it ended in between
                continue
            done.append(execution_id)
        return done

    async def resolve(self, given: str) -> str:
        store = self.agented.store

        async def exists(execution_id: str) -> bool:
            return await store.get_execution(execution_id) is not None

        return await resolve_id(given, exists, store.ids_with_prefix)


class RemoteSource:
    """The executions of a server, through its HTTP API (:class:`agented_http.AsyncClient`)."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def list(
        self,
        *,
        bot: str | None,
        status: Status | None,
        limit: int,
        trigger: TriggerKind | None = None,
    ) -> list[Execution]:
        async def page(size: int, cursor: str | None) -> tuple[list[Execution], str | None]:
            found = await self.client.list(
                bot=bot, status=status, trigger=trigger, limit=min(size, 500), cursor=cursor
            )
            return found.items, found.next_cursor

        with _answers():
            return await _up_to(limit, page)

    async def get(self, execution_id: str) -> Execution:
        with _answers():
            return await self.client.get(execution_id)

    async def spend(self, execution: Execution) -> Spend:
        """The spend of the execution's bot and account against their caps (``GET /bots``,
        ``GET /accounts``); what the server does not show is left out."""
        wanted = {("bot", execution.bot), ("account", execution.account)}
        with _answers():
            totals = await self.client.spend()
        return [t for t in totals if (t.scope, t.name) in wanted]

    async def search(self, text: str, *, limit: int) -> Found:
        with _answers():
            page = await self.client.search(text, limit=min(limit, 100))
        return [
            (item.execution, [Hit(h.seq, h.kind, h.snippet) for h in item.matches])
            for item in page.items
        ]

    async def cancel(self, execution_id: str) -> Execution:
        with _answers():
            return await self.client.cancel(execution_id)

    async def pause(self, execution_id: str) -> Execution:
        with _answers():
            return await self.client.pause(execution_id)

    async def resume(self, execution_id: str) -> Execution:
        with _answers():
            return await self.client.resume(execution_id)

    async def cancel_many(self, *, bot: str | None, status: Sequence[Status]) -> builtins.list[str]:
        """Cancel every execution of ``bot`` and/or ``status`` on the server; their ids."""
        with _answers():
            answer = await self.client.cancel_many(bot=bot, status=status or None)
        return [str(i) for i in answer["cancelled"]]

    async def redeliver(self, delivery_id: str) -> dict[str, object]:
        """Have the server match a stored delivery again; its answer."""
        with _answers():
            return await self.client.redeliver(delivery_id)

    async def rerun(self, execution_id: str) -> str:
        """Start a new execution like this one on the server; the new id."""
        with _answers():
            return await self.client.rerun(execution_id)

    async def resolve(self, given: str) -> str:
        async def exists(execution_id: str) -> bool:
            try:
                await self.get(execution_id)
            except NotFoundError:
                return False
            return True

        async def with_prefix(prefix: str, limit: int) -> list[str]:
            with _answers():
                page = await self.client.list(prefix=prefix, limit=limit)
            # a server that ignores ``prefix`` lists everything: keep only real matches
            return [e.id for e in page.items if e.id.startswith(prefix)]

        return await resolve_id(given, exists, with_prefix)

    async def events(self, execution_id: str, *, follow: bool) -> AsyncIterator[Event]:
        with _answers():
            if not follow:
                for event in await self.client.events(execution_id):
                    yield event
                return
            async for event in self.client.follow(execution_id):
                if event.kind != EventKind.RESYNC:
                    yield event


@contextmanager
def _answers() -> Iterator[None]:
    """The client's errors as the command line words them (and so exits: 1 or 2)."""
    from agented_http import AgentedHTTPError, UnauthorizedError, UnreachableError

    try:
        yield
    except (NotFoundError, ConflictError, UnreachableError):
        raise
    except UnauthorizedError:
        raise AgentedError(f"unauthorized: set {KEY_ENV} to an API key of the server") from None
    except AgentedHTTPError as exc:
        raise AgentedError(f"the server answered {exc.status_code}: {exc.message}") from None
