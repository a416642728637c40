"""The codex ``exec --json`` parser, on transcripts of the genuine CLI and on arbitrary input."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from agented_codex import CodexParser
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core import EventDraft
from agented_core.config import Price
from conftest import FIXTURES_DIR
from plugin_support import drive, of

OURS = Path(__file__).parent.parent.parent / "fixtures" / "codex"
STREAMS = FIXTURES_DIR / "streams"
KNOWN_KINDS = {
    "session", "text", "thinking", "tool_call", "tool_result", "file_change", "usage", "result",
    "retry", "rate_limit", "error", "warning", "plan", "stderr",
}  # fmt: skip
PRICES = {"gpt-5.5": Price(input=1.25, output=10.0, cache_read=0.125)}


def parse(
    lines: Sequence[str], exit_code: int | None = 0, stderr: Sequence[str] = (), **kwargs: Any
) -> list[EventDraft]:
    kwargs.setdefault("model", "gpt-5.5")
    return drive(CodexParser(**kwargs), lines, stderr, exit_code)


def transcript(name: str, exit_code: int | None = None, **kwargs: Any) -> list[EventDraft]:
    path = OURS / f"codex-0.169.0-{name}.jsonl"
    if not path.exists():
        path = STREAMS / f"codex-0.169.0-{name}.jsonl"
    code = exit_code if exit_code is not None else (0 if "success" in name else 1)
    return parse(path.read_text().splitlines(), exit_code=code, **kwargs)


ALL = sorted(OURS.glob("codex-*.jsonl")) + sorted(STREAMS.glob("codex-*.jsonl"))
ALL += sorted((STREAMS / "peers").glob("codex-*.jsonl"))


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_line_of_a_real_transcript_is_understood(path: Path) -> None:
    events = parse(path.read_text().splitlines(), exit_code=None)
    assert events and not of(events, "raw")
    assert {e.kind for e in events} <= KNOWN_KINDS
    results = of(events, "result")
    assert len(results) <= 1
    if results and results[0].data["ok"]:
        assert of(events, "usage") and of(events, "session")


def test_the_offline_capture_with_stderr_interleaved() -> None:
    lines = (STREAMS / "codex-0.169.0-offline.txt").read_text().splitlines()
    stdout = [line for line in lines if line.startswith("{")]
    stderr = [line for line in lines if not line.startswith("{")]
    events = parse(stdout, exit_code=-9, stderr=stderr)
    assert not of(events, "raw")
    assert [e.data["attempt"] for e in of(events, "retry")][:4] == [2, 3, 4, 5]
    (warning,) = of(events, "warning")
    assert "Falling back from WebSockets" in warning.data["message"]
    # ended while it waited for the network: the last word says so
    assert events[-1].kind == "error" and events[-1].data["kind"] == "network"
    assert "waiting for the network" in events[-1].data["message"]


def test_success_text_tokens_cost_and_session() -> None:
    events = transcript("success", prices=PRICES)
    assert [e.text for e in of(events, "text")] == ["hello from fake"]
    (session,) = of(events, "session")
    assert session.data == {
        "session_id": session.data["session_id"],
        "model": "gpt-5.5",
        "tools": [],
    }
    usage = of(events, "usage")[-1].data
    # codex's input_tokens (16) count the 4 cached ones: agented's do not
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (12, 5, 4)
    assert usage["cost_usd"] == pytest.approx((12 * 1.25 + 5 * 10 + 4 * 0.125) / 1e6)
    (result,) = of(events, "result")
    assert result.data["ok"] is True and result.data["text"] == "hello from fake"
    assert result.data["turns"] == 1 and result.data["session_id"] == session.data["session_id"]
    assert isinstance(result.data["duration_ms"], int)
    assert events[-1].kind == "result"


def test_no_price_no_cost() -> None:
    assert of(transcript("success"), "usage")[-1].data["cost_usd"] is None
    unknown = transcript("success", model="some-other-model", prices=PRICES)
    assert of(unknown, "usage")[-1].data["cost_usd"] is None
    nameless = transcript("success", model=None, prices=PRICES)
    assert of(nameless, "usage")[-1].data["cost_usd"] is None


def test_a_command_call_and_its_result() -> None:
    events = transcript("tool-round-trip")
    (call,) = of(events, "tool_call")
    (result,) = of(events, "tool_result")
    assert (
        call.data["name"] == "command_execution"
        and "echo tool-output" in call.data["input"]["command"]
    )
    assert result.data["id"] == call.data["id"] and result.data["ok"] is True
    assert result.data["exit_code"] == 0 and result.data["output"] == "tool-output\n"
    assert events.index(call) < events.index(result)
    usage = of(events, "usage")[-1].data
    assert (usage["input_tokens"], usage["output_tokens"]) == (42, 10)


def test_a_failing_command_is_not_ok() -> None:
    (result,) = of(transcript("failed-command"), "tool_result")
    assert result.data["ok"] is False and result.data["exit_code"] == 3


def test_thinking_and_file_changes() -> None:
    assert [e.text for e in of(transcript("thinking"), "thinking")] == ["let me think"]
    (change,) = of(transcript("file-change"), "file_change")
    assert change.data["path"] == "/home/dev/project/hello.txt" and change.data["change"] == "add"
    assert change.data["status"] == "completed"


def test_a_429_with_codexs_retry() -> None:
    events = transcript("rate-limited-429")
    (retry,) = of(events, "retry")
    assert retry.data["attempt"] == 1 and retry.data["max_retries"] == 1
    assert retry.data["status"] == 429
    (limit,) = of(events, "rate_limit")
    assert limit.data["kind"] == "rate" and limit.data["status"] == 429
    (failure,) = of(events, "error")  # the final error and turn.failed say it once
    assert failure.data["kind"] == "rate" and failure.data["status"] == 429
    assert of(events, "result")[0].data["ok"] is False


def test_a_used_up_plan_is_a_quota_with_its_reset_in_the_childs_zone() -> None:
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    events = transcript("usage-limit-429", now=lambda: now, tz="UTC")
    (limit,) = of(events, "rate_limit")
    assert limit.data["kind"] == "quota" and limit.data["reset_at"] == "2026-11-26T13:33:00+00:00"
    tokyo = transcript("usage-limit-429", now=lambda: now, tz="Asia/Tokyo")
    (limit,) = of(tokyo, "rate_limit")
    assert limit.data["reset_at"] == "2026-11-26T04:33:00+00:00"  # 1:33 PM in Tokyo
    assert of(events, "error")[0].data["kind"] == "quota"


def test_a_quota_without_a_reset() -> None:
    events = transcript("insufficient-quota-429")
    (limit,) = of(events, "rate_limit")
    assert limit.data["kind"] == "quota" and limit.data["reset_at"] is None
    assert of(events, "error")[0].data["kind"] == "quota"


def test_401_is_auth_and_a_cut_stream_is_network() -> None:
    auth = transcript("unauthorized-401")
    assert of(auth, "error")[0].data["kind"] == "auth" and not of(auth, "rate_limit")
    assert of(auth, "error")[0].data["status"] == 401
    cut = transcript("cut-stream")
    assert of(cut, "error")[0].data["kind"] == "network"


def test_a_missing_key_is_auth() -> None:
    events = transcript("missing-env-key")
    assert of(events, "error")[0].data["kind"] == "auth"


def test_the_network_wait_is_a_retry_and_an_end_without_result_says_so() -> None:
    lines = (STREAMS / "codex-0.169.0-server-down.jsonl").read_text().splitlines()
    killed = parse(lines, exit_code=-15)
    waits = of(killed, "retry")
    assert len(waits) == 3 and all(w.data["waiting_for_network"] for w in waits)
    assert killed[-1].data["kind"] == "network" and killed[-1].data["code"] == "waiting_for_network"
    exited = parse(lines, exit_code=1)
    assert exited[-1].data["kind"] == "network" and "exited with code 1" in exited[-1].text


def test_a_cli_that_ends_without_its_turn_reports_stderr() -> None:
    stderr = ["Not inside a trusted directory and --skip-git-repo-check was not specified."]
    events = parse([], exit_code=1, stderr=stderr)
    (failure,) = of(events, "error")
    assert failure.data["kind"] == "launch" and "trusted directory" in failure.data["message"]
    assert parse([], exit_code=None) == []  # ended by agented: nothing to add


def test_mcp_calls_web_searches_and_todo_lists() -> None:
    lines = [
        {"type": "item.started", "item": {"id": "i1", "type": "mcp_tool_call", "server": "gh",
         "tool": "search", "arguments": {"q": "x"}, "status": "in_progress"}},
        {"type": "item.completed", "item": {"id": "i1", "type": "mcp_tool_call", "server": "gh",
         "tool": "search", "arguments": {"q": "x"}, "status": "completed",
         "result": {"content": [{"type": "text", "text": "found 3"}]}}},
        {"type": "item.completed", "item": {"id": "i2", "type": "mcp_tool_call", "server": "gh",
         "tool": "boom", "arguments": {}, "status": "failed", "error": {"message": "nope"}}},
        {"type": "item.completed", "item": {"id": "i3", "type": "web_search", "query": "agented"}},
        {"type": "item.updated", "item": {"id": "i4", "type": "todo_list", "items": [
            {"text": "read", "completed": True}, {"text": "write", "completed": False}]}},
        {"type": "some.future.line", "x": 1},
    ]  # fmt: skip
    events = parse([json.dumps(line) for line in lines], exit_code=None)
    calls = of(events, "tool_call")
    assert [(c.data["name"], c.data.get("server")) for c in calls] == [
        ("search", "gh"), ("boom", "gh"), ("web_search", None),
    ]  # fmt: skip
    ok, failed = of(events, "tool_result")
    assert ok.data["ok"] is True and ok.data["output"] == "found 3"
    assert failed.data["ok"] is False and failed.data["output"] == "nope"
    (plan,) = of(events, "plan")
    assert plan.data["items"][0] == {"text": "read", "completed": True}
    assert plan.text == "[x] read\n[ ] write"
    assert of(events, "raw")[0].text == json.dumps(lines[-1])


# arbitrary input
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
TYPES = ["thread.started", "turn.started", "turn.completed", "turn.failed", "item.started",
         "item.updated", "item.completed", "error", "other"]  # fmt: skip
ITEM_TYPES = ["agent_message", "reasoning", "command_execution", "file_change", "mcp_tool_call",
              "web_search", "todo_list", "error", "collab"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=10), st.lists(st.text(max_size=100), max_size=5))
def test_arbitrary_text_never_raises(lines: list[str], stderr: list[str]) -> None:
    events = parse(lines, exit_code=1, stderr=stderr)
    assert all(isinstance(e, EventDraft) for e in events)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(TYPES),
    st.sampled_from(ITEM_TYPES),
    st.dictionaries(st.text(max_size=12), json_values, max_size=6),
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "text",
                "command",
                "aggregated_output",
                "exit_code",
                "status",
                "changes",
                "items",
                "server",
                "tool",
                "result",
                "error",
                "message",
                "query",
            ]
        ),
        json_values,
        max_size=6,
    ),
)
def test_arbitrary_json_lines_never_raise(
    kind: str, item_type: str, extra: dict[str, Any], item: dict[str, Any]
) -> None:
    line = {**extra, "type": kind, "item": {**item, "type": item_type}}
    line.setdefault("usage", extra.get("usage", {"input_tokens": "x"}))
    parser = CodexParser(model="gpt-5.5", prices=PRICES)
    events = [*parser.stdout(json.dumps(line)), *parser.finish(0)]
    assert all(isinstance(e, EventDraft) for e in events)
    assert parser.failed_lines == 0  # handled, not swallowed as a failure


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=20).filter(lambda t: t not in TYPES), json_values)
def test_unknown_line_types_come_out_raw(kind: str, value: Any) -> None:
    line = json.dumps({"type": kind, "value": value})
    events = CodexParser().stdout(line)
    assert [e.kind for e in events if e.kind != "rate_limit"] == ["raw"]
    assert [e.text for e in events if e.kind == "raw"] == [line]
