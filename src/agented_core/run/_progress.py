"""Progress of a running attempt for ``agented_execution_progress``: throttled running totals.

While an attempt's process runs, :func:`report_progress` looks every ``interval`` seconds at
whether the attempt printed anything (events made from its output) since the last report; if
it did, the hook is called with
the totals (:class:`~agented_core.models.Progress`). So the hook is called at most once per
interval, and not at all while the attempt is quiet or when no plugin implements it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio

from ..events._log import EventLog
from ..models import HookFailure, Progress, Usage
from ..plugins import Plugins
from ._output import AttemptOutput, usage_fields

HOOK = "agented_execution_progress"

log = logging.getLogger("agented.executor")

Record = Callable[[list[HookFailure]], Awaitable[None]]


def wants_progress(plugins: Plugins) -> bool:
    """True when some plugin implements the progress hook."""
    return bool(getattr(plugins.manager.hook, HOOK).get_hookimpls())


@asynccontextmanager
async def progress_reports(
    plugins: Plugins, events: EventLog, state: AttemptOutput, interval: float, record: Record
) -> AsyncIterator[None]:
    """Report progress (:func:`report_progress`) while the body runs the attempt's process.

    Nothing is started when no plugin implements the hook. The body's own exception comes out
    as it is, not inside an exception group.
    """
    if not wants_progress(plugins):
        yield
        return
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(report_progress, plugins, events, state, interval, record)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # the reporter never raises (it logs), so the one exception is the body's
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


async def report_progress(
    plugins: Plugins,
    events: EventLog,
    state: AttemptOutput,
    interval: float,
    record: Record,
) -> None:
    """Call the progress hook for ``state``'s execution until cancelled (see the module)."""
    execution = state.execution
    seen = state.printed
    while True:
        await anyio.sleep(interval)
        now = events.last_seq(execution.id)
        if now is None or state.printed == seen:
            continue
        seen = state.printed
        progress = Progress(
            attempt=execution.attempt,
            events=now,
            tool_calls=state.tool_calls,
            file_changes=state.file_changes,
            usage=Usage(**usage_fields(execution.usage)),
        )
        try:
            await record(await plugins.notify(HOOK, execution=execution, progress=progress))
        except Exception:  # recording failed (the store): the run goes on regardless
            log.exception("recording a progress hook's failure for %s failed", execution.id)
