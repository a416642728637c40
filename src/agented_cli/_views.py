"""How ``executions`` and ``show`` print an execution for a person."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agented_core import SpendTotals
from agented_core.clock import utcnow
from agented_core.durations import format_duration
from agented_core.models import AttemptRecord, Execution

from ._render import one_line

ELLIPSIS = "…"

# (header, widest cell); a longer cell is cut, its last character an ellipsis
COLUMNS: tuple[tuple[str, int], ...] = (
    ("ID", 26),
    ("CREATED", 19),
    ("BOT", 24),
    ("STATUS", 15),
    ("WHERE", 24),
    ("DURATION", 9),
    ("COST", 9),
    ("ERROR", 60),
)


def cut(text: str, width: int) -> str:
    """``text`` on one line of at most ``width`` characters, an ellipsis marking a cut."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def duration(execution: Execution, now: datetime | None = None) -> str:
    """How long it ran: start to finish, or to ``now`` while it runs; ``-`` before it starts."""
    if execution.started_at is None:
        return "-"
    end = execution.finished_at
    if end is None:
        if execution.terminal:
            return "-"
        end = now or utcnow()
    return format_duration(max(0.0, (end - execution.started_at).total_seconds()))


def cost(execution: Execution) -> str:
    """The cost in dollars, or ``-`` when the provider reports none."""
    value = execution.usage.cost_usd
    return f"${value:.4f}" if value is not None else "-"


def where(provider: str | None, account: str | None) -> str:
    """``provider:account``, or the provider alone."""
    return (provider or "-") + (f":{account}" if account else "")


def table(executions: Sequence[Execution], now: datetime | None = None) -> str:
    """A header row and one row per execution; each column as wide as its widest cell."""
    rows = [[header for header, _ in COLUMNS]]
    for e in executions:
        created = e.created_at.strftime("%Y-%m-%d %H:%M:%S") if e.created_at else "-"
        error = e.error if e.error and e.terminal else ""
        cells = [
            e.id,
            created,
            e.bot,
            e.status.value,
            where(e.provider, e.account),
            duration(e, now),
            cost(e),
            error,
        ]
        rows.append([cut(cell, width) for cell, (_, width) in zip(cells, COLUMNS, strict=True)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def attempt_line(record: AttemptRecord, execution: Execution) -> str:
    """One attempt: where it ran, how it ended and what came next.

    The last attempt of a finished execution ended the way the execution did (``cancelled``,
    ``timed_out`` ...), which its record alone does not say: it only knows there was no error
    to retry and the decision ``done``.
    """
    outcome = record.error_kind.value if record.error_kind else "ok"
    decision = record.decision or "-"
    last = bool(execution.attempts) and record is execution.attempts[-1]
    if last and record.decision == "done" and execution.terminal:
        outcome = execution.status.value
        if record.error_kind and record.error_kind.value != outcome:
            outcome += f" ({record.error_kind.value})"
        decision = ""
    reset = f", resets {record.reset_at.isoformat()}" if record.reset_at else ""
    took = ""
    if record.started_at and record.finished_at:
        seconds = (record.finished_at - record.started_at).total_seconds()
        took = f" in {format_duration(max(0.0, seconds))}"
    line = f"attempt {record.number}  {where(record.provider, record.account)}: {outcome}"
    line += took + reset + (f" -> {decision}" if decision else "")
    room = headroom_text(record.headroom)
    return line + (f"\n           headroom: {room}" if room else "")


def headroom_text(record: dict[str, Any] | None) -> str:
    """An account's usage window as its CLI reported it: "five_hour 92% used (allowed_warning),
    resets 2026-07-01T15:00:00+00:00"; empty without one."""
    if not record:
        return ""
    parts = [str(record.get("window") or "usage window")]
    used = record.get("utilization")
    if isinstance(used, int | float) and not isinstance(used, bool):
        parts.append(f"{used:.0%} used")
    if record.get("status"):
        parts.append(f"({record['status']})")
    text = " ".join(parts)
    if record.get("resets_at"):
        text += f", resets {record['resets_at']}"
    return text


def spend_lines(totals: Sequence[SpendTotals]) -> list[str]:
    """``show``'s lines of spend against the caps (the execution's bot and account)."""

    def cap(value: float | None, key: str) -> str:
        return f" of {key} ${value:.2f}" if value is not None else ""

    lines: list[str] = []
    for t in totals:
        label = "spend     " if not lines else "          "
        lines.append(
            f"{label} {t.scope} {t.name}: ${t.day_usd:.4f} today"
            f"{cap(t.max_cost_usd_per_day, 'max_cost_usd_per_day')}, ${t.month_usd:.4f} this month"
            f"{cap(t.max_cost_usd_per_month, 'max_cost_usd_per_month')}"
            + (" (at its cap: new runs are skipped)" if t.over else "")
        )
    return lines


def describe(e: Execution, now: datetime | None = None) -> str:
    """Everything ``show`` prints about one execution."""
    usage = e.usage
    lines = [
        f"execution  {e.id}",
        f"bot        {e.bot} ({e.trigger.value})",
        f"status     {e.status.value}"
        + (f" ({e.error_kind.value})" if e.error_kind else "")
        + (f": {e.error}" if e.error else ""),
    ]
    if e.rerun_of:
        lines.append(f"rerun of   {e.rerun_of}")
    for name, value in e.params.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"param      {name} = {one_line(shown, 200)}")
    lines += [
        f"created    {e.created_at.isoformat() if e.created_at else '-'}",
        f"started    {e.started_at.isoformat() if e.started_at else '-'}",
        f"finished   {e.finished_at.isoformat() if e.finished_at else '-'}",
        f"duration   {duration(e, now)}" + ("" if e.terminal or not e.started_at else " so far"),
    ]
    if e.retry_at:
        lines.append(f"retry at   {e.retry_at.isoformat()}")
    lines.append(
        f"usage      {usage.input_tokens} in / {usage.output_tokens} out / "
        f"{usage.cache_read_tokens} cache read / {usage.cache_write_tokens} cache write"
        + (f" · ${usage.cost_usd:.4f}" if usage.cost_usd is not None else "")
    )
    if e.session_id:
        lines.append(f"session    {e.session_id}")
    if e.command:
        lines.append(f"command    {shlex.join(e.command)}")
    lines += [attempt_line(record, e) for record in e.attempts]
    if e.result:
        lines += ["result", *(f"  {line}" for line in e.result.splitlines())]
    return "\n".join(lines)
