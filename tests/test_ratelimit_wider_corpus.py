"""The wider corpus (fixtures/ratelimit/wider-*.jsonl): real messages from the issue trackers of
Copilot CLI, Qwen Code, pi, Crush, Kilo Code, Amp and Auggie and of the APIs behind them.

Every positive is detected with the kind its row expects (with its provider's table and with
every table), every stated wait parses to the right instant, a positive without one has no
reset, no negative is detected for any provider, and classification agrees with both.
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
NOW = datetime(2026, 7, 1, 10, 15, tzinfo=UTC)  # a Wednesday; clock times without a zone: UTC


def rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (CORPUS / name).read_text().splitlines() if x.strip()]


POSITIVES = rows("wider-positives.jsonl")
NEGATIVES = rows("wider-negatives.jsonl")
PROVIDERS = ("claude", "codex", "gemini", "opencode", "qwen", "pi", "kilo", "copilot", "crush")


def _at(
    month: int, day: int, hour: int, minute: int = 0, zone: str = "UTC", year: int = 2026
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


EXPECTED_RESETS: dict[str, datetime] = {
    "2 hours": NOW + timedelta(hours=2),
    "15 hours 23 minutes": NOW + timedelta(hours=15, minutes=23),
    "58 hours": NOW + timedelta(hours=58),
    "34s": NOW + timedelta(seconds=34),
    "May 5 at 9pm (America/New_York)": _at(5, 5, 21, zone="America/New_York", year=2027),  # past
    "2:50pm (America/Toronto)": _at(7, 1, 14, 50, zone="America/Toronto"),
    "Dec 18 at 5am (Asia/Riyadh)": _at(12, 18, 5, zone="Asia/Riyadh"),
    "1 seconds": NOW + timedelta(seconds=1),
    "4s": NOW + timedelta(seconds=4),
}

ERROR_OF = {
    "quota": ErrorKind.QUOTA,
    "rate": ErrorKind.RATE,
    "overloaded": ErrorKind.OVERLOADED,
    "notice": ErrorKind.PROVIDER,  # a notice is no failure: the run failed for another reason
}
NEGATIVE_KINDS: dict[str, set[ErrorKind]] = {
    "auth": {ErrorKind.AUTH},
    "network": {ErrorKind.NETWORK},
    "context-window": {ErrorKind.CONTEXT},
    "too-large": {ErrorKind.CONTEXT},
    "provider": {ErrorKind.PROVIDER},
    "other": {ErrorKind.PROVIDER},
}


def test_the_corpus_is_wide_and_cited() -> None:
    assert len(POSITIVES) + len(NEGATIVES) >= 60
    for row in POSITIVES + NEGATIVES:
        assert row["source"].startswith("https://github.com/"), row
    assert {r["provider"] for r in POSITIVES} >= {
        "copilot",
        "qwen",
        "pi",
        "crush",
        "kilo",
        "auggie",
    }
    assert {r["expect"] for r in POSITIVES} == {"quota", "rate", "overloaded", "notice"}


@pytest.mark.parametrize(
    "row", POSITIVES, ids=[f"{i}-{r['provider']}" for i, r in enumerate(POSITIVES)]
)
def test_positive_detected_with_its_kind(row: dict[str, Any]) -> None:
    for provider in (row["provider"], None):
        found = detect(row["text"], provider, now=NOW)
        assert found is not None, provider
        assert found.kind is LimitKind(row["expect"]), (provider, found.matched)
        assert found.matched and found.matched in row["text"]


@pytest.mark.parametrize(
    "row", NEGATIVES, ids=[f"{i}-{r['kind']}" for i, r in enumerate(NEGATIVES)]
)
def test_negative_not_detected(row: dict[str, Any]) -> None:
    for provider in (row["provider"], None, *PROVIDERS):
        assert detect(row["text"], provider, now=NOW) is None, provider


HINTED = [r for r in POSITIVES if r["reset_hint"]]


def test_every_hint_has_an_expectation() -> None:
    assert {r["reset_hint"] for r in HINTED} == set(EXPECTED_RESETS)


@pytest.mark.parametrize("row", HINTED, ids=[r["reset_hint"] for r in HINTED])
def test_reset_hint_parsed_alone_and_in_its_message(row: dict[str, Any]) -> None:
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


@pytest.mark.parametrize("row", POSITIVES, ids=[str(i) for i in range(len(POSITIVES))])
def test_positives_classify_as_their_limit(row: dict[str, Any]) -> None:
    outcome = AttemptOutcome(
        provider=row["provider"], exit_code=1, result_ok=False, errors=(row["text"],)
    )
    assert classify(outcome) is ERROR_OF[row["expect"]]


@pytest.mark.parametrize(
    "row", NEGATIVES, ids=[f"{i}-{r['kind']}" for i, r in enumerate(NEGATIVES)]
)
def test_negatives_classify_as_their_kind(row: dict[str, Any]) -> None:
    outcome = AttemptOutcome(
        provider=row["provider"], exit_code=1, result_ok=False, errors=(row["text"],)
    )
    assert classify(outcome) in NEGATIVE_KINDS[row["kind"]]
