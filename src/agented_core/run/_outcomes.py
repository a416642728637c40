"""What an attempt's end means: a final status, or an error kind for the retry policy.

The order: a CLI that could not start fails (``launch``); an attempt agented stopped ends as
its stop says (timeout, cancel, budget, shutdown; an idle CLI fails as ``idle``; one that
printed its result and then hung keeps the result's outcome; a used-up quota is ``quota``);
otherwise the provider classifies the outcome from the exit code, the final result, the error
and rate-limit events and stderr.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from attrs import define

from ..models import ChainEntry, ErrorKind, Status
from ..providers.base import Outcome
from ._output import AttemptOutput
from ._runner import ProcessResult, StopReason

_STOP_STATUS = {
    StopReason.TIMEOUT: Status.TIMED_OUT,
    StopReason.CANCEL: Status.CANCELLED,
    StopReason.BUDGET: Status.BUDGET_EXCEEDED,
    StopReason.SHUTDOWN: Status.INTERRUPTED,
    StopReason.PAUSED_TOO_LONG: Status.CANCELLED,
}


@define
class AttemptResult:
    """How one attempt ended: ``final`` (status, kind, reason) when nothing is left to decide,
    else the error kind and the limit it reported, for :func:`~agented_core.run._retries.decide`."""

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
    headroom: dict[str, Any] | None = None
    """The usage window the CLI last reported during the attempt (a ``headroom`` event)."""

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


def attempt_outcome(
    entry: ChainEntry, started: datetime, state: AttemptOutput, result: ProcessResult
) -> AttemptResult:
    """What an attempt's end means: a final status, or an error kind to decide on."""
    outcome = _attempt_outcome(entry, started, state, result)
    outcome.headroom = state.headroom
    return outcome


def _attempt_outcome(
    entry: ChainEntry, started: datetime, state: AttemptOutput, result: ProcessResult
) -> AttemptResult:
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


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
