"""The filters GitHub triggers gained: ``drafts``, ``author_associations``, ``paths`` on PRs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_core.models import GitHubTrigger
from agented_core.triggers._github import (
    ASSOCIATIONS,
    build_context,
    check_trigger,
    match,
    needs_changed_files,
)

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"


def pr_context(**changes: Any) -> dict[str, Any]:
    payload = json.loads((FIXTURES / "pull_request.opened.json").read_text())
    payload["pull_request"].update(copy.deepcopy(changes))
    return build_context("pull_request", payload, "d-1")


def comment_context(association: str) -> dict[str, Any]:
    payload = json.loads((FIXTURES / "issue_comment.created.json").read_text())
    payload["comment"]["author_association"] = association
    payload["comment"]["body"] = "/review"
    return build_context("issue_comment", payload, None)


def test_drafts_false_skips_draft_pull_requests() -> None:
    trigger = GitHubTrigger("pull_request", drafts=False)
    assert match(trigger, pr_context(draft=False)) is None
    assert match(trigger, pr_context(draft=True)) == "the pull request is a draft (drafts = false)"
    assert match(GitHubTrigger("pull_request"), pr_context(draft=True)) is None


def test_author_associations_of_the_comment_author() -> None:
    trigger = GitHubTrigger(
        "issue_comment", commands="/review", author_associations=("OWNER", "member")
    )
    assert match(trigger, comment_context("MEMBER")) is None
    reason = match(trigger, comment_context("NONE"))
    assert reason is not None and "'NONE'" in reason


@given(st.sampled_from(ASSOCIATIONS), st.sets(st.sampled_from(ASSOCIATIONS), min_size=1))
def test_author_associations_match_exactly_the_listed(have: str, wanted: set[str]) -> None:
    trigger = GitHubTrigger("pull_request", author_associations=tuple(sorted(wanted)))
    fires = match(trigger, pr_context(author_association=have)) is None
    assert fires is (have in wanted)


def test_paths_on_a_pull_request_use_the_changed_files_given() -> None:
    trigger = GitHubTrigger("pull_request", paths="src/**")
    context = pr_context()
    assert needs_changed_files(trigger, context)
    assert match(trigger, context, changed_files=["src/a.py"]) is None
    assert match(trigger, context, changed_files=["docs/a.md"]) is not None
    unknown = match(trigger, context)
    assert unknown is not None and "changed files are unknown" in unknown


def test_no_fetch_for_a_delivery_refused_by_another_filter() -> None:
    trigger = GitHubTrigger("pull_request", paths="src/**", actions="closed")
    assert not needs_changed_files(trigger, pr_context())
    assert not needs_changed_files(GitHubTrigger("pull_request"), pr_context())


@pytest.mark.parametrize(
    ("trigger", "needle"),
    [
        (GitHubTrigger("push", drafts=False), "'drafts' works with"),
        (GitHubTrigger("push", author_associations="OWNER"), "carry no author association"),
        (GitHubTrigger("pull_request", author_associations="OWNR"), "did you mean 'OWNER'"),
        (GitHubTrigger("pull_request", author_associations=("",)), "contains an empty string"),
    ],
)
def test_new_filters_checked_at_load(trigger: GitHubTrigger, needle: str) -> None:
    assert any(needle in p for p in check_trigger(trigger)), check_trigger(trigger)


def test_sound_new_filters_pass_the_check() -> None:
    trigger = GitHubTrigger("pull_request", drafts=False, author_associations="MEMBER")
    assert check_trigger(trigger) == []
