"""Context shapes: which keys each trigger provides, and the load-time messages for the rest."""

from __future__ import annotations

import pytest

from agented_core.models import (
    Bot,
    GitHubTrigger,
    ManualTrigger,
    ScheduleTrigger,
    WebhookTrigger,
)
from agented_core.params import Param
from agented_core.run._prompts import check
from agented_core.triggers._contexts import GITHUB_SECTIONS, Leaf, Record, shape_for, trigger_shape

COMMON = ["bot.name", "bot.provider", "execution.id", "trigger", "now"]


def test_every_bot_has_the_common_keys() -> None:
    shape = shape_for(Bot("plain"))
    for path in COMMON:
        assert shape.provides(path), path
    assert not shape.provides("payload")
    assert not shape.provides("params.x")


def test_pull_request_keys() -> None:
    shape = shape_for(Bot("r", triggers=(GitHubTrigger("pull_request"),)))
    for path in [
        "pr.title", "pr.labels.0", "pr.head_sha", "repo.full_name", "sender.type",
        "event", "action", "delivery", "payload.pull_request.user.login",
    ]:  # fmt: skip
        assert shape.provides(path), path
    assert not shape.provides("push.paths")
    assert not shape.provides("comment.body")


@pytest.mark.parametrize(
    ("event", "provided", "absent"),
    [
        ("push", ["push.branch", "push.paths.0", "push.commits.0.message"], ["pr"]),
        ("issue_comment", ["issue.number", "comment.command", "pr.number"], ["review"]),
        ("pull_request_review", ["review.state", "pr.number"], ["comment"]),
        ("release", ["release.tag"], ["pr", "issue"]),
        ("workflow_run", ["workflow_run.conclusion"], ["pr"]),
        ("check_suite", ["repo.name", "sender.login", "payload.check_suite.id"], ["pr"]),
    ],
)
def test_github_event_sections(event: str, provided: list[str], absent: list[str]) -> None:
    shape = trigger_shape(GitHubTrigger(event))
    for path in provided:
        assert shape.provides(path), path
    for path in absent:
        assert not shape.provides(path), path


def test_typo_gets_a_suggestion_and_the_keys_of_its_level() -> None:
    shape = shape_for(Bot("r", triggers=(GitHubTrigger("pull_request"),)))
    pr_keys = ", ".join(sorted(GITHUB_SECTIONS["pr"].fields))
    assert shape.problem("pr.titel") == (
        f"unknown key 'pr.titel' (did you mean 'pr.title'?); keys at 'pr': {pr_keys}"
    )
    assert (shape.problem("rpo.name") or "").startswith(
        "unknown key 'rpo' (did you mean 'repo'?); keys at the top level: action, bot, delivery,"
    )
    plain = shape_for(Bot("plain"))
    assert plain.problem("zzz") == (
        "unknown key 'zzz'; keys at the top level: bot, execution, now, params, trigger"
    )
    assert plain.problem("bot.nam") == (
        "unknown key 'bot.nam' (did you mean 'bot.name'?); "
        "keys at 'bot': account, description, model, name, provider"
    )
    assert plain.problem("params.x") == (
        "unknown key 'params.x'; declare it in the params of a manual trigger; "
        "keys at 'params': none"
    )


def test_lists_leaves_and_foreign_keys_get_clear_messages() -> None:
    shape = shape_for(Bot("p", triggers=(GitHubTrigger("push"),)))
    assert "is a list" in (shape.problem("push.paths.first") or "")
    assert "plain value" in (shape.problem("push.branch.name") or "")
    message = shape.problem("pr.title") or ""
    assert "pull_request" in message and "no trigger of this bot" in message


def test_manual_params_are_declared_plain_values_of_their_type() -> None:
    level = Param("level", "choice", choices=("low", "high"), default="low")
    count = Param("count", "integer", required=False)
    bot = Bot("m", triggers=(ManualTrigger(params=("message", level, count)),))
    shape = shape_for(bot)
    assert shape.provides("params.message") and shape.provides("params.level")
    assert "plain value" in (shape.problem("params.message.any") or "")
    problem = shape.problem("params.mesage") or ""
    assert "did you mean 'params.message'" in problem
    assert "declare it in the params of a manual trigger" in problem
    assert problem.endswith("keys at 'params': count, level, message")
    params = shape.root.fields["params"]
    assert isinstance(params, Record)
    assert {k: v.type for k, v in params.fields.items() if isinstance(v, Leaf)} == {
        "message": "string",
        "level": "string",
        "count": "integer",
    }


def test_several_triggers_provide_the_union() -> None:
    bot = Bot(
        "multi",
        triggers=(
            ScheduleTrigger("0 3 * * *"),
            GitHubTrigger("pull_request"),
            GitHubTrigger("push"),
        ),
    )
    assert check("{pr.number} {push.branch} {repo.name}", shape_for(bot)) == []
    schedule_only = Bot("nightly", triggers=(ScheduleTrigger("0 3 * * *"),))
    assert check("{pr.number}", shape_for(schedule_only)) != []
    assert check("{payload}", shape_for(schedule_only)) != []


def test_generic_webhook_keys() -> None:
    shape = shape_for(Bot("w", triggers=(WebhookTrigger("alerts"),)))
    for path in ["source", "event", "action", "delivery", "payload.alert.labels.0"]:
        assert shape.provides(path), path
    assert not shape.provides("repo")


def test_paths_lists_every_leaf_of_a_section() -> None:
    shape = trigger_shape(GitHubTrigger("pull_request"))
    paths = shape.paths()
    assert {f"pr.{f}" for f in GITHUB_SECTIONS["pr"].fields if f != "labels"} <= set(paths)
    assert "pr.labels.0" in paths and "payload" in paths
