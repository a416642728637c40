"""The one run path: from a queued execution to its final status.

Whatever started the execution (API, CLI, webhook, schedule, retry), :class:`Executor` takes it
through the same steps: render the prompt, pick the provider and account, build the command, run
the attempt under supervision, turn its output into events, decide the outcome. A failure in any
step before the process starts is recorded on the execution with its reason and error kind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from attrs import define, field

from .config import Config
from .cooldowns import Cooldowns
from .environment import child_environment
from .errors import AgentedError, ConfigError, TemplateError
from .events import EventLog, status_event
from .models import (
    Account,
    AttemptRecord,
    Bot,
    ChainEntry,
    ErrorKind,
    EventDraft,
    EventKind,
    Execution,
    Status,
    Usage,
)
from .plugins import Plugins
from .process import process_start_time
from .prompts import render, render_workdir
from .providers.base import CommandRequest, LineParser, Outcome, Provider
from .redaction import Redactor
from .retries import Action, RetryPolicy, decide
from .runner import Limits, ProcessResult, ProcessRun, StopReason
from .store.base import Store

log = logging.getLogger("agented.executor")

_STOP_STATUS = {
    StopReason.TIMEOUT: Status.TIMED_OUT,
    StopReason.CANCEL: Status.CANCELLED,
    StopReason.BUDGET: Status.BUDGET_EXCEEDED,
    StopReason.SHUTDOWN: Status.INTERRUPTED,
    StopReason.PAUSED_TOO_LONG: Status.CANCELLED,
}


class PrepareError(AgentedError):
    """A step before the process started failed; carries the error kind to record."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.LAUNCH) -> None:
        super().__init__(message)
        self.kind = kind


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def base_context(bot: Bot, execution: Execution, now: datetime) -> dict[str, Any]:
    """The context keys every run has: ``bot``, ``execution``, ``trigger``, ``now``, ``params``."""
    return {
        "bot": {
            "name": bot.name,
            "provider": bot.provider,
            "model": bot.model,
            "account": bot.account,
            "description": bot.description,
        },
        "execution": {"id": execution.id, "attempt": execution.attempt},
        "trigger": execution.trigger.value,
        "now": now.isoformat(),
        "params": dict(execution.params),
    }


@define
class AttemptState:
    """What the executor learns from one attempt's events while it runs."""

    parser: LineParser
    provider: Provider
    base_usage: Usage
    usage: Usage = field(factory=Usage)
    result_ok: bool | None = None
    result_text: str | None = None
    errors: list[str] = field(factory=list)
    error_kinds: list[str] = field(factory=list)
    rate_limits: list[Any] = field(factory=list)
    stderr_tail: list[str] = field(factory=list)
    session_id: str | None = None


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
        clock: Callable[[], datetime] = utcnow,
        host_env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.plugins = plugins
        self.store = store
        self.events = event_log
        self.owner = owner
        self.clock = clock
        self.host_env = host_env
        self.runs: dict[str, ProcessRun] = {}
        self.cooldowns = Cooldowns(store, clock)
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
        await self.store.save_execution(execution)

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
        current = ChainEntry(execution.provider or bot.provider, execution.account)
        if execution.attempt > 0 and current in chain:
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
        await self._wait_until(execution, until, why, error_kind=execution.error_kind)

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
        started = self.clock()
        try:
            command_request, provider, redactor = self._prepare(execution, bot, entry)
            command = provider.build_command(command_request)
        except PrepareError as exc:
            return AttemptResult.finished(entry, started, Status.FAILED, exc.kind, str(exc))
        except Exception as exc:  # a bug: record it rather than lose the execution
            log.exception("preparing execution %s failed", execution.id)
            return AttemptResult.finished(
                entry, started, Status.FAILED, ErrorKind.INTERNAL, f"internal error: {exc}"
            )
        execution.command = command.recorded(execution.prompt)
        self.events.open(execution.id, execution.last_seq, redactor)
        state = AttemptState(
            parser=provider.parser(command_request),
            provider=provider,
            base_usage=Usage(**_usage_fields(execution.usage)),
        )
        run = ProcessRun(
            command,
            self._limits(bot),
            on_stdout=lambda line, cont: self._on_line(
                execution, bot, state, run, line, cont, False
            ),
            on_stderr=lambda line, cont: self._on_line(
                execution, bot, state, run, line, cont, True
            ),
            on_start=lambda pid: self._on_start(execution, entry, pid),
        )
        self.runs[execution.id] = run
        try:
            process = await run.run()
        finally:
            self.runs.pop(execution.id, None)
        self._append(execution, state.parser.finish(process.exit_code), bot, state, run)
        execution.exit_code = process.exit_code
        if state.result_text is not None:
            execution.result = state.result_text
        return self._outcome(entry, started, state, process)

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
            await self.plugins.notify("agented_execution_started", execution=execution)

    def _prepare(
        self, execution: Execution, bot: Bot, entry: ChainEntry
    ) -> tuple[CommandRequest, Provider, Redactor]:
        try:
            provider = self.plugins.provider(entry.provider)
        except AgentedError as exc:
            raise PrepareError(str(exc)) from None
        account: Account | None = None
        if entry.account:
            account = self.config.accounts.get(entry.account)
            if account is None:
                raise PrepareError(f"unknown account {entry.account!r}")
        context = dict(execution.context)
        context.update(base_context(bot, execution, self.clock()))
        context.update(self.plugins.prompt_context(bot, context))
        try:
            prompt = render(bot.prompt, context, missing="empty") if bot.prompt else None
        except TemplateError as exc:
            raise PrepareError(f"prompt: {exc}") from None
        execution.prompt = prompt
        cwd: str | None = None
        if bot.workdir:
            try:
                path = render_workdir(bot.workdir, context, self.config.base_dir, missing="empty")
            except TemplateError as exc:
                raise PrepareError(f"workdir: {exc}") from None
            if not path.is_dir():
                raise PrepareError(f"workdir does not exist: {path}")
            cwd = str(path)
        else:
            cwd = str(Path(self.config.base_dir))
        try:
            child = child_environment(bot, account, self.host_env)
        except ConfigError as exc:
            raise PrepareError(str(exc)) from None
        request = CommandRequest(
            bot=bot,
            prompt=prompt,
            context=context,
            env=child.env,
            cwd=cwd,
            account=account,
            attempt=execution.attempt,
            session_id=execution.session_id,
            model=bot.model,
        )
        try:
            provider.build_command(request)
        except TemplateError as exc:
            raise PrepareError(f"command: {exc}") from None
        except AgentedError as exc:
            raise PrepareError(str(exc)) from None
        return request, provider, Redactor(child.secrets)

    def _on_line(
        self,
        execution: Execution,
        bot: Bot,
        state: AttemptState,
        run: ProcessRun,
        line: str,
        continued: bool,
        is_stderr: bool,
    ) -> None:
        if continued:
            kind = EventKind.STDERR if is_stderr else EventKind.RAW
            drafts: Sequence[EventDraft] = (EventDraft(kind, line, {"continued": True}),)
        else:
            try:
                drafts = state.parser.stderr(line) if is_stderr else state.parser.stdout(line)
            except Exception as exc:  # a parser must not raise; keep the line anyway
                log.warning("parser of %s raised on a line: %s", state.provider.name, exc)
                drafts = (EventDraft(EventKind.STDERR if is_stderr else EventKind.RAW, line),)
        if is_stderr:
            state.stderr_tail.append(line[:2000])
            del state.stderr_tail[:-50]
        self._append(execution, drafts, bot, state, run)

    def _append(
        self,
        execution: Execution,
        drafts: Sequence[EventDraft],
        bot: Bot,
        state: AttemptState,
        run: ProcessRun,
    ) -> None:
        if not drafts:
            return
        out: list[EventDraft] = []
        over_budget: str | None = None
        stop_for_limit = False
        for draft in drafts:
            kind = draft.kind
            if kind == EventKind.USAGE:
                draft = self._usage(execution, state, draft)
                over_budget = over_budget or self._over_budget(bot, execution.usage)
            elif kind == EventKind.RESULT:
                ok = draft.data.get("ok")
                state.result_ok = bool(ok) if ok is not None else True
                text = draft.data.get("text", draft.text)
                state.result_text = text if isinstance(text, str) else None
                run.note_result()
            elif kind == EventKind.SESSION:
                sid = draft.data.get("session_id")
                if isinstance(sid, str):
                    state.session_id = sid
                    execution.session_id = sid
            elif kind == EventKind.ERROR:
                state.errors.append(str(draft.data.get("message", draft.text or "")))
                if draft.data.get("kind"):
                    state.error_kinds.append(str(draft.data["kind"]))
            elif kind == EventKind.RATE_LIMIT:
                data = dict(draft.data)
                data.setdefault("provider", execution.provider)
                data["account"] = execution.account
                quota = data.get("kind") == "quota"
                data.setdefault("action", "stop" if quota else "none")
                draft = EventDraft(kind, draft.text, data)
                state.rate_limits.append(data)
                if quota:
                    stop_for_limit = True
            out.append(draft)
        self.events.append(execution.id, execution.attempt, out)
        if over_budget:
            run.stop(StopReason.BUDGET, over_budget)
        elif stop_for_limit:
            # a used-up quota: the CLI would wait or retry for hours; end the attempt now
            run.stop(StopReason.RATE_LIMIT, "usage limit reached")

    def _usage(self, execution: Execution, state: AttemptState, draft: EventDraft) -> EventDraft:
        """Turn the attempt's usage totals into the execution's running totals."""
        data = draft.data
        attempt = Usage(
            input_tokens=_int(data.get("input_tokens")),
            output_tokens=_int(data.get("output_tokens")),
            cache_read_tokens=_int(data.get("cache_read_tokens")),
            cache_write_tokens=_int(data.get("cache_write_tokens")),
            cost_usd=_float(data.get("cost_usd")),
        )
        state.usage = attempt
        base = state.base_usage
        total = Usage(
            input_tokens=base.input_tokens + attempt.input_tokens,
            output_tokens=base.output_tokens + attempt.output_tokens,
            cache_read_tokens=base.cache_read_tokens + attempt.cache_read_tokens,
            cache_write_tokens=base.cache_write_tokens + attempt.cache_write_tokens,
            cost_usd=(
                None
                if attempt.cost_usd is None and base.cost_usd is None
                else (base.cost_usd or 0.0) + (attempt.cost_usd or 0.0)
            ),
        )
        execution.usage = total
        return EventDraft(EventKind.USAGE, draft.text, _usage_fields(total))

    @staticmethod
    def _over_budget(bot: Bot, usage: Usage) -> str | None:
        if bot.max_cost_usd is not None and usage.cost_usd is not None:
            if usage.cost_usd > bot.max_cost_usd:
                return f"cost ${usage.cost_usd:.4f} is over the budget of ${bot.max_cost_usd:.4f}"
        if bot.max_tokens is not None and usage.total_tokens > bot.max_tokens:
            return f"{usage.total_tokens} tokens is over the budget of {bot.max_tokens}"
        return None

    def _outcome(
        self, entry: ChainEntry, started: datetime, state: AttemptState, result: ProcessResult
    ) -> AttemptResult:
        """What an attempt's end means: a final status, or an error kind to decide on."""
        if result.launch_error:
            return AttemptResult.finished(
                entry, started, Status.FAILED, ErrorKind.LAUNCH, result.launch_error
            )
        limit = _strongest_limit(state.rate_limits)
        stop = result.stop
        if stop is StopReason.RESULT_HANG:
            ok = state.result_ok is not False
            return AttemptResult.finished(
                entry,
                started,
                Status.SUCCEEDED if ok else Status.FAILED,
                None if ok else ErrorKind.PROVIDER,
                "the CLI printed its result and then hung; it was ended",
            )
        if stop is StopReason.IDLE:
            return AttemptResult.finished(
                entry,
                started,
                Status.FAILED,
                ErrorKind.IDLE,
                "no output for longer than the idle timeout; the run was ended",
            )
        if stop is StopReason.RATE_LIMIT:
            return AttemptResult.failed(
                entry, started, ErrorKind.QUOTA, _limit_message(limit), limit, result.exit_code
            )
        if stop is not None:
            status = _STOP_STATUS.get(stop, Status.FAILED)
            return AttemptResult.finished(
                entry, started, status, None, result.stop_detail or stop_text(stop)
            )
        outcome = Outcome(
            exit_code=result.exit_code,
            result_ok=state.result_ok,
            errors=tuple(state.errors),
            error_kinds=tuple(state.error_kinds),
            rate_limits=tuple(state.rate_limits),
            stderr="\n".join(state.stderr_tail),
        )
        kind = state.provider.classify(outcome)
        if kind is None:
            return AttemptResult.finished(entry, started, Status.SUCCEEDED, None, None)
        message = _failure_message(outcome)
        if kind in (ErrorKind.QUOTA, ErrorKind.RATE) and limit is not None:
            message = _limit_message(limit, message)
        return AttemptResult.failed(entry, started, kind, message, limit, result.exit_code)


@define
class AttemptResult:
    """How one attempt ended: ``final`` (status, kind, reason) when nothing is left to decide,
    else the error kind and the limit it reported, for :func:`~agented_core.retries.decide`."""

    provider: str
    account: str | None
    started_at: datetime
    final: tuple[Status, ErrorKind | None, str | None] | None = None
    kind: ErrorKind | None = None
    message: str = ""
    limit_kind: str | None = None
    reset_at: datetime | None = None
    retry_after: float | None = None
    exit_code: int | None = None

    @classmethod
    def finished(
        cls,
        entry: ChainEntry,
        started: datetime,
        status: Status,
        kind: ErrorKind | None,
        reason: str | None,
    ) -> AttemptResult:
        """An attempt whose outcome is the execution's final status."""
        return cls(
            entry.provider,
            entry.account,
            started,
            final=(status, kind, reason),
            kind=kind,
            message=reason or "",
        )

    @classmethod
    def failed(
        cls,
        entry: ChainEntry,
        started: datetime,
        kind: ErrorKind,
        message: str,
        limit: dict[str, Any] | None,
        exit_code: int | None,
    ) -> AttemptResult:
        """An attempt that failed with ``kind``; what follows is for the retry policy."""
        limit = limit or {}
        return cls(
            entry.provider,
            entry.account,
            started,
            kind=kind,
            message=message,
            limit_kind=limit.get("kind"),
            reset_at=_parse_time(limit.get("reset_at")),
            retry_after=_float(limit.get("retry_after")),
            exit_code=exit_code,
        )


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


_LIMIT_ORDER = {"quota": 3, "rate": 2, "overloaded": 1}


def _strongest_limit(limits: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The limit that matters most among those an attempt reported (quota > rate > overload)."""
    ranked = [lim for lim in limits if lim.get("kind") in _LIMIT_ORDER]
    if not ranked:
        return None
    strongest: dict[str, Any] = max(
        reversed(ranked), key=lambda lim: _LIMIT_ORDER[str(lim["kind"])]
    )
    return strongest


def _limit_message(limit: dict[str, Any] | None, fallback: str = "usage limit reached") -> str:
    if not limit:
        return fallback
    text = str(limit.get("matched") or fallback)[:300]
    reset = limit.get("reset_at")
    return f"{text} (resets {reset})" if reset else text


def _transient_streak(execution: Execution, kind: ErrorKind) -> int:
    """How many overloaded/network failures in a row this execution has had, this one included."""
    streak = 1
    for record in reversed(execution.attempts):
        if record.error_kind in (ErrorKind.OVERLOADED, ErrorKind.NETWORK):
            streak += 1
        else:
            break
    return streak


def stop_text(stop: StopReason) -> str:
    """A sentence for a stop reason."""
    return {
        StopReason.TIMEOUT: "timed out",
        StopReason.CANCEL: "cancelled",
        StopReason.BUDGET: "over budget",
        StopReason.SHUTDOWN: "the host shut down",
        StopReason.PAUSED_TOO_LONG: "paused for longer than the limit; cancelled",
        StopReason.RATE_LIMIT: "rate limited",
    }.get(stop, stop.value)


def _failure_message(outcome: Outcome) -> str:
    if outcome.errors:
        return outcome.errors[-1][:500]
    if outcome.result_ok is False:
        return "the CLI reported a failed result"
    tail = outcome.stderr.strip().splitlines()
    detail = f": {tail[-1][:300]}" if tail else ""
    return f"exited with code {outcome.exit_code}{detail}"


def _usage_fields(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cost_usd": usage.cost_usd,
    }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
