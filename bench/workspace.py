"""Workspace benchmark: a run's checkout against plain git, on a generated repository.

The repository (made with ``git fast-import``: FILES files, COMMITS commits, each commit
changing a few files) is served as ``file://`` (git's pack transport, as over the network; a
plain path would let ``git clone`` hardlink the objects). Two comparisons, in the same run:

- warm: a run's workspace on a mirror that has the commit (``Workspaces.checkout``: the lock,
  the commit check, ``git worktree add --detach``) against a bare ``git worktree add --detach``
  of the same commit from the same mirror. Target: at most 1.5x.
- first: a run's first mirror (an empty ``workspaces_dir``: the mirror made, the PR's ref and
  base branch fetched, exactly as the first run does it) against ``git clone --mirror``.
  Target: at most 1.2x. And the whole first run (the mirror, then the worktree: 5,000 files
  written) against ``git clone --mirror`` followed by ``git worktree add``, the same work done
  by hand (a clone alone writes no files, so it is no baseline for a checkout).

Printed: the median of ROUNDS (min and max) of each, and the ratios. Removing a worktree is not
timed. The machine may be shared: run it a few times and read the medians.

    .venv/bin/python bench/workspace.py [--files 5000] [--commits 1000] [--rounds 7] [--dir D]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent / "src"))

from agented_core.events._redaction import Redactor  # noqa: E402
from agented_core.models import Bot, Execution, GitHubTrigger, TriggerKind  # noqa: E402
from agented_core.workspaces import Mirror, Workspaces, mirror_name  # noqa: E402

ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, input=stdin, capture_output=True, check=True
    )
    return result.stdout.decode().strip()


def generate(origin: Path, files: int, commits: int) -> str:
    """A bare repository of ``files`` files and ``commits`` commits; the tip's sha."""
    rng = random.Random(42)
    git("init", "--bare", "-q", "-b", "main", str(origin))
    paths = [f"src/pkg{i % 50:02d}/module_{i:05d}.py" for i in range(files)]
    out: list[bytes] = []

    def blob(path: str, version: int) -> None:
        body = "".join(
            f"def f{n}_{version}(x):\n    return x * {rng.randint(1, 999)}  # {path}\n"
            for n in range(rng.randint(3, 12))
        ).encode()
        out.append(f"M 100644 inline {path}\ndata {len(body)}\n".encode() + body + b"\n")

    stamp = 1_700_000_000
    for number in range(commits):
        message = f"commit {number}".encode()
        out.append(
            b"commit refs/heads/main\n"
            + f"committer Bench <bench@example.com> {stamp + number * 60} +0000\n".encode()
            + f"data {len(message)}\n".encode()
            + message
            + b"\n"
        )
        changed = paths if number == 0 else rng.sample(paths, 5)
        for path in changed:
            blob(path, number)
        out.append(b"\n")
    git("fast-import", "--quiet", cwd=origin, stdin=b"".join(out))
    git("repack", "-a", "-d", "-q", cwd=origin)  # as a server's repository would be
    tip = git("rev-parse", "refs/heads/main", cwd=origin)
    git("update-ref", "refs/pull/1/head", tip, cwd=origin)
    return tip


def context(url: str, sha: str) -> dict[str, object]:
    return {
        "trigger": "github",
        "event": "pull_request",
        "repo": {"full_name": "bench/repo", "clone_url": url},
        "pr": {"number": 1, "head_sha": sha, "base_ref": "main"},
        "payload": {},
    }


BOT = Bot(name="bench", checkout="head", triggers=(GitHubTrigger("pull_request"),))


def execution(n: int, url: str, sha: str) -> Execution:
    return Execution(
        id=f"01BENCH{n:019d}", bot="bench", trigger=TriggerKind.GITHUB, context=context(url, sha)
    )


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await action()
    return time.perf_counter() - start


async def run_git(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "git", *args, env=ENV, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode:
        raise RuntimeError(err.decode())


def summary(name: str, values: list[float]) -> float:
    median = statistics.median(values)
    print(
        f"  {name:<44} median {median * 1000:8.1f} ms"
        f"  (min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})"
    )
    return median


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dir", default=None, help="where to work (default: the temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agented-bench-ws-", dir=args.dir) as tmp:
        root = Path(tmp)
        origin = root / "origin.git"
        start = time.perf_counter()
        sha = generate(origin, args.files, args.commits)
        size = sum(p.stat().st_size for p in origin.rglob("*") if p.is_file())
        print(
            f"repository: {args.files} files, {args.commits} commits, {size / 1e6:.1f} MB packed "
            f"(generated in {time.perf_counter() - start:.1f} s)"
        )
        url = f"file://{origin}"
        counter = iter(range(1_000_000))

        # first run against git clone --mirror (+ git worktree add)
        mirror_made: list[float] = []
        first: list[float] = []
        clone: list[float] = []
        clone_add: list[float] = []
        for r in range(args.rounds):
            fresh = Workspaces(root / f"ws-mirror-{r}")
            plan = fresh.plan(BOT, context(url, sha))
            made = Mirror(fresh.mirrors / mirror_name(url), url)

            async def make_mirror(made: Mirror = made, plan: object = plan) -> None:
                await made.ensure()
                specs = [*plan.refspecs, *plan.extras]  # type: ignore[attr-defined]
                result = await made.fetch(specs, None, Redactor(()))
                assert result.ok, result.stderr

            mirror_made.append(await timed(make_mirror))
            target = root / f"clone-{r}.git"
            clone.append(
                await timed(lambda t=target: run_git("clone", "--mirror", "-q", url, str(t)))
            )
            whole = Workspaces(root / f"ws-first-{r}")
            first.append(
                await timed(
                    lambda w=whole: w.checkout(
                        execution(next(counter), url, sha), BOT, context(url, sha)
                    )
                )
            )
            tree = root / f"clone-{r}-tree"
            added = await timed(
                lambda t=target, tree=tree: run_git(
                    "-C", str(t), "worktree", "add", "--detach", "-q", str(tree), sha
                )
            )
            clone_add.append(clone[-1] + added)
            for path in (f"ws-mirror-{r}", f"ws-first-{r}", f"clone-{r}.git", f"clone-{r}-tree"):
                shutil.rmtree(root / path)

        # warm mirror against a bare git worktree add
        warm_ws = Workspaces(root / "ws")
        await warm_ws.checkout(execution(next(counter), url, sha), BOT, context(url, sha))
        mirror = next((root / "ws" / "mirrors").glob("*.git"))
        warm: list[float] = []
        bare: list[float] = []
        for r in range(args.rounds):
            run = execution(next(counter), url, sha)
            warm.append(await timed(lambda run=run: warm_ws.checkout(run, BOT, run.context)))
            await warm_ws.remove(warm_ws.path_of(run.id))
            tree = root / f"bare-{r}"
            bare.append(
                await timed(
                    lambda tree=tree: run_git(
                        "-C", str(mirror), "worktree", "add", "--detach", "-q", str(tree), sha
                    )
                )
            )
            await run_git("-C", str(mirror), "worktree", "remove", "--force", str(tree))

        print(f"warm mirror ({args.rounds} rounds):")
        w = summary("run workspace (Workspaces.checkout)", warm)
        b = summary("baseline: git worktree add --detach", bare)
        print(f"  ratio {w / b:.2f}x (target <= 1.5x)")
        print(f"first run ({args.rounds} rounds):")
        m = summary("first run's mirror (init + fetch)", mirror_made)
        c = summary("baseline: git clone --mirror", clone)
        print(f"  ratio {m / c:.2f}x (target <= 1.2x)")
        f = summary("whole first run (mirror + worktree)", first)
        ca = summary("baseline: clone --mirror + worktree add", clone_add)
        print(f"  ratio {f / ca:.2f}x")
        print("(a shared machine: figures vary between runs; compare the ratios)")


if __name__ == "__main__":
    asyncio.run(main())
