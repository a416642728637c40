"""The runs this process drives: one :class:`LiveRun` each, started, driven and controlled here.

A run enters when it is queued here (a new run, or a waiting one woken) and leaves when its
task ends, whatever its status then. Its cancel scope exists from the moment it enters, so a
cancel that comes before its task runs is not lost; once it is admitted the scope is shielded
and stopping goes through its process (:class:`ProcessRun`) instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup
from attrs import define, field

from ..clock import Clock
from ..errors import ConflictError
from ..events._log import EventLog
from ..models import Bot, Execution, Status
from ..plugins import Plugins
from ._admission import Admission, Skipped
from ._executor import Executor
from ._preparation import base_context
from ._runner import ProcessRun, StopReason

log = logging.getLogger("agented")


@define(eq=False)
class LiveRun:
    """One execution this process drives: its record, its bot, and how to stop it.

    ``process`` is the running attempt's process while there is one; ``cancel_reason`` is
    what a cancel before that said, for the status it leaves.
    """

    execution: Execution
    bot: Bot
    scope: anyio.CancelScope = field(factory=anyio.CancelScope)
    done: anyio.Event = field(factory=anyio.Event)
    process: ProcessRun | None = None
    cancel_reason: str = "cancelled"


class Supervisor:
    """Starts, drives and controls the runs of this process, one :class:`LiveRun` each."""

    def __init__(
        self,
        *,
        executor: Executor,
        event_log: EventLog,
        plugins: Plugins,
        max_concurrent_runs: int,
        clock: Clock,
    ) -> None:
        self.executor = executor
        self.event_log = event_log
        self.plugins = plugins
        self.clock = clock
        self.admission = Admission(max_concurrent_runs)
        self.live: dict[str, LiveRun] = {}
        self.accepting = False
        self._tg: TaskGroup | None = None
        executor.on_process = self._attach

    def __contains__(self, execution_id: object) -> bool:
        return execution_id in self.live

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.live))

    def execution(self, execution_id: str) -> Execution | None:
        """The live record of a run of this process, or ``None``."""
        live = self.live.get(execution_id)
        return live.execution if live is not None else None

    def done(self, execution_id: str) -> anyio.Event | None:
        """The event set when the run's task ends, or ``None`` if it is not live here."""
        live = self.live.get(execution_id)
        return live.done if live is not None else None

    def _attach(self, execution_id: str, process: ProcessRun | None) -> None:
        live = self.live.get(execution_id)
        if live is not None:
            live.process = process

    # starting and driving
    def serve(self, tg: TaskGroup) -> None:
        """Take runs from now on, driving each in ``tg``."""
        self._tg = tg
        self.accepting = True

    def stop_accepting(self) -> None:
        """Refuse new runs from now on (graceful shutdown has begun)."""
        self.accepting = False

    def taking_runs(self) -> bool:
        """True while new runs are taken."""
        return self.accepting and self._tg is not None

    async def launch(
        self, execution: Execution, bot: Bot, *, last_seq: int = 0, reason: str | None = None
    ) -> None:
        """Queue ``execution`` here (its events continuing after ``last_seq``) and drive it."""
        assert self._tg is not None
        self.event_log.open(execution.id, last_seq)
        live = LiveRun(execution, bot)
        self.live[execution.id] = live
        await self.executor.set_status(execution, Status.QUEUED, reason=reason)
        await self.executor.notify("agented_execution_queued", execution)
        self._tg.start_soon(self._drive, live)

    async def _drive(self, live: LiveRun) -> None:
        execution, bot, scope = live.execution, live.bot, live.scope
        try:
            with scope:
                context = {**execution.context, **base_context(bot, execution, self.clock())}
                key = self.admission.group_key(bot, context)
                try:
                    async with self.admission.admit(execution.id, bot, key, self._supersede):
                        scope.shield = True  # from here on, stopping goes through the runner
                        await self.executor.execute(execution, bot)
                except Skipped as exc:
                    await self.executor.set_status(execution, Status.SKIPPED, reason=str(exc))
            if scope.cancelled_caught and not execution.status.terminal:
                with anyio.CancelScope(shield=True):
                    if self.accepting:
                        await self.executor.set_status(
                            execution, Status.CANCELLED, reason=f"{live.cancel_reason} while queued"
                        )
                    else:
                        await self.executor.set_status(
                            execution, Status.INTERRUPTED, reason="the host shut down"
                        )
        except Exception as exc:
            log.exception("execution %s failed inside agented", execution.id)
            if not execution.status.terminal:
                with anyio.CancelScope(shield=True):
                    await self.executor.set_status(
                        execution, Status.FAILED, reason=f"internal error: {exc}"
                    )
        finally:
            with anyio.CancelScope(shield=True):
                if execution.status.terminal:
                    # before the log closes, so that a failure is recorded on the execution
                    await self.executor.notify("agented_execution_finished", execution)
                await self.event_log.close(execution.id)
                self.live.pop(execution.id, None)
                live.done.set()

    async def _supersede(self, execution_id: str) -> None:
        """Cancel an earlier run of a ``cancel-in-progress`` group."""
        if execution_id in self.live:
            self.control(execution_id, "cancel", reason="superseded by a newer run")

    # control
    def control(self, execution_id: str, action: str, *, reason: str = "cancelled") -> None:
        """Cancel, pause or resume a run of this process (nothing if it is not live here)."""
        live = self.live.get(execution_id)
        if live is None:
            return
        run, execution = live.process, live.execution
        if action == "cancel":
            if run is not None:
                run.stop(StopReason.CANCEL, reason)
            else:
                live.cancel_reason = reason
                live.scope.cancel()
        elif action == "pause":
            if run is None or execution.status is not Status.RUNNING:
                raise ConflictError(
                    f"only a running execution can be paused, not a {execution.status}"
                )
            if run.pause() and self._tg is not None:
                self._tg.start_soon(self._set_status_soon, execution, Status.PAUSED)
        elif action == "resume":
            if run is None or execution.status is not Status.PAUSED:
                raise ConflictError(
                    f"only a paused execution can be resumed, not a {execution.status}"
                )
            if run.resume() and self._tg is not None:
                self._tg.start_soon(self._set_status_soon, execution, Status.RUNNING)

    async def _set_status_soon(self, execution: Execution, status: Status) -> None:
        if not execution.status.terminal:
            await self.executor.set_status(execution, status)

    # shutdown
    async def shutdown(self, grace: float, kill_grace: float) -> None:
        """Stop taking runs; give running ones ``grace`` seconds; then end them as interrupted."""
        self.accepting = False
        with anyio.move_on_after(grace):
            await self._all_done()
        for live in list(self.live.values()):
            if live.process is not None:
                live.process.stop(StopReason.SHUTDOWN)
        for live in list(self.live.values()):
            live.scope.cancel()
        with anyio.move_on_after(kill_grace + 10):
            await self._all_done()
        for live in list(self.live.values()):
            if not live.execution.status.terminal:
                await self.executor.set_status(
                    live.execution, Status.INTERRUPTED, reason="the host shut down"
                )
            await self.event_log.close(live.execution.id)
        await self.event_log.flush()

    async def _all_done(self) -> None:
        for live in list(self.live.values()):
            await live.done.wait()
