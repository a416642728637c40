"""The one run path: from a queued execution to its final status.

Whatever started the execution (API, CLI, webhook, schedule, retry), :class:`Executor` takes it
through the same steps: render the prompt, pick the provider and account, build the command, run
the attempt under supervision, turn its output into events, decide the outcome. A failure in any
step before the process starts is recorded on the execution with its reason and error kind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attrs import define, field

from .config import Config
from .environment import child_environment
from .errors import AgentedError, ConfigError, TemplateError
from .events import EventLog, status_event
from .models import (
    Account,
    Bot,
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

    # one execution, one attempt (fallback and retries come with the limits issue)
    async def execute(self, execution: Execution, bot: Bot) -> None:
        """Run ``execution`` (already saved as ``queued`` and open in the event log) to the end."""
        execution.attempt += 1
        execution.owner = self.owner
        try:
            prepared = self._prepare(execution, bot)
        except PrepareError as exc:
            await self.set_status(execution, Status.FAILED, reason=str(exc), error_kind=exc.kind)
            return
        except Exception as exc:  # a bug: record it rather than lose the execution
            log.exception("preparing execution %s failed", execution.id)
            await self.set_status(
                execution,
                Status.FAILED,
                reason=f"internal error: {exc}",
                error_kind=ErrorKind.INTERNAL,
            )
            return
        command_request, provider, redactor = prepared
        command = provider.build_command(command_request)
        execution.command = command.recorded(execution.prompt)
        execution.provider = provider.name
        execution.account = command_request.account.name if command_request.account else None
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
            on_start=lambda pid: self._on_start(execution, pid),
        )
        self.runs[execution.id] = run
        try:
            result = await run.run()
        finally:
            self.runs.pop(execution.id, None)
        self._append(execution, state.parser.finish(result.exit_code), bot, state, run)
        await self._finish(execution, state, result)

    def _limits(self, bot: Bot) -> Limits:
        settings = self.config.settings
        return Limits(
            timeout=bot.timeout,
            idle_timeout=bot.idle_timeout,
            kill_grace=settings.kill_grace,
            max_pause=settings.max_pause,
        )

    async def _on_start(self, execution: Execution, pid: int) -> None:
        execution.pgid = pid
        execution.process_start = process_start_time(pid)
        await self.set_status(execution, Status.RUNNING)
        if execution.attempt == 1:
            await self.plugins.notify("agented_execution_started", execution=execution)

    def _prepare(self, execution: Execution, bot: Bot) -> tuple[CommandRequest, Provider, Redactor]:
        try:
            provider = self.plugins.provider(bot.provider)
        except AgentedError as exc:
            raise PrepareError(str(exc)) from None
        account: Account | None = None
        if bot.account:
            account = self.config.accounts.get(bot.account)
            if account is None:
                raise PrepareError(f"unknown account {bot.account!r}")
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
                state.rate_limits.append(dict(draft.data))
            out.append(draft)
        self.events.append(execution.id, execution.attempt, out)
        if over_budget:
            run.stop(StopReason.BUDGET, over_budget)

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

    async def _finish(
        self, execution: Execution, state: AttemptState, result: ProcessResult
    ) -> None:
        execution.exit_code = result.exit_code
        if state.result_text is not None:
            execution.result = state.result_text
        if result.launch_error:
            await self.set_status(
                execution, Status.FAILED, reason=result.launch_error, error_kind=ErrorKind.LAUNCH
            )
            return
        stop = result.stop
        if stop is StopReason.RESULT_HANG:
            ok = state.result_ok is not False
            await self.set_status(
                execution,
                Status.SUCCEEDED if ok else Status.FAILED,
                reason="the CLI printed its result and then hung; it was ended",
                error_kind=None if ok else ErrorKind.PROVIDER,
            )
            return
        if stop is StopReason.IDLE:
            idle = execution_idle_reason(result)
            await self.set_status(execution, Status.FAILED, reason=idle, error_kind=ErrorKind.IDLE)
            return
        if stop is not None:
            status = _STOP_STATUS.get(stop, Status.FAILED)
            await self.set_status(execution, status, reason=result.stop_detail or stop_text(stop))
            return
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
            await self.set_status(execution, Status.SUCCEEDED)
        else:
            message = _failure_message(outcome)
            await self.set_status(execution, Status.FAILED, reason=message, error_kind=kind)


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


def execution_idle_reason(result: ProcessResult) -> str:
    """The message of an idle stop."""
    return "no output for longer than the idle timeout; the run was ended"


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
