"""Using agented from synchronous code (Flask, Django, scripts).

:class:`SyncAgented` runs an :class:`Agented` on an event loop in a background thread (an anyio
blocking portal) and offers the same methods as plain blocking calls::

    with SyncAgented.open(config="agented.toml") as ag:
        execution = ag.run("hello", params={"message": "world"})
        for event in ag.events(execution.id):
            print(event.kind, event.text)

Open it once per process (e.g. at app start-up) and share it between request threads: every call
is safe from any thread.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from .agented import Agented
from .models import Event, Execution, Status


class SyncAgented:
    """Blocking access to an :class:`Agented` running in a background thread."""

    def __init__(self, agented: Agented, portal: BlockingPortal) -> None:
        self.agented = agented
        self.portal = portal

    @classmethod
    @contextmanager
    def open(cls, *args: Any, **kwargs: Any) -> Iterator[SyncAgented]:
        """Like :meth:`Agented.open` (same arguments), as a plain context manager."""
        with (
            start_blocking_portal() as portal,
            portal.wrap_async_context_manager(Agented.open(*args, **kwargs)) as agented,
        ):
            yield cls(agented, portal)

    def run(self, name: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Execution:
        """Queue a run; see :meth:`Agented.run`."""
        return self.portal.call(functools.partial(self.agented.run, name, params, **kwargs))

    def get(self, execution_id: str) -> Execution:
        """See :meth:`Agented.get`."""
        return self.portal.call(self.agented.get, execution_id)

    def list(
        self,
        *,
        bot: str | None = None,
        status: Status | Sequence[Status] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Execution], str | None]:
        """See :meth:`Agented.list`."""
        call = functools.partial(
            self.agented.list, bot=bot, status=status, limit=limit, cursor=cursor
        )
        return self.portal.call(call)

    def wait(self, execution_id: str, timeout: float | None = None) -> Execution:
        """See :meth:`Agented.wait`."""
        return self.portal.call(self.agented.wait, execution_id, timeout)

    def cancel(self, execution_id: str) -> Execution:
        """See :meth:`Agented.cancel`."""
        return self.portal.call(self.agented.cancel, execution_id)

    def pause(self, execution_id: str) -> Execution:
        """See :meth:`Agented.pause`."""
        return self.portal.call(self.agented.pause, execution_id)

    def resume(self, execution_id: str) -> Execution:
        """See :meth:`Agented.resume`."""
        return self.portal.call(self.agented.resume, execution_id)

    def rerun(self, execution_id: str) -> Execution:
        """See :meth:`Agented.rerun`."""
        return self.portal.call(self.agented.rerun, execution_id)

    def events(self, execution_id: str, after: int = 0) -> Iterator[Event]:
        """Stored, then live events, ending after the terminal status; blocks between events."""
        stream = self.agented.events(execution_id, after)
        try:
            while True:
                try:
                    yield self.portal.call(stream.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            self.portal.call(stream.aclose)
