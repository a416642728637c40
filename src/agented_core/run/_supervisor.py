"""The runs this process drives: one :class:`LiveRun` each, started, driven and controlled here.

A run enters when it is queued here (a new run, or a waiting one woken) and leaves when its
task ends, whatever its status then. Its cancel scope exists from the moment it enters, so a
cancel that comes before its task runs is not lost; once it is admitted the scope is shielded
and stopping goes through its process (:class:`ProcessRun`) instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup
from attrs import define, field

from ..clock import Clock
from ..errors import ConflictError, LeaseLost
from ..events._log import EventLog
from ..models import Bot, Execution, Status
from ..plugins import Plugins
from ._admission import Admission, Skipped
from ._executor import Executor
from ._preparation import base_context
from ._runner import ProcessRun, StopReason
from ._slots import Slots

log = logging.getLogger("agented")


@define(eq=False)
class LiveRun:
    """One execution this process drives: its record, its bot, and how to stop it.

    ``process`` is the running attempt's process while there is one; ``cancel_reason`` is
    what the first cancel said, for the status it leaves; ``cancelled`` is set by that cancel
    (a second one changes nothing); ``ran`` once a process of the run has started here.
    """

    execution: Execution
    bot: Bot
    scope: anyio.CancelScope = field(factory=anyio.CancelScope)
    done: anyio.Event = field(factory=anyio.Event)
    process: ProcessRun | None = None
    cancel_reason: str = "cancelled"
    cancelled: bool = False
    ran: bool = False
    slots: list[str] = field(factory=list)
    fenced: bool = False
    wait_for_slots: bool = False


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
        slots: Slots,
        capacity: int | None = None,
        on_free: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.executor = executor
        self.event_log = event_log
        self.plugins = plugins
        self.clock = clock
        self.admission = Admission(max_concurrent_runs)
        self.slots = slots
        self.capacity = max_concurrent_runs if capacity is None else capacity
        self.on_free = on_free
        self.live: dict[str, LiveRun] = {}
        self._reserving = 0
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
            live.ran = live.ran or process is not None
            if process is not None and live.cancelled:
                # cancelled between two processes of the run: this one stops as it starts
                process.stop(StopReason.CANCEL, live.cancel_reason)

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

    def has_room(self) -> bool:
        """True while this process takes runs and drives fewer than its ``capacity``."""
        return self.taking_runs() and len(self.live) + self._reserving < self.capacity

    async def reserve(self, execution: Execution, bot: Bot) -> list[str] | None:
        """The slots for running ``execution`` here now, or ``None`` (no room here, or a limit
        shared by every process is full)."""
        if not self.has_room():
            return None
        self._reserving += 1
        try:
            context = {**execution.context, **base_context(bot, execution, self.clock())}
            return await self.slots.take(execution, bot, context)
        finally:
            self._reserving -= 1

    def seen_full(self, execution: Execution, bot: Bot) -> bool:
        """True when a limit ``execution`` is under was found full a moment ago
        (:meth:`Slots.seen_full`): :meth:`reserve` would most likely fail."""
        context = {**execution.context, **base_context(bot, execution, self.clock())}
        return self.slots.seen_full(bot, context)

    async def launch(
        self,
        execution: Execution,
        bot: Bot,
        *,
        last_seq: int = 0,
        reason: str | None = None,
        slots: list[str] | None = None,
        announce: bool = True,
        wait_for_slots: bool = False,
    ) -> None:
        """Queue ``execution`` here (its events continuing after ``last_seq``) and drive it.

        ``slots`` are the run's slots (:meth:`reserve`), given back when its task ends.
        ``wait_for_slots``: it waits here, ``queued``, until it gets its slots (a process that
        takes nothing from the shared queue, such as ``agented run``, runs its own runs).
        ``announce=False``: it was queued already (taken from the shared queue), so neither its
        ``queued`` status nor the queued hook comes again.
        """
        assert self._tg is not None
        self.event_log.open(execution.id, last_seq)
        live = LiveRun(execution, bot, slots=list(slots or ()), wait_for_slots=wait_for_slots)
        self.live[execution.id] = live
        try:
            if announce:
                await self.executor.set_status(execution, Status.QUEUED, reason=reason)
                await self.executor.notify("agented_execution_queued", execution)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._leave(live)
            raise
        self._tg.start_soon(self._drive, live)

    def fence(self, execution_id: str, reason: str = "taken over by another process") -> None:
        """This process lost a run (its lease was taken over): write nothing more of it, stop
        its process, end its task."""
        live = self.live.get(execution_id)
        self.event_log.fence(execution_id)
        if live is None or live.fenced:
            return
        live.fenced = True
        log.warning("lost execution %s: %s", execution_id, reason)
        if live.process is not None:
            live.process.stop(StopReason.CANCEL, reason)
        live.scope.cancel()

    async def _drive(self, live: LiveRun) -> None:
        execution, bot, scope = live.execution, live.bot, live.scope
        try:
            with scope:
                context = {**execution.context, **base_context(bot, execution, self.clock())}
                if live.wait_for_slots:
                    live.slots = await self._wait_for_slots(execution, bot, context)
                key = self.admission.group_key(bot, context)
                try:
                    async with self.admission.admit(execution.id, bot, key, self._supersede):
                        scope.shield = True  # from here on, stopping goes through the runner
                        await self.executor.execute(execution, bot)
                except Skipped as exc:
                    await self.executor.set_status(execution, Status.SKIPPED, reason=str(exc))
            if live.cancelled and live.ran and not execution.status.terminal:
                # cancelled after admission with no process to stop (it ended as waiting or
                # queued again): the cancel still ends it
                if not live.fenced:
                    with anyio.CancelScope(shield=True):
                        await self.executor.set_status(
                            execution, Status.CANCELLED, reason=live.cancel_reason
                        )
            elif scope.cancelled_caught and not execution.status.terminal and not live.fenced:
                with anyio.CancelScope(shield=True):
                    if self.accepting:
                        await self.executor.set_status(
                            execution, Status.CANCELLED, reason=f"{live.cancel_reason} while queued"
                        )
                    elif execution.status is Status.QUEUED or self.executor.retries_interrupted(
                        execution, bot
                    ):
                        # it never started here, or may run again: back to the queue
                        await self.executor.requeue(
                            execution, "the host shut down: queued again for another process"
                        )
                    else:
                        await self.executor.set_status(
                            execution, Status.INTERRUPTED, reason="the host shut down"
                        )
        except LeaseLost as exc:
            log.warning("execution %s: %s", execution.id, exc)
            self.event_log.fence(execution.id)
            live.fenced = True
        except Exception as exc:
            log.exception("execution %s failed inside agented", execution.id)
            if not execution.status.terminal and not live.fenced:
                with anyio.CancelScope(shield=True):
                    try:
                        await self.executor.set_status(
                            execution, Status.FAILED, reason=f"internal error: {exc}"
                        )
                    except LeaseLost:
                        pass
            elif not live.fenced:
                # the save of its final status raised (its events are stored): once more, or
                # the store keeps it unfinished, and this process never recovers its own runs
                with anyio.CancelScope(shield=True):
                    try:
                        await self.executor.save_again(execution)
                    except Exception:
                        log.exception("saving the final status of %s failed", execution.id)
        finally:
            with anyio.CancelScope(shield=True):
                if execution.status.terminal and not live.fenced:
                    # before the log closes, so that a failure is recorded on the execution
                    await self.executor.notify("agented_execution_finished", execution)
                    await self.executor.release_workspace(execution, bot)
                await self._leave(live)

    async def _wait_for_slots(
        self, execution: Execution, bot: Bot, context: dict[str, Any]
    ) -> list[str]:
        """Take the run's slots as soon as they are free (looking every quarter second)."""
        while True:
            held = await self.slots.take(execution, bot, context)
            if held is not None:
                return held
            await anyio.sleep(0.25)

    async def _leave(self, live: LiveRun) -> None:
        """The run's task ended: close its log, give its slots back, tell the others."""
        execution = live.execution
        await self.event_log.close(execution.id)
        self.live.pop(execution.id, None)
        live.done.set()
        try:
            await self.slots.release(execution.id, live.slots)
            if live.slots and self.on_free is not None:
                await self.on_free()
        except Exception:
            log.exception("giving back the slots of %s failed (they expire)", execution.id)

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
            if live.cancelled:
                return  # the first cancel is under way
            live.cancelled = True
            live.cancel_reason = reason
            if run is not None:
                run.stop(StopReason.CANCEL, reason)
            elif not live.ran:
                live.scope.cancel()  # queued, or preparing its first process (a checkout)
            # else between processes (recording the attempt that ended): interrupting that
            # could cut a write to the store in half, so the next process stops as it starts
            # and a run left unfinished is cancelled by _drive
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
        if execution.status.terminal:
            return
        try:
            await self.executor.set_status(execution, status)
        except Exception as exc:
            # a task of the host's task group: a failure here (the lease lost, the store out
            # of reach) is the run's to notice, it must not end every run of the host
            log.warning("execution %s: recording %s failed: %s", execution.id, status, exc)

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
            execution = live.execution
            if not execution.status.terminal and execution.owner is not None and not live.fenced:
                try:
                    if self.executor.retries_interrupted(execution, live.bot):
                        await self.executor.requeue(
                            execution, "the host shut down: queued again for another attempt"
                        )
                    else:
                        await self.executor.set_status(
                            execution, Status.INTERRUPTED, reason="the host shut down"
                        )
                except LeaseLost:
                    pass
            await self.event_log.close(execution.id)
        await self.event_log.flush()

    async def _all_done(self) -> None:
        for live in list(self.live.values()):
            await live.done.wait()
