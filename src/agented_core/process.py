"""Process groups: finding, signalling and killing every process a run started.

Each run's CLI starts in a new session, so it leads its own process group and everything it
starts stays in that group unless it calls ``setsid`` itself. A group is *gone* when no live
(non-zombie) process is left in it; on Linux that is read from ``/proc``, so zombie orphans
that nobody reaps do not make a dead group look alive.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import anyio

_PROC = Path("/proc")


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``."""
    if not _PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members: list[int] = []
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
        if len(rest) < 3:
            continue
        state, pgrp = rest[0], int(rest[2])
        if pgrp == pgid and state not in (b"Z", b"X"):
            members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    """True while any live process is left in group ``pgid``."""
    return bool(group_members(pgid))


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


async def kill_group(pgid: int, grace: float, *, poll: float = 0.02) -> None:
    """SIGTERM the whole group, wait up to ``grace`` seconds, then SIGKILL what is left.

    Returns once no live process of the group remains (or after a last SIGKILL and a bounded
    wait, for a process that cannot die, e.g. one stuck in the kernel).
    """
    if not group_alive(pgid):
        return
    signal_group(pgid, signal.SIGTERM)
    signal_group(pgid, signal.SIGCONT)  # a stopped (paused) process must run to handle SIGTERM
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
