"""The one run path: from a queued execution to its final status.

Whatever started the execution (API, CLI, webhook, schedule, retry), :class:`Executor` takes it
through the same steps: check out its workspace (a bot with ``checkout``), render the prompt,
pick the provider and account, build the command, run the attempt under supervision, turn its
output into events, decide the outcome. A failure in any step before the process starts is
recorded on the execution with its reason and error kind (``workspace`` for the checkout).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import anyio
from attrs import evolve

from ..clock import Clock, utcnow
from ..config import Config
from ..errors import AgentedError, LeaseLost
from ..events._log import EventLog, status_event
from ..models import (
    AttemptRecord,
    Bot,
    ChainEntry,
    Command,
    ErrorKind,
    EventDraft,
    EventKind,
    Execution,
    HookFailure,
    Status,
    Usage,
)
from ..plugins import Plugins
from ..store.base import Store
from ..workspaces import WorkspaceError, Workspaces
from ._cooldowns import Cooldowns
from ._headroom import Headrooms
from ._outcomes import AttemptResult, attempt_outcome
from ._output import AttemptOutput, usage_fields
from ._preparation import PrepareError, base_context, prepare
from ._process import RUN_TAG, boot_ticks, process_start_time
from ._progress import progress_reports
from ._retries import Action, RetryPolicy, decide
from ._runner import Limits, ProcessRun
from ._spend import SpendMeter, spend_updates

log = logging.getLogger("agented.executor")


_LEAVING = frozenset({Status.QUEUED, Status.WAITING})
"""Statuses that hand a run to whichever process takes or wakes it next."""


class Executor:
    """Runs executions: shared by the API facade, triggers and retries."""

    def __init__(
        self,
        *,
        config: Config,
        plugins: Plugins,
        store: Store,
        event_log: EventLog,
        owner: str,
        clock: Clock = utcnow,
        host_env: Mapping[str, str] | None = None,
        on_process: Callable[[str, ProcessRun | None], None] | None = None,
        progress_interval: float = 5.0,
        workspaces: Workspaces | None = None,
    ) -> None:
        self.config = config
        self.plugins = plugins
        self.store = store
        self.events = event_log
        self.owner = owner
        self.clock = clock
        self.host_env = host_env
        # told of each attempt's process as it starts (and of ``None`` once it ended), so the
        # supervisor can stop, pause or resume it
        self.on_process = on_process or (lambda execution_id, run: None)
        self.cooldowns = Cooldowns(store, clock)
        self.headrooms = Headrooms(store, clock)
        self.spend = SpendMeter(store, config, clock)
        self._capped_chain = ""  # why _pick found no entry under its caps (read right after)
        self.progress_interval = progress_interval
        self.workspaces = workspaces or Workspaces.from_config(
            config, credentials=plugins.workspace_credentials
        )
        self.configure(config)

    def configure(self, config: Config) -> None:
        """Use ``config`` from now on (a reload): attempts that start later see it."""
        self.config = config
        self.spend.config = config
        settings = config.settings
        self.policy = RetryPolicy(
            default_cooldown=settings.default_cooldown,
            backoff_base=settings.backoff_base,
            backoff_max=settings.backoff_max,
            max_rate_wait=settings.max_rate_wait,
        )

    # status changes
    async def set_status(
        self,
        execution: Execution,
        status: Status,
        *,
        reason: str | None = None,
        error_kind: ErrorKind | None = None,
    ) -> None:
        """Change an execution's status: record it, save it, and emit the ``status`` event.

        An execution of this process is saved only while this process still holds it (its
        lease, fenced by the attempt): :class:`LeaseLost` otherwise, and nothing is written.
        Nor is anything once the execution has ended: its final status is written once.
        """
        owned = execution.owner == self.owner
        if owned:
            await self._check_held(execution, status)
        if execution.status.terminal:
            # it ended while its lease was checked (a pause or resume racing the end of its
            # process): an ended execution's status is written once, never changed again
            return
        execution.status = status
        now = self.clock()
        if status is Status.RUNNING and execution.started_at is None:
            execution.started_at = now
        if status.terminal:
            execution.finished_at = now
            execution.pgid = None
        if error_kind is not None:
            execution.error_kind = error_kind
        if reason and (
            error_kind is not None or (status.terminal and status is not Status.SUCCEEDED)
        ):
            execution.error = reason
        execution.heartbeat_at = now
        self.events.append(
            execution.id, execution.attempt, [status_event(status, execution.attempt, reason)]
        )
        execution.last_seq = self.events.last_seq(execution.id) or execution.last_seq
        # the record in memory is ahead of the store now: a cancel from here on (a cancel
        # request, shutdown) would leave the status changed here but not there, so the write
        # goes through whole and the cancel takes effect after it
        with anyio.CancelScope(shield=True):
            if status.terminal or (status in _LEAVING and execution.attempt > 0):
                # events first: a follower in another process that sees the terminal status in
                # the store then finds every event up to it (the final one included); and a
                # run handed to another process is run there as its next attempt, whose
                # record makes the store refuse this attempt's events from then on
                await self.events.flush()
            await self._save(execution, owned)

    async def _check_held(self, execution: Execution, status: Status) -> None:
        if self.events.is_fenced(execution.id):
            raise LeaseLost(f"execution {execution.id} was taken over by another process")
        if status is Status.QUEUED:
            return  # new, just taken, or woken under a claim: it is this process's to queue
        held = await self.store.renew_leases([execution.id], self.owner, self.clock())
        if execution.id not in held and await self.store.get_execution(execution.id):
            self.events.fence(execution.id)
            raise LeaseLost(f"execution {execution.id} was taken over by another process")

    async def _save(self, execution: Execution, owned: bool) -> None:
        if not owned:
            await self.store.save_execution(execution)
        elif not await self.store.save_owned(execution):
            self.events.fence(execution.id)
            raise LeaseLost(f"execution {execution.id} was taken over by another process")

    async def save_again(self, execution: Execution) -> None:
        """Save the execution as it is here, once more (its last save raised); under its lease
        when it is this process's, as every save."""
        await self._save(execution, execution.owner == self.owner)

    async def requeue(self, execution: Execution, reason: str) -> None:
        """Hand an execution of this process back to the queue: ``queued``, owned by nobody,
        for any process to take (and run as its next attempt)."""
        if execution.owner == self.owner:
            await self._check_held(execution, Status.RUNNING)
        execution.owner = None
        execution.pgid = None
        execution.retry_at = None
        await self.set_status(execution, Status.QUEUED, reason=reason)

    def retries_interrupted(self, execution: Execution, bot: Bot) -> bool:
        """True when an interrupted attempt of ``execution`` runs again (``retry_interrupted``
        and attempts remain)."""
        return bot.retry_interrupted and execution.attempt < bot.max_attempts

    async def record_hook_failures(self, execution: Execution, failures: list[HookFailure]) -> None:
        """Record lifecycle hooks that raised as ``error`` events; nothing else changes."""
        if not failures or not self.events.is_live(execution.id):
            return
        self.events.append(
            execution.id,
            execution.attempt,
            [
                EventDraft(
                    EventKind.ERROR,
                    f"plugin {f.plugin!r} failed in {f.hook}: {f.message}",
                    f.event_data(),
                )
                for f in failures
            ],
        )
        execution.last_seq = self.events.last_seq(execution.id) or execution.last_seq
        # after its terminal status (written under the lease) the record is this process's
        # to complete
        await self._save(execution, execution.owner == self.owner and not execution.status.terminal)

    async def notify(self, hook: str, execution: Execution) -> None:
        """Call the lifecycle hook ``hook`` for ``execution``; record failures on it."""
        await self.record_hook_failures(
            execution, await self.plugins.notify(hook, execution=execution)
        )

    # the attempts of one execution
    async def execute(self, execution: Execution, bot: Bot) -> None:
        """Run attempts of ``execution`` until it ends, or until it must wait for a reset.

        The execution is already saved as ``queued`` and open in the event log. When it has to
        wait, it is left ``waiting`` with ``retry_at`` set; :meth:`Agented.wake_due` picks it up
        then (in this process or any other sharing the store, also after a restart).
        """
        execution.owner = self.owner
        while True:
            capped = await self.spend.bot_over(bot)
            entry, blocked = (None, None) if capped else await self._pick(bot, execution)
            if entry is None and blocked is None:
                # a cap is a reason not to start; a run that has spent already is stopped
                capped = capped or self._capped_chain
                over = Status.SKIPPED if execution.attempt == 0 else Status.BUDGET_EXCEEDED
                await self.set_status(execution, over, reason=capped)
                return
            if entry is None:
                assert blocked is not None
                await self._wait_for(execution, blocked)
                return
            result = await self._attempt(execution, bot, entry)
            if result.headroom is not None:
                await self.headrooms.record(entry.provider, entry.account, result.headroom)
            if result.final is not None:
                status, kind, reason = result.final
                if status is Status.INTERRUPTED and self.retries_interrupted(execution, bot):
                    self._record(execution, result, decision="queued again")
                    await self.requeue(
                        execution,
                        f"attempt {execution.attempt} was interrupted ({reason}): queued again",
                    )
                    return
                self._record(execution, result, decision="done")
                if status is Status.SUCCEEDED:
                    await self.cooldowns.success(entry.provider)
                await self.set_status(execution, status, reason=reason, error_kind=kind)
                return
            assert result.kind is not None
            if result.kind in (ErrorKind.OVERLOADED, ErrorKind.NETWORK):
                await self.cooldowns.transient_failure(entry.provider)
            decision = decide(
                result.kind,
                message=result.message,
                now=self.clock(),
                reset_at=result.reset_at,
                retry_after=result.retry_after,
                transient_streak=_transient_streak(execution, result.kind),
                policy=self.policy,
            )
            if decision.cool_until is not None:
                await self.cooldowns.cool(entry, decision.cool_until, decision.reason)
            if decision.action is Action.FAIL:
                self._record(execution, result, decision="fail")
                await self.set_status(
                    execution, Status.FAILED, reason=result.message, error_kind=result.kind
                )
                return
            if execution.attempt >= bot.max_attempts:
                self._record(execution, result, decision="give up")
                reason = (
                    f"gave up after {execution.attempt} attempt(s) (max_attempts): {result.message}"
                )
                self._limit_event(execution, entry, result, "give_up")
                await self.set_status(
                    execution, Status.FAILED, reason=reason, error_kind=result.kind
                )
                return
            self._record(execution, result, decision=decision.reason)
            if decision.action is Action.RETRY:
                self._limit_event(execution, entry, result, "retry")
                execution.provider, execution.account = entry.provider, entry.account
                await self._wait_until(
                    execution,
                    self.clock() + timedelta(seconds=decision.delay),
                    f"{decision.reason} on {entry}",
                    error_kind=result.kind,
                )
                return
            self._limit_event(execution, entry, result, "switch")
            # SWITCH: loop to the next chain entry not cooling down (or wait for the earliest)

    async def _pick(
        self, bot: Bot, execution: Execution
    ) -> tuple[ChainEntry | None, tuple[datetime, str] | None]:
        """The chain entry of the next attempt, or (None, (earliest reset, why)) to wait, or
        (None, None) when every entry's account is at its spend cap.

        A retry of the same account (after a rate limit or backoff) keeps that account while it
        is not cooling down; otherwise the chain is walked from the start. Among the entries not
        cooling down, one whose account is not about to be cut off (its CLI's last report of
        its usage window: :mod:`._headroom`) comes before one that is.
        """
        chain = list(bot.chain)
        here = (execution.provider or bot.provider, execution.account)
        current = next((e for e in chain if (e.provider, e.account) == here), None)
        if execution.attempt > 0 and current is not None:
            chain.remove(current)
            chain.insert(0, current)
        blocked: list[tuple[datetime, str]] = []
        low: ChainEntry | None = None  # the first free entry whose account is nearly used up
        capped: list[str] = []
        for entry in chain:
            over = await self.spend.account_over(entry)
            if over is not None:
                capped.append(f"{entry}: {over}")
                continue
            cooldown = await self.cooldowns.active(entry)
            if cooldown is None:
                if len(chain) > 1 and await self.headrooms.low(entry):
                    low = low or entry
                    continue
                return entry, None
            blocked.append((cooldown.until, f"{entry} until {cooldown.until.isoformat()}"))
        if low is not None:
            return low, None  # no entry with more headroom: better a low one than waiting
        if not blocked:  # every entry is at a spend cap
            self._capped_chain = "every account of the chain is at its spend cap: " + "; ".join(
                capped
            )
            return None, None
        earliest = min(until for until, _ in blocked)
        why = "every account of the chain is cooling down: " + "; ".join(w for _, w in blocked)
        return None, (earliest, why)

    async def _wait_for(self, execution: Execution, blocked: tuple[datetime, str]) -> None:
        until, why = blocked
        self.events.emit(
            execution.id,
            execution.attempt,
            EventKind.RATE_LIMIT,
            why,
            {
                "kind": "quota",
                "provider": execution.provider,
                "account": execution.account,
                "reset_at": until.isoformat(),
                "action": "wait",
            },
        )
        await self._wait_until(execution, until, why, error_kind=ErrorKind.QUOTA)

    async def _wait_until(
        self, execution: Execution, when: datetime, reason: str, *, error_kind: ErrorKind | None
    ) -> None:
        execution.retry_at = when
        execution.pgid = None
        await self.set_status(execution, Status.WAITING, reason=reason, error_kind=error_kind)

    def _record(self, execution: Execution, result: AttemptResult, *, decision: str) -> None:
        execution.attempts.append(
            AttemptRecord(
                number=execution.attempt,
                provider=result.provider,
                account=result.account,
                model=execution.model,
                started_at=result.started_at,
                finished_at=self.clock(),
                exit_code=result.exit_code,
                error_kind=result.kind,
                error=result.message if result.kind else None,
                limit_kind=result.limit_kind,
                reset_at=result.reset_at,
                decision=decision,
                headroom=result.headroom,
            )
        )

    def _limit_event(
        self, execution: Execution, entry: ChainEntry, result: AttemptResult, action: str
    ) -> None:
        """The decision about a limit, as a ``rate_limit`` event (for limit kinds only)."""
        if result.kind not in (ErrorKind.QUOTA, ErrorKind.RATE, ErrorKind.OVERLOADED):
            return
        self.events.emit(
            execution.id,
            execution.attempt,
            EventKind.RATE_LIMIT,
            f"{result.kind.value} limit on {entry}: {action}",
            {
                "kind": result.kind.value,
                "provider": entry.provider,
                "account": entry.account,
                "reset_at": result.reset_at.isoformat() if result.reset_at else None,
                "action": action,
            },
        )

    async def _attempt(self, execution: Execution, bot: Bot, entry: ChainEntry) -> AttemptResult:
        """Run one attempt on ``entry``; its outcome, nothing decided yet."""
        # the last attempt's events are stored before the new attempt's number is: the store
        # takes no event of an attempt older than the execution's (the fence of a takeover)
        with anyio.CancelScope(shield=True):
            await self.events.flush()
        execution.attempt += 1
        execution.retry_at = None
        execution.provider, execution.account = entry.provider, entry.account
        execution.model = bot.model_for(entry)
        started = self.clock()
        if bot.checkout.enabled:
            try:
                await self._checkout(execution, bot)
            except WorkspaceError as exc:
                return AttemptResult.finished(
                    entry, started, Status.FAILED, ErrorKind.WORKSPACE, str(exc)
                )
            except LeaseLost:
                raise  # taken over meanwhile: nothing more of it is this process's to record
            except Exception as exc:  # a bug: record it rather than lose the execution
                log.exception("the workspace of execution %s failed", execution.id)
                return AttemptResult.finished(
                    entry, started, Status.FAILED, ErrorKind.WORKSPACE, f"workspace: {exc}"
                )
        try:
            plugin_env = await self.plugins.agent_env(bot, execution)
        except AgentedError as exc:
            return AttemptResult.finished(entry, started, Status.FAILED, ErrorKind.LAUNCH, str(exc))
        try:
            prepared = prepare(
                execution,
                bot,
                entry,
                config=self.config,
                plugins=self.plugins,
                now=self.clock(),
                host_env=self.host_env,
                plugin_env=plugin_env,
            )
            command_request, provider = prepared.request, prepared.provider
            command = prepared.command
        except PrepareError as exc:
            return AttemptResult.finished(entry, started, Status.FAILED, exc.kind, str(exc))
        except Exception as exc:  # a bug: record it rather than lose the execution
            log.exception("preparing execution %s failed", execution.id)
            return AttemptResult.finished(
                entry, started, Status.FAILED, ErrorKind.INTERNAL, f"internal error: {exc}"
            )
        execution.command = command.recorded(execution.prompt)
        command = await self._tag(execution, command)
        self.events.open(execution.id, execution.last_seq, prepared.redactor)
        watch = await self.spend.watch(bot, entry)
        state = AttemptOutput(
            execution=execution,
            bot=bot,
            events=self.events,
            parser=provider.parser(command_request),
            provider=provider,
            base_usage=Usage(**usage_fields(execution.usage)),
            redactor=prepared.redactor,
            spend=watch,
        )
        run = ProcessRun(
            command,
            self._limits(bot),
            on_stdout=lambda line, cont: state.line(line, cont, False),
            on_stderr=lambda line, cont: state.line(line, cont, True),
            on_start=lambda pid: self._on_start(execution, entry, pid),
            secrets=prepared.redactor.secrets,
            room=self.events.room,
        )
        state.run = run
        self.on_process(execution.id, run)
        try:
            async with (
                spend_updates(watch, lambda: state.usage.cost_usd, self.progress_interval),
                progress_reports(
                    self.plugins,
                    self.events,
                    state,
                    self.progress_interval,
                    lambda failures: self.record_hook_failures(execution, failures),
                ),
            ):
                process = await run.run()
        finally:
            self.on_process(execution.id, None)
        state.append(state.parser.finish(process.exit_code))
        execution.exit_code = process.exit_code
        if state.result_text is not None:
            execution.result = state.result_text
        outcome = attempt_outcome(entry, started, state, process)
        if outcome.exit_code is None:
            outcome.exit_code = process.exit_code
        return outcome

    async def _checkout(self, execution: Execution, bot: Bot) -> None:
        """Make (or find again) the execution's worktree before anything else of the attempt.

        Recorded on the execution (its commit pinned for later attempts) and as a
        ``workspace`` event.
        """
        context = {**execution.context, **base_context(bot, execution, self.clock())}
        try:
            # the attempt's timeout bounds its checkout too (a fetch that never ends)
            with anyio.fail_after(bot.timeout):
                made = await self.workspaces.checkout(execution, bot, context)
        except TimeoutError:
            target = self.workspaces.plan(bot, context)
            raise WorkspaceError(
                f"checking out {target.sha or target.ref} of {target.repo} took longer than the "
                f"bot's timeout ({bot.timeout:g} s)"
            ) from None
        execution.workspace = made.workspace
        ws = made.workspace
        if not made.reused:
            how = "fetched" if made.fetched else "from the mirror"
            self.events.emit(
                execution.id,
                execution.attempt,
                EventKind.WORKSPACE,
                f"checked out {ws.repo} at {ws.sha[:12]} ({ws.ref}, {how}) in {ws.path}",
                {
                    "path": ws.path,
                    "repo": ws.repo,
                    "sha": ws.sha,
                    "ref": ws.ref,
                    "fetched": made.fetched,
                    "duration_ms": round(made.seconds * 1000),
                },
            )
            execution.last_seq = self.events.last_seq(execution.id) or execution.last_seq
        # under the lease, as every write of the owner's: a run taken over meanwhile stops here
        await self._save(execution, execution.owner == self.owner)

    async def release_workspace(self, execution: Execution, bot: Bot) -> None:
        """Remove the worktree of an execution that ended, unless its bot keeps it."""
        if not bot.checkout.enabled and execution.workspace is None:
            return
        try:
            await self.workspaces.release(execution, bot)
        except Exception:
            log.exception("removing the workspace of %s failed", execution.id)

    async def _tag(self, execution: Execution, command: Command) -> Command:
        """Give the attempt its run tag and store it before the process starts.

        Should this process die right after the start, another one finds the attempt's
        processes by the tag (started no earlier than ``process_start``), group or no group.
        """
        tag = command.env.get(RUN_TAG)
        if not tag:
            tag = uuid.uuid4().hex
            command = evolve(command, env={**command.env, RUN_TAG: tag})
        execution.run_tag = tag
        execution.pgid = None
        execution.process_start = boot_ticks()
        execution.heartbeat_at = self.clock()
        await self._save(execution, execution.owner == self.owner)
        return command

    def _limits(self, bot: Bot) -> Limits:
        settings = self.config.settings
        return Limits(
            timeout=bot.timeout,
            idle_timeout=bot.idle_timeout,
            kill_grace=settings.kill_grace,
            max_pause=settings.max_pause,
        )

    async def _on_start(self, execution: Execution, entry: ChainEntry, pid: int) -> None:
        execution.pgid = pid
        execution.process_start = process_start_time(pid)
        reason = None
        if execution.attempt > 1:
            previous = execution.attempts[-1] if execution.attempts else None
            after = (
                f" after {previous.error_kind.value}" if previous and previous.error_kind else ""
            )
            reason = f"attempt {execution.attempt} on {entry}{after}"
        await self.set_status(execution, Status.RUNNING, reason=reason)
        if execution.attempt == 1:
            await self.notify("agented_execution_started", execution)


def _transient_streak(execution: Execution, kind: ErrorKind) -> int:
    """How many overloaded/network failures in a row this execution has had, this one included."""
    streak = 1
    for record in reversed(execution.attempts):
        if record.error_kind in (ErrorKind.OVERLOADED, ErrorKind.NETWORK):
            streak += 1
        else:
            break
    return streak
