"""Posting results to GitHub: the check run, the sticky comment, reactions, the review.

What lasts lives in the store's small state (``github:check:ID``, ``github:comment:...``,
``github:open-checks``, ``github:pr-total:...``), so another process, or this one after a
crash, finds the check to complete and the comment to edit. Every write first checks that the
execution's attempt is still the current one (:meth:`Reporter.current`); a failure is retried
under :mod:`agented_github._calls` and recorded as a ``github`` event on the execution; none
changes the execution's outcome.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio

from agented_core import EventDraft, Execution, Status

from . import _render as render
from ._auth import ANY_BOT, Credentials, GitHubAuthError
from ._calls import Policy, WriteFailed, call
from ._keys import Report
from ._review import Review, parse_review, validate_review
from ._target import Target, target_of, with_workspace

if TYPE_CHECKING:
    from githubkit import GitHub

    from agented_core import Agented

log = logging.getLogger("agented.github")

CHECK_NAME = "agented"
OPEN_CHECKS = "github:open-checks"
WRITE_PERMISSIONS = {
    "checks": "write",
    "issues": "write",
    "pull_requests": "write",
    "contents": "read",
    "metadata": "read",
}
KEEP_HISTORY = 5
COMMENT_LOCK_TTL = 120.0
"""Seconds a comment writer holds its thread's lock at most (a dead writer's lock expires)."""
COMMENT_LOCK_WAIT = 150.0
"""Seconds a comment writer waits for the lock before giving up (recorded as a failure)."""
LIVE = (Status.QUEUED, Status.RUNNING, Status.PAUSED, Status.WAITING)


class Reporter:
    """Reports one :class:`Agented`'s executions to GitHub."""

    def __init__(
        self,
        agented: Agented,
        credentials: Credentials,
        *,
        policy: Policy | None = None,
        comment_interval: float = 10.0,
    ) -> None:
        self.agented = agented
        self.credentials = credentials
        self.policy = policy or Policy()
        self.comment_interval = comment_interval
        self._last_edit: dict[str, float] = {}
        self._files: dict[str, list[dict[str, Any]]] = {}

    @property
    def store(self) -> Any:
        """The store (state, executions)."""
        return self.agented.store

    # plumbing
    def report_of(self, execution: Execution) -> Report:
        """The bot's ``report`` settings (nothing for a bot no longer configured)."""
        bot = self.agented.config.bots.get(execution.bot)
        return Report.of(bot.extra) if bot else Report()

    async def client(self, target: Target) -> GitHub[Any]:
        """A client with a token for the target's repository (write permissions)."""
        permissions = WRITE_PERMISSIONS if self.credentials.config.is_app else None
        token = await self.credentials.token(
            target.repo, installation=target.installation, permissions=permissions
        )
        return self.credentials.client(token)

    async def record(self, execution: Execution, message: str, data: dict[str, Any]) -> None:
        """A ``github`` event on the execution (when its log is open here), and a log line."""
        message = self._redact(message)
        log.info("execution %s: %s", execution.id, message)
        events = self.agented.event_log
        if not events.is_live(execution.id):
            return
        events.append(execution.id, execution.attempt, [EventDraft("github", message, data)])
        execution.last_seq = events.last_seq(execution.id) or execution.last_seq

    def _redact(self, text: str) -> str:
        for secret in self.credentials.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    async def current(self, execution: Execution) -> bool:
        """True while ``execution``'s attempt is the current one (no newer attempt, no other
        owner): a superseded or zombie run writes nothing."""
        stored = await self.store.get_execution(execution.id)
        if stored is None:
            return False
        return bool(stored.attempt <= execution.attempt and stored.owner == execution.owner)

    async def _call(
        self,
        execution: Execution,
        what: str,
        send: Any,
        *,
        idempotent: bool,
        recover: Any = None,
    ) -> Any:
        async def failed(message: str, data: dict[str, Any]) -> None:
            await self.record(execution, message, {**data, "ok": False})

        return await call(
            what,
            send,
            idempotent=idempotent,
            on_failure=failed,
            recover=recover,
            policy=self.policy,
            guard=lambda: self.current(execution),
        )

    # reading
    async def pr_files(self, target: Target) -> list[dict[str, Any]]:
        """The PR's changed files, every page (remembered per repository, PR and head)."""
        key = f"{target.thread}@{target.sha}"
        if key in self._files:
            return self._files[key]
        token = await self.credentials.token(
            target.repo,
            installation=target.installation,
            permissions={"pull_requests": "read"} if self.credentials.config.is_app else None,
        )
        files: list[dict[str, Any]] = []
        async with self.credentials.client(token) as gh:
            page = 1
            while True:
                response = await gh.rest.pulls.async_list_files(
                    target.owner, target.name, target.number or 0, per_page=100, page=page
                )
                batch = response.parsed_data
                files.extend(
                    {
                        "filename": f.filename,
                        "previous_filename": f.previous_filename or None,
                        "patch": f.patch or None,
                    }
                    for f in batch
                )
                if len(batch) < 100 or page >= 30:  # GitHub lists 3,000 files at most
                    break
                page += 1
        if len(self._files) >= 64:  # a small memory of recent PRs, not a growing cache
            self._files.pop(next(iter(self._files)))
        self._files[key] = files
        return files

    async def head_sha(self, execution: Execution, target: Target) -> str | None:
        """The PR's head commit now (``None`` if it cannot be read)."""
        try:
            async with await self.client(target) as gh:
                response = await gh.rest.pulls.async_get(
                    target.owner, target.name, target.number or 0
                )
            return str(response.parsed_data.head.sha)
        except Exception as exc:  # the note is a nicety; the result is posted regardless
            await self.record(execution, f"could not read the PR's head: {exc}", {"ok": False})
            return None

    async def target(self, execution: Execution) -> Target | None:
        """The run's target, its commit found for a comment on a PR (state remembers it), or
        taken from its checkout once it has one."""
        target = target_of(execution.context)
        if execution.workspace is not None and (target is None or target.sha is None):
            target = with_workspace(target, execution.workspace, self.credentials.config.api_url)
        if target is None:
            return None
        known = await self.store.get_state(f"github:target:{execution.id}")
        if known and known.get("sha") and not target.sha:
            from attrs import evolve

            return evolve(target, sha=known["sha"])
        if target.sha is None and target.is_pr and target.number:
            try:
                async with await self.client(target) as gh:
                    pr = (
                        await gh.rest.pulls.async_get(target.owner, target.name, target.number)
                    ).parsed_data
                from attrs import evolve

                target = evolve(target, sha=pr.head.sha)
                await self.store.put_state(f"github:target:{execution.id}", {"sha": target.sha})
            except Exception as exc:
                await self.record(execution, f"could not read the PR's head: {exc}", {"ok": False})
        return target

    # lifecycle
    async def queued(self, execution: Execution) -> None:
        """Create the check run (once) and react 👀; claim the sticky comment for this run."""
        report = self.report_of(execution)
        target = target_of(execution.context)
        if target is None:
            return
        if not report.any:
            await self._warm_git_token(execution, target)
            return
        target = await self.target(execution) or target
        await self._claim_thread(execution, target, report)
        await self._warm_git_token(execution, target)
        if report.check and target.sha:
            await self._safely(execution, "create check run", self._create_check(execution, target))
        if report.reaction and target.comment_id:
            await self._safely(execution, "react", self._react(execution, target, "eyes"))

    async def _warm_git_token(self, execution: Execution, target: Target) -> None:
        """Make the checkout's token now, in the event loop, so that the synchronous
        ``agented_workspace_credentials`` finds it cached instead of blocking on an exchange."""
        bot = self.agented.config.bots.get(execution.bot)
        if bot is None or not bot.checkout.enabled:
            return
        try:
            await self.credentials.token(
                target.repo,
                installation=target.installation,
                permissions={"contents": "read"} if self.credentials.config.is_app else None,
            )
        except GitHubAuthError as exc:
            await self.record(execution, f"no git token: {exc}", {"action": "token", "ok": False})

    async def started(self, execution: Execution) -> None:
        """Check run in progress; the comment says "running"."""
        report = self.report_of(execution)
        if not report.any:
            return
        target = await self.target(execution)
        if target is None:
            return
        if report.check and target.sha:
            # a run whose commit was known only once checked out (a cron or manual bot) gets
            # its check run now
            await self._safely(execution, "create check run", self._create_check(execution, target))
            await self._safely(
                execution,
                "start check run",
                self._update_check(execution, target, {"status": "in_progress"}),
            )
        if report.comment and target.number:
            await self._safely(execution, "comment", self._comment(execution, target, final=False))

    async def progress(self, execution: Execution, usage: Any = None) -> None:
        """Edit the running comment, at most every ``comment_interval`` seconds.

        ``usage``: the running totals (the execution's own are updated when an attempt ends).
        """
        report = self.report_of(execution)
        if not report.comment:
            return
        now = time.monotonic()
        if now - self._last_edit.get(execution.id, 0.0) < self.comment_interval:
            return
        self._last_edit[execution.id] = now
        target = await self.target(execution)
        if target is not None and target.number:
            await self._safely(
                execution, "comment", self._comment(execution, target, final=False, usage=usage)
            )

    async def finished(self, execution: Execution) -> None:
        """Complete the check, post the result, react, review; then sweep older checks."""
        self._last_edit.pop(execution.id, None)
        report = self.report_of(execution)
        if report.any:
            target = await self.target(execution)
            if target is not None:
                await self._finish(execution, target, report)
        await self.sweep()

    async def _finish(self, execution: Execution, target: Target, report: Report) -> None:
        total = await self._add_total(execution, target) if target.number else None
        note = ""
        if target.is_pr and target.sha and (report.comment or report.review):
            head = await self.head_sha(execution, target)
            if head and head != target.sha:
                note = (
                    f"⚠️ This result is for commit `{target.sha[:7]}`; the pull request's head "
                    f"has moved on to `{head[:7]}`."
                )
        if report.check and target.sha:
            await self._safely(
                execution,
                "complete check run",
                self._complete_check(execution, target, total, note),
            )
        if report.comment and target.number:
            await self._safely(
                execution,
                "comment",
                self._comment(execution, target, final=True, total=total, note=note),
            )
        if report.reaction and target.comment_id:
            content = "rocket" if execution.status is Status.SUCCEEDED else "confused"
            await self._safely(execution, "react", self._react(execution, target, content))
        if report.review and target.is_pr and execution.status is Status.SUCCEEDED:
            await self._safely(execution, "review", self._review(execution, target, report, note))

    async def _safely(self, execution: Execution, what: str, work: Any) -> None:
        """Run one report step; a failure is recorded, never raised (the outcome stands)."""
        try:
            await work
        except WriteFailed as exc:
            await self.record(execution, f"{what} not posted: {exc}", {"action": what, "ok": False})
        except GitHubAuthError as exc:
            await self.record(execution, f"{what}: {exc}", {"action": what, "ok": False})
        except Exception as exc:
            log.exception("reporting %s of %s failed", what, execution.id)
            await self.record(
                execution,
                f"{what} failed: {type(exc).__name__}: {exc}",
                {"action": what, "ok": False},
            )

    # check runs
    async def _create_check(self, execution: Execution, target: Target) -> None:
        key = f"github:check:{execution.id}"
        if await self.store.get_state(key):
            return
        body = {
            "name": f"{CHECK_NAME}/{execution.bot}",
            "head_sha": target.sha,
            "status": "queued",
            "external_id": execution.id,
        }
        url = self.agented.config.http.execution_url(execution.id)
        if url:
            body["details_url"] = url
        async with await self.client(target) as gh:

            async def send() -> Any:
                return (
                    await gh.rest.checks.async_create(target.owner, target.name, data=body)
                ).parsed_data

            async def recover() -> Any:
                runs = await gh.rest.checks.async_list_for_ref(
                    target.owner,
                    target.name,
                    target.sha or "",
                    check_name=body["name"],
                    filter_="all",
                )
                found = [r for r in runs.parsed_data.check_runs if r.external_id == execution.id]
                return found[0] if found else None

            made = await self._call(
                execution, "create check run", send, idempotent=False, recover=recover
            )
        await self.store.put_state(
            key, {"id": made.id, "repo": target.repo, "sha": target.sha, "completed": False}
        )
        await self.store.update_state(OPEN_CHECKS, lambda ids: sorted({*(ids or []), execution.id}))

    async def _update_check(
        self, execution: Execution, target: Target, body: dict[str, Any]
    ) -> None:
        state = await self.store.get_state(f"github:check:{execution.id}")
        if not state or state.get("completed"):
            return
        if body.get("status") == "in_progress" and execution.started_at:
            body = {**body, "started_at": execution.started_at.isoformat()}
        async with await self.client(target) as gh:

            async def send() -> Any:
                return await gh.rest.checks.async_update(
                    target.owner, target.name, state["id"], data=body
                )

            await self._call(execution, "update check run", send, idempotent=True)

    async def _complete_check(
        self, execution: Execution, target: Target, total: Mapping[str, Any] | None, note: str
    ) -> None:
        key = f"github:check:{execution.id}"
        state = await self.store.get_state(key)
        if not state or state.get("completed"):
            return
        url = self.agented.config.http.execution_url(execution.id)
        summary = render.check_summary(execution, url, total, note)
        body: dict[str, Any] = {
            "status": "completed",
            "conclusion": render.CONCLUSIONS.get(execution.status, "neutral"),
            "output": {
                "title": f"{execution.bot}: {execution.status.value}",
                "summary": summary,
            },
        }
        if execution.finished_at:
            body["completed_at"] = execution.finished_at.isoformat()
        async with await self.client(target) as gh:

            async def send() -> Any:
                return await gh.rest.checks.async_update(
                    target.owner, target.name, state["id"], data=body
                )

            # completing is never skipped for a superseded attempt: a check must not stay open
            await call(
                "complete check run",
                send,
                idempotent=True,
                on_failure=lambda m, d: self.record(execution, m, {**d, "ok": False}),
                policy=self.policy,
            )
        await self.store.put_state(key, {**state, "completed": True})
        await self.store.update_state(
            OPEN_CHECKS, lambda ids: [i for i in (ids or []) if i != execution.id]
        )

    async def sweep(self) -> int:
        """Complete the check of every execution that ended without completing it."""
        done = 0
        for execution_id in list(await self.store.get_state(OPEN_CHECKS) or []):
            execution = await self.store.get_execution(execution_id)
            if execution is None:
                await self.store.update_state(
                    OPEN_CHECKS, lambda ids, e=execution_id: [i for i in (ids or []) if i != e]
                )
                continue
            if not execution.status.terminal or self.agented.event_log.is_live(execution_id):
                continue
            target = await self.target(execution)
            if target is None:
                continue
            await self._safely(
                execution, "complete check run", self._complete_check(execution, target, None, "")
            )
            done += 1
        return done

    async def sweep_loop(self, interval: float) -> None:
        """:meth:`sweep` now, then every ``interval`` seconds."""
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("sweeping GitHub checks failed")
            await anyio.sleep(interval)

    # comments
    def _thread_key(self, execution: Execution, target: Target) -> str:
        return f"github:comment:{execution.bot}:{target.thread}"

    async def _claim_thread(self, execution: Execution, target: Target, report: Report) -> None:
        """This run becomes the latest of its bot on the thread (a later one supersedes it)."""
        if report.comment != "sticky" or not target.number:
            return

        def claim(state: Any) -> Any:
            state = dict(state or {})
            if execution.id > state.get("latest", ""):
                state["latest"] = execution.id
            return state

        await self.store.update_state(self._thread_key(execution, target), claim)

    async def _comment(
        self,
        execution: Execution,
        target: Target,
        *,
        final: bool,
        total: Mapping[str, Any] | None = None,
        note: str = "",
        usage: Any = None,
    ) -> None:
        # one writer per thread at a time, across processes: two runs finding no comment at
        # the same moment would otherwise both post one
        lock = f"github:comment-lock:{execution.bot}:{target.thread}"
        owner = uuid.uuid4().hex  # per call: a claim is re-entrant for its owner
        with anyio.fail_after(COMMENT_LOCK_WAIT):
            while not await self.store.claim(lock, owner, COMMENT_LOCK_TTL):
                await anyio.sleep(0.05)
        try:
            await self._comment_locked(
                execution, target, final=final, total=total, note=note, usage=usage
            )
        finally:
            with anyio.CancelScope(shield=True):
                await self.store.release(lock, owner)

    async def _comment_locked(
        self,
        execution: Execution,
        target: Target,
        *,
        final: bool,
        total: Mapping[str, Any] | None,
        note: str,
        usage: Any,
    ) -> None:
        report = self.report_of(execution)
        sticky = report.comment == "sticky"
        key = (
            self._thread_key(execution, target) if sticky else f"github:comment-run:{execution.id}"
        )
        state = dict(await self.store.get_state(key) or {})
        if sticky and state.get("latest", "") > execution.id:
            await self.record(
                execution,
                f"a newer run ({state['latest']}) reports on this thread; this one posts nothing",
                {"action": "comment", "ok": True, "superseded_by": state["latest"]},
            )
            return
        url = self.agented.config.http.execution_url(execution.id)
        history = [
            h["text"] for h in state.get("history", []) if h.get("execution") != execution.id
        ]
        if final:
            body = render.result_body(execution, url, total, history, note)
        else:
            body = render.running_body(execution, url, self.agented.clock(), history, usage)
        mark = (
            render.marker(execution.bot) if sticky else render.marker(execution.bot, execution.id)
        )
        body = f"{mark}\n{body}"
        async with await self.client(target) as gh:
            comment_id = state.get("id")
            if comment_id is None:
                comment_id = await self._find_comment(gh, target, mark)
            if comment_id is None:

                async def post() -> Any:
                    return (
                        await gh.rest.issues.async_create_comment(
                            target.owner, target.name, target.number or 0, data={"body": body}
                        )
                    ).parsed_data

                async def recover() -> Any:
                    found = await self._find_comment(gh, target, mark)
                    return None if found is None else _Id(found)

                made = await self._call(
                    execution, "post comment", post, idempotent=False, recover=recover
                )
                comment_id = made.id
            else:

                async def edit() -> Any:
                    return await gh.rest.issues.async_update_comment(
                        target.owner, target.name, comment_id, data={"body": body}
                    )

                await self._call(execution, "edit comment", edit, idempotent=True)

        def save(current: Any) -> Any:
            current = dict(current or {})
            current["id"] = comment_id
            if final:
                entries = [
                    h for h in current.get("history", []) if h.get("execution") != execution.id
                ]
                entries.insert(
                    0,
                    {
                        "execution": execution.id,
                        "text": render.history_entry(execution, target.sha),
                    },
                )
                current["history"] = entries[:KEEP_HISTORY]
            return current

        await self.store.update_state(key, save)

    async def _find_comment(self, gh: GitHub[Any], target: Target, mark: str) -> int | None:
        """The id of the plugin's own comment carrying ``mark``, looking through every page.

        Its own: anyone may write the marker in a comment, and the plugin must never take
        that comment over (or keep failing to edit it)."""
        ours = await self.credentials.identity()
        page = 1
        while True:
            response = await gh.rest.issues.async_list_comments(
                target.owner, target.name, target.number or 0, per_page=100, page=page
            )
            batch: Any = response.parsed_data
            for comment in batch:
                if comment.body and comment.body.startswith(mark) and _by(comment, ours):
                    return int(comment.id)
            if len(batch) < 100:
                return None
            page += 1

    # reactions
    async def _react(self, execution: Execution, target: Target, content: str) -> None:
        async with await self.client(target) as gh:

            async def send() -> Any:
                return await gh.rest.reactions.async_create_for_issue_comment(
                    target.owner,
                    target.name,
                    target.comment_id or 0,
                    data={"content": content},
                )

            # GitHub answers an existing reaction with 200: sending it again is harmless
            await self._call(execution, f"react {content}", send, idempotent=True)

    # reviews
    async def _review(
        self, execution: Execution, target: Target, report: Report, note: str
    ) -> None:
        data, why = parse_review(execution.result)
        if data is None:
            if why:
                await self.record(
                    execution, f"review not posted: {why}", {"action": "review", "ok": False}
                )
            return
        files = await self.pr_files(target)
        review = validate_review(data, files, report.review_events)
        if isinstance(review, str):
            await self.record(
                execution, f"review not posted: {review}", {"action": "review", "ok": False}
            )
            return
        if review.dropped:
            await self.record(
                execution,
                f"review: {len(review.dropped)} part(s) dropped: " + "; ".join(review.dropped),
                {"action": "review", "ok": False, "dropped": list(review.dropped)},
            )
        await self._post_review(execution, target, review, note)

    async def _post_review(
        self, execution: Execution, target: Target, review: Review, note: str
    ) -> None:
        mark = render.marker(execution.bot, execution.id)
        tail = f"\n\n{note}" if note else ""
        # the marker and the note count against GitHub's limit too
        room = render.MAX_COMMENT - len(mark) - 1 - len(tail)
        body = f"{mark}\n{render.cut(review.body, room)}{tail}"
        data: dict[str, Any] = {
            "event": review.event,
            "body": body,
            "comments": list(review.comments),
        }
        if target.sha:
            data["commit_id"] = target.sha
        async with await self.client(target) as gh:

            async def send() -> Any:
                return await gh.rest.pulls.async_create_review(
                    target.owner,
                    target.name,
                    target.number or 0,
                    data=data,
                )

            async def recover() -> Any:
                ours = await self.credentials.identity()
                page = 1
                while True:
                    reviews: Any = (
                        await gh.rest.pulls.async_list_reviews(
                            target.owner, target.name, target.number or 0, per_page=100, page=page
                        )
                    ).parsed_data
                    for found in reviews:
                        if (found.body or "").startswith(mark) and _by(found, ours):
                            return found
                    if len(reviews) < 100:
                        return None
                    page += 1

            await self._call(execution, "post review", send, idempotent=False, recover=recover)
        await self.record(
            execution,
            f"review posted: {review.event} with {len(review.comments)} comment(s)",
            {"action": "review", "ok": True},
        )

    # totals and stale runs
    async def _add_total(self, execution: Execution, target: Target) -> dict[str, Any]:
        def add(state: Any) -> Any:
            runs = dict((state or {}).get("runs", {}))
            runs[execution.id] = [render.tokens(execution), execution.usage.cost_usd or 0.0]
            return {"runs": runs}

        state = await self.store.update_state(f"github:pr-total:{target.thread}", add)
        runs = state["runs"].values()
        return {
            "runs": len(state["runs"]),
            "tokens": sum(r[0] for r in runs),
            "cost_usd": sum(r[1] for r in runs),
        }

    async def delivery(self, context: Mapping[str, Any]) -> None:
        """Cancel the runs of a pull request that was just closed or merged."""
        if context.get("event") not in ("pull_request", "pull_request_target"):
            return
        if context.get("action") != "closed":
            return
        closed = target_of(context)
        if closed is None or closed.number is None:
            return
        for execution in await self.store.find_executions(LIVE):
            bot = self.agented.config.bots.get(execution.bot)
            if bot is None or not bot.extra.get("cancel_on_close", True):
                continue
            target = target_of(execution.context)
            if target is None or not target.is_pr or target.thread != closed.thread:
                continue
            try:
                await self.agented.cancel(execution.id)
                log.info(
                    "cancelled %s: its pull request %s was closed", execution.id, closed.thread
                )
            except Exception as exc:  # it ended meanwhile
                log.info("could not cancel %s: %s", execution.id, exc)


class _Id:
    """A found comment, shaped like the one a POST returns (its ``id``)."""

    def __init__(self, id: int) -> None:
        self.id = id


def _by(item: Any, login: str) -> bool:
    """True when GitHub shows ``login`` as the author of a comment or review."""
    user = getattr(item, "user", None)
    if user is None:
        return False
    if login == ANY_BOT:
        return str(user.type) == "Bot"
    return str(user.login).lower() == login.lower()
