"""Ownership across processes: heartbeats, others' controls, recovery of orphans, waking.

Runs started here are owned by this process. It beats their heartbeat and applies the controls
other processes request through the store: at once when the broker brings word of one, at the
next poll otherwise. An execution whose owner is gone (provably, on this
host, or by a stale heartbeat) is an orphan: any process may end it, its processes first, under
a lease so that one process does; then the worktrees of ended executions go too
(:meth:`Ownership.sweep_workspaces`). Waiting executions belong to nobody until one process, under
a lease on (execution, retry_at), takes and restarts them when their time comes (or when a
wake-up comes through the broker).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

import anyio

from ..broker import CONTROLS, WAKE
from ..clock import Clock
from ..errors import ConflictError
from ..events._log import EventLog
from ..models import AttemptRecord, Bot, Execution, Status
from ..store.base import Store
from ..workspaces import Swept
from ._executor import Executor
from ._owners import Owner
from ._preparation import base_context
from ._process import end_run
from ._slots import GLOBAL
from ._supervisor import Supervisor

log = logging.getLogger("agented")

ACTIVE = (Status.QUEUED, Status.RUNNING, Status.PAUSED)
BATCH_OF_CLAIMS = 5000
"""Expired claims deleted per statement by :meth:`Ownership.sweep_claims`."""
_ALL = 2**62
"""A limit above any number of executions."""


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
        workspace_sweep_interval: float = 60.0,
        claim_sweep_interval: float = 600.0,
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
        self.workspace_sweep_interval = workspace_sweep_interval
        self._workspaces_swept_at: float | None = None
        self.claim_sweep_interval = claim_sweep_interval
        self._claims_swept_at: float | None = None
        self.dispatching = False
        """True while :meth:`wake_loop` runs: this process takes runs from the shared queue."""

    # whose is it
    def orphaned(self, execution: Execution) -> bool:
        """True when the execution's owner is another process that is gone, or this one
        that let it go.

        Gone provably (on this host: its pid is not alive, or is another process; or the
        machine rebooted), or presumably: it stopped beating for ``stale_after`` seconds.
        This process lets a run go when it cannot renew its lease (the store unreachable):
        the run is stopped here, and once the store answers again it is stored as this
        process's, no longer live here, and stale.
        """
        if execution.owner == self.owner:
            return execution.id not in self.supervisor and self._stale(
                execution.heartbeat_at or execution.created_at
            )
        if execution.owner is None and execution.status is Status.QUEUED:
            return False  # in the queue, for any process to take
        owner = Owner.parse(execution.owner)
        if owner is not None and owner.gone(self.here):
            return True
        return self._stale(execution.heartbeat_at or execution.created_at)

    def _stale(self, beat: datetime | None) -> bool:
        return beat is None or self.clock() - beat > timedelta(seconds=self.stale_after)

    # the loops
    async def owner_loop(self) -> None:
        """Renew the leases (heartbeats) and slots of this process's runs; apply controls.

        A run whose lease another process took over is fenced (it writes nothing more, its
        process is stopped). When renewing fails for most of a lease (the store unreachable),
        every run is fenced before another process may take them over.
        """
        last_beat = 0.0
        renewed = anyio.current_time()
        failing = False
        while True:
            await anyio.sleep(self.control_interval)
            # a store call may retry for minutes while its server is away: each round ends
            # by the time this process must stop its runs, before others may take them over
            budget = max(self.stale_after * 0.75 - (anyio.current_time() - renewed), 0.0)
            try:
                with anyio.fail_after(max(budget, self.control_interval)):
                    ids = list(self.supervisor)
                    if anyio.current_time() - last_beat >= self.heartbeat_interval:
                        await self.renew(ids)
                        last_beat = renewed = anyio.current_time()
                    await self.apply_controls(ids)
                if failing:
                    log.warning("renewing the leases works again")
                    failing = False
            except Exception:
                if not failing:  # once an outage, not every round of it
                    log.exception("renewing the leases failed")
                failing = True
                if anyio.current_time() - renewed >= self.stale_after * 0.75:
                    for execution_id in self.supervisor:
                        run = self.supervisor.execution(execution_id)
                        if run is not None and not run.status.terminal:
                            self.supervisor.fence(execution_id, "its lease could not be renewed")

    async def renew(self, execution_ids: list[str]) -> None:
        """Renew the leases and slots of these runs of this process; fence the ones lost."""
        execution_ids = [i for i in execution_ids if not self._fenced(i)]
        held = await self.store.renew_leases(execution_ids, self.owner, self.clock())
        for execution_id in execution_ids:
            live = self.supervisor.live.get(execution_id)
            if live is None:
                continue
            mine = live.execution.owner == self.owner and not live.execution.status.terminal
            if not mine:
                continue  # ended, or handed back to the queue: nothing left to hold
            if execution_id not in held:
                if await self._taken_over(execution_id):
                    self.supervisor.fence(execution_id)
                continue
            await self.supervisor.slots.renew(execution_id, live.slots)

    def _fenced(self, execution_id: str) -> bool:
        # fenced, still ending here: its lease is not this process's to renew any more
        live = self.supervisor.live.get(execution_id)
        return live is not None and live.fenced

    async def _taken_over(self, execution_id: str) -> bool:
        # Not held when the lease was renewed; but the renewal may have read the store before
        # the run's first record landed there (it is live here from its launch on, before its
        # queued status is saved). Taken over only if the store now says so and this process
        # has not ended or handed back the run meanwhile.
        stored = await self.store.get_execution(execution_id)
        if stored is None or (stored.owner == self.owner and not stored.status.terminal):
            return False
        live = self.supervisor.live.get(execution_id)
        return (
            live is not None
            and live.execution.owner == self.owner
            and not live.execution.status.terminal
        )

    async def apply_controls(self, execution_ids: list[str]) -> None:
        """Take and apply the control requests stored for these executions of this process
        (a cancel of one that has left it meanwhile, not ended, is stored again)."""
        for execution_id, action in (await self.store.take_controls(execution_ids)).items():
            if execution_id not in self.supervisor and action == "cancel":
                # it left this process meanwhile (handed back to the queue): the cancel is for
                # whoever runs it next, not lost
                current = await self.store.get_execution(execution_id)
                if current is not None and not current.status.terminal:
                    await self.store.request_control(execution_id, action)
                continue
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
        """Apply at once the control requests the broker brings word of, for runs of here,
        and those the store does (:meth:`ExecutionStore.wakes_owners`) unless the broker is
        shared (it already carries them between processes)."""
        if self.event_log.broker.shared or not self.store.wakes_owners():
            await self._controls_from(lambda: self.event_log.broker.listen(CONTROLS))
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._controls_from, lambda: self.event_log.broker.listen(CONTROLS))
            tg.start_soon(self._controls_from, self.store.listen_controls)

    async def _controls_from(
        self, listen: Callable[[], AbstractAsyncContextManager[AsyncIterator[str]]]
    ) -> None:
        while True:
            try:
                async with listen() as messages:
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

        self.dispatching = True
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
                try:
                    await self.take_queued()
                except Exception:
                    log.exception("taking queued executions failed")

    # the queue
    async def enqueue(self, execution: Execution, bot: Bot) -> None:
        """Put a new execution in the queue shared by every process: ``queued``, no owner."""
        execution.owner = None
        self.event_log.open(execution.id, 0)
        try:
            await self.executor.set_status(execution, Status.QUEUED, reason="waiting for a slot")
            await self.executor.notify("agented_execution_queued", execution)
        finally:
            await self.event_log.close(execution.id)
        await self.wake_others()

    async def wake_others(self) -> None:
        """Tell every process (this one too) to look at the queue and the waiting now."""
        try:
            await self.event_log.broker.notify(WAKE, "")
        except Exception:
            log.warning("sending a wake-up failed; the others look at their next poll")

    async def take_queued(self) -> list[str]:
        """Take and start queued executions nobody owns, oldest first, while there is room
        here and slots are free; their ids. One process takes each (the store's
        :meth:`~agented_core.store.ExecutionStore.take_execution`)."""
        taken: list[str] = []
        if not self.supervisor.has_room():
            return taken
        # Limits found full in this look: the later runs under one would not fit either (a
        # slot given back meanwhile wakes another look, which starts with the oldest run).
        # So a long queue behind a full limit costs neither loads nor claims, nor its ids.
        slots = self.supervisor.slots
        full = await slots.full_limits(self.bots.values())
        if GLOBAL in full:
            return taken
        for execution_id, bot in await self._queued(full):
            if not self.supervisor.has_room():
                break
            if self._known_full(bot, full):
                continue  # found full earlier in this look
            execution = await self.store.get_execution(execution_id)
            if execution is None or execution.status is not Status.QUEUED:
                continue  # taken or ended since
            if execution.owner is not None or self.bots.get(execution.bot) is not bot:
                continue
            context = {**execution.context, **base_context(bot, execution, self.clock())}
            if any(prefix in full for prefix, _ in slots.limits(bot, context)):
                continue  # its group's limit, found full earlier in this look
            held = await self.supervisor.reserve(execution, bot)
            if held is None:
                if slots.last_full == GLOBAL or not self.supervisor.has_room():
                    break  # no other run fits either
                if slots.last_full is not None:
                    full.add(slots.last_full)
                continue  # a limit of its own is full; another bot's run may fit
            if not await self.store.take_execution(execution.id, self.owner, self.clock()):
                await slots.release(execution.id, held)
                continue
            current = await self.store.get_execution(execution.id)
            if current is None or current.owner != self.owner or execution.id in self.supervisor:
                await slots.release(execution.id, held)
                continue
            log.info("took queued execution %s", current.id)
            await self.supervisor.launch(
                current,
                bot,
                last_seq=await self.store.last_seq(current.id),
                slots=held,
                announce=False,
            )
            taken.append(current.id)
        return taken

    async def _queued(self, full: set[str]) -> list[tuple[str, Bot]]:
        """The ids of the queued executions of this process's bots, oldest first (as
        :meth:`~agented_core.store.ExecutionStore.find_executions` orders them), with their
        bots: ids only, so a long queue is not loaded whole at every look; none of a bot whose
        own limit is in ``full``."""
        queued: list[tuple[str, Bot]] = []
        for name, bot in self.bots.items():
            if self._known_full(bot, full):
                continue
            # every id starts with "": all of the bot's queued ones
            ids = await self.store.ids_with_prefix("", _ALL, bot=name, status=[Status.QUEUED])
            queued.extend((execution_id, bot) for execution_id in ids)
        queued.sort(key=lambda item: item[0])
        return queued

    def _known_full(self, bot: Bot, full: set[str]) -> bool:
        """True when ``bot`` has no group (its limits do not depend on a run's context) and
        one of its limits is in ``full``."""
        if bot.concurrency.group:
            return False
        return any(prefix in full for prefix, _ in self.supervisor.slots.limits(bot, {}))

    # waiting executions
    async def wake_due(self) -> list[str]:
        """Start again every ``waiting`` execution whose ``retry_at`` has come; their ids."""
        if not self.supervisor.taking_runs():
            return []
        if not await self.store.ids_with_prefix("", 1, status=[Status.WAITING]):
            # nothing waits: one id looked up, not a load (each queued run wakes this)
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
            token = uuid.uuid4().hex
            if not await self.store.claim(key, token, 86400.0):
                continue
            if execution.id in self.supervisor:
                continue
            bot = self.bots[execution.bot]
            slots: list[str] | None = None
            launching = False
            try:
                slots = await self.supervisor.reserve(execution, bot)
                if slots is None:
                    await self.store.release(key, token)  # no room: leave it for another look
                    continue
                execution.owner = self.owner
                execution.heartbeat_at = self.clock()
                await self.store.save_execution(execution)  # this process's, under the claim
                last_seq = await self.store.last_seq(execution.id)
                launching = True  # its slots are the run's from here (given back if it fails)
                await self.supervisor.launch(
                    execution,
                    bot,
                    last_seq=last_seq,
                    reason="the wait is over: retrying",
                    slots=slots,
                )
            except BaseException:
                # not restarted: the claim goes (held, it would keep every process from waking
                # the execution for a day), and the slots taken for it
                with anyio.CancelScope(shield=True):
                    await self._let_go(execution.id, key, token, None if launching else slots)
                raise
            woken.append(execution.id)
        return woken

    async def _let_go(
        self, execution_id: str, key: str, token: str, slots: list[str] | None
    ) -> None:
        """Give back the wake claim (and the slots) of an execution that was not restarted."""
        try:
            await self.store.release(key, token)
            if slots:
                await self.supervisor.slots.release(execution_id, slots)
        except Exception:
            log.exception("giving back the wake claim of %s failed (it expires)", execution_id)

    # orphans
    async def recover(self) -> list[str]:
        """Interrupt the executions whose owner is gone, ending their processes first.

        Only owners that are gone or have a stale heartbeat are looked at closer, so a sweep
        over a store full of live runs reads one row per owner. The ids interrupted.
        """
        interrupted: list[str] = []
        for owner, oldest in (await self.store.owners(ACTIVE)).items():
            if owner is None:
                continue  # queued for anyone to take
            parsed = Owner.parse(owner)
            gone = owner != self.owner and parsed is not None and parsed.gone(self.here)
            if not gone and not self._stale(oldest):
                continue  # every run of a live owner (this one too) beats within a lease
            found = await self.store.find_executions(ACTIVE, owner=owner)
            for execution in found:
                if execution.owner != owner or not self.orphaned(execution):
                    continue
                if owner == self.owner:
                    reason = (
                        "its lease could not be renewed (the store did not answer) while it was "
                        f"{execution.status.value}: it was stopped"
                    )
                else:
                    reason = (
                        f"its process ({execution.owner}) stopped while it was "
                        f"{execution.status.value}"
                    )
                ended = await self.end_orphan(execution, Status.INTERRUPTED, reason)
                if ended is not None and ended.status is Status.INTERRUPTED:
                    interrupted.append(ended.id)
        await self.sweep_workspaces(force=bool(interrupted))
        await self.sweep_claims()
        return interrupted

    async def sweep_claims(self) -> int | None:
        """Delete expired claims (a dedup claim per delivery, dead processes' leases), at most
        every ``claim_sweep_interval`` seconds (each recovery calls it): how many, or ``None``
        when it did not run. Batch by batch, each a store call of its own, so a backlog never
        holds the store's writer for long."""
        now = anyio.current_time()
        last = self._claims_swept_at
        if last is not None and now - last < self.claim_sweep_interval:
            return None
        self._claims_swept_at = now
        deleted = 0
        try:
            for _ in range(100):
                batch = await self.store.delete_expired_claims(limit=BATCH_OF_CLAIMS)
                deleted += batch
                if batch < BATCH_OF_CLAIMS:
                    break
        except Exception:
            log.exception("deleting expired claims failed")
        return deleted

    async def sweep_workspaces(self, *, force: bool = False) -> Swept | None:
        """Remove the worktrees of ended executions and mirrors past their TTL.

        At most every ``workspace_sweep_interval`` seconds (each recovery calls it), at once
        when ``force`` (recovery just ended some executions). ``None`` when it did not run.
        """
        now = anyio.current_time()
        last = self._workspaces_swept_at
        if not force and last is not None and now - last < self.workspace_sweep_interval:
            return None
        self._workspaces_swept_at = now
        try:
            return await self.executor.workspaces.sweep(
                self.store, self.bots, set(self.supervisor), now=self.clock().timestamp()
            )
        except Exception:
            log.exception("removing the workspaces of ended executions failed")
            return None

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
        left = await self._kill_leftovers(current)
        # a queued execution with processes of its tag had started: its owner died before
        # the ``running`` status it wrote next reached the store
        started = current.status in (Status.RUNNING, Status.PAUSED) or (
            current.status is Status.QUEUED and left
        )
        cut = started and current.attempt > 0
        bot = self.bots.get(current.bot)
        again = status is Status.INTERRUPTED and (
            not started  # it never started: nothing was cut
            or (cut and bot is not None and self.executor.retries_interrupted(current, bot))
        )
        if cut and all(a.number != current.attempt for a in current.attempts):
            # the attempt its dead owner never got to record
            current.attempts.append(
                AttemptRecord(
                    number=current.attempt,
                    provider=current.provider or "",
                    account=current.account,
                    finished_at=self.clock(),
                    error=reason,
                    decision="queued again" if again else status.value,
                )
            )
        self.event_log.open(current.id, await self.store.last_seq(current.id))
        try:
            if again:
                current.owner = None
                current.pgid = None
                what = f"attempt {current.attempt} was interrupted" if cut else "it was queued"
                await self.executor.set_status(
                    current, Status.QUEUED, reason=f"{what} ({reason}): queued again"
                )
            else:
                await self.executor.set_status(current, status, reason=reason)
        finally:
            await self.event_log.close(current.id)
        if again:
            await self.wake_others()
        return current

    async def _kill_leftovers(self, execution: Execution) -> bool:
        """End what is left of the execution's processes, if they are visible and provably its.

        The group only when its leader is the recorded process (or a member carries the run
        tag), and every process with the run tag started since the run began: a recycled pid
        is never touched. An owner on another host or boot left nothing to end from here.
        True when something of the run was left.
        """
        owner = Owner.parse(execution.owner)
        if owner is None or not owner.local(self.here):
            return False
        if execution.pgid is None and not execution.run_tag:
            return False
        left = await end_run(
            execution.pgid, execution.process_start, execution.run_tag, self.kill_grace
        )
        if left:
            log.warning(
                "ended the leftover processes of %s (group %s)", execution.id, execution.pgid
            )
        return left
