"""Process groups: finding, signalling and killing every process a run started.

Each run's CLI starts in a new session, so it leads its own process group and everything it
starts stays in that group unless it calls ``setsid`` itself; those that do are found through
their parents when the group is ended (:func:`escaped_descendants`). A group is *gone* when no live
(non-zombie) process is left in it; on Linux that is read from ``/proc``, so zombie orphans
that nobody reaps do not make a dead group look alive.

Every process of a run also carries its tag (``AGENTED_RUN``), stored with the execution, so
another process can end what a dead owner left (:func:`end_run`), also once the group is gone.
Runs are not put in cgroups: most hosts (containers, services without ``Delegate=yes``,
cgroup v1) give agented no delegated cgroup v2 subtree, and the tag works wherever ``/proc`` is.
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


def tagged(
    value: str, table: dict[int, _Proc] | None = None, *, since: int | None = None
) -> dict[int, int]:
    """Live processes whose environment has ``AGENTED_RUN=<value>``, by pid, with their start.

    A run's command carries the tag (:class:`~agented_core.providers.CLIProvider` sets it) and
    everything it starts inherits it, also what left the process group and was orphaned, which
    no parent link leads to any more. With ``since`` (clock ticks since boot), only processes
    started then or later count. Only processes of this user are readable. Empty where
    ``/proc`` is missing.
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
        if since is not None and proc.start < since:
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
    await _end(pgid, tag or _run_tag(pgid, _scan()), None, grace, poll)


async def end_run(
    pgid: int | None, start: int | None, tag: str | None, grace: float, *, poll: float = 0.02
) -> bool:
    """End what is left of a run another process started, touching only what is provably its.

    ``pgid`` and ``start`` are the recorded leader and its start time, ``tag`` the run's
    ``AGENTED_RUN`` value. The group is signalled only while it is provably the run's: its
    leader is the recorded process (same pid, same start time), or a live member carries the
    tag. Tagged processes count only when started no earlier than ``start`` (the run's leader,
    or a moment before it). So a recycled pid is never touched, and what escaped the group is
    found by its tag also once the whole group is gone. True when anything was left.
    """
    if not _has_proc():
        return False
    table = _scan()
    group: int | None = None
    if pgid is not None and start is not None:
        leader = table.get(pgid)
        members = [p for p, proc in table.items() if proc.pgrp == pgid and proc.alive]
        proven = leader is not None and leader.start == start
        if proven or (tag and any(environ_value(p, RUN_TAG) == tag for p in members)):
            group = pgid
    left = (group is not None and group_alive_in(group, table)) or bool(
        tag and tagged(tag, table, since=start)
    )
    if left:
        await _end(group, tag, start, grace, poll)
    return left


def group_alive_in(pgid: int, table: dict[int, _Proc]) -> bool:
    """True when ``table`` (a scan of ``/proc``) has a live process in group ``pgid``."""
    return any(proc.pgrp == pgid and proc.alive for proc in table.values())


async def _end(
    pgid: int | None, tag: str | None, since: int | None, grace: float, poll: float
) -> None:
    """SIGTERM, then after ``grace`` SIGKILL, the group (when given) and what left it.

    The group is signalled only while a scan just before shows a live member, so a group id
    freed and taken again meanwhile is not signalled later on.
    """

    def in_group(table: dict[int, _Proc]) -> bool:
        return pgid is not None and group_alive_in(pgid, table)

    def escaped(table: dict[int, _Proc]) -> dict[int, int]:
        return escaped_descendants(pgid, table) if pgid is not None else {}

    def tagged_out(table: dict[int, _Proc]) -> dict[int, int]:
        if not tag:
            return {}
        return {p: s for p, s in tagged(tag, table, since=since).items() if table[p].pgrp != pgid}

    table = _scan()
    if not in_group(table) and not tagged_out(table):
        return
    strays = {**escaped(table), **tagged_out(table)}
    _signal_strays(strays, table, signal.SIGTERM)
    _signal_strays(strays, table, signal.SIGCONT)
    if pgid is not None and in_group(table):
        signal_group(pgid, signal.SIGTERM)
        signal_group(pgid, signal.SIGCONT)  # a stopped (paused) process must run to handle SIGTERM
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        table = _scan()
        new = {p: s for p, s in escaped(table).items() if p not in strays}
        if new:  # started while the group was ending
            strays.update(new)
            _signal_strays(new, table, signal.SIGTERM)
        if not in_group(table) and not _strays_alive(strays, table):
            # reading every environment is dearer than a scan: only once the rest is gone
            late = {p: s for p, s in tagged_out(table).items() if p not in strays}
            if not late:
                return
            strays.update(late)
            _signal_strays(late, table, signal.SIGTERM)
            _signal_strays(late, table, signal.SIGCONT)
        await anyio.sleep(poll)
    for _ in range(250):
        table = _scan()
        strays.update(escaped(table))
        strays.update(tagged_out(table))
        if pgid is not None and in_group(table):
            signal_group(pgid, signal.SIGKILL)
        _signal_strays(strays, table, signal.SIGKILL)
        table = _scan()
        if not in_group(table) and not _strays_alive(strays, table):
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


def boot_ticks() -> int | None:
    """Now, in the clock ticks since boot that process start times are counted in, or ``None``.

    Taken just before a run starts, it bounds the start of every process the run will have.
    """
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return max(0, int(uptime * ticks) - ticks)  # a second early: the two clocks round apart


def alive_start(pid: int) -> int | None:
    """The start time of ``pid`` if it is a live process (not gone, not a zombie), else ``None``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    rest = stat[stat.rfind(b")") + 2 :].split()
    if not rest or rest[0] in (b"Z", b"X"):
        return None
    try:
        return int(rest[19])
    except (IndexError, ValueError):
        return None


def pid_namespace() -> str:
    """This process's pid namespace (its inode number); empty where unknown.

    Pids, and so owner identities, are comparable only between processes of one namespace.
    """
    try:
        link = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
    return "".join(c for c in link if c.isdigit())
