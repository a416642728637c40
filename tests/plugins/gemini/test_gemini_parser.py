"""The Gemini ``stream-json`` parser, on transcripts of the genuine CLI and on arbitrary input."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from agented_gemini import GeminiParser
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core import EventDraft
from agented_core.config import Price
from conftest import FIXTURES_DIR
from plugin_support import drive, of, recorded

OURS = Path(__file__).parent.parent.parent / "fixtures" / "gemini"
STREAMS = FIXTURES_DIR / "streams"
KNOWN_KINDS = {
    "session", "text", "tool_call", "tool_result", "usage", "result", "retry", "rate_limit",
    "error", "warning", "stderr",
}  # fmt: skip
PRICES = {
    "gemini-2.5-flash": Price(input=0.3, output=2.5, cache_read=0.03),
    "gemini-3.5-flash-lite": Price(input=0.1, output=0.4),
}


def parse(
    lines: Sequence[str], exit_code: int | None = 0, stderr: Sequence[str] = (), **kwargs: Any
) -> list[EventDraft]:
    kwargs.setdefault("model", "gemini-2.5-flash")
    return drive(GeminiParser(**kwargs), lines, stderr, exit_code)


def transcript(name: str, exit_code: int = 0, **kwargs: Any) -> list[EventDraft]:
    folder = OURS if (OURS / f"gemini-0.61.0-{name}.jsonl").exists() else STREAMS
    lines, stderr = recorded(folder, f"gemini-0.61.0-{name}")
    return parse(lines, exit_code=exit_code, stderr=stderr, **kwargs)


ALL = sorted(OURS.glob("gemini-*.jsonl")) + sorted(STREAMS.glob("gemini-*.jsonl"))
ALL += sorted((STREAMS / "peers").glob("gemini-*.jsonl"))


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_line_of_a_real_transcript_is_understood(path: Path) -> None:
    events = parse(path.read_text().splitlines(), exit_code=None)
    assert events and not of(events, "raw")
    assert {e.kind for e in events} <= KNOWN_KINDS


@pytest.mark.parametrize(
    "path", sorted(STREAMS.glob("gemini-*.json")) + sorted((STREAMS / "peers").glob("gemini-*.json")),
    ids=lambda p: p.name,
)  # fmt: skip
def test_the_json_format_is_not_stream_json_but_never_breaks_the_parser(path: Path) -> None:
    events = parse(path.read_text().splitlines(), exit_code=1)
    assert events and all(e.kind in ("raw", "error", "rate_limit") for e in events)


def test_success_text_tokens_cost_and_session() -> None:
    events = transcript("success", prices=PRICES)
    assert [e.text for e in of(events, "text")] == ["hello from fake"]
    (session,) = of(events, "session")
    assert session.data["model"] == "gemini-2.5-flash" and session.data["session_id"]
    usage = of(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (12, 5, 4)
    assert usage["cost_usd"] == pytest.approx((12 * 0.3 + 5 * 2.5 + 4 * 0.03) / 1e6)
    (result,) = of(events, "result")
    assert result.data["ok"] is True and result.data["text"] == "hello from fake"
    assert result.data["turns"] == 1 and result.data["duration_ms"] >= 0
    assert events.index(of(events, "text")[0]) < events.index(result)


def test_deltas_are_one_text_event() -> None:
    events = transcript("thinking")
    assert [e.text for e in of(events, "text")] == ["answer more"]
    (result,) = of(events, "result")
    assert result.data["text"] == "answer more"


def test_the_auto_router_is_priced_per_model_or_not_at_all() -> None:
    events = transcript("success-auto-model", prices=PRICES, model="auto")
    assert of(events, "usage")[-1].data["cost_usd"] is None  # gemini-3.8-flash has no price
    both = {**PRICES, "gemini-3.8-flash": Price(input=1.0, output=1.0)}
    cost = of(transcript("success-auto-model", prices=both, model="auto"), "usage")[-1].data
    assert cost["cost_usd"] == pytest.approx((12 * 0.1 + 5 * 0.4 + 12 * 1.0 + 5 * 1.0) / 1e6)


def test_thinking_tokens_count_as_output() -> None:
    line = {"type": "result", "status": "success", "stats": {
        "total_tokens": 120, "input_tokens": 50, "output_tokens": 20, "cached": 10, "input": 40,
        "duration_ms": 5, "tool_calls": 0}}  # fmt: skip
    (usage, _) = parse([json.dumps(line)])[:2]
    assert usage.data["input_tokens"] == 40 and usage.data["cache_read_tokens"] == 10
    assert usage.data["output_tokens"] == 70  # 20 of answer + 50 of thinking


def test_a_shell_command_round_trip() -> None:
    events = transcript("tool-round-trip")
    (call,) = of(events, "tool_call")
    (result,) = of(events, "tool_result")
    assert call.data["name"] == "run_shell_command"
    assert call.data["input"]["command"] == "echo tool-output"
    assert result.data["id"] == call.data["id"] and result.data["ok"] is True
    assert result.data["output"] == "tool-output"
    (done,) = of(events, "result")
    assert done.data["turns"] == 2 and done.data["tool_calls"] == 1
    assert (
        of(events, "usage")[-1].data["input_tokens"],
        of(events, "usage")[-1].data["output_tokens"],
    ) == (42, 10)


def test_a_failed_tool() -> None:
    lines = (STREAMS / "peers" / "gemini-1.jsonl").read_text().splitlines()
    failed = [e for e in of(parse(lines), "tool_result") if not e.data["ok"]]
    assert failed and failed[0].data["error_type"] == "invalid_tool_params"


def test_a_429_with_the_capped_retries_on_stderr() -> None:
    events = transcript("rate-limited-429", exit_code=173)
    limits = of(events, "rate_limit")
    assert limits[0].data["kind"] == "rate"
    assert any(limit.data["retry_after"] == 1.0 for limit in limits)
    retries = of(events, "retry")
    assert [r.data["attempt"] for r in retries] == [1, 2]
    assert retries[0].data["delay_ms"] and retries[1].data["final"] is True
    assert "Resource has been exhausted" in retries[0].data["reason"]
    (failure,) = of(events, "error")
    assert failure.data["kind"] == "rate"
    assert of(events, "result")[0].data["ok"] is False


def test_the_default_ten_attempts_show_as_retries() -> None:
    events = transcript("rate-limited-429-default-retries", exit_code=-9)
    assert [r.data["status"] for r in of(events, "retry")][:3] == [429, 429, 429]
    assert (
        of(events, "retry")[0].data["reason"] == "Resource has been exhausted (e.g. check quota)."
    )


def test_a_daily_quota_is_a_quota_without_a_reset() -> None:
    events = transcript("daily-quota-429", exit_code=173)
    quotas = [e for e in of(events, "rate_limit") if e.data["kind"] == "quota"]
    assert quotas and quotas[0].data["reset_at"] is None
    assert of(events, "error")[0].data["kind"] == "quota"


def test_401_is_auth_a_cut_stream_and_a_dead_server_are_network() -> None:
    auth = transcript("unauthorized-401", exit_code=145)
    (failure,) = of(auth, "error")
    assert failure.data["kind"] == "auth" and failure.data["status"] == 401
    assert not of(auth, "rate_limit")
    assert of(transcript("cut-stream", exit_code=1), "error")[0].data["kind"] == "network"
    assert of(transcript("server-down", exit_code=1), "error")[0].data["kind"] == "network"


def test_a_stream_without_a_finish_reason_is_a_network_failure() -> None:
    events = transcript("missing-finish-reason")
    (failure,) = of(events, "error")
    assert failure.data["kind"] == "network"
    (result,) = of(events, "result")
    assert result.data["ok"] is False and result.data["text"] == failure.data["message"]


def test_warnings_are_not_errors() -> None:
    line = {"type": "error", "severity": "warning", "message": "Loop detected, stopping execution"}
    (warning,) = parse([json.dumps(line)], exit_code=None)
    assert warning.kind == "warning" and warning.data["message"].startswith("Loop detected")


def test_an_auth_misconfiguration_without_a_result() -> None:
    stderr = (STREAMS / "gemini-0.61.0-invalid-auth-method.stderr.txt").read_text().splitlines()
    events = parse([], exit_code=41, stderr=stderr)
    (failure,) = of(events, "error")
    assert failure.data["kind"] == "auth" and "Invalid auth method" in failure.data["message"]


# arbitrary input
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
TYPES = ["init", "message", "tool_use", "tool_result", "error", "result"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=10), st.lists(st.text(max_size=200), max_size=8))
def test_arbitrary_text_never_raises(lines: list[str], stderr: list[str]) -> None:
    assert all(isinstance(e, EventDraft) for e in parse(lines, exit_code=1, stderr=stderr))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(TYPES),
    st.dictionaries(
        st.sampled_from(
            [
                "role",
                "content",
                "delta",
                "tool_id",
                "tool_name",
                "parameters",
                "status",
                "output",
                "error",
                "stats",
                "severity",
                "message",
                "session_id",
                "model",
            ]
        ),
        json_values,
        max_size=8,
    ),
)
def test_arbitrary_json_lines_never_raise(kind: str, fields: dict[str, Any]) -> None:
    parser = GeminiParser(prices=PRICES)
    events = [*parser.stdout(json.dumps({**fields, "type": kind})), *parser.finish(0)]
    assert all(isinstance(e, EventDraft) for e in events)
    assert parser.failed_lines == 0


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=20).filter(lambda t: t not in TYPES), json_values)
def test_unknown_line_types_come_out_raw(kind: str, value: Any) -> None:
    line = json.dumps({"type": kind, "value": value})
    events = GeminiParser().stdout(line)
    assert [e.text for e in events if e.kind == "raw"] == [line]
    assert {e.kind for e in events} <= {"raw", "rate_limit"}
