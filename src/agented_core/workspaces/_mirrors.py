"""Cached bare mirrors: one per repository URL, fetched into only as far as a run needs.

A mirror lives at ``mirrors/<host>-<owner>-<name>-<hash>.git``; its config holds no remote and
no credential (the URL is passed on each fetch, the credentials through the environment of that
one command: :mod:`agented_core.workspaces._credentials`). ``agented-used`` inside it is touched
by every run that uses it, for the TTL; ``agented-gc`` when it was last housekept.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from ..events._redaction import Redactor
from ._credentials import Credentials
from ._errors import WorkspaceError
from ._git import GitResult, run_git

USED = "agented-used"
"""The file whose modification time says when a run last used a mirror."""
GC_MARKER = "agented-gc"
"""The file whose modification time says when the mirror was last housekept."""


def mirror_name(url: str) -> str:
    """The folder name of ``url``'s mirror: readable, and unique by a hash of the URL."""
    normal = url.strip().rstrip("/").removesuffix(".git")
    parts = urlsplit(normal)
    readable = f"{parts.hostname or ''}{parts.path}" if parts.scheme else normal
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", readable).strip("-.")[-60:] or "repo"
    digest = hashlib.sha256(normal.lower().encode()).hexdigest()[:10]
    return f"{slug}-{digest}.git"


class Mirror:
    """One bare mirror on disk; every method runs git in it (callers hold its lock)."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url

    @property
    def lock_path(self) -> Path:
        """The lock file serializing fetches, worktree changes and deletion of this mirror."""
        return self.path.with_name(self.path.name + ".lock")

    async def git(self, *args: str, env: dict[str, str] | None = None) -> GitResult:
        """``git ARGS`` in the mirror."""
        return await run_git(["-C", str(self.path), *args], env=env)

    async def ensure(self) -> None:
        """Create the mirror if it does not exist yet (an empty bare repository)."""
        if (self.path / "HEAD").exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        result = await run_git(["init", "--bare", "-q", str(self.path)])
        if not result.ok:
            raise WorkspaceError(f"cannot create the mirror {self.path}: {result.stderr.strip()}")
        # written at once rather than by a git process per key; gc runs within the fetch, under
        # the lock, rather than in the background
        with (self.path / "config").open("a", encoding="utf-8") as config:
            config.write(
                f"[agented]\n\turl = {_quoted(self.url)}\n"
                "[gc]\n\tautoDetach = false\n"
                "[core]\n\tlogAllRefUpdates = false\n"
            )

    async def has_commit(self, sha: str) -> bool:
        """True when the mirror holds commit ``sha``."""
        return (await self.git("cat-file", "-e", f"{sha}^{{commit}}")).ok

    async def resolve(self, ref: str) -> str | None:
        """The commit ``ref`` points to in the mirror (a tag peeled), or ``None``."""
        result = await self.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        return result.stdout.strip() or None if result.ok else None

    async def fetch(
        self, refspecs: Sequence[str], credentials: Credentials | None, redactor: Redactor
    ) -> GitResult:
        """Fetch ``refspecs`` from the remote; the result with secrets masked in its output."""
        env = credentials.env(self.url) if credentials else None
        # housekeeping (gc) is the sweep's job (:meth:`housekeep`), never a run's wait
        result = await self.git(
            "fetch",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-auto-maintenance",
            "-q",
            self.url,
            *refspecs,
            env=env,
        )
        return GitResult(result.code, result.stdout, redactor.text(result.stderr) or "")

    async def branch_tips(self, credentials: Credentials | None, redactor: Redactor) -> set[str]:
        """The commits the remote's branches point to (``git ls-remote --heads``)."""
        env = credentials.env(self.url) if credentials else None
        result = await self.git("ls-remote", "--heads", self.url, env=env)
        if not result.ok:
            raise WorkspaceError(
                f"cannot list the branches of {self.url}: "
                f"{_last_line(redactor.text(result.stderr) or '')}"
            )
        return {line.split()[0] for line in result.stdout.splitlines() if line.strip()}

    async def housekeep(self) -> bool:
        """``git gc --auto`` if a run used the mirror since the last time; True if it ran.

        Many small fetches leave many small packs; this packs them (and drops what no ref and
        no worktree needs, after git's grace period).
        """
        marker = self.path / GC_MARKER
        try:
            done = marker.stat().st_mtime
        except OSError:
            done = 0.0
        if self.last_used() <= done:
            return False
        await self.git("gc", "--auto", "--quiet")
        marker.touch()
        return True

    def touch(self) -> None:
        """Record that a run used the mirror now."""
        used = self.path / USED
        used.touch()
        now = time.time()
        os.utime(used, (now, now))

    def last_used(self) -> float:
        """When a run last used the mirror (seconds since the epoch)."""
        for path in (self.path / USED, self.path):
            try:
                return path.stat().st_mtime
            except OSError:
                continue
        return 0.0


def _quoted(value: str) -> str:
    """``value`` as a quoted git config value."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


last_line = _last_line
