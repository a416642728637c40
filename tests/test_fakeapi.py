"""The fake model API (tests/fakeapi) answers as scripted: the Anthropic Messages API streamed
and not, errors with their headers, slow, stalled and cut streams, and it records requests."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from fakeapi import (
    Error,
    FakeModelAPI,
    Reply,
    StreamError,
    Text,
    Thinking,
    ToolUse,
    Usage,
    text,
    tool,
    unified_limit_headers,
)


def sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def post(api: FakeModelAPI, stream: bool, **body: Any) -> httpx.Response:
    payload = {"model": "claude-test", "max_tokens": 10, "messages": [], "stream": stream, **body}
    return httpx.post(f"{api.url}/v1/messages?beta=true", json=payload, timeout=10)


@pytest.fixture
def api() -> FakeModelAPI:
    with FakeModelAPI() as fake:
        yield fake


def test_a_streamed_reply_is_a_complete_messages_stream(api: FakeModelAPI) -> None:
    api.push(
        Reply(
            (
                Thinking("hmm"),
                Text("hello world"),
                ToolUse("Bash", {"command": "ls"}, id="toolu_1"),
            ),
            Usage(12, 5, cache_read_tokens=7, cache_write_tokens=3),
            text_chunks=2,
        )
    )
    response = post(api, True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["model"] == "claude-test"
    assert start["usage"] == {
        "input_tokens": 12, "cache_creation_input_tokens": 3,
        "cache_read_input_tokens": 7, "output_tokens": 1,
    }  # fmt: skip
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert "".join(d.get("text", "") for d in deltas) == "hello world"
    assert sum(1 for d in deltas if d["type"] == "text_delta") == 2
    assert {"type": "thinking_delta", "thinking": "hmm"} in deltas
    assert json.loads(
        next(d["partial_json"] for d in deltas if d["type"] == "input_json_delta")
    ) == {"command": "ls"}
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "tool_use" and final["usage"]["output_tokens"] == 5


def test_a_plain_reply_is_one_message(api: FakeModelAPI) -> None:
    api.push(text("hi there"))
    body = post(api, False).json()
    assert body["content"] == [{"type": "text", "text": "hi there"}]
    assert body["stop_reason"] == "end_turn" and body["usage"]["output_tokens"] == 5


def test_errors_carry_the_apis_body_and_headers(api: FakeModelAPI) -> None:
    api.push(
        Error(429, retry_after=3, headers=unified_limit_headers(1795700000)), Error(401), Error(529)
    )
    limited = post(api, True)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert limited.headers["anthropic-ratelimit-unified-status"] == "rejected"
    assert limited.headers["anthropic-ratelimit-unified-reset"] == "1795700000"
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert post(api, True).json() == {
        "type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }  # fmt: skip
    assert post(api, True).json()["error"]["type"] == "overloaded_error"


def test_the_queue_then_always_then_default_then_a_500(api: FakeModelAPI) -> None:
    api.push(text("first"), text("second"))
    api.always(text("streamed only"), when=lambda r: r.json["stream"] is True)
    assert post(api, False).json()["content"][0]["text"] == "first"
    assert post(api, False).json()["content"][0]["text"] == "second"
    assert sse(post(api, True).text)[2][1]["delta"]["text"] == "streamed only"
    nothing = post(api, False)
    assert nothing.status_code == 500 and "nothing scripted" in nothing.text
    api.default = text("fallback")
    assert post(api, False).json()["content"][0]["text"] == "fallback"


def test_times_and_when(api: FakeModelAPI) -> None:
    api.push(text("big"), when=lambda r: r.json["max_tokens"] > 100)
    api.push(Error(529), times=2)
    assert post(api, False).status_code == 529  # the first script does not want it
    assert post(api, False, max_tokens=1000).json()["content"][0]["text"] == "big"
    assert post(api, False, max_tokens=1000).status_code == 529
    assert post(api, False).status_code == 500


def test_requests_are_recorded(api: FakeModelAPI) -> None:
    api.push(text("x"))
    httpx.head(api.url + "/", timeout=5)
    post(api, True, messages=[{"role": "user", "content": "hello"}])
    head, call = api.requests
    assert (head.method, head.path, head.model_call) == ("HEAD", "/", False)
    assert call.model_call and call.query == "beta=true" and call.protocol == "anthropic"
    assert call.json["messages"][0]["content"] == "hello"
    assert call.headers["content-type"] == "application/json"
    assert isinstance(call.script, Reply)
    assert api.model_requests() == [call]


def test_side_calls_take_no_script(api: FakeModelAPI) -> None:
    api.push(text("the real answer"))
    title = post(
        api,
        False,
        system=[{"type": "text", "text": "Generate a concise, sentence-case title (3-7 words)"}],
    )
    assert "title" in title.json()["content"][0]["text"]
    assert post(api, False).json()["content"][0]["text"] == "the real answer"
    assert [r.side_call for r in api.requests] == [True, False]
    assert len(api.model_requests()) == 1


def test_a_slow_stream_takes_its_time(api: FakeModelAPI) -> None:
    api.push(Reply((Text("abcdef"),), text_chunks=6, chunk_delay=0.05))
    started = time.monotonic()
    events = sse(post(api, True).text)
    assert time.monotonic() - started >= 0.05 * (len(events) - 1) * 0.9


def test_a_cut_stream_breaks_the_connection(api: FakeModelAPI) -> None:
    api.push(Reply((Text("x" * 100),), text_chunks=10, cut_after=3))
    with pytest.raises(httpx.RemoteProtocolError):
        post(api, True)
    api.push(Reply(cut_after=1))
    with pytest.raises(httpx.RemoteProtocolError):
        post(api, False)  # a plain reply is cut in the middle of its body


def test_an_error_event_inside_a_stream(api: FakeModelAPI) -> None:
    api.push(Reply(error_after=2, stream_error=StreamError("overloaded_error", "Overloaded")))
    events = sse(post(api, True).text)
    assert events[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert len(events) == 3


def test_a_stalled_stream_hangs_until_the_server_closes() -> None:
    api = FakeModelAPI()
    api.start()
    api.push(Reply(stall_after=1))
    outcome: dict[str, Any] = {}

    def client() -> None:
        try:
            with httpx.stream(
                "POST", f"{api.url}/v1/messages", json={"stream": True}, timeout=30
            ) as response:
                for chunk in response.iter_text():
                    outcome.setdefault("first", chunk)
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=client)
    thread.start()
    assert api.wait_for(lambda requests: len(requests) == 1, timeout=5)
    thread.join(0.5)
    assert thread.is_alive(), "a stalled stream keeps the client waiting"
    started = time.monotonic()
    api.close()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 10
    assert "message_start" in outcome["first"]


def test_the_server_uses_a_free_port_each_time() -> None:
    with FakeModelAPI() as one, FakeModelAPI() as two:
        assert one.port != two.port
        assert httpx.get(one.url + "/", timeout=5).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(one.url + "/", timeout=2)


def test_tool_helper_sets_the_stop_reason(api: FakeModelAPI) -> None:
    api.push(tool("Read", {"file_path": "/x"}))
    body = post(api, False).json()
    assert body["stop_reason"] == "tool_use" and body["content"][0]["name"] == "Read"
