"""Showing a run's events on a terminal, or as plain parseable lines.

:class:`PlainRenderer` prints one line per event, ``seq kind text``, for pipes and logs.
:class:`TerminalRenderer` is for people: assistant text as it comes, tool calls folded to one
line each, rate-limit waits with their reset time, and a status line at the bottom with the
elapsed time, tokens and cost, redrawn in place.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from agented_core.clock import Clock, utcnow
from agented_core.durations import format_duration
from agented_core.models import Event, EventKind

RESET = "\x1b[0m"
DIM = "\x1b[2m"
BOLD = "\x1b[1m"
RED = "\x1b[31m"
GREEN = "\x1b[32m"
YELLOW = "\x1b[33m"
CYAN = "\x1b[36m"
CLEAR_LINE = "\r\x1b[2K"

_FINAL_COLOURS = {"succeeded": GREEN, "waiting": YELLOW, "skipped": YELLOW}


def one_line(value: Any, width: int = 100) -> str:
    """A value squeezed onto one line of at most ``width`` characters."""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(value.split())
    return text if len(text) <= width else text[: width - 1] + "…"


_TOOL_KEYS = ("command", "file_path", "path", "pattern", "url", "query", "prompt", "description")


def tool_summary(tool_input: Any) -> Any:
    """The telling part of a tool call's input: its command, path, pattern ... else all of it."""
    if isinstance(tool_input, dict):
        for key in _TOOL_KEYS:
            value = tool_input.get(key)
            if isinstance(value, str) and value:
                return value
    return tool_input


def plain_line(event: Event) -> str:
    """An event as ``seq kind text`` (the data as JSON when there is no text)."""
    text = event.text if event.text is not None else json.dumps(event.data, ensure_ascii=False)
    return f"{event.seq:>4} {event.kind:<11} {text}"


def json_line(event: Event) -> str:
    """An event as one JSON object."""
    return json.dumps(
        {
            "seq": event.seq,
            "time": event.time.isoformat(),
            "attempt": event.attempt,
            "kind": event.kind,
            "text": event.text,
            "data": event.data,
        },
        ensure_ascii=False,
    )


class PlainRenderer:
    """One line per event."""

    def __init__(self, out: TextIO, *, as_json: bool = False) -> None:
        self.out = out
        self.as_json = as_json

    def event(self, event: Event) -> None:
        """Show one event."""
        print(json_line(event) if self.as_json else plain_line(event), file=self.out, flush=True)

    def tick(self) -> None:
        """Nothing to redraw."""

    def close(self) -> None:
        """Nothing to clean up."""


class TerminalRenderer:
    """A live view of a run for a person at a terminal."""

    def __init__(
        self,
        out: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Clock = utcnow,
    ) -> None:
        self.out = out
        self.clock = clock
        self.now = now
        self.started = clock()
        self.status = "queued"
        self.tokens = 0
        self.cost: float | None = None
        self.attempt = 0
        self._status_shown = False

    # the status line
    def _status_line(self) -> str:
        elapsed = format_duration(max(0.0, self.clock() - self.started))
        parts = [self.status, elapsed]
        if self.attempt > 1:
            parts.append(f"attempt {self.attempt}")
        if self.tokens:
            parts.append(f"{self.tokens:,} tokens")
        if self.cost is not None:
            parts.append(f"${self.cost:.4f}")
        return f"{DIM}[{' · '.join(parts)}]{RESET}"

    def _write(self, text: str) -> None:
        if self._status_shown:
            self.out.write(CLEAR_LINE)
        self.out.write(text)
        self.out.write(self._status_line())
        self._status_shown = True
        self.out.flush()

    def _say(self, line: str) -> None:
        self._write(line + "\n")

    def tick(self) -> None:
        """Redraw the status line (call about once a second)."""
        self._write("")

    def close(self) -> None:
        """Leave the status line as the last line."""
        if self._status_shown:
            self.out.write("\n")
            self.out.flush()
            self._status_shown = False

    # events
    def event(self, event: Event) -> None:
        """Show one event."""
        data = event.data
        self.attempt = max(self.attempt, event.attempt)
        kind = event.kind
        if kind == EventKind.STATUS:
            self._on_status(event)
        elif kind == EventKind.TEXT:
            self._say(event.text or "")
        elif kind == EventKind.THINKING:
            self._say(f"{DIM}∴ {one_line(event.text or '', 100)}{RESET}")
        elif kind == EventKind.TOOL_CALL:
            name = data.get("name") or "tool"
            summary = one_line(tool_summary(data.get("input", "")), 90)
            self._say(f"{CYAN}→ {name}{RESET} {DIM}{summary}{RESET}")
        elif kind == EventKind.TOOL_RESULT:
            mark = f"{GREEN}✓{RESET}" if data.get("ok", True) else f"{RED}✗{RESET}"
            output = data.get("output", event.text or "")
            self._say(f"  {mark} {DIM}{one_line(output, 90)}{RESET}")
        elif kind == EventKind.FILE_CHANGE:
            self._say(f"{CYAN}✎ {data.get('change', 'change')} {data.get('path', '')}{RESET}")
        elif kind == EventKind.USAGE:
            self.tokens = sum(
                value
                for key in (
                    "input_tokens",
                    "output_tokens",
                    "cache_read_tokens",
                    "cache_write_tokens",
                )
                if isinstance(value := data.get(key), int) and not isinstance(value, bool)
            )
            cost = data.get("cost_usd")
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                self.cost = float(cost)
            self.tick()
        elif kind == EventKind.RATE_LIMIT:
            self._say(self._limit_line(data))
        elif kind == EventKind.RETRY:
            delay = data.get("delay_ms")
            wait = f" in {format_duration(delay / 1000)}" if isinstance(delay, int | float) else ""
            self._say(f"{YELLOW}↻ the CLI retries{wait}: {data.get('reason', '')}{RESET}")
        elif kind == EventKind.ERROR:
            self._say(
                f"{RED}✗ {data.get('kind', 'error')}: {data.get('message', event.text)}{RESET}"
            )
        elif kind == EventKind.RESULT:
            if data.get("text") and data.get("text") != event.text:
                self._say(f"{BOLD}{data['text']}{RESET}")
        elif kind in (EventKind.STDERR, EventKind.RAW):
            self._say(f"{DIM}{event.text or ''}{RESET}")
        elif kind == EventKind.WORKSPACE:
            self._say(f"{DIM}⎇ {event.text or data.get('path', '')}{RESET}")
        elif kind == EventKind.SESSION:
            model = data.get("model")
            self._say(
                f"{DIM}session {data.get('session_id', '?')}{f' · {model}' if model else ''}{RESET}"
            )
        else:
            self._say(f"{DIM}{kind}: {one_line(event.text or data, 100)}{RESET}")

    def _on_status(self, event: Event) -> None:
        status = str(event.data.get("status", event.text))
        self.status = status
        reason = event.data.get("reason")
        if status in ("queued", "running") and not reason:
            self.tick()
            return
        colour = _FINAL_COLOURS.get(status, YELLOW if status == "paused" else RED)
        if status in ("queued", "running"):
            colour = DIM
        self._say(f"{colour}● {status}{f': {reason}' if reason else ''}{RESET}")

    def _limit_line(self, data: dict[str, Any]) -> str:
        where = str(data.get("provider") or "?")
        if data.get("account"):
            where += f":{data['account']}"
        line = f"{YELLOW}⏸ {data.get('kind', 'rate')} limit on {where}"
        reset = data.get("reset_at")
        if isinstance(reset, str):
            try:
                at = datetime.fromisoformat(reset)
            except ValueError:
                at = None
            if at is not None:
                left = (at - self.now()).total_seconds()
                when = f"in {format_duration(left)}" if left > 0 else "now"
                line += f", resets {at.strftime('%Y-%m-%d %H:%M %Z')} ({when})"
        action = data.get("action")
        if action and action != "none":
            line += f": {action}"
        return line + RESET
