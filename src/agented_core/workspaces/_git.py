"""Running git: one process in a session of its own, its output captured, ended whole on cancel.

git starts helpers of its own (``git-remote-https``, ``index-pack``), so a cancelled command
(a cancelled run) kills the session's whole group, and waits for it, before the cancel goes on.
The environment is the host's without any ``GIT_*`` variable (a ``GIT_DIR`` or ``GIT_TRACE``
of a hook that started agented must not steer the mirrors), never prompting on a terminal.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence

import anyio
from anyio.abc import ByteReceiveStream, Process
from attrs import frozen

GIT = "git"


@frozen
class GitResult:
    """A finished git command: its exit code and what it printed."""

    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when git exited with 0."""
        return self.code == 0


SAFE_CONFIG = (
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
)
"""Config every agented git command runs with, over any repository config: a mirror is shared
with the agents working in its worktrees, and nothing they write into it (a hook, an fsmonitor
command) runs in agented's own git commands."""


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a git command: the host's minus ``GIT_*``, no prompts, plus ``extra``
    (whose ``GIT_CONFIG_*`` entries come before :data:`SAFE_CONFIG`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GCM_INTERACTIVE="never",
        # never ask a person: a missing credential fails the command at once
        GIT_ASKPASS="true",
        SSH_ASKPASS="true",
        LC_ALL="C",
        # a transfer stalled below 1 kB/s for a minute fails rather than hangs
        GIT_HTTP_LOW_SPEED_LIMIT="1000",
        GIT_HTTP_LOW_SPEED_TIME="60",
    )
    extra = dict(extra or {})
    count = int(extra.get("GIT_CONFIG_COUNT", "0"))
    for key, value in SAFE_CONFIG:
        extra[f"GIT_CONFIG_KEY_{count}"] = key
        extra[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    extra["GIT_CONFIG_COUNT"] = str(count)
    env.update(extra)
    return env


async def run_git(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> GitResult:
    """Run ``git ARGS`` to its end; a cancel kills its process group and waits for it."""
    process = await anyio.open_process(
        [GIT, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=git_env(env),
        start_new_session=True,
    )
    out: list[bytes] = []
    err: list[bytes] = []
    try:
        async with anyio.create_task_group() as tg:
            assert process.stdout is not None and process.stderr is not None
            tg.start_soon(_drain, process.stdout, out)
            tg.start_soon(_drain, process.stderr, err)
            await process.wait()
    except BaseException:
        with anyio.CancelScope(shield=True):
            await _kill(process)
        raise
    code = process.returncode if process.returncode is not None else -1
    return GitResult(
        code, b"".join(out).decode("utf-8", "replace"), b"".join(err).decode("utf-8", "replace")
    )


async def _drain(stream: ByteReceiveStream, into: list[bytes]) -> None:
    async for chunk in stream:
        into.append(chunk)


async def _kill(process: Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    await process.wait()
