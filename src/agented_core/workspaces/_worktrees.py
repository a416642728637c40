"""A run's worktree: ``git worktree add --detach`` of its mirror at the exact commit, and its end.

The worktree's ``.git`` file names its mirror, so a worktree is removed (and its mirror's record
of it pruned) also when nothing else is known about it, as after a crash.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

from ._errors import WorkspaceError
from ._git import run_git
from ._mirrors import Mirror, last_line


async def add_worktree(mirror: Mirror, path: Path, sha: str) -> None:
    """Check out ``sha`` of ``mirror`` at ``path`` (detached); anything left there goes first."""
    if _present(path):
        remove_tree(path)
        await mirror.git("worktree", "prune")
    path.parent.mkdir(parents=True, exist_ok=True)
    result = await mirror.git("worktree", "add", "--detach", "-q", str(path), sha)
    if not result.ok:
        remove_tree(path)
        raise WorkspaceError(f"cannot check out {sha} at {path}: {last_line(result.stderr)}")


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def mirror_of(path: Path) -> Path | None:
    """The mirror a worktree at ``path`` belongs to (from its ``.git`` file), or ``None``."""
    try:
        text = (path / ".git").read_text("utf-8")
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = Path(text.split(":", 1)[1].strip())
    # <mirror>/worktrees/<name>
    return gitdir.parent.parent if gitdir.parent.name == "worktrees" else None


def remove_tree(path: Path) -> None:
    """Delete ``path`` and everything below it, read-only files and folders included."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
        return

    def writable(function: Any, name: str, _exc: Any) -> None:
        parent = os.path.dirname(name)
        for target in (parent, name):
            try:
                os.chmod(target, os.stat(target).st_mode | stat.S_IWUSR | stat.S_IXUSR)
            except OSError:
                pass
        function(name)

    if path.exists():
        shutil.rmtree(path, onerror=writable)


async def prune(mirror_path: Path) -> None:
    """Forget the mirror's worktrees whose folders are gone."""
    if (mirror_path / "HEAD").exists():
        await run_git(["-C", str(mirror_path), "worktree", "prune"])
