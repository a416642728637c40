"""The Qwen Code ``stream-json`` parser, on transcripts of the genuine CLI and on arbitrary
input."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from agented_qwen import QwenParser, qwen_tokens
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core import EventDraft
from agented_core.config import Price
from plugin_support import drive, of, recorded

OURS = Path(__file__).parent.parent.parent / "fixtures" / "qwen"
VERSION = "0.24.4"
KNOWN_KINDS = {
    "session", "text", "thinking", "tool_call", "tool_result", "usage", "result", "retry",
    "rate_limit", "error", "stderr",
}  # fmt: skip
PRICES = {"fake-model": Price(input=1.0, output=2.0, cache_read=0.1)}


def parse(
    lines: Sequence[str], exit_code: int | None = 0, stderr: Sequence[str] = (), **kwargs: Any
) -> list[EventDraft]:
    kwargs.setdefault("model", "fake-model")
    return drive(QwenParser(**kwargs), lines, stderr, exit_code)


def transcript(name: str, exit_code: int = 0, **kwargs: Any) -> list[EventDraft]:
    lines, stderr = recorded(OURS, f"qwen-{VERSION}-{name}")
    return parse(lines, exit_code=exit_code, stderr=stderr, **kwargs)


@pytest.mark.parametrize("path", sorted(OURS.glob("qwen-*.jsonl")), ids=lambda p: p.name)
def test_every_line_of_a_real_transcript_is_understood(path: Path) -> None:
    events = parse(path.read_text().splitlines(), exit_code=None)
    assert events and not of(events, "raw")
    assert {e.kind for e in events} <= KNOWN_KINDS


def test_success_text_tokens_and_the_cost_from_prices() -> None:
    events = transcript("success", prices=PRICES)
    assert [e.text for e in of(events, "text")] == ["hello from fake"]
    session = of(events, "session")[0].data
    assert session["model"] == "fake-model" and "read_file" in session["tools"]
    usage = of(events, "usage")[-1].data
    # qwen counts the cached input in input_tokens: agented does not
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (12, 5, 4)
    assert usage["cost_usd"] == pytest.approx((12 + 5 * 2 + 4 * 0.1) / 1e6)
    (result,) = of(events, "result")
    assert result.data["ok"] is True and result.data["text"] == "hello from fake"


def test_without_a_price_there_is_no_cost() -> None:
    usage = of(transcript("success"), "usage")[-1].data
    assert usage["input_tokens"] == 12 and usage["cost_usd"] is None


def test_thinking_and_a_tool_round_trip() -> None:
    assert [e.text for e in of(transcript("thinking"), "thinking")] == ["let me think"]
    events = transcript("tool-round-trip")
    (call,) = of(events, "tool_call")
    (result,) = of(events, "tool_result")
    assert call.data["name"] == "glob" and result.data["id"] == call.data["id"]
    assert result.data["ok"] is True and "1 matching file" in result.data["output"]
    assert of(events, "result")[-1].data["turns"] == 2
    (failed,) = of(transcript("tool-error"), "tool_result")
    assert failed.data["ok"] is False


def test_a_429_is_a_rate_limit_and_the_api_error_is_no_answer() -> None:
    events = transcript("rate-limited-429", exit_code=1)
    assert not of(events, "text")
    (error,) = of(events, "error")
    assert error.data["kind"] == "rate" and error.data["status"] == 429
    assert of(events, "rate_limit")[0].data["kind"] == "rate"
    assert of(events, "result")[-1].data["ok"] is False


def test_a_401_is_auth() -> None:
    (error,) = of(transcript("unauthorized-401", exit_code=1), "error")
    assert error.data["kind"] == "auth" and "Incorrect API key" in error.text


def test_its_own_retry_line() -> None:
    line = json.dumps({"type": "system", "subtype": "retry",
                       "data": {"reason": "retry", "attempt": 1, "maxRetries": 1, "delayMs": 60000}})  # fmt: skip
    (event,) = parse([line], exit_code=None)
    assert event.kind == "retry" and event.data["delay_ms"] == 60000
    assert event.data["attempt"] == 1 and event.data["max_retries"] == 1


def test_an_end_without_a_result_names_the_last_stderr_line() -> None:
    (error,) = of(parse([], exit_code=1, stderr=["Error: Cannot read settings"]), "error")
    assert "qwen exited with code 1" in error.text and "Cannot read settings" in error.text


def test_cached_input_is_taken_out() -> None:
    assert qwen_tokens({"input_tokens": 15, "cache_read_input_tokens": 3, "output_tokens": 5}) == {
        "input_tokens": 12, "output_tokens": 5, "cache_read_tokens": 3, "cache_write_tokens": 0,
    }  # fmt: skip


@settings(max_examples=150)
@given(st.lists(st.one_of(st.text(max_size=80), st.dictionaries(st.text(max_size=8), st.text(max_size=8)).map(json.dumps)), max_size=8))  # fmt: skip
def test_never_raises_on_arbitrary_lines(lines: list[str]) -> None:
    parse(lines, exit_code=None)
