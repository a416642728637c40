"""The Claude stream-json parser, on transcripts of the genuine CLI and on arbitrary input."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from agented_claude import ClaudeParser
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core import EventDraft
from conftest import FIXTURES_DIR

OURS = Path(__file__).parent.parent.parent / "fixtures" / "claude"
STREAMS = FIXTURES_DIR / "streams"
KNOWN_KINDS = {
    "session", "text", "thinking", "tool_call", "tool_result", "usage", "result", "retry",
    "rate_limit", "headroom", "error", "raw", "stderr",
}  # fmt: skip


def parse(lines: Sequence[str], exit_code: int | None = 0, **kwargs: Any) -> list[EventDraft]:
    parser = ClaudeParser(**kwargs)
    out: list[EventDraft] = []
    for line in lines:
        out.extend(parser.stdout(line))
    out.extend(parser.finish(exit_code))
    return out


def transcript(name: str) -> list[EventDraft]:
    path = OURS / f"claude-2.1.197-{name}.jsonl"
    return parse(path.read_text().splitlines(), exit_code=0 if "success" in name else 1)


def of(events: list[EventDraft], kind: str) -> list[EventDraft]:
    return [e for e in events if e.kind == kind]


def last_usage(events: list[EventDraft]) -> dict[str, Any]:
    return of(events, "usage")[-1].data


ALL = sorted(OURS.glob("claude-*.jsonl")) + sorted(STREAMS.glob("claude-*.jsonl"))
ALL += sorted((STREAMS / "peers").glob("claude-*.jsonl"))


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_line_of_a_real_transcript_is_understood(path: Path) -> None:
    events = parse(path.read_text().splitlines())
    assert events and not of(events, "raw")
    assert {e.kind for e in events} <= KNOWN_KINDS
    (session,) = of(events, "session")
    assert session.data["session_id"] and isinstance(session.data["tools"], list)
    (result,) = of(events, "result")
    assert isinstance(result.data["ok"], bool) and result.data["turns"] >= 1
    assert of(events, "usage"), "a result always brings the final usage"


def test_success_text_tokens_cost_and_session() -> None:
    events = transcript("success")
    assert [e.text for e in of(events, "text")] == ["hello from fake"]
    usage = last_usage(events)
    assert (usage["input_tokens"], usage["output_tokens"]) == (12, 5)
    assert (usage["cache_read_tokens"], usage["cache_write_tokens"]) == (7, 3)
    assert usage["cost_usd"] == pytest.approx(12 * 3e-6 + 5 * 15e-6 + 7 * 0.3e-6 + 3 * 3.75e-6)
    result = of(events, "result")[0].data
    assert result["ok"] is True and result["text"] == "hello from fake"
    assert result["session_id"] == of(events, "session")[0].data["session_id"]
    assert of(events, "session")[0].data["model"] == "claude-sonnet-5"
    assert events[-1].kind == "result"


def test_usage_is_a_running_total_that_never_goes_down() -> None:
    events = transcript("tool-round-trip")
    usages = [e.data for e in of(events, "usage")]
    for field in ("input_tokens", "output_tokens"):
        values = [u[field] for u in usages]
        assert values == sorted(values)
    assert (usages[-1]["input_tokens"], usages[-1]["output_tokens"]) == (42, 10)
    assert usages[-1]["cost_usd"] is not None and all(u["cost_usd"] is None for u in usages[:-1])


def test_tool_call_and_its_result() -> None:
    events = transcript("tool-round-trip")
    (call,) = of(events, "tool_call")
    (result,) = of(events, "tool_result")
    assert call.data["name"] == "Bash" and call.data["input"]["command"] == "echo tool-output"
    assert result.data == {"id": call.data["id"], "ok": True, "output": "tool-output"}
    assert events.index(call) < events.index(result)
    assert [e.text for e in of(events, "text")] == ["done"]


def test_partial_messages_are_not_stored_twice() -> None:
    events = transcript("partial-messages")
    assert [e.text for e in of(events, "text")] == ["hello in parts"]
    assert (last_usage(events)["input_tokens"], last_usage(events)["output_tokens"]) == (12, 5)


def test_thinking() -> None:
    events = transcript("thinking")
    assert [e.text for e in of(events, "thinking")] == ["let me think"]
    assert [e.text for e in of(events, "text")] == ["answer"]


def test_api_key_429_is_a_rate_limit_with_the_clis_retry() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    lines = (OURS / "claude-2.1.197-rate-limited-429.jsonl").read_text().splitlines()
    events = parse(lines, exit_code=1, now=lambda: now, account="work")
    (retry,) = of(events, "retry")
    assert retry.data == {
        "reason": "rate_limit", "attempt": 1, "delay_ms": 1000, "max_retries": 1, "status": 429,
    }  # fmt: skip
    (limit,) = of(events, "rate_limit")  # one per kind, however many lines repeat it
    assert limit.data["kind"] == "rate" and limit.data["retry_after"] == 1.0
    assert limit.data["reset_at"] == "2026-11-25T12:00:01+00:00"
    assert limit.data["account"] == "work" and limit.data["provider"] == "claude"
    (error,) = of(events, "error")
    assert error.data["kind"] == "rate" and "Request rejected (429)" in error.data["message"]
    assert error.data["status"] == 429
    assert of(events, "result")[0].data["ok"] is False


def test_subscription_limit_is_a_quota_with_its_reset_time() -> None:
    events = transcript("subscription-limit-429")
    (limit,) = of(events, "rate_limit")
    assert limit.data["kind"] == "quota"
    assert limit.data["reset_at"] == "2026-11-26T13:33:20+00:00"
    assert limit.data["window"] == "five_hour"
    (error,) = of(events, "error")
    assert error.data["kind"] == "quota" and "session limit" in error.text


def test_401_is_auth_and_no_rate_limit() -> None:
    events = transcript("unauthorized-401")
    assert not of(events, "rate_limit")
    (error,) = of(events, "error")
    assert error.data["kind"] == "auth" and error.data["code"] == "authentication_failed"
    assert error.text == "Invalid API key · Fix external API key"


def test_not_logged_in_is_auth() -> None:
    lines = (STREAMS / "claude-2.1.197-not-logged-in.jsonl").read_text().splitlines()
    events = parse(lines, exit_code=1)
    (error,) = of(events, "error")
    assert error.data["kind"] == "auth" and "Not logged in" in error.text
    assert not of(events, "text"), "the CLI's synthetic error message is not model output"


def test_529_is_overloaded_and_a_cut_stream_a_network_error() -> None:
    overloaded = transcript("overloaded-529")
    assert [e.data["kind"] for e in of(overloaded, "rate_limit")] == ["overloaded"]
    assert of(overloaded, "error")[0].data["kind"] == "overloaded"
    cut = transcript("cut-stream")
    assert of(cut, "error")[0].data["kind"] == "network"
    assert "ECONNRESET" in (of(cut, "error")[0].text or "")


def test_max_turns_and_budget_results_are_errors_with_their_figures() -> None:
    turns = transcript("max-turns")
    assert of(turns, "error")[0].data["code"] == "error_max_turns"
    assert "maximum number of turns" in (of(turns, "result")[0].text or "")
    budget = transcript("max-budget")
    assert of(budget, "error")[0].data["code"] == "error_max_budget_usd"
    usage = last_usage(budget)  # the result's own usage is zeros; modelUsage has the figures
    assert (usage["input_tokens"], usage["output_tokens"]) == (100_000, 10)
    assert usage["cost_usd"] == pytest.approx(0.30015)
    assert of(budget, "result")[0].data["subtype"] == "error_max_budget_usd"


def test_peer_transcript_with_cache_tokens_and_a_tool() -> None:
    events = parse((STREAMS / "peers" / "claude-2.jsonl").read_text().splitlines())
    usage = last_usage(events)
    # modelUsage (all models of the run) counts more than the main model's usage
    assert usage["input_tokens"] == 38 and usage["output_tokens"] == 765
    assert usage["cache_read_tokens"] == 28775 and usage["cache_write_tokens"] == 31159
    assert usage["cost_usd"] == pytest.approx(0.24722425)
    assert of(events, "tool_result")[0].data["ok"] is True


# the parser's own rules
def line(**obj: Any) -> str:
    return json.dumps(obj)


def test_a_lost_init_line_still_gives_the_session_id() -> None:
    events = parse([line(type="assistant", session_id="s-1", message={"content": []})])
    assert of(events, "session")[0].data["session_id"] == "s-1"


def test_subagent_messages_carry_their_parent() -> None:
    events = parse(
        [
            line(
                type="assistant",
                parent_tool_use_id="toolu_parent",
                message={"id": "m", "content": [{"type": "text", "text": "from a subagent"}]},
            )
        ]
    )
    assert of(events, "text")[0].data == {"parent_tool_use_id": "toolu_parent"}


def test_tool_result_content_as_blocks_and_errors() -> None:
    content = [
        {"type": "text", "text": "a"},
        {"type": "image", "source": {}},
        {"type": "text", "text": "b"},
    ]
    events = parse(
        [
            line(
                type="user",
                message={
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t",
                            "content": content,
                            "is_error": True,
                        }
                    ]
                },
            )
        ]
    )
    assert of(events, "tool_result")[0].data == {"id": "t", "ok": False, "output": "a\n[image]\nb"}


def test_quiet_and_unknown_lines() -> None:
    events = parse(
        [
            line(type="system", subtype="thinking_tokens", estimated_tokens=3),
            line(type="system", subtype="status", status="requesting"),
            line(type="system", subtype="compact_boundary"),
            line(type="control_request", request={}),
            line(type="stream_event", event={"type": "content_block_delta"}),
            "not json at all",
            "[1, 2]",
            "",
        ],
        exit_code=None,
    )
    assert [e.kind for e in events] == ["raw", "raw", "raw", "raw"]


def test_a_stream_event_error_is_kept() -> None:
    events = parse(
        [
            line(
                type="stream_event",
                event={
                    "type": "error",
                    "error": {"type": "overloaded_error", "message": "Overloaded"},
                },
            )
        ],
        exit_code=None,
    )
    assert of(events, "error")[0].data["kind"] == "overloaded"


def test_allowed_warning_is_a_notice_and_allowed_is_no_limit() -> None:
    events = parse(
        [
            line(
                type="rate_limit_event",
                rate_limit_info={"status": "allowed", "resetsAt": 1795700000},
            ),
            line(
                type="rate_limit_event",
                rate_limit_info={
                    "status": "allowed_warning",
                    "resetsAt": 1795700000,
                    "rateLimitType": "seven_day",
                },
            ),
        ],
        exit_code=None,
    )
    (limit,) = of(events, "rate_limit")
    assert limit.data["kind"] == "notice" and limit.data["window"] == "seven_day"
    # both report the account's headroom
    first, second = of(events, "headroom")
    assert first.data["status"] == "allowed" and first.data["resets_at"] == 1795700000
    assert second.data["status"] == "allowed_warning" and second.data["window"] == "seven_day"


def test_a_utilization_is_kept_as_headroom() -> None:
    info = {"status": "allowed", "resetsAt": 1795700000, "rateLimitType": "five_hour",
            "utilization": 0.42, "overageStatus": "rejected"}  # fmt: skip
    (room,) = parse([line(type="rate_limit_event", rate_limit_info=info)], exit_code=None)
    assert room.kind == "headroom" and room.data["utilization"] == 0.42
    assert room.data["window"] == "five_hour" and room.data["overage_status"] == "rejected"
    assert room.text == "five_hour window allowed, 42% used"


def test_an_end_without_a_result_is_an_error_with_the_last_stderr_line() -> None:
    parser = ClaudeParser()
    parser.stderr("Error: something went wrong")
    parser.stderr("Invalid API key · Please run /login")
    (error,) = parser.finish(1)
    assert error.kind == "error" and error.data["kind"] == "auth"
    assert (
        error.text
        == "claude exited with code 1 without a result: Invalid API key · Please run /login"
    )


def test_no_extra_error_after_a_result_or_a_kill() -> None:
    assert ClaudeParser().finish(-15) == ()  # ended by a signal: agented says why
    assert transcript("success")[-1].kind == "result"


# never raises
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
TYPES = st.sampled_from(
    [
        "system",
        "assistant",
        "user",
        "result",
        "rate_limit_event",
        "stream_event",
        "control_request",
        "other",
    ]
)
FIELDS = st.sampled_from(
    ["subtype", "message", "content", "usage", "error", "session_id", "is_error", "modelUsage",
     "total_cost_usd", "rate_limit_info", "event", "parent_tool_use_id", "num_turns", "errors"]
)  # fmt: skip


@st.composite
def claude_like(draw: st.DrawFn) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": draw(TYPES)}
    for key in draw(st.lists(FIELDS, max_size=6)):
        obj[key] = draw(JSON)
    if draw(st.booleans()):
        obj["message"] = {
            "id": draw(st.text(max_size=5)),
            "content": draw(
                st.lists(
                    st.dictionaries(
                        st.sampled_from(
                            ["type", "text", "name", "input", "thinking", "content", "tool_use_id"]
                        ),
                        JSON,
                        max_size=4,
                    ),
                    max_size=3,
                )
            ),
            "usage": draw(
                st.dictionaries(
                    st.sampled_from(["input_tokens", "output_tokens", "cache_read_input_tokens"]),
                    JSON,
                    max_size=3,
                )
            ),
        }
    return obj


@settings(max_examples=300, deadline=None)
@given(st.lists(claude_like(), max_size=6), st.integers(min_value=-20, max_value=300) | st.none())
def test_the_parser_never_raises_on_claude_like_objects(
    objects: list[dict[str, Any]], exit_code: int | None
) -> None:
    parser = ClaudeParser()
    for obj in objects:
        for draft in parser.stdout(json.dumps(obj)):
            assert isinstance(draft, EventDraft) and isinstance(draft.data, dict)
            json.dumps(draft.data)  # event data stays JSON
    for draft in parser.finish(exit_code):
        assert draft.kind == "error"
    assert parser.failed_lines == 0, "a line fell back to raw through an exception"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_line_never_raises_and_non_json_is_raw(text: str) -> None:
    drafts = ClaudeParser().stdout(text)
    assert all(isinstance(d, EventDraft) for d in drafts)
    kinds = [d.kind for d in drafts if d.kind != "rate_limit"]
    stripped = text.strip()
    if not stripped:
        assert drafts == ()
    elif not (stripped.startswith("{") and stripped.endswith("}")):
        assert kinds == ["raw"] and drafts[-1].text == text


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=10), JSON, max_size=5).filter(
        lambda d: (
            d.get("type")
            not in ("system", "assistant", "user", "result", "rate_limit_event", "stream_event")
        )
    )
)
def test_unknown_objects_become_raw(obj: dict[str, Any]) -> None:
    drafts = [
        d for d in ClaudeParser().stdout(json.dumps(obj)) if d.kind not in ("rate_limit", "session")
    ]
    assert [d.kind for d in drafts] == ["raw"]
