"""The :class:`Agented` facade: what a host application uses.

::

    async with Agented.open("sqlite:///agented.db", bots=[...], plugins=[...]) as ag:
        execution = await ag.run("hello", params={"message": "world"})
        async for event in ag.events(execution.id):
            print(event.kind, event.text)
        done = await ag.wait(execution.id)
"""

from __future__ import annotations

import builtins
import logging
import signal
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup
from attrs import evolve
from ulid import ULID

from .config import Config, load_config
from .errors import ConfigError, ConflictError, NotFoundError
from .events._log import EventLog
from .models import AttemptRecord, Bot, Event, Execution, Status, TriggerKind
from .params import resolve, with_defaults
from .plugins import Plugins
from .run._admission import Admission, Skipped
from .run._executor import Executor, utcnow
from .run._owners import Owner
from .run._preparation import base_context
from .run._process import end_run
from .run._runner import StopReason
from .storable import require_storable
from .store.base import Store
from .triggers._deliveries import Deliveries
from .triggers._schedules import Scheduler
from .validation import validate

log = logging.getLogger("agented")

ACTIVE = (Status.QUEUED, Status.RUNNING, Status.PAUSED)


def new_execution_id() -> str:
    """A new execution id: a ULID, so ids sort by creation time."""
    return str(ULID())


def owner_identity() -> str:
    """This process, identified for good: host, pid, process start time, boot, pid namespace."""
    return str(Owner.this_process())


class Agented:
    """A running agented: bots, plugins, the store, the event log and the runs of this process.

    Create it with :meth:`open` (an async context manager). Runs started here are owned by this
    process; a second process on the same store sees them, follows their events and asks their
    owner to cancel them through the store, but never touches them while the owner lives. Once
    the owner is gone (provably, on this host, or by a stale heartbeat) any process may end
    them: recovery, every ``sweep_interval`` seconds, and a cancel end their processes first.
    """

    def __init__(
        self,
        config: Config,
        plugins: Plugins,
        store: Store,
        *,
        heartbeat_interval: float = 2.0,
        control_interval: float = 0.25,
        wake_interval: float = 1.0,
        stale_after: float = 15.0,
        sweep_interval: float = 2.0,
        shutdown_grace: float | None = None,
        clock: Any = None,
        host_env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.plugins = plugins
        self.store = store
        self._here = Owner.this_process()
        self.owner = str(self._here)
        self.heartbeat_interval = heartbeat_interval
        self.control_interval = control_interval
        self.wake_interval = wake_interval
        self.stale_after = stale_after
        self.sweep_interval = sweep_interval
        self.shutdown_grace = (
            config.settings.shutdown_grace if shutdown_grace is None else shutdown_grace
        )
        self.clock = clock or utcnow
        self.event_log = EventLog(store, clock=self.clock)
        self.executor = Executor(
            config=config,
            plugins=plugins,
            store=store,
            event_log=self.event_log,
            owner=self.owner,
            clock=self.clock,
            host_env=host_env,
        )
        self.deliveries = Deliveries(self)
        self.scheduler = Scheduler(self, clock=self.clock)
        self._tg: TaskGroup | None = None
        self.admission = Admission(config.settings.max_concurrent_runs)
        self._active: dict[str, Execution] = {}
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._cancel_reasons: dict[str, str] = {}
        self._done: dict[str, anyio.Event] = {}
        self._accepting = False

    # opening and closing
    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        database: str | None = None,
        *,
        bots: Iterable[Bot] = (),
        plugins: Iterable[object] = (),
        config: Config | str | Path | None = None,
        entry_points: bool = True,
        schedules: bool = False,
        wake: bool = True,
        recover: bool = True,
        **options: Any,
    ) -> AsyncIterator[Agented]:
        """Open the store, check every bot, recover what a dead process left, start serving.

        ``config`` is a :class:`Config` or the path of an ``agented.toml``; ``bots`` adds (or
        replaces) bots by name; ``database`` overrides the config's store URL; ``schedules``
        starts the cron triggers (a server does; a one-off ``agented run`` does not); ``wake``
        restarts ``waiting`` executions when their time comes (off for short-lived commands,
        which would take them and then exit); ``recover`` interrupts executions whose process
        died, now and every ``sweep_interval`` seconds while open, ending what is left of their
        processes (off for read-only commands). Raises
        :class:`ConfigError` listing every problem before anything is written.
        """
        if config is None:
            cfg = Config()
        elif isinstance(config, Config):
            cfg = config
        else:
            cfg = load_config(config)
        extra = {bot.name: bot for bot in bots}
        if extra:
            cfg = evolve(cfg, bots={**cfg.bots, **extra})
        if database is not None:
            cfg = evolve(cfg, settings=evolve(cfg.settings, database=database))
        registry = Plugins(plugins, entry_points=entry_points)
        problems = [p for p in validate(cfg, registry) if not p.warning]
        if problems:
            raise ConfigError(problems)
        store = registry.open_store(cfg.settings.database, base_dir=cfg.base_dir)
        await store.open()
        agented = cls(cfg, registry, store, **options)
        body_error: BaseException | None = None
        try:
            async with anyio.create_task_group() as tg:
                agented._tg = tg
                agented.event_log.start(tg)
                if recover:
                    await agented._recover()
                agented._accepting = True
                tg.start_soon(agented._owner_loop)
                if recover:
                    tg.start_soon(agented._sweep_loop)
                if wake:
                    tg.start_soon(agented._wake_loop)
                if schedules:
                    tg.start_soon(agented.scheduler.run)
                try:
                    yield agented
                except BaseException as exc:
                    # re-raised below, outside the task group, so the host sees its own
                    # exception rather than an ExceptionGroup
                    body_error = exc
                finally:
                    with anyio.CancelScope(shield=True):
                        await agented._shutdown()
                    tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await store.close()
        if body_error is not None:
            raise body_error

    async def _shutdown(self) -> None:
        """Stop taking runs; give running ones a grace period; then end them as interrupted."""
        self._accepting = False
        with anyio.move_on_after(self.shutdown_grace):
            for execution_id in list(self._done):
                done = self._done.get(execution_id)
                if done is not None:
                    await done.wait()
        for run in list(self.executor.runs.values()):
            run.stop(StopReason.SHUTDOWN)
        for scope in list(self._scopes.values()):
            scope.cancel()
        with anyio.move_on_after(self.config.settings.kill_grace + 10):
            for execution_id in list(self._done):
                done = self._done.get(execution_id)
                if done is not None:
                    await done.wait()
        for execution in list(self._active.values()):
            if not execution.status.terminal:
                await self.executor.set_status(
                    execution, Status.INTERRUPTED, reason="the host shut down"
                )
            await self.event_log.close(execution.id)
        await self.event_log.flush()

    async def wait_for_signal(self) -> int:
        """Wait for SIGTERM or SIGINT and return it; the caller then leaves ``open()``'s block,
        which shuts down gracefully (no new runs, a grace period, then ``interrupted``)."""
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                self.stop_accepting()
                return int(signum)
        raise RuntimeError("signal receiver closed")  # pragma: no cover

    def stop_accepting(self) -> None:
        """Refuse new runs from now on (graceful shutdown has begun)."""
        self._accepting = False

    # bots
    @property
    def bots(self) -> Mapping[str, Bot]:
        """The bots, by name."""
        return self.config.bots

    def bot(self, name: str) -> Bot:
        """The bot called ``name``; :class:`NotFoundError` if there is none."""
        try:
            return self.config.bots[name]
        except KeyError:
            known = ", ".join(sorted(self.config.bots)) or "none"
            raise NotFoundError(f"no bot named {name!r} (bots: {known})") from None

    # starting runs
    async def run(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        trigger: TriggerKind = TriggerKind.API,
        context: Mapping[str, Any] | None = None,
        delivery_id: str | None = None,
        rerun_of: str | None = None,
    ) -> Execution:
        """Queue a run of bot ``name`` and return its execution (status ``queued``).

        ``params`` are checked against the declarations of the bot's manual triggers
        (:func:`agented_core.params.resolve`): an unknown name, a missing required parameter or
        a value of the wrong type is a :class:`ConfigError` and nothing is written. Defaults are
        filled in for every run but a rerun (which keeps its original params). A string that
        cannot be stored (a lone surrogate) in ``params`` or ``context`` is a
        :class:`BadPayload`, also before any write.
        """
        bot = self.bot(name)
        require_storable(dict(params or {}), "params")
        require_storable(context or {}, "the trigger context")
        if trigger in (TriggerKind.API, TriggerKind.MANUAL):
            params = resolve(bot.param_specs, params or {}, bot=name)
        elif trigger is TriggerKind.RERUN:
            params = dict(params or {})
        else:
            params = with_defaults(bot.param_specs, params or {})
        if not self._accepting or self._tg is None:
            raise ConflictError("agented is shutting down and takes no new runs")
        execution = Execution(
            id=new_execution_id(),
            bot=name,
            trigger=trigger,
            created_at=self.clock(),
            params=params,
            context=dict(context or {}),
            delivery_id=delivery_id,
            provider=bot.provider,
            account=bot.account,
            owner=self.owner,
            heartbeat_at=self.clock(),
            rerun_of=rerun_of,
        )
        self.event_log.open(execution.id, 0)
        self._active[execution.id] = execution
        self._done[execution.id] = anyio.Event()
        await self.executor.set_status(execution, Status.QUEUED)
        self._start(execution, bot)
        return execution

    def _start(self, execution: Execution, bot: Bot) -> None:
        """Drive the execution in the background; its cancel scope exists from now on, so a
        cancel that comes before the task runs is not lost."""
        assert self._tg is not None
        self._scopes[execution.id] = anyio.CancelScope()
        self._tg.start_soon(self._drive, execution, bot)

    async def _drive(self, execution: Execution, bot: Bot) -> None:
        scope = self._scopes[execution.id]
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
                    if self._accepting:
                        reason = self._cancel_reasons.pop(execution.id, "cancelled")
                        await self.executor.set_status(
                            execution, Status.CANCELLED, reason=f"{reason} while queued"
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
            self._scopes.pop(execution.id, None)
            with anyio.CancelScope(shield=True):
                await self.event_log.close(execution.id)
                self._active.pop(execution.id, None)
                done = self._done.pop(execution.id, None)
                if done is not None:
                    done.set()
                if execution.status.terminal:
                    await self.plugins.notify("agented_execution_finished", execution=execution)

    async def _supersede(self, execution_id: str) -> None:
        """Cancel an earlier run of a ``cancel-in-progress`` group."""
        if execution_id in self._active:
            self._apply_control(execution_id, "cancel", reason="superseded by a newer run")

    # reading
    async def get(self, execution_id: str) -> Execution:
        """The execution; :class:`NotFoundError` if there is none."""
        local = self._active.get(execution_id)
        if local is not None:
            return evolve(local)
        execution = await self.store.get_execution(execution_id)
        if execution is None:
            raise NotFoundError(f"no execution {execution_id!r}")
        return execution

    async def list(
        self,
        *,
        bot: str | None = None,
        status: Status | Sequence[Status] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Execution], str | None]:
        """Executions, newest first, and the cursor of the next page (``None`` at the end)."""
        statuses = [status] if isinstance(status, Status) else list(status or [])
        return await self.store.list_executions(
            bot=bot, status=statuses, limit=max(1, min(limit, 500)), cursor=cursor
        )

    async def events(self, execution_id: str, after: int = 0) -> AsyncGenerator[Event, None]:
        """Stored events after ``after``, then live ones, ending after the terminal status."""
        await self.get(execution_id)  # NotFoundError before the first event

        async def finished() -> bool:
            if self.event_log.is_live(execution_id):
                return False
            execution = await self.store.get_execution(execution_id)
            if execution is None or execution.status.terminal:
                return True
            # a waiting execution belongs to nobody until it is woken: keep following it
            return execution.status is not Status.WAITING and self._orphaned(execution)

        async for event in self.event_log.follow(execution_id, after=after, is_finished=finished):
            yield event

    async def wait(self, execution_id: str, timeout: float | None = None) -> Execution:
        """Wait until the execution reaches a terminal status; return it.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        with anyio.fail_after(timeout):
            done = self._done.get(execution_id)
            if done is not None:
                await done.wait()
            while True:
                execution = await self.get(execution_id)
                if execution.status.terminal:
                    return execution
                done = self._done.get(execution_id)
                if done is not None:
                    await done.wait()
                else:
                    await anyio.sleep(self.event_log.poll_interval)

    # control
    async def cancel(self, execution_id: str) -> Execution:
        """Cancel a queued, running, paused or waiting execution (its whole process group)."""
        return await self._control(execution_id, "cancel")

    async def pause(self, execution_id: str) -> Execution:
        """Pause a running execution (SIGSTOP of its group)."""
        return await self._control(execution_id, "pause")

    async def resume(self, execution_id: str) -> Execution:
        """Resume a paused execution (SIGCONT of its group)."""
        return await self._control(execution_id, "resume")

    async def rerun(self, execution_id: str) -> Execution:
        """Start a new execution of the same bot with the same params and trigger context."""
        old = await self.get(execution_id)
        return await self.run(
            old.bot,
            old.params,
            trigger=TriggerKind.RERUN,
            context=old.context,
            rerun_of=old.id,
        )

    async def _control(self, execution_id: str, action: str) -> Execution:
        execution = await self.get(execution_id)
        if execution.status.terminal:
            raise ConflictError(f"execution {execution_id} has already {execution.status.value}")
        if execution_id in self._active:
            self._apply_control(execution_id, action)
            await anyio.lowlevel.checkpoint()
            return await self.get(execution_id)
        if action == "pause" and execution.status is not Status.RUNNING:
            raise ConflictError(f"only a running execution can be paused, not a {execution.status}")
        if action == "resume" and execution.status is not Status.PAUSED:
            raise ConflictError(f"only a paused execution can be resumed, not a {execution.status}")
        if action == "cancel" and (execution.status is Status.WAITING or self._orphaned(execution)):
            # nobody runs it: end what is left of its processes, then finish it here
            ended = await self._end_orphan(execution, Status.CANCELLED, "cancelled", waiting=True)
            if ended is None:  # another process is ending it: wait for that
                with anyio.move_on_after(self.config.settings.kill_grace + 15):
                    while not (ended := await self.get(execution_id)).status.terminal:
                        await anyio.sleep(self.event_log.poll_interval)
            assert ended is not None
            if not ended.status.terminal:  # its owner is back: ask it
                await self.store.request_control(execution_id, action)
            return ended
        await self.store.request_control(execution_id, action)
        return execution

    def _apply_control(self, execution_id: str, action: str, *, reason: str = "cancelled") -> None:
        run = self.executor.runs.get(execution_id)
        execution = self._active.get(execution_id)
        if execution is None:
            return
        if action == "cancel":
            if run is not None:
                run.stop(StopReason.CANCEL, reason)
            else:
                self._cancel_reasons[execution_id] = reason
                scope = self._scopes.get(execution_id)
                if scope is not None:
                    scope.cancel()
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

    # waiting executions
    async def wake_due(self) -> builtins.list[str]:
        """Start again every ``waiting`` execution whose ``retry_at`` has come.

        Any process sharing the store may do it (also after the owner restarted or died); a
        lease on (execution, retry_at) makes exactly one of them take each execution.
        """
        if not self._accepting or self._tg is None:
            return []
        now = self.clock()
        woken: list[str] = []
        for execution in await self.store.find_executions([Status.WAITING]):
            if execution.retry_at is None or execution.retry_at > now:
                continue
            if execution.id in self._active or execution.bot not in self.bots:
                continue
            key = f"wake:{execution.id}:{execution.retry_at.isoformat()}"
            # a fresh token per try: a claim already held by anyone, this process included,
            # means someone else took it
            if not await self.store.claim(key, uuid.uuid4().hex, 86400.0):
                continue
            if execution.id in self._active:
                continue
            bot = self.bots[execution.bot]
            execution.owner = self.owner
            self.event_log.open(execution.id, await self.store.last_seq(execution.id))
            self._active[execution.id] = execution
            self._done[execution.id] = anyio.Event()
            await self.executor.set_status(
                execution, Status.QUEUED, reason="the wait is over: retrying"
            )
            self._start(execution, bot)
            woken.append(execution.id)
        return woken

    async def _wake_loop(self) -> None:
        while True:
            await anyio.sleep(self.wake_interval)
            try:
                await self.wake_due()
            except Exception:
                log.exception("waking waiting executions failed")

    # ownership
    def _orphaned(self, execution: Execution) -> bool:
        """True when the execution's owner is another process that is gone.

        Gone provably (on this host: its pid is not alive, or is another process; or the
        machine rebooted), or presumably: it stopped beating for ``stale_after`` seconds.
        """
        if execution.owner == self.owner:
            return False
        owner = Owner.parse(execution.owner)
        if owner is not None and owner.gone(self._here):
            return True
        return self._stale(execution.heartbeat_at or execution.created_at)

    def _stale(self, beat: datetime | None) -> bool:
        return beat is None or self.clock() - beat > timedelta(seconds=self.stale_after)

    async def _owner_loop(self) -> None:
        """Beat the heartbeat of this process's runs; apply control requests from others."""
        last_beat = 0.0
        while True:
            await anyio.sleep(self.control_interval)
            try:
                ids = list(self._active)
                if anyio.current_time() - last_beat >= self.heartbeat_interval:
                    await self.store.heartbeat(ids, self.owner, self.clock())
                    last_beat = anyio.current_time()
                for execution_id, action in (await self.store.take_controls(ids)).items():
                    try:
                        self._apply_control(execution_id, action)
                    except ConflictError as exc:
                        log.info("ignored %s of %s: %s", action, execution_id, exc)
            except Exception:
                log.exception("heartbeat failed")

    async def _sweep_loop(self) -> None:
        while True:
            await anyio.sleep(self.sweep_interval)
            try:
                await self._recover()
            except Exception:
                log.exception("recovering executions of dead processes failed")

    async def _recover(self) -> builtins.list[str]:
        """Interrupt the executions whose owner is gone, ending their processes first.

        Only owners that are gone or have a stale heartbeat are looked at closer, so a sweep
        over a store full of live runs reads one row per owner. The ids interrupted.
        """
        interrupted: list[str] = []
        for owner, oldest in (await self.store.owners(ACTIVE)).items():
            if owner == self.owner:
                continue
            parsed = Owner.parse(owner)
            if not (parsed is not None and parsed.gone(self._here)) and not self._stale(oldest):
                continue
            found = await self.store.find_executions(ACTIVE, owner=owner)
            for execution in found:
                if execution.owner != owner or not self._orphaned(execution):
                    continue
                reason = (
                    f"its process ({execution.owner}) stopped while it was {execution.status.value}"
                )
                ended = await self._end_orphan(execution, Status.INTERRUPTED, reason)
                if ended is not None and ended.status is Status.INTERRUPTED:
                    interrupted.append(ended.id)
        return interrupted

    async def _end_orphan(
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
        ttl = self.config.settings.kill_grace + 60.0
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
        if not ((waiting and current.status is Status.WAITING) or self._orphaned(current)):
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
        if owner is None or not owner.local(self._here):
            return
        if execution.pgid is None and not execution.run_tag:
            return
        left = await end_run(
            execution.pgid,
            execution.process_start,
            execution.run_tag,
            self.config.settings.kill_grace,
        )
        if left:
            log.warning(
                "ended the leftover processes of %s (group %s)", execution.id, execution.pgid
            )

    # for hosts and the HTTP adapter
    async def ready(self) -> None:
        """Raise if the store cannot be reached (readiness)."""
        await self.store.ping()

    async def recent_deliveries(self, limit: int = 50) -> builtins.list[dict[str, Any]]:
        """The delivery log, newest first: each delivery and what it started or why not."""
        return await self.store.list_deliveries(limit=max(1, min(limit, 500)))

    def next_fire(self, bot: str) -> datetime | None:
        """The bot's next scheduled fire, or ``None`` when it has no cron trigger."""
        return self.scheduler.next_fire(bot)

    async def first_seq(self, execution_id: str) -> int:
        """The lowest event seq still available (1 unless events were pruned; 0 when none)."""
        events = await self.store.read_events(execution_id, after=0, limit=1)
        return events[0].seq if events else 0

    # retention
    async def prune(self, older_than_days: int | None = None) -> int:
        """Delete finished executions (and their events) older than the retention period.

        Executions whose process died are interrupted first (their processes ended), as
        recovery does: pruning never leaves a run's processes behind without a record.
        """
        await self._recover()
        days = older_than_days or self.config.settings.retention_days
        cutoff: datetime = self.clock() - timedelta(days=days)
        return await self.store.delete_executions(cutoff)
