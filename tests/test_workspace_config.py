"""The workspace keys of the config: ``checkout``, ``keep_workspace``, ``checkout_untrusted`` on
bots, ``workspaces_dir`` and ``mirror_ttl_days`` in ``[github]``, and what ``check`` says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_core.config import read_config
from agented_core.errors import ConfigError
from agented_core.models import Checkout, CheckoutKind, KeepWorkspace
from agented_core.plugins import Plugins
from agented_core.validation import validate
from agented_core.workspaces import WorkspaceError
from agented_core.workspaces._targets import safe_ref

AGENTED = str(Path(sys.executable).parent / "agented")


def bot(**keys: object) -> dict[str, object]:
    keys.setdefault("command", ["true"])
    keys.setdefault("on", [{"github": "pull_request", "actions": ["opened"]}])
    return {"bots": {"b": keys}}


def problems(data: dict[str, object]) -> list[str]:
    config = read_config(data)
    return [
        f"{'warning' if p.warning else 'error'}: {p.field}: {p.message}"
        for p in validate(config, Plugins(entry_points=False))
    ]


def test_checkout_values_are_read() -> None:
    cases = {
        "head": Checkout(CheckoutKind.HEAD),
        "merge": Checkout(CheckoutKind.MERGE),
        "none": Checkout(),
    }
    for text, expected in cases.items():
        assert read_config(bot(checkout=text)).bots["b"].checkout == expected
    named = read_config(bot(checkout={"repo": "o/r", "ref": "main"})).bots["b"]
    assert named.checkout == Checkout(CheckoutKind.REF, "o/r", "main")
    config = read_config(
        {
            **bot(keep_workspace="on_failure", checkout_untrusted=True, checkout="head"),
            "github": {"workspaces_dir": "/srv/ws", "mirror_ttl_days": 3},
        }
    )
    assert config.bots["b"].keep_workspace is KeepWorkspace.ON_FAILURE
    assert config.bots["b"].checkout_untrusted is True
    assert (config.github.workspaces_dir, config.github.mirror_ttl_days) == ("/srv/ws", 3)
    default = read_config(bot())
    assert default.bots["b"].checkout == Checkout() and default.github.mirror_ttl_days == 14


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bot(checkout="heads"), "expected 'none', 'head', 'merge' or a table"),
        (bot(checkout={"repo": "o/r", "branch": "x"}), "unknown key 'branch'"),
        (bot(checkout={"ref": "main"}), "needs a 'repo'"),
        (bot(checkout={"repo": "o/r", "ref": ""}), "empty ref"),
        (bot(checkout=3), "expected a string or a table"),
        (bot(keep_workspace="sometimes"), "expected 'never', 'on_failure' or 'always'"),
        (bot(checkout_untrusted="yes"), "expected true or false"),
        ({"github": {"mirror_ttl_days": 0}}, "must be at least 1"),
    ],
)
def test_bad_values_are_clear_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_config(data)


def test_check_refuses_a_checkout_its_triggers_cannot_give() -> None:
    manual = problems(bot(checkout="head", on=[{"manual": True}]))
    assert any(p.startswith("error: checkout:") and "no GitHub trigger" in p for p in manual)
    mixed = problems(bot(checkout="head", on=[{"github": "push"}, {"manual": True}]))
    assert any(p.startswith("warning: checkout:") and "other triggers" in p for p in mixed)
    merge = problems(bot(checkout="merge", on=[{"github": "push"}]))
    assert any(p.startswith("error: on[0]:") and "merge ref" in p for p in merge)
    fine = problems(bot(checkout="merge", on=[{"github": "issue_comment", "commands": ["/go"]}]))
    assert not [p for p in fine if p.startswith("error")]


def test_check_warns_about_untrusted_checkouts_and_keys_without_effect() -> None:
    untrusted = problems(bot(checkout="head", checkout_untrusted=True))
    assert any(p.startswith("warning: checkout_untrusted:") and "forks" in p for p in untrusted)
    idle = problems(bot(keep_workspace="always", checkout_untrusted=True))
    assert sum("has no effect without a checkout" in p for p in idle) == 2


def test_workspace_context_keys_pass_only_with_a_checkout() -> None:
    prompt = "review {workspace.repo} at {workspace.sha} in {workspace.path} ({workspace.ref})"
    assert not [p for p in problems(bot(checkout="head", prompt=prompt)) if "prompt" in p]
    without = problems(bot(prompt=prompt))
    assert any("key 'workspace'" in p and "checkout" in p for p in without)
    typo = problems(bot(checkout="head", prompt="{workspace.shaa}"))
    assert any("did you mean 'workspace.sha'" in p for p in typo)


def test_named_checkout_templates_are_checked() -> None:
    ok = bot(
        checkout={"repo": "{params.repo}", "ref": "{params.ref}"},
        on=[{"manual": True, "params": ["repo", "ref"]}],
    )
    assert not [p for p in problems(ok) if p.startswith("error")]
    bad = bot(checkout={"repo": "o/r", "ref": "{params.branch}"}, on=[{"manual": True}])
    assert any(p.startswith("error: checkout.ref:") for p in problems(bad))


def test_a_workdir_of_a_checkout_is_relative() -> None:
    assert any(
        p.startswith("error: workdir:") and "relative" in p
        for p in problems(bot(checkout="head", workdir="/srv/x"))
    )
    assert not [p for p in problems(bot(checkout="head", workdir="pkg")) if "workdir" in p]


def test_agented_check_prints_the_untrusted_warning(tmp_path: Path) -> None:
    (tmp_path / "agented.toml").write_text(
        """
[bots.review]
command = ["true"]
checkout = "head"
checkout_untrusted = true
on = [{ github = "issue_comment", commands = ["/review"] }]
"""
    )
    result = subprocess.run(
        [AGENTED, "check", "--config", str(tmp_path / "agented.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checkout_untrusted" in result.stdout + result.stderr


@given(st.text(max_size=30))
def test_a_ref_name_from_a_payload_never_reaches_git_unless_it_is_a_plain_ref(name: str) -> None:
    try:
        safe_ref(name, "branch")
    except WorkspaceError:
        return
    assert name and not name.startswith("-") and ":" not in name and ".." not in name
    assert not any(c.isspace() or ord(c) < 32 for c in name)


def test_agented_check_warns_when_git_is_missing(tmp_path: Path) -> None:
    (tmp_path / "agented.toml").write_text(
        """
[bots.review]
command = ["true"]
checkout = "head"
on = [{ github = "pull_request" }]
"""
    )
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = subprocess.run(
        [AGENTED, "check", "--config", str(tmp_path / "agented.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(empty), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "git is not on PATH" in result.stdout + result.stderr


def plan_of(checkout: object, event: str, body: dict[str, object], **kw: object):
    from agented_core.models import Bot, GitHubTrigger
    from agented_core.triggers._github import build_context
    from agented_core.workspaces import plan

    bot = Bot(name="b", checkout=checkout, triggers=(GitHubTrigger(event),))  # type: ignore[arg-type]
    return plan(bot, build_context(event, body, "d"), base_dir=Path("/cfg"), **kw)  # type: ignore[arg-type]


REPO = {"full_name": "o/r", "clone_url": "https://ghe.example.com/o/r.git", "default_branch": "dev"}


def test_what_head_means_for_each_event() -> None:
    sha = "c" * 40
    release = plan_of("head", "release", {"repository": REPO, "release": {"tag_name": "v2"}})
    assert (release.ref, release.sha, release.refspecs) == (
        "refs/tags/v2",
        None,
        ("+refs/tags/v2:refs/tags/v2",),
    )
    run = plan_of(
        "head",
        "workflow_run",
        {"repository": REPO, "workflow_run": {"head_sha": sha, "head_branch": "fix"}},
    )
    assert (run.ref, run.sha) == ("refs/heads/fix", sha)
    issue = plan_of("head", "issues", {"repository": REPO, "issue": {"number": 3}})
    assert (issue.ref, issue.sha) == ("refs/heads/dev", None)  # the default branch
    assert issue.url == REPO["clone_url"]
    with pytest.raises(WorkspaceError, match="not about a pull request"):
        plan_of("merge", "issues", {"repository": REPO})
    with pytest.raises(WorkspaceError, match="not a commit id"):
        plan_of("head", "push", {"repository": REPO, "ref": "refs/heads/x", "after": "nope"})
    with pytest.raises(WorkspaceError, match="not a valid git ref name"):
        plan_of("head", "release", {"repository": REPO, "release": {"tag_name": "-x --upload"}})


def test_a_named_repository_resolves_to_a_url() -> None:
    from agented_core.workspaces import web_base

    named = Checkout(CheckoutKind.REF, "octo/tools", "main")
    github = plan_of(named, "push", {"repository": REPO})
    assert github.url == "https://github.com/octo/tools.git" and github.repo == "octo/tools"
    ghe = plan_of(
        named, "push", {"repository": REPO}, github_web=web_base("https://h.example/api/v3")
    )
    assert ghe.url == "https://h.example/octo/tools.git"
    own = plan_of(Checkout(CheckoutKind.REF, "O/R", None), "push", {"repository": REPO})
    assert own.url == REPO["clone_url"] and own.ref == "refs/agented/HEAD"
    path = plan_of(Checkout(CheckoutKind.REF, "../repo", "v1"), "push", {"repository": REPO})
    assert path.url == "/repo" and path.fallbacks == (
        ("refs/tags/v1", ("+refs/tags/v1:refs/tags/v1",)),
    )
    secret = plan_of(
        Checkout(CheckoutKind.REF, "https://user:hunter22@git.example/x.git", "refs/heads/a"),
        "push",
        {"repository": REPO},
    )
    assert "hunter22" not in secret.url + secret.repo
    assert web_base(None) == web_base("https://api.github.com") == "https://github.com"
