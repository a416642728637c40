"""Progress of a running attempt for ``agented_execution_progress``: throttled running totals.

While an attempt's process runs, :func:`report_progress` looks every ``interval`` seconds at
whether the attempt printed anything (events made from its output) since the last report; if
it did, the hook is called with
the totals (:class:`~agented_core.models.Progress`). So the hook is called at most once per
interval, and not at all while the attempt is quiet or when no plugin implements it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from ..events._log import EventLog
from ..models import HookFailure, Progress, Usage
from ..plugins import Plugins
from ._output import AttemptOutput, usage_fields

HOOK = "agented_execution_progress"


def wants_progress(plugins: Plugins) -> bool:
    """True when some plugin implements the progress hook."""
    return bool(getattr(plugins.manager.hook, HOOK).get_hookimpls())


async def report_progress(
    plugins: Plugins,
    events: EventLog,
    state: AttemptOutput,
    interval: float,
    record: Callable[[list[HookFailure]], Awaitable[None]],
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
        await record(await plugins.notify(HOOK, execution=execution, progress=progress))
