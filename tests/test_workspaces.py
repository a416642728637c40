"""Workspaces with real git: a bare repository as the remote, commits made by each test.

A run of a bot with ``checkout`` works in a worktree of its own at the delivery's exact commit,
taken from a cached mirror (fetched once, serialized across runs), and the worktree goes when
the execution ends (``keep_workspace``). Runs see their checkout through their working
directory and the prompt context's ``workspace``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from agented_core import Agented, Bot, ErrorKind, GitHubTrigger, ManualTrigger, Status, TriggerKind
from agented_core.config import Config, GitHubSettings
from agented_core.models import Checkout, CheckoutKind, KeepWorkspace
from agented_core.triggers._github import build_context
from agented_core.workspaces import WorkspaceError, Workspaces, mirror_name, plan
from git_support import Remote, git, payload, pr_payload

pytestmark = pytest.mark.anyio

SHOW = "pwd; git rev-parse HEAD; cat file.txt"


def review_bot(script: str = SHOW, event: str = "pull_request", **fields: Any) -> Bot:
    fields.setdefault("checkout", "head")
    return Bot(
        name=fields.pop("name", "review"),
        provider="shell",
        command=("sh", "-c", script, "sh", *fields.pop("args", ())),
        triggers=(GitHubTrigger(event),),
        **fields,
    )


@asynccontextmanager
async def agented(tmp_path: Path, bots: Iterable[Bot], **github: Any) -> AsyncIterator[Agented]:
    github.setdefault("workspaces_dir", str(tmp_path / "ws"))
    config = Config(path=tmp_path / "agented.toml", github=GitHubSettings(**github))
    async with Agented.open(
        f"sqlite:///{tmp_path / 'agented.db'}", config=config, bots=bots, entry_points=False
    ) as ag:
        yield ag


async def deliver(ag: Agented, bot: str, event: str, body: dict[str, Any], delivery: str = "d"):
    return await ag.run(
        bot, trigger=TriggerKind.GITHUB, context=build_context(event, body, delivery)
    )


async def texts(ag: Agented, execution_id: str) -> list[str]:
    return [e.text or "" async for e in ag.events(execution_id) if e.kind == "text"]


async def events_of(ag: Agented, execution_id: str) -> list[Any]:
    return [e async for e in ag.events(execution_id)]


def worktrees(mirror: Path) -> list[str]:
    listed = git("worktree", "list", "--porcelain", cwd=mirror).splitlines()
    return [line.split(" ", 1)[1] for line in listed if line.startswith("worktree ")][1:]


def only_mirror(ws: Path) -> Path:
    mirrors = list((ws / "mirrors").glob("*.git"))
    assert len(mirrors) == 1
    return mirrors[0]


async def wait_for(check: Any, timeout: float = 20.0) -> Any:
    with anyio.fail_after(timeout):
        while not (value := check()):
            await anyio.sleep(0.02)
        return value


async def test_a_pull_request_run_works_in_a_worktree_at_its_head(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    remote.push(remote.commit(), "refs/heads/main")
    head = remote.commit({"file.txt": "the PR's change\n"})
    remote.push(head, "refs/pull/2/head")
    bot = review_bot(prompt="review {workspace.repo} at {workspace.sha} ({workspace.ref})")
    async with agented(tmp_path, [bot]) as ag:
        execution = await deliver(ag, "review", "pull_request", pr_payload(remote, head))
        done = await ag.wait(execution.id, timeout=20)
        lines = await texts(ag, execution.id)
        events = await events_of(ag, execution.id)
    ws = tmp_path / "ws"
    path = ws / "runs" / execution.id
    assert done.status is Status.SUCCEEDED, done.error
    assert lines == [str(path), head, "the PR's change"]
    assert done.workspace is not None
    assert (done.workspace.sha, done.workspace.ref) == (head, "refs/pull/2/head")
    assert done.workspace.repo == "Codertocat/Hello-World"
    assert done.prompt == f"review Codertocat/Hello-World at {head} (refs/pull/2/head)"
    [checkout] = [e for e in events if e.kind == "workspace"]
    assert checkout.data["fetched"] is True and checkout.data["sha"] == head
    # the workspace event comes before the agent starts
    kinds = [e.kind for e in events]
    assert kinds.index("workspace") < kinds.index("text")
    # gone when the execution ended; the mirror stays, forgetting the worktree
    assert not path.exists()
    mirror = only_mirror(ws)
    assert worktrees(mirror) == []
    # only what the run needed: the PR's head and its base branch, no other ref
    refs = git("for-each-ref", "--format=%(refname)", cwd=mirror).splitlines()
    assert sorted(refs) == ["refs/heads/main", "refs/pull/2/head"]
    # no remote, no credential in the mirror's config
    keys = [line.split("=", 1)[0] for line in git("config", "--list", cwd=mirror).splitlines()]
    assert not [k for k in keys if k.startswith(("remote.", "credential.", "http."))]


async def test_two_concurrent_runs_fetch_once_and_get_two_worktrees(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    head = remote.commit()
    remote.push(head, "refs/pull/2/head")
    gate = tmp_path / "gate"
    script = 'pwd; while [ ! -e "$1" ]; do sleep 0.02; done; git rev-parse HEAD'
    bot = review_bot(script, args=(str(gate),))
    async with agented(tmp_path, [bot]) as ag:
        body = pr_payload(remote, head)
        first = await deliver(ag, "review", "pull_request", body, "d1")
        second = await deliver(ag, "review", "pull_request", body, "d2")
        for execution in (first, second):
            await wait_for(lambda e=execution: (tmp_path / "ws" / "runs" / e.id).is_dir())
        mirror = only_mirror(tmp_path / "ws")
        await wait_for(lambda: len(worktrees(mirror)) == 2)
        assert sorted(worktrees(mirror)) == sorted(
            str(tmp_path / "ws" / "runs" / e.id) for e in (first, second)
        )
        gate.touch()
        done = [await ag.wait(e.id, timeout=20) for e in (first, second)]
        fetched = [
            e.data["fetched"]
            for execution in (first, second)
            for e in await events_of(ag, execution.id)
            if e.kind == "workspace"
        ]
        outputs = [await texts(ag, e.id) for e in (first, second)]
    assert [d.status for d in done] == [Status.SUCCEEDED] * 2
    assert sorted(fetched) == [False, True]  # one fetch; the other run waited for it
    assert outputs[0][0] != outputs[1][0]  # never the same folder
    assert [o[1] for o in outputs] == [head, head]
    assert worktrees(mirror) == []


async def test_the_running_run_keeps_its_commit_when_the_head_moves(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    old = remote.commit({"file.txt": "old\n"})
    remote.push(old, "refs/pull/2/head")
    gate = tmp_path / "gate"
    script = (
        'cat file.txt; while [ ! -e "$1" ]; do sleep 0.02; done; git rev-parse HEAD; cat file.txt'
    )
    bot = review_bot(script, args=(str(gate),))
    fast = review_bot(name="fast")
    async with agented(tmp_path, [bot, fast]) as ag:
        running = await deliver(ag, "review", "pull_request", pr_payload(remote, old))
        await wait_for(lambda: (tmp_path / "ws" / "runs" / running.id / "file.txt").exists())
        new = remote.commit({"file.txt": "new\n"})
        remote.push(new, "refs/pull/2/head")  # a push to the PR while the run runs
        later = await deliver(ag, "fast", "pull_request", pr_payload(remote, new), "d2")
        done_later = await ag.wait(later.id, timeout=20)
        gate.touch()
        done = await ag.wait(running.id, timeout=20)
        lines, later_lines = await texts(ag, running.id), await texts(ag, later.id)
    assert done.status is done_later.status is Status.SUCCEEDED
    assert lines == ["old", old, "old"]
    assert later_lines[1:] == [new, "new"]


async def test_a_force_push_is_followed_and_a_dropped_head_still_comes_by_sha(
    tmp_path: Path,
) -> None:
    remote = Remote(tmp_path)
    base = remote.commit()
    remote.push(base, "refs/heads/main")
    first = remote.commit({"file.txt": "first try\n"})
    remote.push(first, "refs/pull/2/head")
    async with agented(tmp_path, [review_bot()]) as ag:
        one = await deliver(ag, "review", "pull_request", pr_payload(remote, first))
        assert (await ag.wait(one.id, timeout=20)).status is Status.SUCCEEDED
        rewritten = remote.commit({"file.txt": "rewritten\n"}, parent=base)
        remote.push(rewritten, "refs/pull/2/head")  # not a fast-forward
        two = await deliver(ag, "review", "pull_request", pr_payload(remote, rewritten), "d2")
        done = await ag.wait(two.id, timeout=20)
        assert (await texts(ag, two.id))[1:] == [rewritten, "rewritten"]
        # a redelivery of the first head after the force-push: the mirror still has it
        again = await deliver(ag, "review", "pull_request", pr_payload(remote, first), "d3")
        assert (await ag.wait(again.id, timeout=20)).status is Status.SUCCEEDED
        assert (await texts(ag, again.id))[1:] == [first, "first try"]
    assert done.status is Status.SUCCEEDED
    mirror = only_mirror(tmp_path / "ws")
    assert git("rev-parse", "refs/pull/2/head", cwd=mirror) == rewritten


async def test_a_head_no_ref_points_to_is_fetched_by_its_sha(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    wanted = remote.commit({"file.txt": "pushed and replaced\n"})
    remote.push(wanted, "refs/pull/2/head")
    remote.push(remote.commit(), "refs/pull/2/head")  # moved on before the run fetched
    async with agented(tmp_path, [review_bot()]) as ag:
        execution = await deliver(ag, "review", "pull_request", pr_payload(remote, wanted))
        done = await ag.wait(execution.id, timeout=20)
        lines = await texts(ag, execution.id)
    assert done.status is Status.SUCCEEDED, done.error
    assert lines[1:] == [wanted, "pushed and replaced"]


async def test_a_fork_pull_request_comes_through_the_base_repository(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    remote.push(remote.commit(), "refs/heads/main")
    fork = Remote(tmp_path, "fork")
    fork_head = fork.commit({"file.txt": "from a fork\n"})
    # GitHub keeps a fork's PR head in the base repository, under refs/pull/N/head only
    git("push", "-q", remote.url, f"{fork_head}:refs/pull/7/head", cwd=fork.work)
    body = pr_payload(remote, fork_head, number=7, fork="stranger/Hello-World")
    async with agented(tmp_path, [review_bot()]) as ag:
        execution = await deliver(ag, "review", "pull_request", body)
        done = await ag.wait(execution.id, timeout=20)
        lines = await texts(ag, execution.id)
    assert done.status is Status.SUCCEEDED, done.error
    assert lines[1:] == [fork_head, "from a fork"]
    mirror = only_mirror(tmp_path / "ws")
    assert "refs/pull/7/head" in git("for-each-ref", cwd=mirror)


def test_pull_request_target_never_takes_a_fork_head_unless_allowed(tmp_path: Path) -> None:
    sha = "ab" * 20
    body = pr_payload(Remote(tmp_path), sha, number=7, fork="stranger/Hello-World")
    context = build_context("pull_request_target", body, "d")
    with pytest.raises(WorkspaceError, match=r"stranger/Hello-World.*checkout_untrusted"):
        plan(review_bot(event="pull_request_target"), context, base_dir=tmp_path)
    with pytest.raises(WorkspaceError, match="a deleted fork"):
        gone = pr_payload(Remote(tmp_path, "other"), sha, number=7)
        gone["pull_request"]["head"]["repo"] = None
        plan(
            review_bot(checkout="merge"),
            build_context("pull_request_target", gone, "d"),
            base_dir=tmp_path,
        )
    allowed = plan(review_bot(checkout_untrusted=True), context, base_dir=tmp_path)
    assert (allowed.sha, allowed.ref) == (sha, "refs/pull/7/head")
    # a pull request from the repository itself is fine
    same = plan(
        review_bot(),
        build_context("pull_request_target", pr_payload(Remote(tmp_path, "x"), sha), "d"),
        base_dir=tmp_path,
    )
    assert same.sha == sha and same.trust_ref is None


async def test_a_missing_commit_fails_before_the_agent_starts(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    remote.push(remote.commit(), "refs/pull/2/head")
    missing = "1234567890abcdef1234567890abcdef12345678"
    started = tmp_path / "started"
    bot = review_bot('touch "$1"', args=(str(started),))
    async with agented(tmp_path, [bot]) as ag:
        execution = await deliver(ag, "review", "pull_request", pr_payload(remote, missing))
        done = await ag.wait(execution.id, timeout=20)
        events = await events_of(ag, execution.id)
    assert done.status is Status.FAILED
    assert done.error_kind is ErrorKind.WORKSPACE
    assert missing in (done.error or "") and "Codertocat/Hello-World" in (done.error or "")
    assert not started.exists()
    assert [e.data.get("status") for e in events if e.kind == "status"] == ["queued", "failed"]
    assert done.attempts[0].error_kind is ErrorKind.WORKSPACE
    assert not (tmp_path / "ws" / "runs" / execution.id).exists()


async def test_an_unreachable_remote_fails_with_the_repository_named(tmp_path: Path) -> None:
    body = payload("pull_request.opened", **{"repository.clone_url": str(tmp_path / "nothing")})
    async with agented(tmp_path, [review_bot()]) as ag:
        done = await ag.wait((await deliver(ag, "review", "pull_request", body)).id, 20)
    assert done.error_kind is ErrorKind.WORKSPACE
    assert "Codertocat/Hello-World" in (done.error or "")


@pytest.mark.parametrize(
    ("keep", "script", "kept"),
    [
        ("never", "false", False),
        ("on_failure", "false", True),
        ("on_failure", "true", False),
        ("always", "true", True),
    ],
)
async def test_keep_workspace(tmp_path: Path, keep: str, script: str, kept: bool) -> None:
    remote = Remote(tmp_path)
    head = remote.commit()
    remote.push(head, "refs/pull/2/head")
    bot = review_bot(script, keep_workspace=KeepWorkspace(keep), max_attempts=1)
    async with agented(tmp_path, [bot]) as ag:
        execution = await deliver(ag, "review", "pull_request", pr_payload(remote, head))
        done = await ag.wait(execution.id, timeout=20)
        path = tmp_path / "ws" / "runs" / execution.id
        assert path.is_dir() is kept
        if kept:
            assert git("rev-parse", "HEAD", cwd=path) == head
        # a sweep keeps a kept workspace, for the mirror's TTL
        assert (await ag.ownership.sweep_workspaces(force=True)) is not None
        assert path.is_dir() is kept
    assert done.status is (Status.SUCCEEDED if script == "true" else Status.FAILED)


async def test_a_push_checks_out_its_after_and_a_deleted_ref_fails(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    after = remote.commit({"file.txt": "pushed\n"})
    remote.push(after, "refs/heads/feature")
    pushed = payload(
        "push",
        **{"repository.clone_url": remote.url, "ref": "refs/heads/feature", "after": after},
    )
    deleted = payload("push", **{"repository.clone_url": remote.url})  # after = 000...
    async with agented(tmp_path, [review_bot(event="push")]) as ag:
        done = await ag.wait((await deliver(ag, "review", "push", pushed)).id, 20)
        lines = await texts(ag, done.id)
        failed = await ag.wait((await deliver(ag, "review", "push", deleted, "d2")).id, 20)
    assert done.status is Status.SUCCEEDED, done.error
    assert lines[1:] == [after, "pushed"]
    assert done.workspace is not None and done.workspace.ref == "refs/heads/feature"
    assert failed.error_kind is ErrorKind.WORKSPACE and "deleted" in (failed.error or "")


async def test_merge_checks_out_the_merge_ref(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    base = remote.commit({"file.txt": "base\n"})
    remote.push(base, "refs/heads/main")
    head = remote.commit({"other.txt": "head\n"})
    remote.push(head, "refs/pull/2/head")
    merge = remote.commit({"file.txt": "merged\n"})  # GitHub's test merge, as a commit
    remote.push(merge, "refs/pull/2/merge")
    async with agented(tmp_path, [review_bot(checkout="merge")]) as ag:
        done = await ag.wait(
            (await deliver(ag, "review", "pull_request", pr_payload(remote, head))).id, 20
        )
        lines = await texts(ag, done.id)
    assert done.status is Status.SUCCEEDED, done.error
    assert lines[1:] == [merge, "merged"]
    assert done.workspace is not None and done.workspace.ref == "refs/pull/2/merge"


async def test_a_comment_on_a_pull_request_checks_out_a_head_that_is_a_branch(
    tmp_path: Path,
) -> None:
    remote = Remote(tmp_path)
    head = remote.commit({"file.txt": "branch head\n"})
    remote.push(head, "refs/heads/feature")
    remote.push(head, "refs/pull/1/head")  # the fixture comments on issue 1
    fork_head = remote.commit({"file.txt": "fork\n"})
    remote.push(fork_head, "refs/pull/9/head")  # no branch of the base points here
    body = payload("issue_comment.created", **{"repository.clone_url": remote.url})
    body["issue"]["pull_request"] = {"html_url": "https://github.com/x/y/pull/1"}
    fork_body = payload("issue_comment.created", **{"repository.clone_url": remote.url})
    fork_body["issue"]["number"] = 9
    fork_body["issue"]["pull_request"] = {"html_url": "https://github.com/x/y/pull/9"}
    bot = review_bot(event="issue_comment")
    trusting = review_bot(name="trusting", event="issue_comment", checkout_untrusted=True)
    merging = review_bot(name="merging", event="issue_comment", checkout="merge")
    merge = remote.commit({"file.txt": "merged\n"}, parent=head)
    remote.push(merge, "refs/pull/1/merge")
    async with agented(tmp_path, [bot, trusting, merging]) as ag:
        done = await ag.wait((await deliver(ag, "review", "issue_comment", body)).id, 20)
        lines = await texts(ag, done.id)
        merged = await ag.wait((await deliver(ag, "merging", "issue_comment", body, "d4")).id, 20)
        refused = await ag.wait(
            (await deliver(ag, "review", "issue_comment", fork_body, "d2")).id, 20
        )
        taken = await ag.wait(
            (await deliver(ag, "trusting", "issue_comment", fork_body, "d3")).id, 20
        )
    assert taken.status is Status.SUCCEEDED, taken.error
    assert taken.workspace is not None and taken.workspace.sha == fork_head
    # a merge checkout is trusted by its head: a branch of the base here
    assert merged.status is Status.SUCCEEDED, merged.error
    assert merged.workspace is not None and merged.workspace.sha == merge
    assert done.status is Status.SUCCEEDED, done.error
    assert lines[1:] == [head, "branch head"]
    assert refused.error_kind is ErrorKind.WORKSPACE
    assert "fork" in (refused.error or "") and fork_head in (refused.error or "")


async def test_a_manual_bot_names_its_repository_and_ref(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    main = remote.commit({"file.txt": "main\n"})
    remote.push(main, "refs/heads/main")
    tagged = remote.commit({"file.txt": "tagged\n"})
    git("tag", "-a", "-m", "v1", "v1.0", tagged, cwd=remote.work)
    git("push", "-q", remote.url, "refs/tags/v1.0", cwd=remote.work)
    (tmp_path / "src").mkdir()
    bot = Bot(
        name="nightly",
        provider="shell",
        command=("sh", "-c", "pwd; git rev-parse HEAD; cat ../file.txt"),
        workdir="src",
        checkout=Checkout(CheckoutKind.REF, repo=remote.url, ref="{params.ref}"),
        triggers=(ManualTrigger(params=["ref"]),),
    )
    async with agented(tmp_path, [bot]) as ag:
        remote.commit({"src/keep": ""})
        remote.push(remote.commit({"src/keep": "", "file.txt": "main 2\n"}), "refs/heads/main")
        branch = await ag.wait((await ag.run("nightly", {"ref": "main"})).id, 20)
        branch_lines = await texts(ag, branch.id)
        tag = await ag.wait((await ag.run("nightly", {"ref": "v1.0"})).id, 20)
    assert branch.status is Status.SUCCEEDED, branch.error
    path = tmp_path / "ws" / "runs" / branch.id
    assert branch_lines[0] == str(path / "src")  # workdir is relative to the worktree
    assert branch_lines[2] == "main 2"
    assert branch.workspace is not None and branch.workspace.ref == "refs/heads/main"
    # a tag (not a branch) has no src/ folder: the workdir is missing, a launch error
    assert tag.workspace is not None
    assert (tag.workspace.ref, tag.workspace.sha) == ("refs/tags/v1.0", tagged)


async def test_a_mirror_unused_for_its_ttl_is_deleted(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    head = remote.commit()
    remote.push(head, "refs/pull/2/head")
    async with agented(tmp_path, [review_bot()], mirror_ttl_days=2) as ag:
        done = await ag.wait(
            (await deliver(ag, "review", "pull_request", pr_payload(remote, head))).id, 20
        )
        assert done.status is Status.SUCCEEDED
        mirror = only_mirror(tmp_path / "ws")
        workspaces = ag.executor.workspaces
        soon = await workspaces.sweep(ag.store, ag.bots, set(), now=time.time() + 86400)
        assert soon.mirrors == () and mirror.exists()
        assert (mirror / "agented-gc").exists()  # housekept by the sweep, not by the run
        later = await workspaces.sweep(ag.store, ag.bots, set(), now=time.time() + 3 * 86400)
        assert later.mirrors == (mirror.name,) and not mirror.exists()
        # the next run makes it again
        again = await deliver(ag, "review", "pull_request", pr_payload(remote, head), "d2")
        assert (await ag.wait(again.id, timeout=20)).status is Status.SUCCEEDED
        assert mirror.exists()


async def test_a_sweep_removes_worktrees_of_ended_or_unknown_executions(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    head = remote.commit()
    remote.push(head, "refs/pull/2/head")
    async with agented(tmp_path, [review_bot(keep_workspace=KeepWorkspace.ALWAYS)]) as ag:
        done = await ag.wait(
            (await deliver(ag, "review", "pull_request", pr_payload(remote, head))).id, 20
        )
        kept = tmp_path / "ws" / "runs" / done.id
        assert kept.is_dir()
        stray = tmp_path / "ws" / "runs" / "01STRAYEXECUTIONOFNOBODY00"
        recent = tmp_path / "ws" / "runs" / "01RECENTOFANOTHERSTORE0000"
        for path in (stray, recent):
            path.mkdir()
            (path / "junk").write_text("left by a crash")
        old = time.time() - 15 * 86400
        os.utime(stray, (old, old))
        swept = await ag.ownership.sweep_workspaces(force=True)
    assert swept is not None and swept.worktrees == ("01STRAYEXECUTIONOFNOBODY00",)
    # unknown to this store but recent: maybe a run of another store sharing the folder
    assert kept.is_dir() and not stray.exists() and recent.is_dir()


def test_mirror_names_are_readable_and_unique() -> None:
    a = mirror_name("https://github.com/octo/repo.git")
    assert a.startswith("github.com-octo-repo-") and a.endswith(".git")
    assert a == mirror_name("https://github.com/octo/repo")
    assert a != mirror_name("https://ghe.example.com/octo/repo.git")
    assert "/" not in mirror_name("/tmp/some/path.git")


def test_workspaces_dir_defaults_beside_the_database(tmp_path: Path) -> None:
    from agented_core.config import AgentedSettings
    from agented_core.workspaces import workspaces_dir

    config = Config(path=tmp_path / "agented.toml")
    assert workspaces_dir(config) == tmp_path / "workspaces"
    db = Config(
        path=tmp_path / "agented.toml",
        settings=AgentedSettings(database="sqlite:////var/lib/agented/agented.db"),
    )
    assert workspaces_dir(db) == Path("/var/lib/agented/workspaces")
    other = Config(
        path=tmp_path / "agented.toml", settings=AgentedSettings(database="postgresql://x/y")
    )
    assert workspaces_dir(other) == tmp_path / "workspaces"
    named = Config(path=tmp_path / "agented.toml", github=GitHubSettings(workspaces_dir="w"))
    assert workspaces_dir(named) == tmp_path / "w"
    assert isinstance(Workspaces.from_config(named).root, Path)
    assert os.sep in str(workspaces_dir(named))


async def test_a_mirror_lock_held_by_another_process_makes_the_run_wait(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    head = remote.commit()
    remote.push(head, "refs/pull/2/head")
    lock = tmp_path / "ws" / "mirrors" / (mirror_name(remote.url) + ".lock")
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        async with agented(tmp_path, [review_bot()]) as ag:
            execution = await deliver(ag, "review", "pull_request", pr_payload(remote, head))
            with anyio.move_on_after(1.0) as waited:
                await ag.wait(execution.id)
            assert waited.cancelled_caught  # still waiting for the other process's lock
            assert not (lock.parent / mirror_name(remote.url) / "HEAD").exists()
            assert holder.stdin is not None
            holder.stdin.close()  # the other process ends, its lock with it
            holder.wait(10)
            done = await ag.wait(execution.id, timeout=20)
        assert done.status is Status.SUCCEEDED, done.error
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


async def test_a_hook_an_agent_writes_into_the_mirror_never_runs(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    head = remote.commit()
    remote.push(head, "refs/pull/2/head")
    pwned = tmp_path / "pwned"
    script = (
        'hooks="$(git rev-parse --git-common-dir)/hooks"; mkdir -p "$hooks"; '
        'printf "#!/bin/sh\\ntouch %s\\n" "$1" > "$hooks/post-checkout"; '
        'chmod +x "$hooks/post-checkout"; git config --file "$hooks/../config" core.fsmonitor '
        '"touch $1.fsmonitor"'
    )
    bot = review_bot(script, args=(str(pwned),))
    async with agented(tmp_path, [bot]) as ag:
        for delivery in ("d1", "d2"):
            body = pr_payload(remote, head)
            done = await ag.wait(
                (await deliver(ag, "review", "pull_request", body, delivery)).id, 20
            )
            assert done.status is Status.SUCCEEDED, done.error
    mirror = only_mirror(tmp_path / "ws")
    assert (mirror / "hooks" / "post-checkout").exists()  # written by the first run ...
    assert not pwned.exists()  # ... never run by agented's worktree add for the second
    assert not Path(f"{pwned}.fsmonitor").exists()


async def test_a_signed_delivery_runs_in_its_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import hmac
    import json

    remote = Remote(tmp_path)
    head = remote.commit({"file.txt": "delivered\n"})
    remote.push(head, "refs/pull/2/head")
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRETS", "s3cret-for-tests")
    body = json.dumps(pr_payload(remote, head)).encode()
    signature = "sha256=" + hmac.new(b"s3cret-for-tests", body, hashlib.sha256).hexdigest()
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
    }
    async with agented(tmp_path, [review_bot()]) as ag:
        result = await ag.deliveries.github(body, headers)
        [execution_id] = result.execution_ids
        done = await ag.wait(execution_id, timeout=20)
        lines = await texts(ag, execution_id)
    assert done.status is Status.SUCCEEDED, done.error
    assert lines[1:] == [head, "delivered"]
