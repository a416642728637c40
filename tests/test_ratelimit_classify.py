"""classify(): an attempt's outcome to an error kind, or success (None)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_core.models import ErrorKind
from agented_core.ratelimit import AttemptOutcome, LimitKind, RateLimit, classify, detect

STREAMS = Path(__file__).parent / "fixtures" / "streams"
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
E = ErrorKind


def limit(kind: LimitKind) -> RateLimit:
    return RateLimit("claude", kind, None, "x")


def outcome_of(
    provider: str, stdout: str | None, stderr: str | None, exit_code: int | None
) -> AttemptOutcome:
    """What a provider's parser would report for a captured run (a stand-in for the plugins)."""
    errors: list[str] = []
    codes: list[str] = []
    statuses: list[int] = []
    limits: list[RateLimit] = []
    result_ok: bool | None = None
    out_lines = (STREAMS / stdout).read_text().splitlines() if stdout else []
    err_text = (STREAMS / stderr).read_text() if stderr else ""
    for text in out_lines + err_text.splitlines():
        found = detect(text, provider, now=NOW)
        if found:
            limits.append(found)
    for text in out_lines:
        try:
            obj: dict[str, Any] = json.loads(text)
        except ValueError:
            continue
        kind = obj.get("type")
        error: Any = obj.get("error")
        if provider == "claude":
            if kind == "assistant" and error:
                codes.append(error)
            if kind == "result":
                result_ok = not obj.get("is_error")
                if obj.get("is_error"):
                    errors.append(obj.get("result") or "")
                if obj.get("api_error_status"):
                    statuses.append(obj["api_error_status"])
        elif provider == "codex":
            if kind == "turn.completed":
                result_ok = True
            elif kind == "turn.failed":
                result_ok = False
                errors.append(error["message"])
            elif kind == "error":
                errors.append(obj["message"])
        elif provider == "gemini":
            if kind == "result":
                result_ok = obj.get("status") == "success"
                if isinstance(error, dict):
                    errors.append(error.get("message", ""))
            elif kind == "error":
                errors.append(obj["message"])
        elif provider == "opencode":
            if kind == "step_finish" and obj["part"].get("reason") != "tool-calls":
                result_ok = True
            elif kind == "error":
                data = error.get("data", {})
                errors.append(data.get("message", ""))
                if "statusCode" in data:
                    statuses.append(data["statusCode"])
    return AttemptOutcome(
        provider=provider,
        exit_code=exit_code,
        result_ok=result_ok,
        errors=tuple(errors),
        rate_limits=tuple(limits),
        stderr=err_text[-4000:],
        status_codes=tuple(statuses),
        error_codes=tuple(codes),
    )


@pytest.mark.parametrize(
    ("provider", "stdout", "stderr", "exit_code", "expected"),
    [
        ("claude", "claude-2.1.197-success.jsonl", None, 0, None),
        ("claude", "claude-2.1.197-rate-limited-429.jsonl", None, 1, E.RATE),
        ("claude", "claude-2.1.197-not-logged-in.jsonl", None, 1, E.AUTH),
        ("claude", "peers/claude-1.jsonl", None, 0, None),
        ("claude", "peers/claude-2.jsonl", None, 0, None),
        ("codex", "codex-0.169.0-success.jsonl", None, 0, None),
        ("codex", "codex-0.169.0-success-minimal-sse.jsonl", None, 0, None),
        ("codex", "codex-0.169.0-rate-limited-429.jsonl", None, 1, E.RATE),
        ("codex", "codex-0.169.0-rate-limited-429-no-retry-after.jsonl", None, 1, E.RATE),
        ("codex", "codex-0.169.0-rate-limited-429-insufficient-quota.jsonl", None, 1, E.QUOTA),
        ("codex", "codex-0.169.0-rate-limited-429-usage-limit.jsonl", None, 1, E.QUOTA),
        ("codex", "codex-0.169.0-unauthorized-401.jsonl", None, 1, E.AUTH),
        ("codex", "codex-0.169.0-missing-env-key.jsonl", None, 1, E.AUTH),
        ("codex", "codex-0.169.0-server-down.jsonl", None, -15, E.NETWORK),  # killed: hangs
        ("codex", None, "codex-0.169.0-offline.txt", -15, E.NETWORK),
        ("codex", "peers/codex-6.jsonl", None, 1, E.QUOTA),
        ("gemini", "gemini-0.61.0-success.jsonl", None, 0, None),
        ("gemini", "gemini-0.61.0-success-auto-model.jsonl", None, 0, None),
        ("gemini", "gemini-0.61.0-missing-finish-reason.jsonl", None, 0, E.PROVIDER),
        ("gemini", "gemini-0.61.0-rate-limited-429.jsonl",
         "gemini-0.61.0-rate-limited-429.stderr.txt", 173, E.RATE),
        ("gemini", None, "gemini-0.61.0-rate-limited-429-json-format.stderr.txt", 173, E.RATE),
        ("gemini", "gemini-0.61.0-rate-limited-429-default-retries.jsonl",
         "gemini-0.61.0-rate-limited-429-default-retries.stderr.txt", -15, E.RATE),
        ("gemini", "gemini-0.61.0-unauthorized-401.jsonl", None, 145, E.AUTH),
        ("gemini", None, "gemini-0.61.0-unauthorized-401-json-format.stderr.txt", 145, E.AUTH),
        ("gemini", "gemini-0.61.0-server-down.jsonl", "gemini-0.61.0-server-down.stderr.txt", 1,
         E.NETWORK),
        ("gemini", None, "gemini-0.61.0-invalid-auth-method.stderr.txt", 41, E.AUTH),
        ("gemini", None, "gemini-0.61.0-invalid-auth-method-json-format.stderr.txt", 41, E.AUTH),
        ("opencode", "opencode-1.18.33-success.jsonl", None, 0, None),
        ("opencode", "opencode-1.18.33-success-minimal-sse.jsonl", None, 0, None),
        ("opencode", "opencode-1.18.33-rate-limited-429.jsonl", None, 1, E.RATE),
        ("opencode", "opencode-1.18.33-rate-limited-429-no-retry-after.jsonl", None, 1, E.RATE),
        ("opencode", "opencode-1.18.33-rate-limited-429-print-logs.jsonl",
         "opencode-1.18.33-rate-limited-429-print-logs.stderr.txt", 1, E.RATE),
        ("opencode", "opencode-1.18.33-unauthorized-401.jsonl", None, 1, E.AUTH),
        ("opencode", "opencode-1.18.33-unauthorized-401-print-logs.jsonl",
         "opencode-1.18.33-unauthorized-401-print-logs.stderr.txt", 1, E.AUTH),
        ("opencode", "opencode-1.18.33-server-down.jsonl", None, 1, E.NETWORK),
    ],
)  # fmt: skip
def test_real_runs(
    provider: str, stdout: str | None, stderr: str | None, exit_code: int, expected: E | None
) -> None:
    assert classify(outcome_of(provider, stdout, stderr, exit_code)) is expected


def test_gemini_exit_code_alone() -> None:
    assert classify(AttemptOutcome(provider="gemini", exit_code=173)) is E.RATE  # 429 % 256
    assert classify(AttemptOutcome(provider="gemini", exit_code=145)) is E.AUTH  # 401 % 256
    assert classify(AttemptOutcome(provider="gemini", exit_code=147)) is E.AUTH  # 403 % 256
    assert classify(AttemptOutcome(provider="gemini", exit_code=247)) is E.OVERLOADED  # 503
    assert classify(AttemptOutcome(provider="gemini", exit_code=41)) is E.AUTH
    assert classify(AttemptOutcome(provider="gemini", exit_code=42)) is E.BAD_REQUEST
    assert classify(AttemptOutcome(provider="gemini", exit_code=55)) is E.LAUNCH
    assert classify(AttemptOutcome(provider="gemini", exit_code=1)) is E.PROVIDER
    # only Gemini means HTTP statuses by its exit codes
    assert classify(AttemptOutcome(provider="codex", exit_code=173)) is E.PROVIDER
    assert classify(AttemptOutcome(provider="Gemini", exit_code=173)) is E.RATE


def test_a_run_that_ended_well_is_success() -> None:
    noisy = AttemptOutcome(
        provider="claude",
        exit_code=0,
        result_ok=True,
        errors=("API Error: 429 rate_limit_error",),
        rate_limits=(limit(LimitKind.RATE), limit(LimitKind.QUOTA)),
        stderr="HTTP 429 Too Many Requests\nInvalid API key",
        status_codes=(429,),
    )
    assert classify(noisy) is None
    shell = AttemptOutcome(exit_code=0, stderr="log line: 429 requests served")
    assert classify(shell) is None  # no result expected: exit 0 is success
    killed_after_result = AttemptOutcome(provider="claude", exit_code=-15, result_ok=True)
    assert classify(killed_after_result) is None
    unknown_exit = AttemptOutcome(provider="claude", exit_code=None, result_ok=True)
    assert classify(unknown_exit) is None


def test_failures_despite_a_result() -> None:
    failed_result = AttemptOutcome(provider="gemini", exit_code=0, result_ok=False)
    assert classify(failed_result) is E.PROVIDER
    exit_after_result = AttemptOutcome(provider="claude", exit_code=1, result_ok=True)
    assert classify(exit_after_result) is E.PROVIDER
    no_result = AttemptOutcome(provider="claude", exit_code=None)
    assert classify(no_result) is E.PROVIDER


def test_rate_limits_decide() -> None:
    for kind, expected in [
        (LimitKind.QUOTA, E.QUOTA),
        (LimitKind.RATE, E.RATE),
        (LimitKind.OVERLOADED, E.OVERLOADED),
        (LimitKind.NOTICE, E.PROVIDER),  # a notice is nothing to act on
    ]:
        outcome = AttemptOutcome(provider="claude", exit_code=1, rate_limits=(limit(kind),))
        assert classify(outcome) is expected, kind


def test_rate_limits_may_be_event_data() -> None:
    data = {"kind": "quota", "provider": "claude", "reset_at": "2026-11-26T00:00:00+00:00"}
    outcome = AttemptOutcome(provider="claude", exit_code=1, rate_limits=[data])
    assert outcome.rate_limits[0].reset_at == datetime(2026, 11, 26, tzinfo=UTC)
    assert classify(outcome) is E.QUOTA


def test_rate_limit_data_needs_a_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        AttemptOutcome(exit_code=1, rate_limits=[{"provider": "claude"}])
    with pytest.raises(ValueError, match="kind"):
        AttemptOutcome(exit_code=1, rate_limits=[{"kind": "slow"}])


def test_priorities() -> None:
    def kind(**kwargs: Any) -> E | None:
        return classify(AttemptOutcome(provider="claude", exit_code=1, **kwargs))

    rate = (limit(LimitKind.RATE),)
    # a retried 429 then a real problem: the problem is the kind
    assert kind(rate_limits=rate, errors=("Invalid API key · Please run /login",)) is E.AUTH
    assert kind(rate_limits=rate, errors=("prompt is too long: 210000 tokens",)) is E.CONTEXT
    assert kind(rate_limits=rate, errors=("API Error: 400 invalid_request_error",)) is E.BAD_REQUEST
    assert kind(rate_limits=rate, errors=("fetch failed",)) is E.RATE
    assert kind(rate_limits=(*rate, limit(LimitKind.QUOTA))) is E.QUOTA
    assert kind(rate_limits=(limit(LimitKind.OVERLOADED),), errors=("ECONNRESET",)) is E.OVERLOADED
    # an auth body that also says invalid_request_error is still auth
    assert kind(errors=('{"type":"invalid_request_error","code":"invalid_api_key"}',)) is E.AUTH


def test_status_and_error_codes() -> None:
    def kind(**kwargs: Any) -> E | None:
        return classify(AttemptOutcome(provider="opencode", exit_code=1, **kwargs))

    assert kind(status_codes=(401,)) is E.AUTH
    assert kind(status_codes=(402,)) is E.QUOTA
    assert kind(status_codes=(413,)) is E.CONTEXT
    assert kind(status_codes=(422,)) is E.BAD_REQUEST
    assert kind(status_codes=(429,)) is E.RATE
    assert kind(status_codes=(529,)) is E.OVERLOADED
    assert kind(status_codes=(502,)) is E.NETWORK
    assert kind(status_codes=(500,)) is E.PROVIDER
    assert kind(status_codes=(599,)) is E.PROVIDER
    assert kind(error_codes=("authentication_failed",)) is E.AUTH
    assert kind(error_codes=("billing_error",)) is E.QUOTA
    assert kind(error_codes=("rate_limit",)) is E.RATE
    assert kind(error_codes=("Overloaded_Error",)) is E.OVERLOADED
    assert kind(error_codes=("context_length_exceeded",)) is E.CONTEXT
    assert kind(error_codes=("network",)) is E.NETWORK  # an ErrorKind a parser decided
    assert kind(error_codes=("INTERNAL",)) is E.PROVIDER  # a CLI's 500, not agented's bug
    assert kind(error_codes=("something_else",)) is E.PROVIDER


def test_launch_and_idle() -> None:
    assert classify(AttemptOutcome(exit_code=None, launch_error="No such file: claude")) is E.LAUNCH
    assert classify(AttemptOutcome(exit_code=127)) is E.LAUNCH
    assert classify(AttemptOutcome(exit_code=126)) is E.LAUNCH
    assert classify(AttemptOutcome(exit_code=-9, idle=True)) is E.IDLE
    # opencode retries 429s silently: the idle watchdog fires, the logs say why
    silent = AttemptOutcome(
        provider="opencode",
        exit_code=-9,
        idle=True,
        stderr='level=ERROR message="stream error" error.error="AI_APICallError: Rate limit '
        'reached for requests. Please try again in 3s."',
    )
    assert classify(silent) is E.RATE


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Credit balance is too low", E.QUOTA),
        ("OAuth token has expired. Please obtain a new token", E.AUTH),
        ("Missing environment variable: `OPENAI_API_KEY`.", E.AUTH),
        ("Error: 403 PERMISSION_DENIED", E.AUTH),
        ("This model's maximum context length is 128000 tokens", E.CONTEXT),
        ("Codex ran out of room in the model's context window.", E.CONTEXT),
        ("The 'gpt-9' model is not supported when using Codex", E.BAD_REQUEST),
        ("connect ECONNREFUSED 127.0.0.1:443", E.NETWORK),
        ("502 Bad Gateway", E.NETWORK),
        ("Something odd happened", E.PROVIDER),
        ("", E.PROVIDER),
    ],
)
def test_error_messages(message: str, expected: E) -> None:
    outcome = AttemptOutcome(provider="claude", exit_code=1, result_ok=False, errors=(message,))
    assert classify(outcome) is expected


def test_outcome_accepts_lists_and_single_strings() -> None:
    outcome = AttemptOutcome(
        exit_code=1, errors=["a"], error_codes="rate_limit", status_codes=[429]
    )
    assert outcome.errors == ("a",) and outcome.error_codes == ("rate_limit",)
    assert outcome.status_codes == (429,)


@given(
    exit_code=st.none() | st.integers(-64, 300),
    result_ok=st.none() | st.booleans(),
    errors=st.lists(st.text(max_size=60), max_size=3),
    stderr=st.text(max_size=200),
    idle=st.booleans(),
    provider=st.sampled_from([None, "claude", "codex", "gemini", "opencode", "shell"]),
)
def test_classify_is_total(
    exit_code: int | None,
    result_ok: bool | None,
    errors: list[str],
    stderr: str,
    idle: bool,
    provider: str | None,
) -> None:
    outcome = AttemptOutcome(
        provider=provider,
        exit_code=exit_code,
        result_ok=result_ok,
        errors=tuple(errors),
        stderr=stderr,
        idle=idle,
    )
    kind = classify(outcome)
    ended_well = (result_ok is True and (exit_code is None or exit_code <= 0)) or (
        result_ok is None and exit_code == 0
    )
    assert (kind is None) == ended_well
    assert kind is not E.INTERNAL
