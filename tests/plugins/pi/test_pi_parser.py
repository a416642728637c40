"""The pi ``--mode json`` parser, on transcripts of the genuine CLI and on arbitrary input."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from agented_pi import PiParser, pi_tokens
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core import EventDraft
from agented_core.config import Price
from plugin_support import drive, of

OURS = Path(__file__).parent.parent.parent / "fixtures" / "pi"
VERSION = "0.73.1"
KNOWN_KINDS = {
    "session", "text", "thinking", "tool_call", "tool_result", "usage", "result", "retry",
    "rate_limit", "error", "stderr",
}  # fmt: skip
COST = {"input": 1.0, "output": 2.0, "cacheRead": 0.1}


def parse(
    lines: Sequence[str], exit_code: int | None = 0, stderr: Sequence[str] = (), **kwargs: Any
) -> list[EventDraft]:
    kwargs.setdefault("model", "fake/fake-model")
    return drive(PiParser(**kwargs), lines, stderr, exit_code)


def transcript(name: str, exit_code: int = 0, **kwargs: Any) -> list[EventDraft]:
    lines = (OURS / f"pi-{VERSION}-{name}.jsonl").read_text().splitlines()
    return parse(lines, exit_code=exit_code, **kwargs)


@pytest.mark.parametrize("path", sorted(OURS.glob("pi-*.jsonl")), ids=lambda p: p.name)
def test_every_line_of_a_real_transcript_is_understood(path: Path) -> None:
    events = parse(path.read_text().splitlines(), exit_code=0)
    assert events and not of(events, "raw")
    assert {e.kind for e in events} <= KNOWN_KINDS
    assert len(of(events, "result")) == 1  # once, at the end, whatever the retries


def test_success_text_tokens_and_pis_own_cost() -> None:
    events = transcript("success")
    assert [e.text for e in of(events, "text")] == ["hello from fake"]
    usage = of(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (12, 5, 4)
    assert usage["cost_usd"] == pytest.approx((12 + 5 * 2 + 4 * 0.1) / 1e6)
    (result,) = of(events, "result")
    assert result.data["ok"] is True and result.data["text"] == "hello from fake"
    assert result.data["session_id"] == of(events, "session")[0].data["session_id"]


def test_a_message_pi_reports_at_no_cost_is_priced_from_prices_or_has_none() -> None:
    prices = {"unpriced-model": Price(input=3.0, output=15.0)}
    priced = transcript("unpriced", model="fake/unpriced-model", prices=prices)
    assert of(priced, "usage")[-1].data["cost_usd"] == pytest.approx((1000 * 3 + 100 * 15) / 1e6)
    unknown = transcript("unpriced", model="fake/unpriced-model")
    assert of(unknown, "usage")[-1].data["cost_usd"] is None  # not a wrong 0


def test_thinking_and_tools() -> None:
    assert [e.text for e in of(transcript("thinking"), "thinking")] == ["let me think"]
    events = transcript("tool-round-trip")
    (call,) = of(events, "tool_call")
    (result,) = of(events, "tool_result")
    assert call.data["name"] == "bash" and call.data["input"] == {"command": "echo tool-output"}
    assert result.data["id"] == call.data["id"] and result.data["ok"] is True
    assert "tool-output" in result.data["output"]
    assert of(events, "result")[-1].data["turns"] == 2
    (failed,) = of(transcript("tool-error"), "tool_result")
    assert failed.data["ok"] is False


def test_a_429_after_its_retry_fails_though_pi_exits_0() -> None:
    events = transcript("rate-limited-429", exit_code=0)
    (retry,) = of(events, "retry")
    assert retry.data["attempt"] == 1 and retry.data["delay_ms"] == 100
    (error,) = of(events, "error")
    assert error.data["kind"] == "rate" and error.data["status"] == 429
    assert of(events, "rate_limit")[0].data["kind"] == "rate"
    (result,) = of(events, "result")
    assert result.data["ok"] is False and result.data["retries"] == 1


def test_a_401_is_auth() -> None:
    (error,) = of(transcript("unauthorized-401"), "error")
    assert error.data["kind"] == "auth" and error.data["status"] == 401


def test_the_result_waits_for_a_retry_that_may_follow() -> None:
    parser = PiParser(model="fake/fake-model")
    end = json.dumps({"type": "agent_end", "messages": []})
    assert parser.stdout(end) == []  # a retry may follow: nothing decided yet
    (retry,) = parser.stdout(json.dumps({"type": "auto_retry_start", "attempt": 1,
                                         "maxAttempts": 3, "delayMs": 2000, "errorMessage": "x"}))  # fmt: skip
    assert retry.kind == "retry"
    parser.stdout(end)
    (result,) = parser.finish(0)
    assert result.kind == "result" and result.data["ok"] is True


def test_an_end_without_any_output_is_an_error() -> None:
    (error,) = of(parse([], exit_code=1, stderr=['Error: Model "x" not found.']), "error")
    assert error.kind == "error" and "not found" in error.text


def test_pi_tokens() -> None:
    assert pi_tokens({"input": 1, "output": 2, "cacheRead": 3, "cacheWrite": 4}) == {
        "input_tokens": 1, "output_tokens": 2, "cache_read_tokens": 3, "cache_write_tokens": 4,
    }  # fmt: skip


@settings(max_examples=150)
@given(st.lists(st.one_of(st.text(max_size=80), st.dictionaries(st.sampled_from(["type", "message", "id"]), st.text(max_size=8)).map(json.dumps)), max_size=8))  # fmt: skip
def test_never_raises_on_arbitrary_lines(lines: list[str]) -> None:
    parse(lines, exit_code=None)
