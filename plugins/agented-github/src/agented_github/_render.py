"""The text posted to GitHub: check-run summaries and comment bodies, within GitHub's limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agented_core import Execution, Status, Usage

MAX_CHECK_TEXT = 65535
"""GitHub's limit on a check run's ``output.summary``."""
MAX_COMMENT = 65536
"""GitHub's limit on a comment's body."""
CUT = "\n\n… (cut: {n} more characters; the full result is on the execution's page)"

CONCLUSIONS: Mapping[Status, str] = {
    Status.SUCCEEDED: "success",
    Status.FAILED: "failure",
    Status.TIMED_OUT: "timed_out",
    Status.CANCELLED: "cancelled",
    Status.BUDGET_EXCEEDED: "failure",
    Status.INTERRUPTED: "failure",
    Status.SKIPPED: "skipped",
}
ICONS: Mapping[Status, str] = {
    Status.SUCCEEDED: "✅",
    Status.FAILED: "❌",
    Status.TIMED_OUT: "⏱️",
    Status.CANCELLED: "🚫",
    Status.BUDGET_EXCEEDED: "💸",
    Status.INTERRUPTED: "⚠️",
    Status.SKIPPED: "⏭️",
}


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, ending with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    keep = limit - len(CUT.format(n=10**9))
    return text[:keep] + CUT.format(n=len(text) - keep)


def marker(bot: str, execution_id: str | None = None) -> str:
    """The hidden marker of a bot's comment (with ``execution_id``: one run's comment)."""
    tail = f" execution={execution_id}" if execution_id else ""
    return f"<!-- agented:bot={bot}{tail} -->"


def duration(seconds: float | None) -> str:
    """``1h 2m``, ``3m 4s`` or ``5s``."""
    if seconds is None:
        return "?"
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60}m"
    if s >= 60:
        return f"{s // 60}m {s % 60}s"
    return f"{s}s"


def elapsed(execution: Execution, now: Any = None) -> float | None:
    """Seconds the execution ran (so far, when ``now`` is given)."""
    start = execution.started_at or execution.created_at
    end = execution.finished_at or now
    if start is None or end is None:
        return None
    return float((end - start).total_seconds())


def tokens(execution: Execution) -> int:
    """Every token the execution used."""
    return usage_tokens(execution.usage)


def usage_tokens(u: Usage) -> int:
    """Every token of ``u``."""
    return u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens


def money(value: float | None) -> str:
    """``$0.1234``, or ``?`` when unknown."""
    return "?" if value is None else f"${value:.4f}"


def totals_line(execution: Execution, total: Mapping[str, Any] | None) -> str:
    """Tokens and cost of the run, and of the PR so far."""
    line = f"{tokens(execution):,} tokens · {money(execution.usage.cost_usd)}"
    if total and total.get("runs", 0) > 1:
        line += (
            f" · this PR so far: {int(total.get('tokens', 0)):,} tokens, "
            f"{money(total.get('cost_usd'))} over {total['runs']} runs"
        )
    return line


def attempts_line(execution: Execution) -> str:
    """Attempts, with the account switches between them."""
    parts = []
    previous: str | None = None
    for record in execution.attempts:
        where = f"{record.provider}:{record.account}" if record.account else record.provider
        note = f" ({record.error_kind.value})" if record.error_kind else ""
        switch = " ← switched" if previous is not None and where != previous else ""
        parts.append(f"{record.number}. {where}{note}{switch}")
        previous = where
    return f"{max(execution.attempt, len(execution.attempts))} attempt(s)" + (
        ": " + "; ".join(parts) if parts else ""
    )


def check_summary(
    execution: Execution, url: str | None, total: Mapping[str, Any] | None, note: str = ""
) -> str:
    """The completed check run's summary: facts first, then the result (cut to the limit)."""
    head = [
        f"**{execution.status.value}**" + (f": {execution.error}" if execution.error else ""),
        "",
        f"- duration: {duration(elapsed(execution))}",
        f"- {totals_line(execution, total)}",
        f"- {attempts_line(execution)}",
    ]
    if url:
        head.append(f"- [the execution's page]({url})")
    if note:
        head += ["", note]
    text = "\n".join(head) + "\n\n" + (execution.result or "")
    return cut(text, MAX_CHECK_TEXT)


def running_body(
    execution: Execution,
    url: str | None,
    now: Any,
    history: Sequence[str],
    usage: Usage | None = None,
) -> str:
    """A comment while the run goes: elapsed time, tokens and cost so far (``usage``: the
    running totals, the execution's own by default)."""
    link = f" · [live]({url})" if url else ""
    usage = usage or execution.usage
    body = (
        f"### 🤖 {execution.bot}: running\n\n"
        f"⏳ {duration(elapsed(execution, now))} so far · {usage_tokens(usage):,} tokens · "
        f"{money(usage.cost_usd)}{link}"
    )
    return body + folded(history)


def result_body(
    execution: Execution,
    url: str | None,
    total: Mapping[str, Any] | None,
    history: Sequence[str],
    note: str = "",
) -> str:
    """A comment with the run's result, its footer and the older results folded away."""
    icon = ICONS.get(execution.status, "")
    title = f"### 🤖 {execution.bot}: {icon} {execution.status.value}"
    if execution.error and execution.status is not Status.SUCCEEDED:
        title += f"\n\n> {execution.error}"
    link = f" · [details]({url})" if url else ""
    footer = (
        f"\n\n---\n<sub>{duration(elapsed(execution))} · {totals_line(execution, total)}"
        f"{link}</sub>"
    )
    extra = folded(history)
    note_text = f"\n\n{note}" if note else ""
    room = MAX_COMMENT - len(title) - len(footer) - len(extra) - len(note_text) - 200
    result = cut(execution.result or "", max(1000, room))
    return f"{title}{note_text}\n\n{result}{footer}{extra}"


def folded(history: Sequence[str]) -> str:
    """Earlier results, inside a closed ``<details>``."""
    if not history:
        return ""
    inner = "\n\n".join(history)
    return f"\n\n<details><summary>Earlier runs ({len(history)})</summary>\n\n{inner}\n\n</details>"


def history_entry(execution: Execution, sha: str | None) -> str:
    """One line of the folded history: status, commit and the start of the result."""
    head = (execution.result or "").strip().splitlines()
    first = head[0][:200] if head else ""
    commit = f" on `{sha[:7]}`" if sha else ""
    return f"- {ICONS.get(execution.status, '')} `{execution.id}`{commit}: {first}"
