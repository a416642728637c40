"""Real git for the workspace tests: a bare repository as the remote, commits made by the test.

:class:`Remote` is a bare repository (the "GitHub" side) plus a scratch clone that makes commits
and pushes them to any ref (``refs/pull/N/head`` as GitHub keeps them, a fork's commits
included). :func:`payload` loads a recorded webhook payload and points its ``clone_url`` and
shas at the remote.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from conftest import FIXTURES_DIR

ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path | None = None, check: bool = True) -> str:
    """Run git, return its stdout (stripped)."""
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()


class Remote:
    """A bare repository standing in for GitHub, and a clone that commits to it."""

    def __init__(self, root: Path, name: str = "remote") -> None:
        self.path = root / f"{name}.git"
        self.work = root / f"{name}-work"
        git("init", "--bare", "-q", "-b", "main", str(self.path))
        git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=self.path)
        git("init", "-q", "-b", "main", str(self.work))
        self.counter = 0

    @property
    def url(self) -> str:
        """The clone URL deliveries name (a local path)."""
        return str(self.path)

    def commit(self, files: dict[str, str] | None = None, *, parent: str | None = None) -> str:
        """A new commit (on ``parent``, else on the scratch clone's HEAD); its sha."""
        self.counter += 1
        if parent is not None:
            git("checkout", "-q", "--detach", parent, cwd=self.work)
        for name, text in (files or {"file.txt": f"version {self.counter}\n"}).items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "--allow-empty", "-m", f"commit {self.counter}", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def push(self, sha: str, ref: str, *, force: bool = True) -> None:
        """Point ``ref`` of the remote at ``sha``."""
        git("push", "-q", *(["-f"] if force else []), str(self.path), f"{sha}:{ref}", cwd=self.work)

    def drop(self, sha: str) -> None:
        """Delete ``sha`` and every unreachable object from the remote (as after a force-push
        and GitHub's gc)."""
        git("reflog", "expire", "--expire=now", "--all", cwd=self.path)
        git("gc", "-q", "--prune=now", cwd=self.path)
        assert git("cat-file", "-e", sha, cwd=self.path, check=False) == ""


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """A recorded payload (``tests/fixtures/webhooks/NAME.json``) with dotted ``changes``:
    ``payload("push", **{"repository.clone_url": url})``."""
    data = json.loads((FIXTURES_DIR / "webhooks" / f"{name}.json").read_text())
    data = copy.deepcopy(data)
    for dotted, value in changes.items():
        *path, last = dotted.split(".")
        target = data
        for key in path:
            target = target[key]
        target[last] = value
    return data


def pr_payload(remote: Remote, sha: str, *, number: int = 2, fork: str | None = None) -> dict:
    """The ``pull_request.opened`` fixture as a PR of ``remote`` whose head is ``sha``."""
    data = payload(
        "pull_request.opened",
        **{
            "repository.clone_url": remote.url,
            "number": number,
            "pull_request.number": number,
            "pull_request.head.sha": sha,
            "pull_request.base.ref": "main",
        },
    )
    if fork is not None:
        data["pull_request"]["head"]["repo"]["full_name"] = fork
    return data
