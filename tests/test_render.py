"""Renderers never raise, whatever the events; plain lines stay parseable."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from agented_cli._render import PlainRenderer, TerminalRenderer, one_line
from agented_core.models import Event

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
kinds = st.sampled_from(
    [
        "status",
        "session",
        "text",
        "thinking",
        "tool_call",
        "tool_result",
        "file_change",
        "usage",
        "result",
        "retry",
        "rate_limit",
        "error",
        "stderr",
        "raw",
        "custom.kind",
    ]
)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
data = st.dictionaries(
    st.sampled_from(
        [
            "status",
            "reason",
            "name",
            "input",
            "ok",
            "output",
            "input_tokens",
            "cost_usd",
            "kind",
            "reset_at",
            "action",
            "delay_ms",
            "message",
            "text",
            "provider",
            "account",
            "path",
            "change",
            "session_id",
            "model",
        ]
    ),
    values,
    max_size=6,
)
events = st.builds(
    Event,
    execution_id=st.just("e"),
    seq=st.integers(1, 10**6),
    time=st.just(NOW),
    attempt=st.integers(0, 5),
    kind=kinds,
    text=st.none() | st.text(),
    data=data,
)


@given(st.lists(events, max_size=20))
def test_terminal_renderer_never_raises(batch: list[Event]) -> None:
    out = io.StringIO()
    renderer = TerminalRenderer(out, now=lambda: NOW)
    for event in batch:
        renderer.event(event)
    renderer.close()
    shown = [
        e for e in batch if e.kind in ("text", "tool_call", "tool_result", "error", "rate_limit")
    ]
    assert out.getvalue().count("\n") >= len(shown)


@given(st.lists(events, max_size=20))
def test_plain_lines_are_one_per_event_and_parseable(batch: list[Event]) -> None:
    out = io.StringIO()
    renderer = PlainRenderer(out, as_json=True)
    for event in batch:
        renderer.event(event)
    lines = out.getvalue().split("\n")[:-1]
    assert [json.loads(line)["seq"] for line in lines] == [e.seq for e in batch]


@given(values, st.integers(2, 200))
def test_one_line_is_one_line_and_short(value: object, width: int) -> None:
    text = one_line(value, width)
    assert "\n" not in text and len(text) <= width


def test_terminal_shows_tools_limits_and_the_status_line() -> None:
    out = io.StringIO()
    ticks = iter([0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    renderer = TerminalRenderer(out, clock=lambda: next(ticks), now=lambda: NOW)

    def ev(event_kind: str, text: str | None = None, **d: object) -> Event:
        return Event("e", 1, NOW, 1, event_kind, text, dict(d))

    renderer.event(ev("tool_call", name="Bash", input={"command": "ls -la\nwc -l"}))
    renderer.event(ev("usage", input_tokens=1200, output_tokens=34, cost_usd=0.0123))
    renderer.event(
        ev(
            "rate_limit",
            kind="quota",
            provider="claude",
            account="work",
            reset_at="2026-11-26T05:00:00+00:00",
            action="switch",
        )
    )
    renderer.close()
    screen = out.getvalue()
    assert "→ Bash" in screen and "ls -la wc -l" in screen
    assert "1,234 tokens" in screen and "$0.0123" in screen
    assert "quota limit on claude:work, resets 2026-11-26 05:00 UTC (in 2h00m): switch" in screen
