"""Matching GitHub deliveries against triggers, and load-time checks of triggers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core.models import GitHubTrigger
from agented_core.run._prompts import render
from agented_core.triggers._contexts import trigger_shape
from agented_core.triggers._github import build_context, check_trigger, match, with_command

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
FILES = sorted(FIXTURES.glob("*.json"))


def context_of(name: str, **changes: Any) -> dict[str, Any]:
    """The context of a fixture, with top-level payload keys replaced by ``changes``."""
    path = FIXTURES / name
    payload = json.loads(path.read_text())
    payload.update(copy.deepcopy(changes))
    return build_context(path.name.split(".")[0], payload, "d-1")


def comment_context(body: str) -> dict[str, Any]:
    payload = json.loads((FIXTURES / "issue_comment.created.json").read_text())
    payload["comment"]["body"] = body
    return build_context("issue_comment", payload, None)


def push_context(paths: list[str], ref: str = "refs/heads/main") -> dict[str, Any]:
    commits = [{"id": "a", "message": "m", "added": paths, "removed": [], "modified": []}]
    return context_of("push.json", ref=ref, commits=commits)


def test_fixtures_are_present() -> None:
    assert len(FILES) >= 8


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_fixture_matches_its_own_event_only(path: Path) -> None:
    context = context_of(path.name)
    event = context["event"]
    if event == "ping":
        assert match(GitHubTrigger("ping"), context) == "ping deliveries start nothing"
        return
    assert match(GitHubTrigger(event), context) is None
    owner = context["repo"]["owner"]
    assert match(GitHubTrigger(event, repos=(f"{owner.upper()}/*",)), context) is None
    if context["action"]:
        assert match(GitHubTrigger(event, actions=(context["action"],)), context) is None
        assert match(GitHubTrigger(event, actions=("nope",)), context) is not None
    other = "release" if event != "release" else "push"
    assert match(GitHubTrigger(other), context) == f"event {event!r} is not {other!r}"


def test_actions() -> None:
    context = context_of("pull_request.opened.json")
    assert match(GitHubTrigger("pull_request", actions=("opened", "synchronize")), context) is None
    assert match(GitHubTrigger("pull_request", actions=("closed", "reopened")), context) == (
        "action 'opened' not in ['closed', 'reopened']"
    )


def test_bot_senders_are_ignored_by_default() -> None:
    bot = {"login": "dependabot[bot]", "type": "Bot"}
    context = context_of("pull_request.opened.json", sender=bot)
    reason = match(GitHubTrigger("pull_request"), context)
    assert reason is not None and "'dependabot[bot]' is a bot" in reason
    assert match(GitHubTrigger("pull_request", ignore_bots=False), context) is None


def test_repository_globs() -> None:
    context = context_of("pull_request.opened.json")
    assert match(GitHubTrigger("pull_request", repos="codertocat/hello-world"), context) is None
    assert match(GitHubTrigger("pull_request", repos="Codertocat/*"), context) is None
    assert match(GitHubTrigger("pull_request", repos="other/*"), context) == (
        "repository 'Codertocat/Hello-World' matches none of ['other/*']"
    )


def test_branch_globs() -> None:
    context = context_of("pull_request.opened.json")  # base branch: master
    assert match(GitHubTrigger("pull_request", branches=("main", "master")), context) is None
    assert match(GitHubTrigger("pull_request", branches="main"), context) == (
        "branch 'master' matches none of ['main']"
    )
    deep = push_context(["a"], ref="refs/heads/feat/x/y")
    assert match(GitHubTrigger("push", branches="feat/*"), deep) is not None
    assert match(GitHubTrigger("push", branches="feat/**"), deep) is None
    tag = context_of("push.json")
    assert "names no branch" in (match(GitHubTrigger("push", branches="*"), tag) or "")


def test_labels_are_exact_and_case_insensitive() -> None:
    context = context_of("issues.opened.json")
    assert match(GitHubTrigger("issues", labels=("BUG",)), context) is None
    assert match(GitHubTrigger("issues", labels=("enhancement",)), context) == (
        "labels ['bug'] include none of ['enhancement']"
    )


def test_authors() -> None:
    context = context_of("pull_request.opened.json")
    assert match(GitHubTrigger("pull_request", authors=("codertocat",)), context) is None
    assert match(GitHubTrigger("pull_request", authors=("mona",)), context) == (
        "author 'Codertocat' is not one of ['mona']"
    )


@pytest.mark.parametrize(
    ("patterns", "fires"),
    [
        (("src/**",), True),
        (("**.py",), True),
        (("src/pkg/*.py",), True),
        (("*.py",), False),
        (("src/*",), False),
        (("docs/**",), False),
        (("docs/**", "**/mod.py"), True),
    ],
)
def test_changed_path_globs(patterns: tuple[str, ...], fires: bool) -> None:
    context = push_context(["src/pkg/mod.py"])
    assert (match(GitHubTrigger("push", paths=patterns), context) is None) is fires


def test_tag_push_has_no_paths() -> None:
    reason = match(GitHubTrigger("push", paths="**"), context_of("push.json"))
    assert reason == "none of 0 changed paths matches ['**']"


@pytest.mark.parametrize(
    ("body", "fires"),
    [
        ("/review", True),
        ("Looks good.\n  /review security", True),
        ("/REVIEW", True),
        ("please /review", False),
        ("/reviewer", False),
        ("> /review\nquoted only", False),
        ("```\n/review\n```", False),
        ("````\n```\n/review\n````\n", False),
        ("~~~\n/review\n~~~\n/review", True),
        ("", False),
    ],
)
def test_slash_commands_at_the_start_of_a_line(body: str, fires: bool) -> None:
    trigger = GitHubTrigger("issue_comment", commands=("/review",))
    assert (match(trigger, comment_context(body)) is None) is fires


@pytest.mark.parametrize(
    ("body", "fires"),
    [
        ("hey @agented can you look", True),
        ("@Agented", True),
        ("mail me at me@agented.dev", False),
        ("@agented-dev please", False),
        ("> @agented", False),
    ],
)
def test_mentions(body: str, fires: bool) -> None:
    trigger = GitHubTrigger("issue_comment", commands=("@agented",))
    assert (match(trigger, comment_context(body)) is None) is fires


def test_matched_command_goes_into_the_context() -> None:
    trigger = GitHubTrigger("issue_comment", commands=("/fix", "@agented"))
    context = comment_context("@agented please\n/review too")
    assert context["comment"]["command"] == "/review"
    assert match(trigger, context) is None
    updated = with_command(trigger, context)
    assert updated["comment"]["command"] == "@agented"
    assert context["comment"]["command"] == "/review"  # the shared context is unchanged


def test_null_comment_body_breaks_nothing() -> None:
    payload = json.loads((FIXTURES / "issue_comment.created.json").read_text())
    payload["comment"]["body"] = None
    context = build_context("issue_comment", payload, None)
    reason = match(GitHubTrigger("issue_comment", commands="/review"), context)
    assert reason == "no command ['/review'] in the comment"


def test_one_delivery_can_fire_several_triggers() -> None:
    context = context_of("pull_request.opened.json")
    triggers = [
        GitHubTrigger("pull_request", actions="opened"),
        GitHubTrigger("pull_request", labels="bug"),
        GitHubTrigger("pull_request", actions="closed"),
        GitHubTrigger("push"),
    ]
    assert [match(t, context) is None for t in triggers] == [True, True, False, False]


@pytest.mark.parametrize(
    "payload", [None, {}, [], "x", {"action": 3, "sender": {"type": "Bot"}, "repository": []}]
)
def test_sparse_payloads_give_reasons_not_errors(payload: Any) -> None:
    context = build_context("pull_request", payload, None)
    trigger = GitHubTrigger(
        "pull_request", actions="opened", repos="a/*", branches="main", labels="x", authors="y"
    )
    assert isinstance(match(trigger, context), str)
    assert isinstance(match(GitHubTrigger("pull_request", ignore_bots=False), context), type(None))


def test_check_trigger_accepts_sound_triggers() -> None:
    assert check_trigger(GitHubTrigger("pull_request", actions="opened", branches="main")) == []
    assert check_trigger(GitHubTrigger("push", paths=("src/**",), branches="main")) == []
    assert check_trigger(GitHubTrigger("issue_comment", commands=("/review", "@bot"))) == []
    assert check_trigger(GitHubTrigger("check_suite")) == []


def test_paths_on_pull_requests_are_accepted_at_load() -> None:
    assert check_trigger(GitHubTrigger("pull_request", paths="src/**")) == []


@pytest.mark.parametrize(
    ("trigger", "needle"),
    [
        (GitHubTrigger("ping"), "ping deliveries start nothing"),
        (GitHubTrigger("push", actions="created"), "carry no action"),
        (GitHubTrigger("issues", branches="main"), "name no branch"),
        (GitHubTrigger("push", labels="bug"), "carry no labels"),
        (GitHubTrigger("push", commands="/review"), "carry no comment text"),
        (GitHubTrigger("issue_comment", commands="review"), "neither a slash command"),
        (GitHubTrigger("release", paths="x"), "'paths' works with push and pull request"),
        (GitHubTrigger("Pull Request"), "not a GitHub event name"),
        (GitHubTrigger("push", branches=("",)), "'branches' contains an empty string"),
    ],
)
def test_check_trigger_problems(trigger: GitHubTrigger, needle: str) -> None:
    problems = check_trigger(trigger)
    assert any(needle in p for p in problems), problems


KEYS = ["action", "repository", "sender", "pull_request", "issue", "comment", "review", "ref",
        "commits", "labels", "name", "login", "type", "body", "base", "head", "user", "added",
        "full_name", "pull_request"]  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(
    payload=json_values,
    event=st.sampled_from(["pull_request", "push", "issue_comment", "issues", "workflow_run"]),
)
def test_arbitrary_payloads_give_a_context_and_a_verdict(payload: Any, event: str) -> None:
    context = build_context(event, payload, None)
    full = GitHubTrigger(
        event,
        actions="opened",
        repos="*/*",
        branches="**",
        labels="bug",
        authors="mona",
        paths="**" if event == "push" else (),
        commands="/review",
    )
    for trigger in (GitHubTrigger(event), full):
        verdict = match(trigger, context)
        assert verdict is None or isinstance(verdict, str)
    paths = trigger_shape(GitHubTrigger(event)).paths()
    render(" ".join("{" + p + "}" for p in paths), context, missing="empty")
