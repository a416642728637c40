"""What the contract tests of codex, gemini and opencode share: the pinned CLI, an Agented on
a temporary store, running a bot to its end, and looking at what was stored."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import clis
import pytest

from agented_core import Account, Agented, Bot, Config, Event, Execution, Status
from agented_core.config import AgentedSettings, Price


def cli_bin(name: str) -> str:
    """The pinned CLI ``name``, installed on first use; a skip (a failure under CI) without
    node and npm."""
    try:
        return str(clis.ensure(name))
    except clis.Unavailable as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"realcli cannot run under CI: {exc}")
        pytest.skip(str(exc))


@asynccontextmanager
async def open_agented(
    tmp_path: Path,
    bots: list[Bot],
    accounts: Mapping[str, Account],
    host_env: Mapping[str, str],
    *,
    provider: str,
    prices: Mapping[str, Price] | None = None,
) -> AsyncIterator[Agented]:
    """An Agented with the plugins found through their entry points, on a temporary store."""
    config = Config(
        settings=AgentedSettings(database=f"sqlite:///{tmp_path / 'agented.db'}", kill_grace=2.0),
        accounts=dict(accounts),
        prices=dict(prices or {}),
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **host_env}
    async with Agented.open(
        config=config, bots=bots, entry_points=True, host_env=env, wake_interval=0.2
    ) as ag:
        assert ag.plugins.provider_owner(provider) == provider  # from the entry point
        yield ag


async def run(
    ag: Agented, name: str, timeout: float = 90, *, through_retries: bool = False
) -> tuple[Execution, list[Event]]:
    """Run bot ``name`` until it ends, or waits (for a reset; with ``through_retries`` only
    the end counts); its execution and events."""
    execution = await ag.run(name)
    with anyio.fail_after(timeout):
        while True:
            current = await ag.get(execution.id)
            waiting = current.status is Status.WAITING and not through_retries
            if current.terminal or waiting:
                break
            await anyio.sleep(0.05)
    events: list[Event] = []
    if current.last_seq:
        async for event in ag.events(execution.id):
            events.append(event)
            if event.seq >= current.last_seq:
                break
    return current, events


def kinds(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e.kind == kind]


def stored(events: list[Event], execution: Execution) -> str:
    """Everything stored about a run, as one string (to look for secrets)."""
    rows = [{"kind": e.kind, "text": e.text, "data": e.data} for e in events]
    fields = {
        "command": execution.command,
        "error": execution.error,
        "result": execution.result,
        "prompt": execution.prompt,
    }
    return json.dumps({"events": rows, "execution": fields}, ensure_ascii=False)


def live_pids_with(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (``NAME=value``)."""
    needle = marker.encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found


async def gone(marker: str, timeout: float = 10) -> bool:
    """Whether every process with ``marker`` in its environment ends within ``timeout``."""
    with anyio.move_on_after(timeout):
        while live_pids_with(marker):
            await anyio.sleep(0.05)
        return True
    return False


def big_prompt() -> str:
    """A prompt of more than 300 KB, marked at both ends."""
    body = "".join(f"line {i:06d} of a long prompt\n" for i in range(11_000))
    prompt = f"BEGIN-PROMPT\n{body}END-PROMPT"
    assert len(prompt.encode()) > 300_000
    return prompt


def sanitize(output: str, tmp: Path, port: int) -> str:
    """A transcript as stored: temporary paths become ``/home/dev``, the CLIs' cache folder
    ``/home/dev/.cache/agented-realcli``, the port ``8080``."""
    output = output.replace(str(tmp), "/home/dev")
    output = output.replace(str(clis.cache_root()), "/home/dev/.cache/agented-realcli")
    return re.sub(rf"127\.0\.0\.1:{port}\b", "127.0.0.1:8080", output)


def record_or_compare(
    fixtures: Path,
    name: str,
    stdout: list[str],
    stderr: list[str] | None,
    shape: Callable[[list[str], list[str]], list[str]],
) -> None:
    """Store a transcript (``AGENTED_REALCLI_RECORD=1``: ``NAME.jsonl`` and, when ``stderr``
    is given, ``NAME.stderr.txt``) or check that the fresh one reads like the stored one (the
    same ``shape``), and that the parser knows every line."""
    out_file = fixtures / f"{name}.jsonl"
    err_file = fixtures / f"{name}.stderr.txt"
    # What was stored before this run: record mode compares against it too, never against
    # the output it has just written.
    kept = out_file.read_text().splitlines() if out_file.exists() else None
    kept_err = err_file.read_text().splitlines() if err_file.exists() else []
    fresh = shape(stdout, stderr or [])
    if os.environ.get("AGENTED_REALCLI_RECORD") == "1":
        fixtures.mkdir(parents=True, exist_ok=True)
        out_file.write_text("".join(f"{line}\n" for line in stdout))
        if stderr is not None:
            err_file.write_text("".join(f"{line}\n" for line in stderr))
        if kept is None:
            kept, kept_err = stdout, stderr or []  # a new case: nothing to compare with yet
    assert kept is not None, f"no stored transcript {out_file.name}: record it"
    assert fresh == shape(kept, kept_err), f"{name} reads differently from the stored transcript"
    assert "raw" not in fresh, "a line the parser does not know"


def shape_of(parser: Callable[[], Any]) -> Callable[[list[str], list[str]], list[str]]:
    """How a fresh parser reads a transcript: the event kinds in order (error and rate-limit
    events with their kind), then those it finds in stderr (stderr lines themselves left out)."""

    def label(draft: Any) -> str:
        if draft.kind in ("error", "rate_limit"):
            return f"{draft.kind}:{draft.data['kind']}"
        return str(draft.kind)

    def shape(stdout: list[str], stderr: list[str]) -> list[str]:
        reader = parser()
        out = [label(d) for line in stdout for d in reader.stdout(line)]
        out += [label(d) for line in stderr for d in reader.stderr(line) if d.kind != "stderr"]
        return out

    return shape
