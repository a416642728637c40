"""Ownership across processes: heartbeats, others' controls, recovery of orphans, waking.

Runs started here are owned by this process. It beats their heartbeat and applies the controls
other processes request through the store: at once when the broker brings word of one, at the
next poll otherwise. An execution whose owner is gone (provably, on this
host, or by a stale heartbeat) is an orphan: any process may end it, its processes first, under
a lease so that one process does. Waiting executions belong to nobody until one process, under
a lease on (execution, retry_at), takes and restarts them when their time comes (or when a
wake-up comes through the broker).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

import anyio

from ..broker import CONTROLS, WAKE
from ..clock import Clock
from ..errors import ConflictError
from ..events._log import EventLog
from ..models import AttemptRecord, Bot, Execution, Status
from ..store.base import Store
from ._executor import Executor
from ._owners import Owner
from ._process import end_run
from ._supervisor import Supervisor

log = logging.getLogger("agented")

ACTIVE = (Status.QUEUED, Status.RUNNING, Status.PAUSED)


class Ownership:
    """This process as an owner among the processes sharing a store."""

    def __init__(
        self,
        *,
        store: Store,
        supervisor: Supervisor,
        executor: Executor,
        event_log: EventLog,
        bots: Mapping[str, Bot],
        kill_grace: float,
        clock: Clock,
        here: Owner,
        heartbeat_interval: float = 2.0,
        control_interval: float = 0.25,
        wake_interval: float = 1.0,
        stale_after: float = 15.0,
        sweep_interval: float = 2.0,
    ) -> None:
        self.store = store
        self.supervisor = supervisor
        self.executor = executor
        self.event_log = event_log
        self.bots = bots
        self.kill_grace = kill_grace
        self.clock = clock
        self.here = here
        self.owner = str(self.here)
        self.heartbeat_interval = heartbeat_interval
        self.control_interval = control_interval
        self.wake_interval = wake_interval
        self.stale_after = stale_after
        self.sweep_interval = sweep_interval

    # whose is it
    def orphaned(self, execution: Execution) -> bool:
        """True when the execution's owner is another process that is gone.

        Gone provably (on this host: its pid is not alive, or is another process; or the
        machine rebooted), or presumably: it stopped beating for ``stale_after`` seconds.
        """
        if execution.owner == self.owner:
            return False
        owner = Owner.parse(execution.owner)
        if owner is not None and owner.gone(self.here):
            return True
        return self._stale(execution.heartbeat_at or execution.created_at)

    def _stale(self, beat: datetime | None) -> bool:
        return beat is None or self.clock() - beat > timedelta(seconds=self.stale_after)

    # the loops
    async def owner_loop(self) -> None:
        """Beat the heartbeat of this process's runs; apply control requests from others."""
        last_beat = 0.0
        while True:
            await anyio.sleep(self.control_interval)
            try:
                ids = list(self.supervisor)
                if anyio.current_time() - last_beat >= self.heartbeat_interval:
                    await self.store.heartbeat(ids, self.owner, self.clock())
                    last_beat = anyio.current_time()
                await self.apply_controls(ids)
            except Exception:
                log.exception("heartbeat failed")

    async def apply_controls(self, execution_ids: list[str]) -> None:
        """Take and apply the control requests stored for these executions of this process."""
        for execution_id, action in (await self.store.take_controls(execution_ids)).items():
            try:
                self.supervisor.control(execution_id, action)
            except ConflictError as exc:
                log.info("ignored %s of %s: %s", action, execution_id, exc)

    async def request_control(self, execution_id: str, action: str) -> None:
        """Ask the owner of an execution (another process) to apply ``action`` to it.

        Stored first, so the owner finds it at its next poll; then the broker tells it now.
        """
        await self.store.request_control(execution_id, action)
        try:
            await self.event_log.broker.notify(CONTROLS, execution_id)
        except Exception:
            log.warning("telling the owner of %s about a %s failed", execution_id, action)

    async def controls_loop(self) -> None:
        """Apply at once the control requests the broker brings word of, for runs of here."""
        while True:
            try:
                async with self.event_log.broker.listen(CONTROLS) as messages:
                    async for execution_id in messages:
                        if execution_id in self.supervisor:
                            await self.apply_controls([execution_id])
                pause = self.control_interval  # it ended: the broker closed or reconnects
            except Exception:
                log.exception("listening for control requests failed")
                pause = self.heartbeat_interval
            # polling the store goes on meanwhile
            await anyio.sleep(pause)

    async def sweep_loop(self) -> None:
        """Recover the executions of dead processes every ``sweep_interval`` seconds."""
        while True:
            await anyio.sleep(self.sweep_interval)
            try:
                await self.recover()
            except Exception:
                log.exception("recovering executions of dead processes failed")

    async def wake_loop(self) -> None:
        """Wake the waiting executions that are due every ``wake_interval`` seconds.

        A message on the broker's ``wake`` channel makes it look at once.
        """
        woken = anyio.Event()

        async def listen() -> None:
            nonlocal woken
            while True:
                try:
                    async with self.event_log.broker.listen(WAKE) as messages:
                        async for _ in messages:
                            woken.set()
                except Exception:
                    log.exception("listening for wake-ups failed")
                await anyio.sleep(self.wake_interval)

        async with anyio.create_task_group() as tg:
            tg.start_soon(listen)
            while True:
                with anyio.move_on_after(self.wake_interval):
                    await woken.wait()
                woken = anyio.Event()
                try:
                    await self.wake_due()
                except Exception:
                    log.exception("waking waiting executions failed")

    # waiting executions
    async def wake_due(self) -> list[str]:
        """Start again every ``waiting`` execution whose ``retry_at`` has come; their ids."""
        if not self.supervisor.taking_runs():
            return []
        now = self.clock()
        woken: list[str] = []
        for execution in await self.store.find_executions([Status.WAITING]):
            if execution.retry_at is None or execution.retry_at > now:
                continue
            if execution.id in self.supervisor or execution.bot not in self.bots:
                continue
            key = f"wake:{execution.id}:{execution.retry_at.isoformat()}"
            # a fresh token per try: a claim already held by anyone, this process included,
            # means someone else took it
            if not await self.store.claim(key, uuid.uuid4().hex, 86400.0):
                continue
            if execution.id in self.supervisor:
                continue
            bot = self.bots[execution.bot]
            execution.owner = self.owner
            await self.supervisor.launch(
                execution,
                bot,
                last_seq=await self.store.last_seq(execution.id),
                reason="the wait is over: retrying",
            )
            woken.append(execution.id)
        return woken

    # orphans
    async def recover(self) -> list[str]:
        """Interrupt the executions whose owner is gone, ending their processes first.

        Only owners that are gone or have a stale heartbeat are looked at closer, so a sweep
        over a store full of live runs reads one row per owner. The ids interrupted.
        """
        interrupted: list[str] = []
        for owner, oldest in (await self.store.owners(ACTIVE)).items():
            if owner == self.owner:
                continue
            parsed = Owner.parse(owner)
            if not (parsed is not None and parsed.gone(self.here)) and not self._stale(oldest):
                continue
            found = await self.store.find_executions(ACTIVE, owner=owner)
            for execution in found:
                if execution.owner != owner or not self.orphaned(execution):
                    continue
                reason = (
                    f"its process ({execution.owner}) stopped while it was {execution.status.value}"
                )
                ended = await self.end_orphan(execution, Status.INTERRUPTED, reason)
                if ended is not None and ended.status is Status.INTERRUPTED:
                    interrupted.append(ended.id)
        return interrupted

    async def end_orphan(
        self, execution: Execution, status: Status, reason: str, *, waiting: bool = False
    ) -> Execution | None:
        """End an execution nobody runs: its processes first, then its status.

        A lease makes one process do it when several find the same orphan (a sweep and a
        cancel, two servers). ``None`` when another process holds it; the execution as it
        ended otherwise (also when it had ended, or its owner came back, meanwhile).
        ``waiting`` lets a ``waiting`` execution (which belongs to nobody) be ended too.
        """
        key = f"end:{execution.id}"
        token = uuid.uuid4().hex
        ttl = self.kill_grace + 60.0
        if not await self.store.claim(key, token, ttl):
            return None
        ended: Execution | None = None
        try:
            with anyio.CancelScope(shield=True):  # once begun, an orphan is ended whole
                ended = await self._finish_orphan(execution.id, status, reason, waiting)
        finally:
            with anyio.CancelScope(shield=True):
                await self.store.release(key, token)
        return ended

    async def _finish_orphan(
        self, execution_id: str, status: Status, reason: str, waiting: bool
    ) -> Execution | None:
        current = await self.store.get_execution(execution_id)  # as it is now, under the lease
        if current is None or current.status.terminal:
            return current
        if not ((waiting and current.status is Status.WAITING) or self.orphaned(current)):
            return current
        await self._kill_leftovers(current)
        cut = current.status in (Status.RUNNING, Status.PAUSED) and current.attempt > 0
        if cut and all(a.number != current.attempt for a in current.attempts):
            # the attempt its dead owner never got to record
            current.attempts.append(
                AttemptRecord(
                    number=current.attempt,
                    provider=current.provider or "",
                    account=current.account,
                    finished_at=self.clock(),
                    error=reason,
                    decision=status.value,
                )
            )
        self.event_log.open(current.id, await self.store.last_seq(current.id))
        try:
            await self.executor.set_status(current, status, reason=reason)
        finally:
            await self.event_log.close(current.id)
        return current

    async def _kill_leftovers(self, execution: Execution) -> None:
        """End what is left of the execution's processes, if they are visible and provably its.

        The group only when its leader is the recorded process (or a member carries the run
        tag), and every process with the run tag started since the run began: a recycled pid
        is never touched. An owner on another host or boot left nothing to end from here.
        """
        owner = Owner.parse(execution.owner)
        if owner is None or not owner.local(self.here):
            return
        if execution.pgid is None and not execution.run_tag:
            return
        left = await end_run(
            execution.pgid, execution.process_start, execution.run_tag, self.kill_grace
        )
        if left:
            log.warning(
                "ended the leftover processes of %s (group %s)", execution.id, execution.pgid
            )
