"""The shared corpus of real rate-limit messages (fixtures/ratelimit), written by others.

Every positive is detected with a sensible kind, no negative is detected, and every stated
``reset_hint`` is parsed to the right instant, both alone and inside its message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agented_core.models import ErrorKind
from agented_core.ratelimit import AttemptOutcome, LimitKind, classify, detect, parse_reset

CORPUS = Path(__file__).parent / "fixtures" / "ratelimit"
NOW = datetime(2026, 7, 1, 10, 15, tzinfo=UTC)
Q, R, OV, N = LimitKind.QUOTA, LimitKind.RATE, LimitKind.OVERLOADED, LimitKind.NOTICE


def rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (CORPUS / name).read_text().splitlines() if x.strip()]


POSITIVES = rows("positives.jsonl")
NEGATIVES = rows("negatives.jsonl")

# The kind each positive should get, in file order, with the start of its text as a guard.
EXPECTED_KINDS: list[tuple[str, LimitKind]] = [
    ("Unexpected error: litellm.RateLimitError", R),  # Vertex 429 RESOURCE_EXHAUSTED
    ("Claude AI usage limit reached|1755615600", Q),
    ("Error: 429 {", R),
    ("Claude AI usage limit reached|1748268000", Q),
    ("Claude AI usage limit reached|1753441200", Q),
    ("Claude AI usage limit reached|1752001200", Q),
    ("You\u2019ve hit your limit for Claude messages", Q),
    ("5-hour limit reached ∙ resets 5am", Q),
    ("5-hour limit reached ∙ resets 12pm", Q),
    (" ⎿  Claude usage limit reached", Q),
    ("API Error: 529 {", OV),
    ("API Error: 529 Overloaded", OV),
    ("⏺ Agent", OV),
    ("Error: 529 {", OV),
    ("You've hit your limit · resets 11pm", Q),
    ("You've hit your weekly limit", Q),
    ("You've hit your session limit", Q),
    ("You've hit your weekly limit · resets 4am", Q),
    ("You've hit your usage limit.", Q),
    ("Claude Opus 4 limit reached, now using Sonnet 4", N),  # the CLI carried on
    ("API Error: Server is temporarily limiting requests (not your usage limit) · Rate", OV),
    ("API Error: Server is temporarily limiting requests (not your usage limit) · Too", OV),
    ("API Error: Request rejected (429) · Rate limited", R),
    ("API Error: Request rejected (429) · Upstream", R),
    ("API Error (429 {", R),
    ("⎿  API Error: Rate limit reached", R),
    ("Weekly limit reached ∙ resets 5am", Q),
    ("API Error: Rate limit reached", R),  # claudian: generic patterns
    ("API Request Failed", OV),  # cline: generic patterns
    ("You've hit your usage limit. Try again in 4 days", Q),
    ("■ You've hit your usage limit. Upgrade to Pro", Q),
    ("You've hit your usage limit. Upgrade your plan", Q),
    ("exceeded retry limit, last status: 429 Too Many Requests, request id", R),
    ("exceeded retry limit, last status: 429 Too Many Requests", R),
    ("Quota exceeded. Check your plan", Q),
    ("Codex stream error: Quota exceeded", Q),
    ("⚠️ Insufficient quota", Q),
    ("You've hit your usage limit. Upgrade to Plus", Q),
    ("■ You've hit your usage limit. Upgrade to Pro", Q),
    ("[2025-11-12T11:47:04.639Z] [INFO]", Q),
    ("✕ [API Error: [{", R),  # RESOURCE_EXHAUSTED, reason rateLimitExceeded
    ("✕ [API Error: {", R),
    ("[API Error: Resource has been exhausted", R),
    ('✕ [API Error: [{\n    "error": {\n      "code": 429,\n      "message": "Quota', Q),
    ("⚡ You have reached your daily gemini-2.5-pro quota limit.\n", Q),
    ("\u2139⚡ You have reached your daily", Q),
    ("You exceeded your current quota", Q),
    ("│ Usage limit reached for all Pro models.", Q),
    ("✕ [API Error: You have exhausted your capacity", Q),
    ("        '* Quota exceeded for metric", R),  # a quota, but "Please retry in 25s": per-minute
    ("anthropic.api.ApiException", R),
    ("Error: OpenAI API error (429)", R),
    ("You have exceeded the request rate limit", R),
    ('{"type":"error","sequence_number":2', R),
    ("│\n└  ✖ Error: Request failed with status code 429", R),
    ("23:39:12 - openhands:ERROR", R),
]


def test_expectations_follow_the_corpus() -> None:
    assert len(POSITIVES) == len(EXPECTED_KINDS)
    for row, (start, _) in zip(POSITIVES, EXPECTED_KINDS, strict=True):
        assert row["text"].startswith(start), (start, row["text"][:80])


@pytest.mark.parametrize(
    ("row", "kind"),
    list(zip(POSITIVES, [k for _, k in EXPECTED_KINDS], strict=True)),
    ids=[f"{i}-{r['provider']}" for i, r in enumerate(POSITIVES)],
)
def test_positive_detected(row: dict[str, Any], kind: LimitKind) -> None:
    for provider in (row["provider"], None):
        found = detect(row["text"], provider, now=NOW)
        assert found is not None, provider
        assert found.kind is kind, provider
        assert found.matched and found.matched in row["text"]


@pytest.mark.parametrize(
    "row", NEGATIVES, ids=[f"{i}-{r['kind']}" for i, r in enumerate(NEGATIVES)]
)
def test_negative_not_detected(row: dict[str, Any]) -> None:
    for provider in (row["provider"], None, "claude", "codex", "gemini", "opencode", "generic"):
        assert detect(row["text"], provider, now=NOW) is None, provider


def _at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, zone: str = "UTC"
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _epoch(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


# now = Wednesday 2026-07-01 10:15 UTC; clock times without a zone are UTC
EXPECTED_RESETS: dict[str, datetime] = {
    "1755615600": _epoch(1755615600),  # past: returned as stated
    "1748268000": _epoch(1748268000),
    "1753441200": _epoch(1753441200),
    "1752001200": _epoch(1752001200),
    "9:30 AM": _at(2026, 7, 2, 9, 30),  # past today: tomorrow
    "5am": _at(2026, 7, 2, 5),
    "12pm": _at(2026, 7, 1, 12),
    "9am (America/Chicago)": _at(2026, 7, 1, 9, zone="America/Chicago"),
    "11pm (America/Anchorage)": _at(2026, 7, 1, 23, zone="America/Anchorage"),
    "Sep 15 at 7pm": _at(2026, 9, 15, 19),
    "3pm (America/Bogota)": _at(2026, 7, 1, 15, zone="America/Bogota"),
    "4am (Europe/Madrid)": _at(2026, 7, 2, 4, zone="Europe/Madrid"),  # 12:15 there: tomorrow
    "2892 seconds": NOW + timedelta(seconds=2892),
    "4 days 20 hours 9 minutes": NOW + timedelta(days=4, hours=20, minutes=9),
    "4 days 6 hours 37 minutes": NOW + timedelta(days=4, hours=6, minutes=37),
    "10 de jul. de 2026, 11:52": _at(2026, 7, 10, 11, 52),
    "Jul 5th, 2026 8:19 PM": _at(2026, 7, 5, 20, 19),
    "8 hours 30 minutes": NOW + timedelta(hours=8, minutes=30),
    "12:16 PM": _at(2026, 7, 1, 12, 16),
    "21h39m57s": NOW + timedelta(hours=21, minutes=39, seconds=57),
    "25.465784708s": NOW + timedelta(seconds=25.465784708),
    "11.254s": NOW + timedelta(seconds=11.254),
}

HINTED = [r for r in POSITIVES if r["reset_hint"]]


def test_every_hint_has_an_expectation() -> None:
    assert {r["reset_hint"] for r in HINTED} == set(EXPECTED_RESETS)


@pytest.mark.parametrize("row", HINTED, ids=[r["reset_hint"] for r in HINTED])
def test_reset_hint_parsed(row: dict[str, Any]) -> None:
    expected = EXPECTED_RESETS[row["reset_hint"]]
    assert parse_reset(row["reset_hint"], now=NOW) == expected
    found = detect(row["text"], row["provider"], now=NOW)
    assert found is not None and found.reset_at == expected


@pytest.mark.parametrize(
    "row", [r for r in POSITIVES if not r["reset_hint"]], ids=lambda r: r["text"][:30]
)
def test_no_hint_no_reset(row: dict[str, Any]) -> None:
    found = detect(row["text"], row["provider"], now=NOW)
    assert found is not None and found.reset_at is None and found.retry_after is None


def test_relative_hints_give_retry_after() -> None:
    found = detect(POSITIVES[24]["text"], "claude", now=NOW)
    assert found is not None and found.retry_after == 2892


# The negatives carry the kind of error they really are; classify should agree.
NEGATIVE_ERROR_KINDS: dict[str, set[ErrorKind]] = {
    "auth": {ErrorKind.AUTH},
    "auth/keychain": {ErrorKind.AUTH},
    "network": {ErrorKind.NETWORK},
    "network/timeout": {ErrorKind.NETWORK},
    "network/stream": {ErrorKind.NETWORK},
    "bad-request": {ErrorKind.BAD_REQUEST},
    "invalid-model": {ErrorKind.BAD_REQUEST},
    "context-window": {ErrorKind.CONTEXT},
    "server": {ErrorKind.NETWORK, ErrorKind.PROVIDER},  # "stream disconnected" after a 500
}


@pytest.mark.parametrize(
    "row", NEGATIVES, ids=[f"{i}-{r['kind']}" for i, r in enumerate(NEGATIVES)]
)
def test_negatives_classify_as_their_kind(row: dict[str, Any]) -> None:
    outcome = AttemptOutcome(
        provider=row["provider"], exit_code=1, result_ok=False, errors=(row["text"],)
    )
    assert classify(outcome) in NEGATIVE_ERROR_KINDS.get(row["kind"], {ErrorKind.PROVIDER})


@pytest.mark.parametrize("row", POSITIVES, ids=[f"{i}" for i in range(len(POSITIVES))])
def test_positives_classify_as_their_limit(row: dict[str, Any]) -> None:
    found = detect(row["text"], row["provider"], now=NOW)
    assert found is not None
    outcome = AttemptOutcome(
        provider=row["provider"], exit_code=1, result_ok=False, errors=(row["text"],)
    )
    expected = {
        Q: ErrorKind.QUOTA,
        R: ErrorKind.RATE,
        OV: ErrorKind.OVERLOADED,
        N: ErrorKind.PROVIDER,  # a notice is no failure; the run failed for another reason
    }[found.kind]
    assert classify(outcome) is expected
