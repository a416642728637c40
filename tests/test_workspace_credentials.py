"""Credentials for a private repository over real HTTP, and that no token is kept anywhere.

A loopback smart-HTTP server (``git http-backend`` behind a token check) serves the remote; a
test plugin gives the token through ``agented_workspace_credentials``. The token must reach
git for the fetch and nothing else: not an event, a log line, a stored row, a mirror's or
worktree's config, a credential store of the user, nor the agent's environment.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

import anyio
import pytest

from agented_core import Agented, ErrorKind, GitHubTrigger, Status, TriggerKind, hookimpl
from agented_core.config import Config, GitHubSettings
from agented_core.models import Bot
from agented_core.triggers._github import build_context
from git_http import GitServer
from git_support import Remote, git, pr_payload

pytestmark = pytest.mark.anyio

USER = "x-access-token"


class TokenPlugin:
    """Gives the token for the server's URLs only; counts the calls."""

    def __init__(self, server: str, token: str, *, asynchronous: bool = False) -> None:
        self.server, self.token, self.asynchronous = server, token, asynchronous
        self.asked: list[str] = []

    @hookimpl
    def agented_workspace_credentials(self, url: str) -> Any:
        self.asked.append(url)
        given = {"username": USER, "password": self.token} if url.startswith(self.server) else None
        if not self.asynchronous:
            return given

        async def later() -> dict[str, str] | None:
            return given

        return later()


def bot(**fields: Any) -> Bot:
    return Bot(
        name="review",
        provider="shell",
        command=("sh", "-c", "git rev-parse HEAD; env; cat .git"),
        checkout="head",
        triggers=(GitHubTrigger("pull_request"),),
        **fields,
    )


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def run_private(
    tmp_path: Path, plugin: object | None, monkeypatch: pytest.MonkeyPatch, token: str
) -> tuple[Any, list[Any], GitServer, str]:
    (tmp_path / "srv").mkdir()
    remote = Remote(tmp_path / "srv")
    remote.push(remote.commit(), "refs/heads/main")
    head = remote.commit()
    remote.push(head, "refs/pull/2/head")
    # a user whose git stores every credential it sees: agented's must never land there
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    monkeypatch.setenv("HOME", str(home))
    with GitServer(tmp_path / "srv", username=USER, password=token) as server:
        body = pr_payload(remote, head)
        body["repository"]["clone_url"] = f"{server.url}/remote.git"
        body["repository"]["private"] = True
        config = Config(
            path=tmp_path / "agented.toml",
            github=GitHubSettings(workspaces_dir=str(tmp_path / "ws")),
        )
        async with Agented.open(
            f"sqlite:///{tmp_path / 'agented.db'}",
            config=config,
            bots=[bot()],
            plugins=[plugin] if plugin else [],
            entry_points=False,
        ) as ag:
            execution = await ag.run(
                "review",
                trigger=TriggerKind.GITHUB,
                context=build_context("pull_request", body, "d1"),
            )
            done = await ag.wait(execution.id, timeout=30)
            events = [e async for e in ag.events(execution.id)]
    return done, events, server, head


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_private_repository_is_fetched_with_the_plugins_token_and_nothing_keeps_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    asynchronous: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "ghs_" + secrets.token_hex(18)
    plugin = TokenPlugin("http://127.0.0.1:", token, asynchronous=asynchronous)
    done, events, server, head = await run_private(tmp_path, plugin, monkeypatch, token)
    assert done.status is Status.SUCCEEDED, done.error
    assert server.fetches() == 1
    assert plugin.asked == [f"{server.url}/remote.git"]
    texts = [e.text or "" for e in events if e.kind == "text"]
    assert texts[0] == head
    # the agent's environment has no token, nor any git credential variable
    assert not [t for t in texts if token in t or t.startswith(("AGENTED_GIT", "GIT_CONFIG"))]
    # searched for: events, logs, the store's file, every file of mirrors and worktrees,
    # the user's home (its credential store)
    needle = token.encode()
    assert not [e for e in events if needle in repr((e.text, e.data)).encode()]
    assert token not in caplog.text
    assert files_containing(tmp_path, needle) == []
    assert not (tmp_path / "home" / ".git-credentials").exists()
    assert token not in repr(done)
    mirror = next((tmp_path / "ws" / "mirrors").glob("*.git"))
    config = git("config", "--list", cwd=mirror)
    assert "credential" not in config and "127.0.0.1" in config  # the URL, without userinfo


async def test_without_credentials_a_private_fetch_fails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "ghs_" + secrets.token_hex(18)
    done, events, server, head = await run_private(tmp_path, None, monkeypatch, token)
    assert done.status is Status.FAILED
    assert done.error_kind is ErrorKind.WORKSPACE
    assert "Codertocat/Hello-World" in (done.error or "") and head in (done.error or "")
    assert not [e for e in events if e.kind == "text"]
    assert server.fetches() == 0


async def test_a_wrong_token_fails_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "ghs_" + secrets.token_hex(18)
    wrong = "ghs_" + secrets.token_hex(18)
    plugin = TokenPlugin("http://127.0.0.1:", wrong)
    done, _, _, _ = await run_private(tmp_path, plugin, monkeypatch, token)
    assert done.error_kind is ErrorKind.WORKSPACE
    assert wrong not in (done.error or "")
    assert files_containing(tmp_path, wrong.encode()) == []


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def git_processes_in(folder: Path) -> list[int]:
    """Live processes whose command line or working directory is inside ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (str(folder).encode() in cmdline or cwd.startswith(str(folder))):
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("how", ["cancel", "timeout"])
async def test_a_hung_fetch_ends_with_its_git_processes(tmp_path: Path, how: str) -> None:
    remote = Remote(tmp_path / "srv")
    head = remote.commit()
    remote.push(head, "refs/pull/2/head")
    with GitServer(tmp_path / "srv", username=USER, password="t0ken-unused") as server:
        server.hang.set()
        body = pr_payload(remote, head)
        body["repository"]["clone_url"] = f"{server.url}/remote.git"
        config = Config(
            path=tmp_path / "agented.toml",
            github=GitHubSettings(workspaces_dir=str(tmp_path / "ws")),
        )
        fields = {"timeout": 1.0} if how == "timeout" else {}
        token = "ghs_" + secrets.token_hex(18)
        async with Agented.open(
            f"sqlite:///{tmp_path / 'agented.db'}",
            config=config,
            bots=[bot(**fields)],
            plugins=[TokenPlugin("http://127.0.0.1:", token)],
            entry_points=False,
        ) as ag:
            execution = await ag.run(
                "review",
                trigger=TriggerKind.GITHUB,
                context=build_context("pull_request", body, "d"),
            )
            with anyio.fail_after(20):
                while not server.requests:
                    await anyio.sleep(0.02)
            assert git_processes_in(tmp_path / "ws")  # git is waiting for the server
            # the token is in no process's command line (what ps shows every user)
            assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if token in _read(p)]
            if how == "cancel":
                await ag.cancel(execution.id)
            done = await ag.wait(execution.id, timeout=20)
            left = git_processes_in(tmp_path / "ws")
    if how == "cancel":
        assert done.status is Status.CANCELLED
    else:
        assert done.status is Status.FAILED and done.error_kind is ErrorKind.WORKSPACE
        assert "timeout" in (done.error or "") and head in (done.error or "")
    assert left == []
    assert not (tmp_path / "ws" / "runs" / execution.id).exists()


def test_credentials_are_scoped_to_the_remote_host_and_never_shown() -> None:
    from agented_core.workspaces import Credentials

    credentials = Credentials("x-access-token", "ghs_secretvalue123")
    env = credentials.env("https://ghe.example.com:8443/o/r.git")
    keys = {env[k]: env[k.replace("KEY", "VALUE")] for k in env if k.startswith("GIT_CONFIG_KEY")}
    assert keys["credential.helper"] == ""  # every other helper reset first
    helper = keys["credential.https://ghe.example.com:8443.helper"]
    assert "ghs_secretvalue123" not in helper and "AGENTED_GIT_PASSWORD" in helper
    assert "secret" not in repr(credentials)
    assert credentials.secrets == ("ghs_secretvalue123",)
