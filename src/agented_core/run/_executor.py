"""The one run path: from a queued execution to its final status.

Whatever started the execution (API, CLI, webhook, schedule, retry), :class:`Executor` takes it
through the same steps: render the prompt, pick the provider and account, build the command, run
the attempt under supervision, turn its output into events, decide the outcome. A failure in any
step before the process starts is recorded on the execution with its reason and error kind.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from attrs import evolve

from ..clock import Clock, utcnow
from ..config import Config
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
from ._cooldowns import Cooldowns
from ._outcomes import AttemptResult, attempt_outcome
from ._output import AttemptOutput, usage_fields
from ._preparation import PrepareError, prepare
from ._process import RUN_TAG, boot_ticks, process_start_time
from ._progress import progress_reports
from ._retries import Action, RetryPolicy, decide
from ._runner import Limits, ProcessRun

log = logging.getLogger("agented.executor")


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
        self.progress_interval = progress_interval
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
        """Change an execution's status: record it, save it, and emit the ``status`` event."""
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
        if status.terminal:
            # events first: a follower in another process that sees the terminal status in the
            # store then finds every event up to it (the final one included)
            await self.events.flush()
        await self.store.save_execution(execution)

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
        await self.store.save_execution(execution)

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
            entry, blocked = await self._pick(bot, execution)
            if entry is None:
                assert blocked is not None
                await self._wait_for(execution, blocked)
                return
            result = await self._attempt(execution, bot, entry)
            if result.final is not None:
                status, kind, reason = result.final
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
        """The chain entry of the next attempt, or (None, (earliest reset, why)) to wait.

        A retry of the same account (after a rate limit or backoff) keeps that account while it
        is not cooling down; otherwise the chain is walked from the start.
        """
        chain = list(bot.chain)
        here = (execution.provider or bot.provider, execution.account)
        current = next((e for e in chain if (e.provider, e.account) == here), None)
        if execution.attempt > 0 and current is not None:
            chain.remove(current)
            chain.insert(0, current)
        blocked: list[tuple[datetime, str]] = []
        for entry in chain:
            cooldown = await self.cooldowns.active(entry)
            if cooldown is None:
                return entry, None
            blocked.append((cooldown.until, f"{entry} until {cooldown.until.isoformat()}"))
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
        execution.attempt += 1
        execution.retry_at = None
        execution.provider, execution.account = entry.provider, entry.account
        execution.model = bot.model_for(entry)
        started = self.clock()
        try:
            prepared = prepare(
                execution,
                bot,
                entry,
                config=self.config,
                plugins=self.plugins,
                now=self.clock(),
                host_env=self.host_env,
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
        state = AttemptOutput(
            execution=execution,
            bot=bot,
            events=self.events,
            parser=provider.parser(command_request),
            provider=provider,
            base_usage=Usage(**usage_fields(execution.usage)),
            redactor=prepared.redactor,
        )
        run = ProcessRun(
            command,
            self._limits(bot),
            on_stdout=lambda line, cont: state.line(line, cont, False),
            on_stderr=lambda line, cont: state.line(line, cont, True),
            on_start=lambda pid: self._on_start(execution, entry, pid),
            secrets=prepared.redactor.secrets,
        )
        state.run = run
        self.on_process(execution.id, run)
        try:
            async with progress_reports(
                self.plugins,
                self.events,
                state,
                self.progress_interval,
                lambda failures: self.record_hook_failures(execution, failures),
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
        await self.store.save_execution(execution)
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
