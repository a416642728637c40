"""GitHub prompt contexts: every fixture payload, sparse payloads and unknown events."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from agented_core.models import GitHubTrigger
from agented_core.run._prompts import render, resolve
from agented_core.triggers._contexts import trigger_shape
from agented_core.triggers._github import build_context

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
FILES = sorted(FIXTURES.glob("*.json"))


def load(name: str) -> tuple[str, Any]:
    """The event name (from the file name) and the payload of a fixture."""
    path = FIXTURES / name
    return path.name.split(".")[0], json.loads(path.read_text())


def test_fixtures_are_present() -> None:
    assert len(FILES) >= 8


def _shape_paths(event: str) -> list[str]:
    # Lists may be empty in a real payload: check down to the list itself.
    return sorted({p.split(".0")[0] for p in trigger_shape(GitHubTrigger(event)).paths()})


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_fixture_yields_every_key_of_its_shape(path: Path) -> None:
    event, payload = load(path.name)
    context = build_context(event, payload, "guid-1")
    assert context["event"] == event
    assert context["delivery"] == "guid-1"
    assert context["payload"] is payload
    assert context["repo"]["full_name"] == payload["repository"]["full_name"]
    assert context["sender"]["login"] == payload["sender"]["login"]
    for dotted in _shape_paths(event):
        resolve(context, dotted)  # raises KeyError if absent
    template = " ".join("{" + p + "}" for p in _shape_paths(event) if p != "payload")
    assert isinstance(render(template, context), str)


def test_pull_request_fields() -> None:
    context = build_context(*load("pull_request.opened.json"), None)
    assert context["action"] == "opened"
    assert context["pr"] == {
        "number": 2,
        "title": "Update the README with new information.",
        "body": "This is a pretty simple change that we need to pull into master.",
        "author": "Codertocat",
        "head_ref": "changes",
        "head_sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        "base_ref": "master",
        "draft": False,
        "labels": ["bug"],
        "html_url": "https://github.com/Codertocat/Hello-World/pull/2",
        "diff_url": "https://github.com/Codertocat/Hello-World/pull/2.diff",
    }
    assert context["repo"] == {
        "owner": "Codertocat",
        "name": "Hello-World",
        "full_name": "Codertocat/Hello-World",
        "default_branch": "master",
        "clone_url": "https://github.com/Codertocat/Hello-World.git",
        "html_url": "https://github.com/Codertocat/Hello-World",
        "private": False,
    }
    assert context["sender"] == {"login": "Codertocat", "type": "User"}


def test_null_pr_body_renders_empty() -> None:
    context = build_context(*load("pull_request.opened.with-null-body.json"), None)
    assert context["pr"]["body"] is None
    assert render("Body:[{pr.body}] [{pr.body|fence}]", context) == ("Body:[] [```untrusted\n```]")


def test_synchronize() -> None:
    context = build_context(*load("pull_request.synchronize.json"), None)
    assert context["action"] == "synchronize"
    assert context["pr"]["head_sha"] == context["payload"]["pull_request"]["head"]["sha"]


def test_tag_push_has_no_branch() -> None:
    context = build_context(*load("push.json"), None)
    assert context["push"] == {
        "ref": "refs/tags/simple-tag",
        "branch": None,
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "0000000000000000000000000000000000000000",
        "commits": [],
        "paths": [],
    }


def test_branch_push_collects_paths_from_every_commit() -> None:
    _, payload = load("push.json")
    payload = copy.deepcopy(payload)
    payload["ref"] = "refs/heads/feature/x"
    payload["commits"] = [
        {
            "id": "a1",
            "message": "one",
            "url": "u1",
            "author": {"name": "Mona", "username": "mona"},
            "added": ["src/new.py"],
            "removed": [],
            "modified": ["README.md"],
        },
        {"id": "b2", "message": "two", "author": {"name": "Hubot"}, "modified": ["src/new.py"]},
    ]
    push = build_context("push", payload, None)["push"]
    assert push["branch"] == "feature/x"
    assert push["paths"] == ["README.md", "src/new.py"]
    assert [c["author"] for c in push["commits"]] == ["mona", "Hubot"]


def test_issue_comment_on_an_issue() -> None:
    context = build_context(*load("issue_comment.created.json"), None)
    assert context["issue"]["number"] == 1
    assert context["issue"]["labels"] == ["bug"]
    assert context["comment"]["author"] == "Codertocat"
    assert context["comment"]["command"] is None
    assert context["pr"] is None
    assert render("{pr.number}|{pr.head_ref}", context) == "|"


def test_issue_comment_on_a_pull_request() -> None:
    _, payload = load("issue_comment.created.json")
    payload = copy.deepcopy(payload)
    payload["issue"]["pull_request"] = {
        "html_url": "https://github.com/Codertocat/Hello-World/pull/1",
        "diff_url": "https://github.com/Codertocat/Hello-World/pull/1.diff",
    }
    payload["comment"]["body"] = "Thanks!\n/review security please"
    context = build_context("issue_comment", payload, None)
    assert context["pr"]["number"] == 1
    assert context["pr"]["diff_url"].endswith("/pull/1.diff")
    assert context["pr"]["head_ref"] is None
    assert context["comment"]["command"] == "/review"


def test_issues_and_workflow_run() -> None:
    issue = build_context(*load("issues.opened.json"), None)["issue"]
    assert issue["author"] == "Codertocat" and issue["number"] == 1
    run = build_context(*load("workflow_run.completed.json"), None)["workflow_run"]
    assert run["conclusion"] == "success"
    assert run["head_branch"] == "master"


def test_ping_has_only_the_common_keys() -> None:
    context = build_context(*load("ping.json"), "d")
    assert context["repo"]["full_name"] == "Octocoders/Hello-World"
    assert set(context) == {"trigger", "event", "action", "delivery", "payload", "repo", "sender"}


@pytest.mark.parametrize("payload", [None, {}, [], "text", 42, {"repository": "x", "sender": 1}])
@pytest.mark.parametrize("event", ["pull_request", "push", "issue_comment", "release", "gollum"])
def test_null_empty_and_odd_payloads_break_nothing(payload: Any, event: str) -> None:
    context = build_context(event, payload, None)
    assert context["payload"] == payload
    assert context["action"] is None
    assert set(context["repo"].values()) == {None}
    assert context["sender"] == {"login": None, "type": None}
    for dotted in _shape_paths(event):
        resolve(context, dotted)
    assert render("{repo.full_name}{sender.login}", context) == ""


def test_unknown_event_keeps_repo_sender_and_payload() -> None:
    _, payload = load("pull_request.opened.json")
    context = build_context("check_suite", payload, None)
    assert context["repo"]["name"] == "Hello-World"
    assert context["sender"]["login"] == "Codertocat"
    assert context["payload"] is payload
    assert "pr" not in context
