"""detect(): text and JSON-line forms, kinds, reset times, plugin patterns, speed guards."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agented_core.ratelimit import LimitKind, Pattern, RateLimit, detect
from agented_core.ratelimit._patterns import GENERIC, TABLES, might_match

STREAMS = Path(__file__).parent / "fixtures" / "streams"
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
QUOTA, RATE, OVERLOADED, NOTICE = (
    LimitKind.QUOTA,
    LimitKind.RATE,
    LimitKind.OVERLOADED,
    LimitKind.NOTICE,
)


def kind_of(text: str, provider: str | None = None, **kwargs: Any) -> LimitKind | None:
    found = detect(text, provider, now=NOW, **kwargs)
    return found.kind if found else None


# ---------------------------------------------------------------------------------------------
# Plain text


@pytest.mark.parametrize(
    ("provider", "text", "kind"),
    [
        ("claude", "Claude AI usage limit reached|1760000000", QUOTA),
        ("claude", "5-hour limit reached ∙ resets 5am", QUOTA),
        ("claude", "You've hit your session limit · resets 3pm (America/Bogota)", QUOTA),
        ("claude", "Approaching usage limit · resets at 5pm", NOTICE),
        ("claude", "Claude Opus 4 limit reached, now using Sonnet 4", NOTICE),
        ("claude", "API Error: 529 Overloaded. This is a server-side issue", OVERLOADED),
        ("claude", "API Error: Request rejected (429) · Rate limited", RATE),
        ("claude", 'Error: 429 {"type":"error","error":{"type":"rate_limit_error"}}', RATE),
        ("codex", "You've hit your usage limit. Try again in 4 days 20 hours 9 minutes.", QUOTA),
        ("codex", "exceeded retry limit, last status: 429 Too Many Requests", RATE),
        ("codex", "Quota exceeded. Check your plan and billing details.", QUOTA),
        ("codex", "unexpected status 503 Service Unavailable", OVERLOADED),
        ("gemini", "[API Error: Resource has been exhausted (e.g. check quota).]", RATE),
        ("gemini", "You have reached your daily gemini-2.5-pro quota limit.", QUOTA),
        (
            "gemini",
            "You have reached your daily gemini-2.5-pro quota limit. "
            "Automatically switching from gemini-2.5-pro to gemini-2.5-flash.",
            NOTICE,
        ),
        ("gemini", "Attempt 1 failed with status 429. Retrying with backoff...", RATE),
        ("gemini", "No capacity available for model gemini-3-pro on the server", OVERLOADED),
        ("opencode", "Monthly usage limit reached", QUOTA),
        ("opencode", 'error.error="AI_APICallError: Rate limit reached for requests."', RATE),
        # generic, for any provider
        ("aider", "litellm.RateLimitError: Anthropic rate limit", RATE),
        ("mycli", "HTTP 429 Too Many Requests", RATE),
        ("mycli", "Request failed with status code 429", RATE),
        ("mycli", "error: Too Many Requests", RATE),
        ("mycli", "status: RESOURCE_EXHAUSTED", RATE),
        ("mycli", "Usage limit reached for this month", QUOTA),
        ("mycli", 'HTTP/1.1 529 {"type":"overloaded_error"}', OVERLOADED),
    ],
)
def test_text_forms(provider: str, text: str, kind: LimitKind) -> None:
    assert kind_of(text, provider) is kind
    assert kind_of(text, None) is kind  # no provider: every table


@pytest.mark.parametrize(
    "text",
    [
        "Note: the API may be rate limited during peak hours.",
        "See https://docs.anthropic.com/en/api/rate-limits for details.",
        "If users request more than 5 times, the user will be rate limited for 10 seconds.",
        "if (error.status === 429 || isOverloaded(error)) {\n  // retry only for 429/529\n}",
        "except openai.RateLimitError:\n    time.sleep(1)",
        "def handle_rate_limit(limit: int) -> None: ...",
        "The quota of this volume is 5 GB.",
        "⏱️ Usage Limits\n  • Send a message to load usage data.",
        "Reached max session turns for this session.",
        "Couldn't reset usage. Please try again.",
        "the limit is 100 items per page",
        "to avoid sending too many requests, batch them",
        "the input had 429 rows",
        "I increased the connection pool limit to 503.",
        "",
        "   ",
    ],
)
def test_prose_and_code_do_not_match(text: str) -> None:
    for provider in (None, "claude", "codex", "gemini", "opencode", "other"):
        assert detect(text, provider, now=NOW) is None, provider


def test_provider_table_is_only_used_for_its_provider() -> None:
    text = "5-hour limit reached ∙ resets 5am"
    assert kind_of(text, "claude") is QUOTA
    assert kind_of(text, "mycli") is None  # the generic patterns do not know Claude's banner


def test_provider_names_are_case_insensitive() -> None:
    assert kind_of("5-hour limit reached ∙ resets 5am", "Claude") is QUOTA


def test_quota_outranks_rate_in_one_message() -> None:
    text = "429 Too Many Requests: You've hit your usage limit. Try again at 3pm."
    assert kind_of(text, "codex") is QUOTA


def test_short_quota_is_a_rate() -> None:
    text = "Quota exceeded for metric: generate_content_free_tier_requests. Please retry in 25s."
    found = detect(text, "gemini", now=NOW)
    assert found is not None and found.kind is RATE and found.retry_after == 25
    long = "Quota exceeded for metric: generate_content_free_tier_requests. Retry in 2 hours."
    assert kind_of(long, "gemini") is QUOTA
    assert kind_of("Quota exceeded. Try again at 5pm.", "gemini") is QUOTA  # absolute: stays


def test_result_fields() -> None:
    found = detect("You've hit your weekly limit · resets Sep 15 at 7pm", "claude", now=NOW)
    assert found == RateLimit(
        provider="claude",
        kind=QUOTA,
        reset_at=datetime(2027, 9, 15, 19, tzinfo=UTC),
        matched="You've hit your weekly limit",
        retry_after=None,
    )
    relative = detect("Rate limit reached. Please try again in 3s.", "opencode", now=NOW)
    assert relative is not None
    assert relative.reset_at == NOW + timedelta(seconds=3) and relative.retry_after == 3
    assert detect("Rate limit reached", None, now=NOW) == RateLimit(
        None, RATE, None, "Rate limit reached"
    )


def test_reset_uses_tz_for_clock_times() -> None:
    found = detect("Limits will reset at 9:30 AM.", "claude", now=NOW, tz="America/New_York")
    assert found is not None
    assert found.reset_at == datetime(2026, 11, 26, 14, 30, tzinfo=UTC)


def test_unknown_tz_raises_when_something_matched() -> None:
    with pytest.raises(ValueError, match="Nowhere/Land"):
        detect("Rate limit reached", now=NOW, tz="Nowhere/Land")


def test_matched_is_capped() -> None:
    text = "Quota exceeded for quota metric " + "x " * 400 + " per day"
    found = detect(text, "gemini", now=NOW)
    assert found is not None and len(found.matched) <= 500


def test_multiline_text() -> None:
    text = 'Error: OpenAI API error (429): {"message":"Upstream\n request failed: Rate limit\nexceeded"}'
    assert kind_of(text, "opencode") is RATE


# ---------------------------------------------------------------------------------------------
# JSON lines


def line(obj: dict[str, Any]) -> str:
    return json.dumps(obj)


def test_claude_rate_limit_event() -> None:
    def event(status: str) -> str:
        info = {"status": status, "resetsAt": 1784079000, "rateLimitType": "five_hour"}
        return line({"type": "rate_limit_event", "rate_limit_info": info})

    rejected = detect(event("rejected"), "claude", now=NOW)
    assert rejected is not None and rejected.kind is QUOTA
    assert rejected.reset_at == datetime.fromtimestamp(1784079000, UTC)
    warning = detect(event("allowed_warning"), "claude", now=NOW)
    assert warning is not None and warning.kind is NOTICE
    assert warning.reset_at == datetime.fromtimestamp(1784079000, UTC)
    assert detect(event("allowed"), "claude", now=NOW) is None
    assert detect(event("something_new"), "claude", now=NOW) is None


def test_claude_api_retry() -> None:
    def retry(status: int, error: str) -> str:
        return line({"type": "system", "subtype": "api_retry", "attempt": 1, "max_retries": 2,
                     "retry_delay_ms": 3000, "error_status": status, "error": error})  # fmt: skip

    found = detect(retry(429, "rate_limit"), "claude", now=NOW)
    assert found is not None and found.kind is RATE
    assert found.retry_after == 3 and found.reset_at == NOW + timedelta(seconds=3)
    assert kind_of(retry(529, "overloaded"), "claude") is OVERLOADED
    assert kind_of(retry(503, "server_error"), "claude") is OVERLOADED
    assert kind_of(retry(500, "server_error"), "claude") is None  # a retry, not a limit


def test_claude_assistant_and_result() -> None:
    text = "API Error: Request rejected (429) · This request would exceed the rate limit."
    assistant = {"type": "assistant", "message": {"content": [{"type": "text", "text": text}]},
                 "error": "rate_limit"}  # fmt: skip
    assert kind_of(line(assistant), "claude") is RATE
    result = {"type": "result", "subtype": "success", "is_error": True, "api_error_status": 429,
              "result": text}  # fmt: skip
    assert kind_of(line(result), "claude") is RATE
    usage = {"type": "result", "subtype": "success", "is_error": True,
             "result": "Claude AI usage limit reached|1760000000"}  # fmt: skip
    found = detect(line(usage), "claude", now=NOW)
    assert found is not None and found.kind is QUOTA
    assert found.reset_at == datetime.fromtimestamp(1760000000, UTC)
    overloaded = {"type": "result", "subtype": "success", "is_error": True,
                  "api_error_status": 529, "result": "API Error"}  # fmt: skip
    assert kind_of(line(overloaded), "claude") is OVERLOADED


def test_model_and_tool_words_are_not_limits() -> None:
    words = "The API returned 429 Too Many Requests: rate limit exceeded, quota exceeded."
    quiet: list[dict[str, Any]] = [
        {"type": "assistant", "message": {"content": [{"type": "text", "text": words}]}},
        {"type": "user", "message": {"content": [{"type": "tool_result", "content": words}]}},
        {"type": "result", "subtype": "success", "is_error": False, "result": words},
        {"type": "item.completed", "item": {"type": "agent_message", "text": words}},
        {"type": "item.completed",
         "item": {"type": "command_execution", "aggregated_output": words}},
        {"type": "message", "role": "assistant", "content": words, "delta": True},
        {"type": "tool_result", "status": "success", "output": words},
        {"type": "result", "status": "success", "stats": {}},
        {"type": "text", "part": {"type": "text", "text": words}},
        {"type": "tool_use", "part": {"state": {"output": words}}},
        {"session_id": "x", "response": words, "stats": {}},
        {"type": "system", "subtype": "init", "slash_commands": ["rate-limit-options"]},
    ]  # fmt: skip
    for obj in quiet:
        assert detect(line(obj), None, now=NOW) is None, obj


def test_unknown_json_types_are_searched_whole() -> None:
    assert kind_of(line({"type": "new_kind", "detail": "Rate limit reached"})) is RATE


def test_codex_events() -> None:
    message = "You've hit your usage limit. Upgrade to Pro or try again at 7:09 PM."
    assert kind_of(line({"type": "turn.failed", "error": {"message": message}}), "codex") is QUOTA
    assert kind_of(line({"type": "error", "message": message}), "codex") is QUOTA
    item = {"type": "item.completed", "item": {"type": "error", "message": "Rate limit reached"}}
    assert kind_of(line(item), "codex") is RATE


def test_gemini_results() -> None:
    err = {
        "type": "result",
        "status": "error",
        "error": {"type": "unknown", "message": "[API Error: Resource has been exhausted]"},
    }
    assert kind_of(line(err), "gemini") is RATE
    daily = {
        "type": "error",
        "severity": "error",
        "message": "You have reached your daily gemini-2.5-pro quota limit.",
    }
    assert kind_of(line(daily), "gemini") is QUOTA
    json_format = {"session_id": "s", "error": {"type": "Error", "message": "x", "code": 429}}
    assert kind_of(line(json_format), "gemini") is RATE  # stated by the status alone
    auth = {"session_id": "s", "error": {"type": "Error", "message": "bad key", "code": 401}}
    assert kind_of(line(auth), "gemini") is None  # fmt: skip


def test_opencode_error_events() -> None:
    def error(status: int | None, message: str, headers: dict[str, str] | None = None) -> str:
        data: dict[str, Any] = {"message": message, "isRetryable": True}
        if status is not None:
            data["statusCode"] = status
        if headers is not None:
            data["responseHeaders"] = headers
        return line({"type": "error", "error": {"name": "APIError", "data": data}})

    found = detect(error(429, "Slow down", {"retry-after": "7"}), "opencode", now=NOW)
    assert found is not None and found.kind is RATE and found.retry_after == 7
    assert kind_of(error(503, "Service down"), "opencode") is OVERLOADED
    assert kind_of(error(429, "Monthly usage limit reached"), "opencode") is QUOTA
    assert kind_of(error(None, "Cannot connect to API"), "opencode") is None
    assert kind_of(error(401, "Incorrect API key provided"), "opencode") is None


def test_stream_event_errors() -> None:
    obj = {
        "type": "stream_event",
        "event": {"type": "error", "error": {"type": "overloaded_error", "message": "x"}},
    }
    assert kind_of(line(obj), "claude") is OVERLOADED


def test_broken_json_falls_back_to_text() -> None:
    assert kind_of('{"type":"error","message":"Rate limit\nreached", ', "opencode") is RATE
    assert kind_of('{"type": "error", "message": "Rate limit reached"', "opencode") is RATE


# ---------------------------------------------------------------------------------------------
# The real CLI outputs


def lines_of(name: str) -> list[str]:
    return (STREAMS / name).read_text().splitlines()


@pytest.mark.parametrize(
    ("name", "kind", "reset"),
    [
        ("claude-2.1.197-rate-limited-429.jsonl", RATE, NOW + timedelta(seconds=3)),
        ("codex-0.169.0-rate-limited-429.jsonl", RATE, None),
        ("codex-0.169.0-rate-limited-429-no-retry-after.jsonl", RATE, None),
        ("codex-0.169.0-rate-limited-429-insufficient-quota.jsonl", QUOTA, None),
        ("codex-0.169.0-rate-limited-429-usage-limit.jsonl", QUOTA,
         datetime(2026, 11, 25, 19, 9, tzinfo=UTC)),
        ("gemini-0.61.0-rate-limited-429.jsonl", RATE, None),
        ("gemini-0.61.0-rate-limited-429.stderr.txt", RATE, None),
        ("gemini-0.61.0-rate-limited-429-json-format.stderr.txt", RATE, None),
        ("gemini-0.61.0-rate-limited-429-default-retries.stderr.txt", RATE, None),
        ("opencode-1.18.33-rate-limited-429.jsonl", RATE, NOW + timedelta(seconds=3)),
        ("opencode-1.18.33-rate-limited-429-no-retry-after.jsonl", RATE, NOW + timedelta(seconds=3)),
        ("opencode-1.18.33-rate-limited-429-print-logs.stderr.txt", RATE,
         NOW + timedelta(seconds=3)),
        ("peers/codex-6.jsonl", QUOTA, datetime(2026, 11, 26, 12, 16, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_rate_limited_streams(name: str, kind: LimitKind, reset: datetime | None) -> None:
    provider = Path(name).name.split("-")[0]
    found = [r for r in (detect(x, provider, now=NOW) for x in lines_of(name)) if r]
    assert found, name
    assert {r.kind for r in found} == {kind}
    assert found[0].reset_at == reset
    assert all(r.provider == provider for r in found)


QUIET_STREAMS = sorted(
    p.relative_to(STREAMS).as_posix()
    for p in [*STREAMS.glob("*"), *STREAMS.glob("peers/*")]
    if p.is_file()
    and p.suffix != ".md"
    and "rate-limited" not in p.name
    and p.name != "codex-6.jsonl"
)


@pytest.mark.parametrize("name", QUIET_STREAMS)
def test_other_streams_have_no_limit(name: str) -> None:
    provider = Path(name).name.split("-")[0]
    for text in lines_of(name):
        assert detect(text, provider, now=NOW) is None, text
        assert detect(text, None, now=NOW) is None, text


def test_quiet_streams_cover_every_provider() -> None:
    assert len(QUIET_STREAMS) >= 30
    assert {Path(n).name.split("-")[0] for n in QUIET_STREAMS} >= {
        "claude",
        "codex",
        "gemini",
        "opencode",
    }


# ---------------------------------------------------------------------------------------------
# Plugin patterns


def test_plugin_patterns_for_their_provider() -> None:
    slow = Pattern(r"\bslow down, cowboy\b", LimitKind.RATE, name="cowboy")
    patterns = {"mycli": [slow]}
    found = detect("Slow down, cowboy! Try again in 2 min.", "mycli", now=NOW, patterns=patterns)
    assert found is not None and found.kind is RATE
    assert found.matched == "Slow down, cowboy" and found.retry_after == 120
    assert detect("Slow down, cowboy!", "other", now=NOW, patterns=patterns) is None
    assert detect("Slow down, cowboy!", "mycli", now=NOW) is None
    assert detect("Slow down, cowboy!", None, now=NOW, patterns=patterns) is not None


def test_plugin_provider_keys_ignore_case() -> None:
    patterns = {"MyCLI": [Pattern("slow down", LimitKind.RATE)]}
    assert kind_of("slow down", "mycli", patterns=patterns) is RATE


def test_star_patterns_apply_to_every_provider() -> None:
    patterns = {"*": [Pattern(r"credit balance is too low", LimitKind.QUOTA)]}
    for provider in ("claude", "codex", "mycli", None):
        assert kind_of("Credit balance is too low", provider, patterns=patterns) is QUOTA


def test_plugin_patterns_come_before_builtins() -> None:
    patterns = {"claude": [Pattern("rate limit reached", LimitKind.QUOTA)]}
    assert kind_of("API Error: Rate limit reached", "claude") is RATE
    assert kind_of("API Error: Rate limit reached", "claude", patterns=patterns) is QUOTA


def test_plugin_quota_is_not_shortened() -> None:
    patterns = {"x": [Pattern("out of juice", LimitKind.QUOTA)]}
    assert kind_of("out of juice, retry in 10s", "x", patterns=patterns) is QUOTA


def test_plugin_pattern_keywords_gate_the_search() -> None:
    gated = Pattern(re.compile("halt"), LimitKind.RATE, keywords=("THROTTLE",))
    assert gated.keywords == ("throttle",)
    assert kind_of("halt: throttled", "x", patterns={"x": [gated]}) is RATE
    assert kind_of("halt", "x", patterns={"x": [gated]}) is None


def test_plugin_patterns_must_be_patterns() -> None:
    with pytest.raises(TypeError, match="Pattern"):
        detect("anything", "x", patterns={"x": ["rate limit"]})  # type: ignore[list-item]


def test_pattern_from_string_ignores_case() -> None:
    pattern = Pattern("Slow Down", "rate")
    assert pattern.kind is RATE and pattern.regex.search("SLOW DOWN")
    compiled = Pattern(re.compile("Slow Down"), LimitKind.RATE)
    assert compiled.regex.search("slow down") is None


# ---------------------------------------------------------------------------------------------
# Speed guards and robustness

TYPICAL = line({"type": "assistant", "message": {"id": "msg_01", "type": "message",
    "role": "assistant", "model": "claude-sonnet-5", "content": [{"type": "text",
    "text": "hello from fake, here is some more text about the code we are writing today"}],
    "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}},
    "session_id": "84ae9d8e-e4dc-40e8-bcbf-949b690a4115",
    "uuid": "8f42cdc1-467c-498c-b7df-f17b3db6c780"})  # fmt: skip


def test_ordinary_lines_are_rejected_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> object:
        raise AssertionError("json.loads ran on an ordinary line")

    assert not might_match(TYPICAL)
    monkeypatch.setattr("agented_core.ratelimit._detect.json.loads", boom)
    assert detect(TYPICAL, "claude") is None
    for pattern in [p for table in TABLES.values() for p in table] + list(GENERIC):
        assert pattern.regex.search(TYPICAL) is None  # and no pattern would have matched


BUILTIN = [p for table in TABLES.values() for p in table] + list(GENERIC)


@pytest.mark.parametrize("pattern", BUILTIN, ids=[p.name for p in BUILTIN])
@settings(max_examples=25, suppress_health_check=list(HealthCheck), deadline=None)
@given(data=st.data())
def test_prefilter_never_hides_a_builtin_match(pattern: Pattern, data: st.DataObject) -> None:
    text = data.draw(st.from_regex(pattern.regex))
    assert might_match(text), text


def test_builtin_pattern_names_are_unique() -> None:
    names = [p.name for p in BUILTIN]
    assert all(names) and len(names) == len(set(names))


@settings(max_examples=500)
@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    found = detect(text, None, now=NOW)
    assert found is None or isinstance(found.kind, LimitKind)


WORDS = ["rate limit", " reached", "quota", " exceeded", "429", "529", "503", "overloaded",
         "usage limit", "resets ", "try again in ", "at ", "5pm", "|1760000000", "{", "}", '"',
         ":", ",", "type", "error", "result", "rate_limit_event", "status", "rejected", "\n",
         "Too Many Requests", "RESOURCE_EXHAUSTED", " (Europe/Berlin)", "99999999999 days", "∙"]  # fmt: skip


@settings(max_examples=500)
@given(st.lists(st.sampled_from(WORDS), max_size=15).map("".join))
def test_never_raises_on_near_misses(text: str) -> None:
    found = detect(text, "claude", now=NOW)
    if found is not None:
        assert found.provider == "claude"
        assert isinstance(found.kind, LimitKind)
        assert found.matched
        assert found.reset_at is None or found.reset_at.tzinfo is not None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["rejected", "allowed_warning", "api_retry", "rate_limit", 429, "error",
                       "Rate limit reached", "try again in 3s", 1784079000, "text"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "subtype", "error", "message", "status", "rate_limit_info",
                         "resetsAt", "error_status", "retry_delay_ms", "is_error", "result",
                         "api_error_status", "item", "data", "statusCode", "responseHeaders",
                         "content", "event", "code", "errors", "retry-after"]),
        children, max_size=5),
    max_leaves=20,
)  # fmt: skip
TYPES = ["rate_limit_event", "system", "assistant", "result", "error", "turn.failed",
         "item.completed", "stream_event", "user", "init", "unknown"]  # fmt: skip


@settings(max_examples=500)
@given(
    st.sampled_from(TYPES),
    st.dictionaries(
        st.text(max_size=10)
        | st.sampled_from(["error", "message", "rate_limit_info", "result", "event", "item"]),
        json_values,
        max_size=6,
    ),
)
def test_never_raises_on_json_lines(kind: str, body: dict[str, Any]) -> None:
    body["type"] = kind
    found = detect(json.dumps(body), None, now=NOW)
    assert found is None or found.matched
