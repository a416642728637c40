"""Safe outputs and the text posted: the ``agented-review`` block, diff lines, cutting."""

from __future__ import annotations

import json
from typing import Any

import httpx
from agented_github import Review, diff_lines, parse_review, validate_review
from agented_github._calls import _retry_after
from agented_github._render import MAX_CHECK_TEXT, cut
from hypothesis import given
from hypothesis import strategies as st

PATCH = "@@ -10,3 +10,4 @@ def f():\n a\n-b\n+c\n+d\n e"
FILES = [{"filename": "src/a.py", "patch": PATCH}, {"filename": "bin.dat", "patch": None}]


def block(data: Any) -> str:
    return f"Result text.\n\n```agented-review\n{json.dumps(data)}\n```\n"


def test_diff_lines_by_side() -> None:
    assert diff_lines(PATCH) == {"LEFT": {10, 11, 12}, "RIGHT": {10, 11, 12, 13}}
    assert diff_lines(None) == {"LEFT": set(), "RIGHT": set()}


def test_parse_finds_exactly_one_block() -> None:
    assert parse_review("no block") == (None, None)
    assert parse_review(block({"body": "x"}))[0] == {"body": "x"}
    data, why = parse_review(block({}) + block({}))
    assert data is None and why is not None and "exactly one" in why
    data, why = parse_review("```agented-review\n{nope\n```\n")
    assert data is None and why is not None and "not JSON" in why


def test_invalid_comments_are_dropped_with_reasons() -> None:
    data = {
        "event": "APPROVE",
        "body": "ok",
        "comments": [
            {"path": "src/a.py", "line": 12, "side": "RIGHT", "body": "good"},
            {"path": "src/a.py", "line": 11, "side": "LEFT", "body": "removed b"},
            {"path": "src/a.py", "line": 99, "body": "far away"},
            {"path": "other.py", "line": 1, "body": "not changed"},
            {"path": "src/a.py", "line": 12, "body": ""},
            "junk",
        ],
    }
    review = validate_review(data, FILES, ["COMMENT"])
    assert isinstance(review, Review)
    assert review.event == "COMMENT"
    assert [c["line"] for c in review.comments] == [12, 11]
    assert len(review.dropped) == 5
    assert any("APPROVE is not allowed" in d for d in review.dropped)


def test_an_empty_review_is_not_posted() -> None:
    assert isinstance(validate_review({"comments": []}, FILES, ["COMMENT"]), str)
    assert isinstance(validate_review([1, 2], FILES, ["COMMENT"]), str)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "path": st.sampled_from(["src/a.py", "bin.dat", "nope.py"]),
                "line": st.one_of(st.integers(-5, 20), st.text(max_size=3), st.none()),
                "side": st.sampled_from(["LEFT", "RIGHT", "MIDDLE"]),
                "body": st.text(max_size=30),
            }
        ),
        max_size=60,
    ),
    st.sampled_from(["COMMENT", "APPROVE", "REQUEST_CHANGES", "MERGE"]),
)
def test_whatever_the_agent_writes_only_valid_parts_are_kept(
    comments: list[dict[str, Any]], event: str
) -> None:
    review = validate_review(
        {"event": event, "body": "b", "comments": comments}, FILES, ["REQUEST_CHANGES"]
    )
    assert isinstance(review, Review)
    assert review.event in ("COMMENT", "REQUEST_CHANGES")
    lines = diff_lines(PATCH)
    assert len(review.comments) <= 50
    for comment in review.comments:
        assert comment["path"] == "src/a.py" and comment["line"] in lines[comment["side"]]
        assert comment["body"].strip()
    assert len(review.comments) + len(review.dropped) >= len(comments)


@given(st.text(max_size=200), st.integers(100, 300))
def test_cut_keeps_within_the_limit_and_says_so(text: str, limit: int) -> None:
    out = cut(text, limit)
    assert len(out) <= limit or out == text
    if len(text) <= limit:
        assert out == text
    else:
        assert "more characters" in out and out.startswith(text[:10])


def test_cut_at_githubs_check_limit() -> None:
    out = cut("y" * 100_000, MAX_CHECK_TEXT)
    assert len(out) <= MAX_CHECK_TEXT


def response(status: int, headers: dict[str, str], message: str = "") -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"message": message})


def test_rate_limit_waits() -> None:
    assert _retry_after(response(403, {"retry-after": "7"}), 0) == 7.0
    secondary = response(403, {}, "You have exceeded a secondary rate limit")
    assert _retry_after(secondary, 0) == 60.0
    primary = response(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1100"})
    assert _retry_after(primary, 1000) == 100.0
    assert _retry_after(response(429, {"retry-after": "2"}), 0) == 2.0
    assert _retry_after(response(403, {}, "Resource not accessible by integration"), 0) is None
    assert _retry_after(response(500, {}), 0) is None
