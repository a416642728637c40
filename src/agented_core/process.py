"""Process groups: finding, signalling and killing every process a run started.

Each run's CLI starts in a new session, so it leads its own process group and everything it
starts stays in that group unless it calls ``setsid`` itself; those that do are found through
their parents when the group is ended (:func:`escaped_descendants`). A group is *gone* when no live
(non-zombie) process is left in it; on Linux that is read from ``/proc``, so zombie orphans
that nobody reaps do not make a dead group look alive.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import anyio
from attrs import frozen

_PROC = Path("/proc")


@frozen
class _Proc:
    ppid: int
    pgrp: int
    alive: bool
    start: int


def _scan() -> dict[int, _Proc]:
    """Every process in ``/proc``: parent, process group, live (not zombie), start time."""
    table: dict[int, _Proc] = {}
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # fields after the command name, which is in parentheses and may contain spaces
        rest = stat[stat.rfind(b")") + 2 :].split()
        if len(rest) < 20:
            continue
        try:
            table[int(entry.name)] = _Proc(
                ppid=int(rest[1]),
                pgrp=int(rest[2]),
                alive=rest[0] not in (b"Z", b"X"),
                start=int(rest[19]),
            )
        except ValueError:
            continue
    return table


def _has_proc() -> bool:
    return _PROC.is_dir()


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``."""
    if not _PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    return [pid for pid, proc in _scan().items() if proc.pgrp == pgid and proc.alive]


def group_alive(pgid: int) -> bool:
    """True while any live process is left in group ``pgid``."""
    return bool(group_members(pgid))


def escaped_descendants(pgid: int, table: dict[int, _Proc] | None = None) -> dict[int, int]:
    """Descendants of group ``pgid``'s processes that left the group, by pid, with their start.

    A CLI may start its tools in a session of their own (``setsid``): Claude Code's Bash tool
    does. Signalling the group does not reach them; they are found through their parents
    while those live. Empty where ``/proc`` is missing.
    """
    if table is None:
        if not _PROC.is_dir():
            return {}
        table = _scan()
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    found: dict[int, int] = {}
    todo = [pid for pid, proc in table.items() if proc.pgrp == pgid]
    seen = set(todo)
    while todo:
        pid = todo.pop()
        for child in children.get(pid, ()):
            if child in seen:
                continue
            seen.add(child)
            todo.append(child)
            proc = table[child]
            if proc.pgrp != pgid and proc.alive:
                found[child] = proc.start
    return found


RUN_TAG = "AGENTED_RUN"
"""The environment variable that tags every process of one attempt (see :func:`tagged`)."""


def environ_value(pid: int, name: str) -> str | None:
    """The value of variable ``name`` in the environment process ``pid`` started with."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            data = f.read()
    except OSError:
        return None
    prefix = name.encode() + b"="
    for item in data.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :].decode(errors="replace")
    return None


def tagged(value: str, table: dict[int, _Proc] | None = None) -> dict[int, int]:
    """Live processes whose environment has ``AGENTED_RUN=<value>``, by pid, with their start.

    A run's command carries the tag (:class:`~agented_core.providers.CLIProvider` sets it) and
    everything it starts inherits it, also what left the process group and was orphaned, which
    no parent link leads to any more. Empty where ``/proc`` is missing.
    """
    if not value or not _PROC.is_dir():
        return {}
    if table is None:
        table = _scan()
    wanted = f"{RUN_TAG}={value}".encode()
    found: dict[int, int] = {}
    for pid, proc in table.items():
        if not proc.alive or pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if wanted in f.read().split(b"\0"):
                    found[pid] = proc.start
        except OSError:
            continue
    return found


def _run_tag(pgid: int, table: dict[int, _Proc]) -> str | None:
    for pid in [pgid, *(p for p, proc in table.items() if proc.pgrp == pgid and p != pgid)]:
        value = environ_value(pid, RUN_TAG)
        if value:
            return value
    return None


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def _signal_strays(strays: dict[int, int], table: dict[int, _Proc], sig: int) -> None:
    for pid, start in strays.items():
        proc = table.get(pid)
        if proc is None or not proc.alive or proc.start != start:
            continue  # gone, or the pid now belongs to another process
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _strays_alive(strays: dict[int, int], table: dict[int, _Proc]) -> bool:
    return any(
        (proc := table.get(pid)) is not None and proc.alive and proc.start == start
        for pid, start in strays.items()
    )


async def kill_group(
    pgid: int, grace: float, *, poll: float = 0.02, tag: str | None = None
) -> None:
    """SIGTERM the whole group, wait up to ``grace`` seconds, then SIGKILL what is left.

    Processes the group started that left it are ended the same way, one by one: those found
    through their parents (:func:`escaped_descendants`) and, when the group's processes carry
    a run tag (or ``tag`` is given: the runner knows it, also once the group is gone), every
    process with the same tag (:func:`tagged`), orphans included. Returns
    once no live process of the group (or of those) remains, or after a last SIGKILL and a
    bounded wait, for a process that cannot die (e.g. one stuck in the kernel).
    """
    if not _has_proc():
        if group_alive(pgid):
            await _kill_group_only(pgid, grace, poll)
        return
    table = _scan()
    tag = tag or _run_tag(pgid, table)
    group_left = any(proc.pgrp == pgid and proc.alive for proc in table.values())
    if not group_left and not (tag and tagged(tag, table)):
        return
    strays = escaped_descendants(pgid, table)
    if tag:
        strays.update({p: s for p, s in tagged(tag, table).items() if table[p].pgrp != pgid})
    _signal_strays(strays, table, signal.SIGTERM)
    _signal_strays(strays, table, signal.SIGCONT)
    signal_group(pgid, signal.SIGTERM)
    signal_group(pgid, signal.SIGCONT)  # a stopped (paused) process must run to handle SIGTERM
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        table = _scan()
        new = {p: s for p, s in escaped_descendants(pgid, table).items() if p not in strays}
        if new:  # started while the group was ending
            strays.update(new)
            _signal_strays(new, table, signal.SIGTERM)
        group = any(proc.pgrp == pgid and proc.alive for proc in table.values())
        if not group and not _strays_alive(strays, table):
            late = tagged(tag, table) if tag else {}
            late = {p: s for p, s in late.items() if p not in strays}
            if not late:
                return
            strays.update(late)
            _signal_strays(late, table, signal.SIGTERM)
        await anyio.sleep(poll)
    for _ in range(250):
        table = _scan()
        strays.update(escaped_descendants(pgid, table))
        if tag:
            strays.update(tagged(tag, table))
        signal_group(pgid, signal.SIGKILL)
        _signal_strays(strays, table, signal.SIGKILL)
        table = _scan()
        group = any(proc.pgrp == pgid and proc.alive for proc in table.values())
        if not group and not _strays_alive(strays, table):
            return
        await anyio.sleep(poll)


async def _kill_group_only(pgid: int, grace: float, poll: float) -> None:
    signal_group(pgid, signal.SIGTERM)
    signal_group(pgid, signal.SIGCONT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return
        await anyio.sleep(poll)
    for _ in range(250):
        signal_group(pgid, signal.SIGKILL)
        if not group_alive(pgid):
            return
        await anyio.sleep(poll)


def process_start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), or ``None``.

    Together with the pid it identifies a process for good: a recycled pid has a later start.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    rest = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(rest[19])
    except (IndexError, ValueError):
        return None


def boot_id() -> str:
    """An identifier of this boot of the machine (changes on reboot); empty where unknown."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""
