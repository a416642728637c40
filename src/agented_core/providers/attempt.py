"""What every agent CLI's parser needs to judge an attempt, whatever the CLI prints.

:class:`AgentParser` keeps the attempt's stderr tail (:class:`~agented_core.providers.
StderrTail`), its running usage, its session id, whether a result came, how many failures the
CLI reported and the last HTTP status. From that evidence it names a failure's kind
(:meth:`AgentParser.error_kind`, by :func:`~agented_core.providers.classify_outcome`), builds the
failure's ``error`` event (:meth:`AgentParser.failure`) and, when the CLI exits by itself with
neither a result nor a failure, says so (:meth:`AgentParser.no_result`: "NAME exited with code N
without a result: LAST STDERR LINE"). A parser of a particular CLI then holds only what is
particular to it. :class:`~agented_core.providers.JsonLinesParser` is one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..models import ErrorKind, EventDraft, EventKind
from .base import LineParser, Outcome, classify_outcome
from .drafts import error
from .stderr import StderrTail
from .usage import UsageTotals


class AgentParser(LineParser):
    """A parser that keeps the evidence of one attempt of an agent CLI.

    ``provider`` names the CLI (rate-limit patterns, exit-code meanings, messages);
    ``account`` is the attempt's account. ``model`` is the model asked for and ``prices`` the
    ``[prices]`` table, for a CLI that reports tokens but no cost
    (:func:`~agented_core.providers.pricing.cost_of`).

    A subclass sets :attr:`result_seen` when the CLI prints its final result and reports the
    failures it reads with :meth:`failure` (which counts them in :attr:`errors`); with
    :attr:`requires_result`, the default :meth:`finish` then needs nothing more.
    """

    requires_result: ClassVar[bool] = False
    """True when the CLI always ends with a final result line (as its provider's
    :attr:`~agented_core.providers.CLIProvider.requires_result`): :meth:`finish` then reports
    an attempt that ended without one."""

    def __init__(
        self,
        provider: str | None = None,
        *,
        account: str | None = None,
        model: str | None = None,
        prices: Mapping[str, Any] | None = None,
    ) -> None:
        self.provider = provider
        self.account = account
        self.model = model
        self.prices: Mapping[str, Any] = prices or {}
        self.usage = UsageTotals()
        """The attempt's running usage: its :meth:`UsageTotals.draft` is the ``usage`` event."""
        self.session_id: str | None = None
        """The CLI's session id, once it printed one."""
        self.result_seen = False
        """Whether the CLI printed its final result (set by the subclass)."""
        self.errors = 0
        """How many failures the CLI reported (:meth:`failure` counts them)."""
        self.status: int | None = None
        """The last HTTP status the CLI reported: evidence for :meth:`error_kind`."""
        self.stderr_tail = StderrTail()
        """The last stderr lines (:meth:`tail_line` picks what is kept of each)."""
        self.started = time.monotonic()

    # the LineParser interface
    def stderr(self, line: str) -> Sequence[EventDraft]:
        """A ``stderr`` event; the line goes to the tail (:meth:`tail_line`)."""
        with contextlib.suppress(Exception):  # a parser never raises
            self.stderr_tail.add(self.tail_line(line))
        return (EventDraft(EventKind.STDERR, text=line),)

    def finish(self, exit_code: int | None) -> Sequence[EventDraft]:
        """With :attr:`requires_result`, :meth:`no_result`: an error when the CLI ended without
        a result and without saying why. Otherwise nothing."""
        return self.no_result(exit_code) if self.requires_result else ()

    # to override
    def tail_line(self, line: str) -> str | None:
        """What :attr:`stderr_tail` keeps of a stderr line (``None``: nothing). The default
        keeps the line; override to drop noise (stack frames) or colour codes."""
        return line

    # the outcome
    def error_kind(
        self,
        message: str,
        *,
        exit_code: int | None = 1,
        codes: Sequence[str] = (),
        rate_limits: Sequence[Mapping[str, Any]] = (),
        stderr: str | None = None,
    ) -> ErrorKind:
        """The kind of a failure the CLI reported, by :func:`~agented_core.providers.
        classify_outcome`: its ``message`` and machine-readable ``codes``, the last HTTP
        :attr:`status`, the stderr tail (or ``stderr``), ``rate_limits`` and the exit code.
        ``provider`` when nothing names a kind. Override to weigh evidence of the CLI's own."""
        outcome = Outcome(
            exit_code=exit_code,
            result_ok=False,
            errors=(message,),
            rate_limits=tuple(rate_limits),
            stderr=self.stderr_tail.text if stderr is None else stderr,
            extra={
                "error_codes": list(codes),
                "status_codes": [self.status] if self.status is not None else [],
            },
        )
        return classify_outcome(outcome, self.provider) or ErrorKind.PROVIDER

    def failure(
        self,
        message: str,
        *,
        kind: ErrorKind | str | None = None,
        codes: Sequence[str] = (),
        **data: Any,
    ) -> EventDraft:
        """An ``error`` event for a failure the CLI reported, counted in :attr:`errors`.

        Its kind is ``kind``, else the one :meth:`error_kind` reads from ``message``, ``codes``
        and the attempt's evidence. ``data`` goes into the event. A notice the CLI may recover
        from (it retries) is a plain :func:`~agented_core.providers.error`, not counted.
        """
        self.errors += 1
        if kind is None:
            kind = self.error_kind(message, codes=codes)
        return error(kind, message, **data)

    def no_result(
        self, exit_code: int | None, ended: str = "without a result"
    ) -> tuple[EventDraft, ...]:
        """An ``error`` event when the CLI exited by itself with neither a result nor a
        reported failure: "NAME exited with code N without a result: LAST STDERR LINE", its
        kind from the message, the stderr tail and the exit code. Nothing when a result or a
        failure came, or when agented ended the process (``exit_code`` ``None`` or negative: a
        timeout, a cancel, whose reason agented records itself)."""
        if self.result_seen or self.errors or exit_code is None or exit_code < 0:
            return ()
        last = self.stderr_tail.last
        said = f": {last}" if last else ""
        message = f"{self.provider or 'the CLI'} exited with code {exit_code} {ended}{said}"
        self.errors += 1
        kind = self.error_kind(message, exit_code=exit_code)
        return (error(kind, message, exit_code=exit_code),)

    def elapsed_ms(self) -> int:
        """Milliseconds since the parser was made (the attempt's start), for a CLI whose result
        gives no duration."""
        return round((time.monotonic() - self.started) * 1000)
