"""The workspaces of runs: a mirror per repository, a worktree per execution, and their end.

:meth:`Workspaces.checkout` makes (or finds again, on a later attempt) an execution's worktree
under ``runs/<execution id>``; :meth:`Workspaces.release` removes it when the execution ends,
as the bot's ``keep_workspace`` says; :meth:`Workspaces.sweep` removes what dead processes left
(worktrees of executions that ended or are gone) and mirrors no run used for
``mirror_ttl_days``, so the disk a machine's runs take stays bounded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from ..config import Config
from ..events._redaction import Redactor
from ..models import Bot, Execution, Workspace
from ..store.base import Store
from ._credentials import Credentials, CredentialSource, credentials_for
from ._errors import WorkspaceError
from ._locks import file_lock
from ._mirrors import Mirror, last_line, mirror_name
from ._targets import Plan, plan, web_base
from ._worktrees import add_worktree, mirror_of, prune, remove_tree

log = logging.getLogger("agented.workspaces")

DAY = 86400.0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def workspaces_dir(config: Config) -> Path:
    """Where mirrors and worktrees live: ``[github] workspaces_dir`` (relative to the config's
    folder), else ``workspaces`` beside a SQLite database file, else in the config's folder."""
    base = config.base_dir
    if config.github.workspaces_dir:
        return (base / Path(config.github.workspaces_dir).expanduser()).resolve()
    database = config.settings.database
    if database.startswith("sqlite:///") and ":memory:" not in database:
        file = Path(database.removeprefix("sqlite:///"))
        return (base / file).resolve().parent / "workspaces"
    return (base / "workspaces").resolve()


@frozen
class CheckedOut:
    """A checkout made for an attempt: the workspace, and whether git fetched for it."""

    workspace: Workspace
    fetched: bool
    reused: bool
    seconds: float


@frozen
class Swept:
    """What a sweep removed: worktrees (by execution id) and mirrors (by folder name)."""

    worktrees: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()


class Workspaces:
    """Mirrors and worktrees under one folder (``mirrors/``, ``runs/``)."""

    def __init__(
        self,
        root: Path,
        *,
        credentials: CredentialSource | None = None,
        base_dir: Path | None = None,
        github_web: str = "https://github.com",
        mirror_ttl_days: int = 14,
    ) -> None:
        self.root = root
        self.credentials = credentials
        self.base_dir = base_dir or Path.cwd()
        self.github_web = github_web
        self.mirror_ttl_days = mirror_ttl_days

    @classmethod
    def from_config(cls, config: Config, credentials: CredentialSource | None = None) -> Workspaces:
        """The workspaces of ``config`` (its ``[github]`` settings)."""
        api_url = (config.extra.get("github") or {}).get("api_url")
        return cls(
            workspaces_dir(config),
            credentials=credentials,
            base_dir=config.base_dir,
            github_web=web_base(api_url if isinstance(api_url, str) else None),
            mirror_ttl_days=config.github.mirror_ttl_days,
        )

    @property
    def runs(self) -> Path:
        """The folder of the worktrees, one per execution."""
        return self.root / "runs"

    @property
    def mirrors(self) -> Path:
        """The folder of the bare mirrors, one per repository."""
        return self.root / "mirrors"

    def path_of(self, execution_id: str) -> Path:
        """The worktree of an execution."""
        if not execution_id or "/" in execution_id or execution_id in (".", ".."):
            raise WorkspaceError(f"bad execution id {execution_id!r}")
        return self.runs / execution_id

    def plan(self, bot: Bot, context: Mapping[str, Any]) -> Plan:
        """What ``bot``'s checkout takes for a run with ``context`` (no git involved)."""
        return plan(bot, context, base_dir=self.base_dir, github_web=self.github_web)

    # making one
    async def checkout(
        self, execution: Execution, bot: Bot, context: Mapping[str, Any]
    ) -> CheckedOut:
        """The execution's worktree at its commit: made now, or found from an earlier attempt.

        The commit is pinned by the first attempt (``execution.workspace``), so a later attempt
        checks out the same one even if the pull request moved on. Raises
        :class:`WorkspaceError` naming the repository and commit when it cannot be made.
        """
        started = time.monotonic()
        path = self.path_of(execution.id)
        pinned = execution.workspace
        if pinned is not None and mirror_of(path) is not None:
            return CheckedOut(pinned, False, True, time.monotonic() - started)
        target = self.plan(bot, context)
        sha = pinned.sha if pinned is not None else target.sha
        mirror = Mirror(self.mirrors / mirror_name(target.url), target.url)
        fetched = False
        async with file_lock(mirror.lock_path):
            await mirror.ensure()
            ref = target.ref
            if sha is None or not await mirror.has_commit(sha):
                sha, ref = await self._fetch(mirror, target, sha)
                fetched = True
            elif target.trust_ref:
                await self._check_tip(mirror, target, None)
            mirror.touch()
            await add_worktree(mirror, path, sha)
        workspace = Workspace(path=str(path), repo=target.repo, sha=sha, ref=ref)
        return CheckedOut(workspace, fetched, False, time.monotonic() - started)

    async def _fetch(self, mirror: Mirror, target: Plan, sha: str | None) -> tuple[str, str]:
        """Fetch what the run needs; the commit and the ref it came from."""
        credentials = await credentials_for(self.credentials, target.url)
        redactor = Redactor(credentials.secrets if credentials else ())
        ref, refspecs = target.ref, target.refspecs
        result = None
        if refspecs:
            result = await mirror.fetch([*refspecs, *target.extras], credentials, redactor)
            if not result.ok and target.extras and "couldn't find remote ref" in result.stderr:
                result = await mirror.fetch(refspecs, credentials, redactor)
        for fallback_ref, fallback_specs in target.fallbacks:
            if result is None or result.ok or "couldn't find remote ref" not in result.stderr:
                break
            ref = fallback_ref
            result = await mirror.fetch(fallback_specs, credentials, redactor)
        failure = None if result is None or result.ok else last_line(result.stderr)
        if sha is None:
            if failure is not None:
                raise WorkspaceError(f"cannot fetch {ref} of {target.repo}: {failure}")
            resolved = await mirror.resolve(ref)
            if resolved is None:
                raise WorkspaceError(f"{ref} of {target.repo} names no commit")
            sha = resolved
        elif not await mirror.has_commit(sha):
            # the ref moved on (a new push, a force-push): ask for the commit itself
            direct = await mirror.fetch([sha], credentials, redactor)
            if not direct.ok or not await mirror.has_commit(sha):
                why = last_line(direct.stderr) if not direct.ok else failure or "not found"
                raise WorkspaceError(f"cannot fetch commit {sha} of {target.repo}: {why}")
        if target.trust_ref:
            await self._check_tip(mirror, target, credentials)
        return sha, ref

    async def _check_tip(
        self, mirror: Mirror, target: Plan, credentials: Credentials | None
    ) -> None:
        """Refuse a pull request head that no branch of the remote points to (a fork's)."""
        assert target.trust_ref is not None
        sha = await mirror.resolve(target.trust_ref)
        if credentials is None:
            credentials = await credentials_for(self.credentials, target.url)
        redactor = Redactor(credentials.secrets if credentials else ())
        if sha is None or sha not in await mirror.branch_tips(credentials, redactor):
            raise WorkspaceError(
                f"the head of pull request {target.trust_ref} of {target.repo} ({sha}) is not a "
                f"branch of {target.repo}, so it may come from a fork: an issue_comment run "
                "never checks out a fork's code unless the bot sets checkout_untrusted = true"
            )

    # ending them
    async def release(self, execution: Execution, bot: Bot | None) -> bool:
        """Remove the execution's worktree unless its bot keeps it; True when it was removed."""
        path = self.path_of(execution.id)
        if not (path.exists() or path.is_symlink()):
            return False
        if bot is not None and bot.keep_workspace.keeps(execution.status):
            return False
        await self.remove(path)
        return True

    async def remove(self, path: Path) -> None:
        """Delete a worktree and make its mirror forget it."""
        mirror = mirror_of(path)
        remove_tree(path)
        if mirror is not None and mirror.exists():
            async with file_lock(mirror.with_name(mirror.name + ".lock")):
                await prune(mirror)

    async def sweep(
        self, store: Store, bots: Mapping[str, Bot], live: Collection[str], *, now: float
    ) -> Swept:
        """Remove worktrees nobody needs and mirrors unused for ``mirror_ttl_days``; gc the
        mirrors runs used since the last sweep.

        A worktree is kept while its execution is live here or not finished (a waiting one
        resumes in it; orphans are interrupted by recovery first), and after it finished when
        its bot keeps it (``keep_workspace``), for ``mirror_ttl_days`` at most. One whose
        execution the store does not know goes once it is ``mirror_ttl_days`` old.
        """
        ttl = self.mirror_ttl_days * DAY
        removed: list[str] = []
        if self.runs.is_dir():
            for path in sorted(self.runs.iterdir()):
                if path.name in live:
                    continue
                execution = await store.get_execution(path.name)
                if execution is not None and not execution.status.terminal:
                    continue
                if execution is None and now - _mtime(path) < ttl:
                    # not in this store: pruned long ago, or a run of another store sharing
                    # the folder; only an old one is surely abandoned
                    continue
                if execution is not None:
                    bot = bots.get(execution.bot)
                    finished = execution.finished_at.timestamp() if execution.finished_at else 0
                    keep = bot is not None and bot.keep_workspace.keeps(execution.status)
                    if keep and now - finished < ttl:
                        continue
                await self.remove(path)
                removed.append(path.name)
        gone: list[str] = []
        if self.mirrors.is_dir():
            for path in sorted(self.mirrors.glob("*.git")):
                mirror = Mirror(path, "")
                if now - mirror.last_used() < ttl:
                    async with file_lock(mirror.lock_path):
                        await mirror.housekeep()
                    continue
                async with file_lock(mirror.lock_path):
                    if now - mirror.last_used() < ttl:
                        continue  # a run took it meanwhile
                    await prune(path)
                    worktrees = path / "worktrees"
                    if worktrees.is_dir() and any(worktrees.iterdir()):
                        continue  # a kept workspace still uses it
                    remove_tree(path)
                gone.append(path.name)
        if removed or gone:
            log.info("removed %d worktree(s) and %d mirror(s)", len(removed), len(gone))
        return Swept(tuple(removed), tuple(gone))
