"""What a run is about on GitHub: the repository, the PR or issue, the commit, the installation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from attrs import evolve, frozen

from agented_core import Workspace

_OWNER_NAME = re.compile(r"[\w.-]+/[\w.-]+")


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


@frozen
class Target:
    """The repository (``owner/name``), the PR or issue number, the commit, the installation."""

    repo: str
    number: int | None = None
    is_pr: bool = False
    sha: str | None = None
    installation: int | None = None
    comment_id: int | None = None

    @property
    def owner(self) -> str:
        """The repository's owner."""
        return self.repo.split("/", 1)[0]

    @property
    def name(self) -> str:
        """The repository's name."""
        return self.repo.split("/", 1)[1]

    @property
    def thread(self) -> str:
        """``owner/name#N``: the key of the PR or issue."""
        return f"{self.repo.lower()}#{self.number}"


def target_of(context: Mapping[str, Any]) -> Target | None:
    """The target of a trigger context, or ``None`` when it names no repository."""
    repo = _get(context, "repo", "full_name")
    if not isinstance(repo, str) or "/" not in repo:
        params = context.get("params")
        repo = _get(params, "repo") if isinstance(params, Mapping) else None
        if not isinstance(repo, str) or "/" not in repo:
            return None
    pr, issue = context.get("pr"), context.get("issue")
    number = _get(pr, "number") or _get(issue, "number")
    sha = (
        _get(pr, "head_sha")
        or _get(context, "push", "after")
        or _get(context, "workflow_run", "head_sha")
        or _get(context, "workspace", "sha")
    )
    if sha == "0" * 40:  # a deleted branch's push
        sha = None
    installation = _get(context, "payload", "installation", "id")
    comment = _get(context, "payload", "comment", "id")
    return Target(
        repo=repo,
        number=number if isinstance(number, int) else None,
        is_pr=isinstance(pr, Mapping) and isinstance(_get(pr, "number"), int),
        sha=sha if isinstance(sha, str) else None,
        installation=installation if isinstance(installation, int) else None,
        comment_id=comment
        if isinstance(comment, int) and context.get("event") == "issue_comment"
        else None,
    )


def repo_of_url(url: str, api_url: str) -> str | None:
    """``owner/name`` of a clone URL on the GitHub that ``api_url`` belongs to."""
    parts = urlsplit(url)
    api = urlsplit(api_url)
    api_host = api.hostname or ""
    host = parts.hostname or ""
    if not (host == api_host or (api_host == "api.github.com" and host == "github.com")):
        return None
    path = parts.path.strip("/").removesuffix(".git").split("/")
    if len(path) < 2:
        return None
    return f"{path[-2]}/{path[-1]}"


def with_workspace(target: Target | None, workspace: Workspace, api_url: str) -> Target | None:
    """The target completed by the run's checkout: its commit, and its repository for a run
    whose context names none (a cron or manual bot that checks out ``{ repo, ref }``)."""
    repo = workspace.repo if _OWNER_NAME.fullmatch(workspace.repo) else None
    repo = repo or repo_of_url(workspace.repo, api_url)
    if repo is None:
        return target  # a local path, or another host's: nothing of GitHub's
    if target is None:
        return Target(repo=repo, sha=workspace.sha)
    if target.sha is None and target.repo.lower() == repo.lower():
        return evolve(target, sha=workspace.sha)
    return target
