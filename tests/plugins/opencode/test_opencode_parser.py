"""The opencode ``run --format json`` parser, on transcripts of the genuine CLI (stdout and its
``--print-logs`` stderr) and on arbitrary input."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from agented_opencode import OpencodeParser, logfmt
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core import EventDraft
from agented_core.config import Price
from conftest import FIXTURES_DIR
from plugin_support import drive, of, recorded

OURS = Path(__file__).parent.parent.parent / "fixtures" / "opencode"
STREAMS = FIXTURES_DIR / "streams"
KNOWN_KINDS = {
    "session", "text", "thinking", "tool_call", "tool_result", "usage", "result", "retry",
    "rate_limit", "error", "warning", "stderr",
}  # fmt: skip


def parse(
    lines: Sequence[str], exit_code: int | None = 0, stderr: Sequence[str] = (), **kwargs: Any
) -> list[EventDraft]:
    kwargs.setdefault("model", "fake/priced")
    return drive(OpencodeParser(**kwargs), lines, stderr, exit_code)


def transcript(name: str, exit_code: int = 0, **kwargs: Any) -> list[EventDraft]:
    folder = OURS if (OURS / f"opencode-1.18.33-{name}.jsonl").exists() else STREAMS
    lines, stderr = recorded(folder, f"opencode-1.18.33-{name}")
    return parse(lines, exit_code=exit_code, stderr=stderr, **kwargs)


ALL = sorted(OURS.glob("opencode-*.jsonl")) + sorted(STREAMS.glob("opencode-*.jsonl"))
ALL += sorted((STREAMS / "peers").glob("opencode-*.jsonl"))


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_line_of_a_real_transcript_is_understood(path: Path) -> None:
    events = parse(path.read_text().splitlines(), exit_code=None)
    assert events and not of(events, "raw")
    assert {e.kind for e in events} <= KNOWN_KINDS
    assert len(of(events, "session")) == 1
    assert len(of(events, "result")) == (0 if "tool-error" in path.name else 1)


def test_success_text_tokens_and_opencodes_cost() -> None:
    events = transcript("success")
    assert [e.text for e in of(events, "text")] == ["hello from fake"]
    (session,) = of(events, "session")
    assert session.data["session_id"].startswith("ses_") and session.data["model"] == "fake/priced"
    usage = of(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (12, 5, 4)
    assert usage["cost_usd"] == pytest.approx((12 * 1.0 + 5 * 2.0) / 1e6)  # opencode's figure
    (result,) = of(events, "result")
    assert result.data["ok"] is True and result.data["text"] == "hello from fake"
    assert result.data["stop_reason"] == "stop" and result.data["turns"] == 1


def test_a_step_reported_at_no_cost_is_priced_or_has_no_cost() -> None:
    unpriced = transcript("unpriced", model="fake/unpriced")
    assert of(unpriced, "usage")[-1].data["cost_usd"] is None  # not a wrong 0
    prices = {"unpriced": Price(input=3.0, output=15.0)}
    priced = transcript("unpriced", model="fake/unpriced", prices=prices)
    assert of(priced, "usage")[-1].data["cost_usd"] == pytest.approx((1000 * 3 + 100 * 15) / 1e6)
    # no tokens used: nothing to price, the cost is 0
    minimal = transcript("success-minimal-sse")
    assert of(minimal, "usage")[-1].data["cost_usd"] == 0


def test_reasoning_tokens_count_as_output() -> None:
    lines = (STREAMS / "peers" / "opencode-1.jsonl").read_text().splitlines()
    usage = of(parse(lines), "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (
        17913,
        38,
        1664,
    )


def test_thinking_and_a_tool_round_trip() -> None:
    assert [e.text for e in of(transcript("thinking"), "thinking")] == ["let me think"]
    events = transcript("tool-round-trip")
    (call,) = of(events, "tool_call")
    (result,) = of(events, "tool_result")
    assert call.data["name"] == "bash" and call.data["input"]["command"] == "echo tool-output"
    assert result.data == {
        "id": call.data["id"], "ok": True, "output": "tool-output\n",
        "title": "echo tool-output", "exit_code": 0,
    }  # fmt: skip
    (done,) = of(events, "result")  # only the last step ends the run
    assert done.data["turns"] == 2 and done.data["text"] == "done"
    usage = of(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"]) == (42, 10)


def test_a_refused_permission_is_a_failed_tool_and_a_failed_run() -> None:
    events = transcript("tool-error", exit_code=0)  # opencode exits 0 without an answer
    (result,) = of(events, "tool_result")
    assert result.data["ok"] is False and "rejected permission" in result.data["output"]
    (warning,) = of(events, "warning")
    assert warning.data["permission"] == "external_directory (/nonexistent/*)"
    assert not of(events, "result")
    (failure,) = of(events, "error")
    assert "refusing a permission (external_directory (/nonexistent/*))" in failure.data["message"]
    assert failure.data["code"] == "permission"


def test_a_429_its_retries_and_its_wait() -> None:
    events = transcript("rate-limited-429", exit_code=1)
    (limit,) = of(events, "rate_limit")
    assert limit.data["kind"] == "rate" and limit.data["retry_after"] == 0.5
    assert limit.data["status"] == 429
    (failure,) = of(events, "error")
    assert failure.data["kind"] == "rate" and failure.data["status"] == 429
    assert failure.data["retryable"] is True and failure.data["name"] == "APIError"
    assert [r.data["attempt"] for r in of(events, "retry")] == [1, 2, 3, 4, 5, 6]
    assert of(events, "retry")[0].data["reason"].startswith("Rate limit reached")
    assert of(events, "result")[0].data["ok"] is False


def test_401_is_auth_and_a_dead_server_is_network() -> None:
    (failure,) = of(transcript("unauthorized-401", exit_code=1), "error")
    assert failure.data["kind"] == "auth" and failure.data["retryable"] is False
    (failure,) = of(transcript("server-down", exit_code=1), "error")
    assert failure.data["kind"] == "network" and failure.data["status"] is None


def test_named_errors() -> None:
    def kind_of(name: str, message: str) -> str:
        line = {
            "type": "error",
            "sessionID": "ses_1",
            "error": {"name": name, "data": {"message": message}},
        }
        return str(of(parse([json.dumps(line)], exit_code=1), "error")[0].data["kind"])

    assert kind_of("ProviderAuthError", "no credentials for anthropic") == "auth"
    assert kind_of("FreeUsageLimitError", "Free usage exceeded") == "quota"
    assert kind_of("UnknownError", "something odd") == "provider"


def test_a_child_sessions_step_does_not_end_the_run() -> None:
    def line(kind: str, session: str, **part: Any) -> str:
        return json.dumps({"type": kind, "sessionID": session, "part": part})

    events = parse(
        [
            line("step_start", "ses_main"),
            line("text", "ses_child", text="sub-agent work"),
            line(
                "step_finish",
                "ses_child",
                reason="stop",
                tokens={"input": 5, "output": 1},
                cost=0.01,
            ),
            line(
                "step_finish",
                "ses_main",
                reason="stop",
                tokens={"input": 7, "output": 2},
                cost=0.02,
            ),
        ]
    )
    (result,) = of(events, "result")
    assert result.data["session_id"] == "ses_main" and result.data["cost_usd"] == pytest.approx(
        0.03
    )
    assert of(events, "text")[0].data == {"session_id": "ses_child"}


def test_an_end_without_a_result_reports_stderr() -> None:
    events = parse([], exit_code=1, stderr=["\x1b[91m\x1b[1mError: \x1b[0mSession not found"])
    (failure,) = of(events, "error")
    assert (
        failure.data["message"]
        == "opencode exited with code 1 without a result: Error: Session not found"
    )


def test_logfmt() -> None:
    fields = logfmt('a=1 message="stream error" error.error="AI_APICallError: x \\"y\\"" b=')
    assert fields == {
        "a": "1",
        "message": "stream error",
        "error.error": 'AI_APICallError: x "y"',
        "b": "",
    }


# arbitrary input
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
TYPES = ["step_start", "text", "reasoning", "tool_use", "step_finish", "error"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=10), st.lists(st.text(max_size=200), max_size=8))
def test_arbitrary_text_never_raises(lines: list[str], stderr: list[str]) -> None:
    assert all(isinstance(e, EventDraft) for e in parse(lines, exit_code=1, stderr=stderr))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(TYPES),
    st.one_of(st.none(), st.text(max_size=5)),
    st.dictionaries(
        st.sampled_from(["text", "tool", "callID", "state", "tokens", "cost", "reason", "id"]),
        json_values, max_size=6,
    ),
    st.dictionaries(st.sampled_from(["name", "data"]), json_values, max_size=2),
)  # fmt: skip
def test_arbitrary_json_lines_never_raise(
    kind: str, session: str | None, part: dict[str, Any], failure: dict[str, Any]
) -> None:
    parser = OpencodeParser(prices={"m": Price(input=1.0, output=1.0)}, model="p/m")
    line = json.dumps({"type": kind, "sessionID": session, "part": part, "error": failure})
    events = [*parser.stdout(line), *parser.finish(0)]
    assert all(isinstance(e, EventDraft) for e in events)
    assert parser.failed_lines == 0


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=20).filter(lambda t: t not in TYPES), json_values)
def test_unknown_line_types_come_out_raw(kind: str, value: Any) -> None:
    line = json.dumps({"type": kind, "value": value})
    events = OpencodeParser().stdout(line)
    assert [e.text for e in events if e.kind == "raw"] == [line]
    assert {e.kind for e in events} <= {"raw", "rate_limit"}
