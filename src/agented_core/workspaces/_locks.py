"""A lock per mirror, across the processes of a machine (``fcntl.flock``) and within this one.

Fetches into one mirror, worktrees added to it and its deletion take the lock in turn. Waiting
is polling a non-blocking ``flock`` (a blocking one in a thread could not be cancelled); within
this process an :class:`anyio.Lock` per file makes the tasks queue without polling.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.lowlevel

# per event loop: a lock belongs to the loop it is used in (a host may run several)
_local: dict[tuple[object, str], anyio.Lock] = {}


@asynccontextmanager
async def file_lock(
    path: Path, *, poll: float = 0.02, max_poll: float = 0.25
) -> AsyncIterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block."""
    key = (anyio.lowlevel.current_token(), str(path))
    lock = _local.setdefault(key, anyio.Lock())
    async with lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            delay = poll
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await anyio.sleep(delay)
                    delay = min(delay * 2, max_poll)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
