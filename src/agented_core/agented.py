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
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
from attrs import evolve
from ulid import ULID

from .broker import Broker
from .clock import Clock, utcnow
from .config import Config, load_config
from .errors import ConfigError, ConflictError, NotFoundError
from .events._log import EventLog, is_final
from .models import Bot, Event, Execution, Status, TriggerKind
from .params import resolve, with_defaults
from .plugins import Plugins
from .reload import ReloadResult, reload_problems, reload_result
from .run._executor import Executor
from .run._headroom import account_headroom
from .run._owners import Owner
from .run._ownership import Ownership
from .run._slots import Slots
from .run._spend import SpendTotals, spend_totals
from .run._supervisor import Supervisor
from .storable import require_storable
from .store.base import Store
from .triggers._deliveries import Deliveries
from .triggers._schedules import Scheduler
from .validation import validate

log = logging.getLogger("agented")

TRIGGER_SCAN = 5000
"""The most executions :meth:`Agented.list` reads in one call to find those of a trigger."""


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

    The facade holds no run state of its own: :attr:`supervisor` has one live run per
    execution this process drives, :attr:`ownership` the heartbeats, recovery and waking,
    :attr:`deliveries` and :attr:`scheduler` the triggers, each given only what it uses.
    """

    def __init__(
        self,
        config: Config,
        plugins: Plugins,
        store: Store,
        *,
        broker: Broker | None = None,
        heartbeat_interval: float | None = None,
        control_interval: float = 0.25,
        wake_interval: float = 1.0,
        stale_after: float | None = None,
        concurrency: int | None = None,
        sweep_interval: float | None = None,
        progress_interval: float = 5.0,
        shutdown_grace: float | None = None,
        clock: Clock | None = None,
        host_env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.plugins = plugins
        self.store = store
        here = Owner.this_process()
        self.owner = str(here)
        self.shutdown_grace = (
            config.settings.shutdown_grace if shutdown_grace is None else shutdown_grace
        )
        self.clock: Clock = clock or utcnow
        self.event_log = EventLog(store, broker=broker, clock=self.clock)
        self.executor = Executor(
            config=config,
            plugins=plugins,
            store=store,
            event_log=self.event_log,
            owner=self.owner,
            clock=self.clock,
            host_env=host_env,
            progress_interval=progress_interval,
        )
        settings = config.settings
        heartbeat_interval = (
            settings.heartbeat if heartbeat_interval is None else heartbeat_interval
        )
        stale_after = settings.lease if stale_after is None else stale_after
        # a sweep each heartbeat: a dead owner's runs are found well within a lease
        sweep_interval = min(2.0, heartbeat_interval) if sweep_interval is None else sweep_interval
        self.supervisor = Supervisor(
            executor=self.executor,
            event_log=self.event_log,
            plugins=plugins,
            max_concurrent_runs=settings.max_concurrent_runs,
            clock=self.clock,
            slots=Slots(store, self.owner, settings.max_concurrent_runs, stale_after),
            capacity=concurrency,
            on_free=self._slot_freed,
        )
        self.ownership = Ownership(
            store=store,
            supervisor=self.supervisor,
            executor=self.executor,
            event_log=self.event_log,
            bots=config.bots,
            kill_grace=config.settings.kill_grace,
            clock=self.clock,
            here=here,
            heartbeat_interval=heartbeat_interval,
            control_interval=control_interval,
            wake_interval=wake_interval,
            stale_after=stale_after,
            sweep_interval=sweep_interval,
        )
        self.deliveries = Deliveries(
            config,
            store,
            self.run,
            prompt_context=plugins.prompt_context,
            notify=plugins.notify,
            changed_files=plugins.changed_files,
            clock=self.clock,
        )
        self.scheduler = Scheduler(
            config,
            store,
            self.run,
            clock=self.clock,
            missed=lambda bot, fire, reason: plugins.notify(
                "agented_schedule_missed", bot=bot, fire=fire, reason=reason
            ),
        )
        # what open() put on top of the file (given bots, a database URL): kept over reloads
        self.given_bots: dict[str, Bot] = {}
        self.given_database: str | None = None
        self._reloading = anyio.Lock()

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
        processes (off for read-only commands). ``broker=`` gives a :class:`Broker` instead of the
        one the ``broker`` setting names (opened and closed with the store). Raises
        :class:`ConfigError` listing every problem before anything is written.
        """
        registry = Plugins(plugins, entry_points=entry_points)
        if config is None:
            cfg = Config()
        elif isinstance(config, Config):
            cfg = config
        else:
            cfg = load_config(config, keys=registry.config_keys())
        extra = {bot.name: bot for bot in bots}
        if extra:
            cfg = evolve(cfg, bots={**cfg.bots, **extra})
        if database is not None:
            cfg = evolve(cfg, settings=evolve(cfg.settings, database=database))
        problems = [p for p in validate(cfg, registry) if not p.warning]
        if problems:
            raise ConfigError(problems)
        store = registry.open_store(cfg.settings.database, base_dir=cfg.base_dir)
        broker: Broker = options.pop("broker", None) or registry.open_broker(cfg.settings.broker)
        await store.open()
        agented = cls(cfg, registry, store, broker=broker, **options)
        agented.given_bots, agented.given_database = extra, database
        body_error: BaseException | None = None
        try:
            await broker.open()
            await registry.notify("agented_configured", config=cfg, store=store)
            async with anyio.create_task_group() as tg:
                agented.event_log.start(tg)
                if recover:
                    await agented.ownership.recover()
                registry.start_opened(agented, tg)
                agented.supervisor.serve(tg)
                tg.start_soon(agented.ownership.owner_loop)
                tg.start_soon(agented.ownership.controls_loop)
                if recover:
                    tg.start_soon(agented.ownership.sweep_loop)
                if wake:
                    agented.ownership.dispatching = True  # before the first run() is asked
                    tg.start_soon(agented.ownership.wake_loop)
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
                        await agented.supervisor.shutdown(
                            agented.shutdown_grace, cfg.settings.kill_grace
                        )
                    tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await broker.close()
                finally:
                    await store.close()
        if body_error is not None:
            raise body_error

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
        self.supervisor.stop_accepting()

    # reloading
    async def reload(
        self, config: Config | str | Path | None = None, *, actor: str = "system"
    ) -> ReloadResult:
        """Read the configuration again and use it from now on, without a restart.

        ``config``: a :class:`Config` or a path; by default the file this one came from. The
        new one is validated first (as ``agented check``, warnings allowed); on any problem,
        or a change only a restart can make (``database``, ``broker``), it raises
        :class:`ConfigError` listing them and nothing changes. Otherwise new runs see the new
        bots and settings, running executions finish on the bot they started with, waiting
        ones wake on the new definition, schedules are planned again. The queued and waiting runs of
        a removed bot are cancelled, saying so (no process would take them). The reload is in the
        audit log (``action: "reload"``, by ``actor``). Without a file to read again (an
        agented given a :class:`Config` object) it raises :class:`ConflictError`.
        """
        async with self._reloading:
            new = self._read_again(config)
            found = validate(new, self.plugins)
            problems = [p for p in found if not p.warning] + reload_problems(self.config, new)
            if problems:
                raise ConfigError(problems)
            result = reload_result(self.config, new, [p for p in found if p.warning])
            self._configure(new)
            for name in result.removed:
                await self._end_runs_of_removed(name)
            await self.plugins.notify("agented_configured", config=new, store=self.store)
            await self.store.record_audit(
                {
                    "at": self.clock().isoformat(),
                    "actor": actor,
                    "action": "reload",
                    "added": list(result.added),
                    "removed": list(result.removed),
                    "changed": list(result.changed),
                    "file": str(new.path) if new.path else None,
                }
            )
            return result

    async def _end_runs_of_removed(self, name: str) -> None:
        """Cancel the runs of a bot the configuration no longer has that wait for a process
        to take them (queued for anyone, or waiting for their retry): none would ever run."""
        reason = f"cancelled: bot {name!r} was removed from the configuration"
        waiting = [Status.QUEUED, Status.WAITING]
        for execution_id in await self.store.ids_with_prefix("", 2**62, bot=name, status=waiting):
            execution = await self.store.get_execution(execution_id)
            if execution is None:
                continue
            try:
                if execution.status is Status.QUEUED and execution.owner is None:
                    with anyio.CancelScope(shield=True):
                        await self._cancel_queued(execution.id, reason)
                elif execution.status is Status.WAITING:
                    await self.ownership.end_orphan(
                        execution, Status.CANCELLED, reason, waiting=True
                    )
            except Exception:
                log.exception("cancelling %s of the removed bot %s failed", execution.id, name)

    async def reload_on_sighup(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """:meth:`reload` on each SIGHUP (the main thread only), until cancelled; a refused
        file is logged and the old configuration stays. ``agented serve`` and ``agented
        worker`` run it, so a systemd ``ExecReload`` reaches every kind of process."""
        with anyio.open_signal_receiver(signal.SIGHUP) as signals:
            task_status.started()
            async for _ in signals:
                try:
                    result = await self.reload(actor="signal:SIGHUP")
                except ConfigError as exc:
                    log.error("configuration not reloaded, the old one stays in use:\n%s", exc)
                except Exception:
                    log.exception("reloading the configuration failed; the old one stays in use")
                else:
                    log.info("configuration reloaded (%s)", result.summary())

    def _read_again(self, config: Config | str | Path | None) -> Config:
        if isinstance(config, Config):
            new = config
        else:
            path = config if config is not None else self.config.path
            if path is None:
                raise ConflictError("no configuration file to reload: this agented was given none")
            new = load_config(path, keys=self.plugins.config_keys())
        if self.given_bots:
            new = evolve(new, bots={**new.bots, **self.given_bots})
        if self.given_database is not None:
            new = evolve(new, settings=evolve(new.settings, database=self.given_database))
        return new

    def _configure(self, config: Config) -> None:
        """Hand ``config`` to every part that reads it."""
        self.config = config
        self.executor.configure(config)
        self.supervisor.admission.limiter.total_tokens = config.settings.max_concurrent_runs
        self.ownership.bots = config.bots
        self.deliveries.config = config
        self.scheduler.replan(config)

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
        if trigger not in (TriggerKind.GITHUB, TriggerKind.WEBHOOK):
            # a delivery's context is built from a body its parser has checked already
            require_storable(context or {}, "the trigger context")
        if trigger in (TriggerKind.API, TriggerKind.MANUAL):
            params = resolve(bot.param_specs, params or {}, bot=name)
        elif trigger is TriggerKind.RERUN:
            params = dict(params or {})
        else:
            params = with_defaults(bot.param_specs, params or {})
        if not self.supervisor.taking_runs():
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
        slots: list[str] | None = None
        if not (self.ownership.dispatching and self.supervisor.seen_full(execution, bot)):
            slots = await self.supervisor.reserve(execution, bot)
        if slots is not None:
            await self.supervisor.launch(execution, bot, slots=slots)
        elif not self.ownership.dispatching and self.supervisor.has_room():
            # this process takes nothing from the shared queue: its run waits here for slots
            await self.supervisor.launch(execution, bot, wait_for_slots=True)
        else:
            # no room here or a shared limit is full: the first process with room takes it
            await self.ownership.enqueue(execution, bot)
        return execution

    async def _slot_freed(self) -> None:
        await self.ownership.wake_others()

    # reading
    async def get(self, execution_id: str) -> Execution:
        """The execution; :class:`NotFoundError` if there is none."""
        local = self.supervisor.execution(execution_id)
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
        trigger: TriggerKind | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Execution], str | None]:
        """Executions, newest first, and the cursor of the next page (``None`` at the end).

        ``trigger``: only those it started. The store is read page by page for them, at most
        :data:`TRIGGER_SCAN` executions a call: a page may then hold fewer than ``limit``
        (even none) and still have a cursor to go on from.
        """
        statuses = [status] if isinstance(status, Status) else list(status or [])
        limit = max(1, min(limit, 500))
        if trigger is None:
            return await self.store.list_executions(
                bot=bot, status=statuses, limit=limit, cursor=cursor
            )
        found: builtins.list[Execution] = []
        scanned = 0
        while scanned < TRIGGER_SCAN:
            page, cursor = await self.store.list_executions(
                bot=bot, status=statuses, limit=min(500, TRIGGER_SCAN - scanned), cursor=cursor
            )
            for execution in page:
                scanned += 1
                if execution.trigger is trigger:
                    found.append(execution)
                    if len(found) == limit:
                        more = execution is not page[-1] or cursor is not None
                        return found, execution.id if more else None
            if cursor is None:
                return found, None
        return found, cursor

    async def search(
        self,
        query: str,
        *,
        bot: str | None = None,
        status: Status | Sequence[Status] | None = None,
        limit: int = 20,
        cursor: str | None = None,
        per_execution: int = 3,
    ) -> tuple[builtins.list[tuple[Execution, tuple[Event, ...]]], str | None]:
        """Executions whose event text matches ``query`` (words and ``"phrases"``, all of
        them; see :mod:`agented_core.store.search`), each with its latest matching events, and
        the cursor of the next page (``None`` at the end). Most recently written first."""
        statuses = {status} if isinstance(status, Status) else set(status or [])
        limit = max(1, min(limit, 100))
        found: builtins.list[tuple[Execution, tuple[Event, ...]]] = []
        before = cursor
        while len(found) < limit:
            page = await self.store.search_events(
                query, limit=limit, per_execution=per_execution, before=before
            )
            for match in page:
                before = match.execution_id
                execution = await self.store.get_execution(match.execution_id)
                if execution is None or (bot and execution.bot != bot):
                    continue
                if statuses and execution.status not in statuses:
                    continue
                found.append((execution, match.events))
                if len(found) == limit:
                    break
            if len(page) < limit:
                return found, None
        return found, before

    async def spend(self) -> builtins.list[SpendTotals]:
        """Every bot's and account's spend today and this month, with its caps."""
        return await spend_totals(self.store, self.config, now=self.clock())

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
            return execution.status is not Status.WAITING and self.ownership.orphaned(execution)

        async for event in self.event_log.follow(execution_id, after=after, is_finished=finished):
            yield event

    async def wait(self, execution_id: str, timeout: float | None = None) -> Execution:
        """Wait until the execution reaches a terminal status; return it.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        with anyio.fail_after(timeout):
            done = self.supervisor.done(execution_id)
            if done is not None:
                await done.wait()
            woken = self.store.wakes_followers()
            final = False
            while True:
                # the stored seq first: a terminal status stored after it is still seen
                after = await self.store.last_seq(execution_id) if woken and not final else 0
                execution = await self.get(execution_id)
                if execution.status.terminal:
                    return execution
                done = self.supervisor.done(execution_id)
                if done is not None:
                    await done.wait()
                elif woken and not final:  # another process's run: woken by its final event
                    final = await self._until_final(execution_id, after)
                elif final:  # its record is saved just after that event: moments away
                    await anyio.sleep(min(self.event_log.poll_interval, 0.02))
                else:
                    await anyio.sleep(self.event_log.poll_interval)

    async def _until_final(self, execution_id: str, after: int) -> bool:
        """Follow the store's events of ``execution_id`` after ``after`` until its terminal
        status event (True), for at most ``idle_check`` seconds (False: check again)."""
        events = self.store.follow(execution_id, after=after)
        try:
            with anyio.move_on_after(self.event_log.idle_check):
                async for event in events:
                    if is_final(event):
                        return True
            return False
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()  # its listener now, not when collected

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
        if execution_id in self.supervisor:
            self.supervisor.control(execution_id, action)
            await anyio.lowlevel.checkpoint()
            return await self.get(execution_id)
        if action == "pause" and execution.status is not Status.RUNNING:
            raise ConflictError(f"only a running execution can be paused, not a {execution.status}")
        if action == "resume" and execution.status is not Status.PAUSED:
            raise ConflictError(f"only a paused execution can be resumed, not a {execution.status}")
        if action == "cancel" and execution.status is Status.QUEUED and execution.owner is None:
            # once taken it is this process's alone to end: a caller giving up meanwhile would
            # leave it taken and queued for good, so the take and the end go through whole
            with anyio.CancelScope(shield=True):
                taken = await self._cancel_queued(execution_id)
            if taken is not None:
                return taken
        if action == "cancel" and (
            execution.status is Status.WAITING or self.ownership.orphaned(execution)
        ):
            # nobody runs it: end what is left of its processes, then finish it here
            ended = await self.ownership.end_orphan(
                execution, Status.CANCELLED, "cancelled", waiting=True
            )
            if ended is None:  # another process is ending it: wait for that
                with anyio.move_on_after(self.config.settings.kill_grace + 15):
                    while not (ended := await self.get(execution_id)).status.terminal:
                        await anyio.sleep(self.event_log.poll_interval)
            assert ended is not None
            if not ended.status.terminal:  # its owner is back: ask it
                await self.ownership.request_control(execution_id, action)
            return ended
        await self.ownership.request_control(execution_id, action)
        return execution

    async def _cancel_queued(
        self, execution_id: str, reason: str = "cancelled while queued"
    ) -> Execution | None:
        """Take an execution from the shared queue and end it as cancelled; ``None`` if
        another process took it first."""
        if not await self.store.take_execution(execution_id, self.owner, self.clock()):
            return None
        # taken from the queue here, so no other process starts it meanwhile
        taken = await self.store.get_execution(execution_id)
        assert taken is not None
        self.event_log.open(execution_id, await self.store.last_seq(execution_id))
        try:
            await self.executor.set_status(taken, Status.CANCELLED, reason=reason)
        finally:
            await self.event_log.close(execution_id)
        return taken

    # waiting executions
    async def wake_due(self) -> builtins.list[str]:
        """Start again every ``waiting`` execution whose ``retry_at`` has come.

        Any process sharing the store may do it (also after the owner restarted or died); a
        lease on (execution, retry_at) makes exactly one of them take each execution.
        """
        return await self.ownership.wake_due()

    # for hosts and the HTTP adapter
    async def ready(self) -> None:
        """Raise if the store cannot be reached (readiness)."""
        await self.store.ping()

    async def recent_deliveries(self, limit: int = 50) -> builtins.list[dict[str, Any]]:
        """The delivery log, newest first: each delivery and what it started or why not."""
        return await self.store.list_deliveries(limit=max(1, min(limit, 500)))

    async def account_headroom(self) -> dict[str, dict[str, Any] | None]:
        """Each configured account's headroom by account name: its usage window as its CLI
        last reported it (``{window, status, utilization, resets_at, observed_at, low}``;
        ``low`` when it is about to be cut off), or ``None`` when none was reported or the
        window has reset since. Chains prefer accounts that are not ``low``."""
        accounts = self.config.accounts
        found = await account_headroom(
            self.store, [(a.provider, name) for name, a in accounts.items()], self.clock()
        )
        return {name: found[f"{a.provider}:{name}"] for name, a in accounts.items()}

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
        recovery does: pruning never leaves a run's processes behind without a record. Then
        the workspaces nobody needs go (:meth:`Ownership.sweep_workspaces`).
        """
        await self.ownership.recover()
        days = older_than_days or self.config.settings.retention_days
        cutoff: datetime = self.clock() - timedelta(days=days)
        deleted = await self.store.delete_executions(cutoff)
        await self.ownership.sweep_workspaces(force=True)
        return deleted
