"""The genuine agent CLIs for the contract tests: pinned npm packages in a cache folder.

Each CLI is installed once from the npm registry into
``$AGENTED_REALCLI_CACHE`` (default ``$XDG_CACHE_HOME/agented-realcli``, i.e.
``~/.cache/agented-realcli``) as ``<name>@<version>/``, outside the source tree, and reused
while it is there. An install goes to a temporary folder first and is renamed into place, under
a file lock, so concurrent runs and interrupted installs never leave a half-installed CLI.

Run as a script to install (or check) them ahead of the tests::

    python tests/realcli/clis.py            # install every pinned CLI, print their paths
    python tests/realcli/clis.py claude     # just one
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pinned:
    """A CLI from npm at a pinned version."""

    name: str
    package: str
    version: str
    bin: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


PINNED = {
    "claude": Pinned("claude", "@anthropic-ai/claude-code", "2.1.197", "claude"),
    "codex": Pinned("codex", "@openai/codex", "0.169.0", "codex"),
    "gemini": Pinned("gemini", "@google/gemini-cli", "0.61.0", "gemini"),
    "opencode": Pinned("opencode", "opencode-ai", "1.18.33", "opencode"),
    "qwen": Pinned("qwen", "@qwen-code/qwen-code", "0.24.4", "qwen"),
    "pi": Pinned("pi", "@mariozechner/pi-coding-agent", "0.73.1", "pi"),
    "kilo": Pinned("kilo", "@kilocode/cli", "7.7.7", "kilo"),
}
"""The CLIs the contract tests run, by provider name. Bump a version here (and the plugin's
``TESTED_VERSION``), run ``nox -s realcli``, and refresh the transcripts with
``AGENTED_REALCLI_RECORD=1``."""


class Unavailable(Exception):
    """The CLI cannot be installed here (no node / npm): the reason says what is missing."""


def cache_root() -> Path:
    """Where the CLIs are installed: ``$AGENTED_REALCLI_CACHE`` or ``~/.cache/agented-realcli``."""
    explicit = os.environ.get("AGENTED_REALCLI_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agented-realcli"


def node_tools() -> tuple[str, str]:
    """Paths of ``node`` and ``npm``; :class:`Unavailable` when either is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        missing = " and ".join(n for n, p in (("node", node), ("npm", npm)) if not p)
        raise Unavailable(
            f"{missing} not found on PATH: the realcli contract tests install the genuine "
            "agent CLIs from the npm registry (install Node.js 18 or later with npm)"
        )
    return node, npm


def installed(cli: Pinned) -> Path | None:
    """The CLI's executable if it is installed in the cache and answers ``--version``."""
    path = cache_root() / f"{cli.name}@{cli.version}" / "node_modules" / ".bin" / cli.bin
    if not path.exists():
        return None
    try:
        out = subprocess.run(
            [str(path), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": str(path.parent)},
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    # pi prints its version on stderr
    return path if out.returncode == 0 and cli.version in out.stdout + out.stderr else None


def ensure(name: str) -> Path:
    """Install the pinned CLI ``name`` unless it is in the cache; return its executable."""
    cli = PINNED[name]
    found = installed(cli)
    if found is not None:
        return found
    _, npm = node_tools()
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{cli.name}@{cli.version}"
    with open(root / f".{cli.name}@{cli.version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = installed(cli)  # another process may have installed it meanwhile
        if found is not None:
            return found
        staging = root / f".{cli.name}@{cli.version}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        (staging / "package.json").write_text('{"private": true}\n')
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", cli.spec],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(
                f"npm install {cli.spec} failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    found = installed(cli)
    if found is None:
        raise RuntimeError(f"{cli.spec} was installed in {target} but does not run")
    return found


def main(argv: list[str]) -> int:
    names = argv or list(PINNED)
    for name in names:
        try:
            path = ensure(name)
        except Unavailable as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
        print(f"{name} {PINNED[name].version}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
