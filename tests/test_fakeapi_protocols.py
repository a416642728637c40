"""The fake model API's OpenAI Responses, OpenAI chat-completions and Gemini protocols: streams
of the right shape, usage, tool calls, errors with the APIs' bodies, side calls, path patterns."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from fakeapi import Error, FakeModelAPI, Reply, StreamError, Text, Thinking, ToolUse, Usage, text
from fakeapi.gemini import Gemini
from fakeapi.openai_chat import OpenAIChat
from fakeapi.openai_responses import OpenAIResponses


def data_lines(body: str) -> list[Any]:
    out = []
    for line in body.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line[len("data: ") :]))
    return out


@pytest.fixture
def api() -> FakeModelAPI:
    with FakeModelAPI([OpenAIResponses(), OpenAIChat(), Gemini()]) as fake:
        yield fake


REPLY = Reply(
    (
        Thinking("hmm"),
        Text("hello world"),
        ToolUse("exec_command", {"cmd": "ls"}, id="call_1"),
        ToolUse("apply_patch", {}, id="call_2", freeform="*** Begin Patch\n*** End Patch\n"),
    ),
    Usage(12, 5, cache_read_tokens=4),
    text_chunks=2,
)


def test_a_responses_stream(api: FakeModelAPI) -> None:
    api.push(REPLY)
    body = {"model": "gpt-5.5", "stream": True, "input": []}
    response = httpx.post(f"{api.url}/v1/responses", json=body, timeout=10)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = data_lines(response.text)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == "hello world" and len(deltas) == 2
    items = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [i["type"] for i in items] == [
        "reasoning",
        "message",
        "function_call",
        "custom_tool_call",
    ]
    assert items[2]["call_id"] == "call_1" and json.loads(items[2]["arguments"]) == {"cmd": "ls"}
    assert items[3]["input"].startswith("*** Begin Patch")
    usage = events[-1]["response"]["usage"]
    assert usage["input_tokens"] == 16 and usage["input_tokens_details"]["cached_tokens"] == 4
    assert usage["output_tokens"] == 5 and events[-1]["response"]["model"] == "gpt-5.5"


def test_a_chat_completions_stream_with_usage(api: FakeModelAPI) -> None:
    api.push(REPLY)
    body = {"model": "m", "stream": True, "stream_options": {"include_usage": True}, "messages": []}
    response = httpx.post(f"{api.url}/v1/chat/completions", json=body, timeout=10)
    assert response.text.rstrip().endswith("data: [DONE]")
    chunks = data_lines(response.text)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content", "") or "" for d in deltas) == "hello world"
    assert {"reasoning_content": "hmm"} in deltas
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert [c["id"] for c in calls] == ["call_1", "call_2"] and calls[1]["index"] == 1
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1]
    assert finish == "tool_calls"
    usage = chunks[-1]["usage"]
    assert usage == {
        "prompt_tokens": 16, "completion_tokens": 5, "total_tokens": 21,
        "prompt_tokens_details": {"cached_tokens": 4},
    }  # fmt: skip


def test_a_gemini_stream_on_a_model_path(api: FakeModelAPI) -> None:
    api.push(REPLY)
    url = f"{api.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    response = httpx.post(url, json={"contents": []}, timeout=10)
    chunks = data_lines(response.text)
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    assert "".join(p.get("text", "") for p in parts if not p.get("thought")) == "hello world"
    assert {"text": "hmm", "thought": True} in parts
    calls = [p["functionCall"] for p in parts if "functionCall" in p]
    assert calls[0] == {"id": "call_1", "name": "exec_command", "args": {"cmd": "ls"}}
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"] == {
        "promptTokenCount": 16, "candidatesTokenCount": 5, "totalTokenCount": 21,
        "cachedContentTokenCount": 4,
    }  # fmt: skip
    assert chunks[0]["modelVersion"] == "gemini-2.5-flash"
    (request,) = api.model_requests()
    assert request.params == {"model": "gemini-2.5-flash"} and request.query == "alt=sse"


def test_error_bodies(api: FakeModelAPI) -> None:
    api.push(
        Error(429, retry_after=2), Error(401), Error(429, type="PerDay"), Error(429, retry_after=8)
    )
    first = httpx.post(f"{api.url}/v1/responses", json={"stream": True}, timeout=10)
    assert first.status_code == 429 and first.headers["retry-after"] == "2"
    assert first.json()["error"]["code"] == "rate_limit_exceeded"
    assert "try again in 2s" in first.json()["error"]["message"]
    second = httpx.post(f"{api.url}/v1/chat/completions", json={"stream": True}, timeout=10)
    assert second.status_code == 401 and second.json()["error"]["code"] == "invalid_api_key"
    model = f"{api.url}/v1beta/models/m:streamGenerateContent"
    daily = httpx.post(model, json={}, timeout=10).json()["error"]
    assert daily["status"] == "RESOURCE_EXHAUSTED" and daily["code"] == 429
    assert "PerDay" in daily["details"][0]["violations"][0]["quotaId"]
    retry = httpx.post(model, json={}, timeout=10).json()["error"]
    assert retry["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "8s"}
    ]


def test_side_calls_take_no_script(api: FakeModelAPI) -> None:
    api.push(text("the real answer"))
    title = {
        "stream": True,
        "messages": [{"role": "system", "content": "You are a title generator. x"}],
    }
    answer = httpx.post(f"{api.url}/v1/chat/completions", json=title, timeout=10)
    assert "Fake session title" in answer.text
    router = {"generationConfig": {"responseJsonSchema": {"properties": {"complexity_score": {}}}}}
    routed = httpx.post(
        f"{api.url}/v1beta/models/flash-lite:generateContent", json=router, timeout=10
    )
    text_part = routed.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert json.loads(text_part)["complexity_score"] == 1
    assert not api.model_requests() and sum(r.side_call for r in api.requests) == 2
    real = httpx.post(f"{api.url}/v1/chat/completions", json={"stream": False}, timeout=10)
    assert real.json()["choices"][0]["message"]["content"] == "the real answer"


def test_errors_inside_streams(api: FakeModelAPI) -> None:
    failing = Reply(
        (Text("partial answer"),),
        text_chunks=4,
        error_after=2,
        stream_error=StreamError("server_error", "boom"),
    )
    api.push(failing, failing, failing)
    responses = data_lines(
        httpx.post(f"{api.url}/v1/responses", json={"stream": True}, timeout=10).text
    )
    assert responses[-1]["type"] == "response.failed"
    assert responses[-1]["response"]["error"] == {"code": "server_error", "message": "boom"}
    chat = data_lines(
        httpx.post(f"{api.url}/v1/chat/completions", json={"stream": True}, timeout=10).text
    )
    assert chat[-1]["error"]["message"] == "boom"
    gemini = data_lines(
        httpx.post(f"{api.url}/v1beta/models/m:streamGenerateContent", json={}, timeout=10).text
    )
    assert gemini[-1]["error"]["status"] == "UNAVAILABLE"


def test_an_unknown_path_is_a_404(api: FakeModelAPI) -> None:
    assert (
        httpx.post(f"{api.url}/v1beta/models/m:unknownVerb", json={}, timeout=10).status_code == 404
    )
