"""Who owns an execution, and whether that process is provably gone.

An owner is a process identified for good: host, pid, the pid's start time, the boot and the
pid namespace, written ``host:pid:start:boot:pidns``. Another process on the same host, boot
and namespace can tell at once whether the owner still lives (its pid alive with the same
start time); one elsewhere can only wait for its heartbeat to go stale.
"""

from __future__ import annotations

import os
import socket

from attrs import frozen

from ._process import alive_start, boot_id, pid_namespace, process_start_time


@frozen
class Owner:
    """The identity of the process that owns executions."""

    host: str
    pid: int
    start: int
    boot: str
    pidns: str = ""

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.start}:{self.boot}:{self.pidns}"

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        """The owner written as ``text`` (also the older form without the namespace)."""
        if not text:
            return None
        parts = text.rsplit(":", 4)
        if len(parts) == 4:
            parts.append("")  # written before the namespace was recorded
        if len(parts) != 5:
            return None
        host, pid, start, boot, pidns = parts
        try:
            return cls(host, int(pid), int(start), boot, pidns)
        except ValueError:
            return None

    @classmethod
    def this_process(cls) -> Owner:
        """The identity of the running process."""
        pid = os.getpid()
        return cls(
            socket.gethostname(), pid, process_start_time(pid) or 0, boot_id()[:8], pid_namespace()
        )

    def local(self, here: Owner | None = None) -> bool:
        """True when its processes are this process's to see: same host, boot and namespace.

        A namespace unknown on either side (records written before it was) counts as the same.
        """
        here = here or Owner.this_process()
        if not self.boot or self.host != here.host or self.boot != here.boot:
            return False
        return not (self.pidns and here.pidns and self.pidns != here.pidns)

    def gone(self, here: Owner | None = None) -> bool:
        """True when the process is provably no longer running.

        On the same host: after a reboot (another boot id), or when its pid is not a live
        process or is one with another start time (the pid was recycled). Elsewhere, or in
        another pid namespace, nothing is provable.
        """
        here = here or Owner.this_process()
        if self.host != here.host or not self.boot or not here.boot:
            return False
        if self.boot != here.boot:
            return True
        if not self.local(here) or not self.start:
            return False
        return alive_start(self.pid) != self.start
