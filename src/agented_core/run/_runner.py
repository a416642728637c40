"""Running one attempt's process under supervision.

:class:`ProcessRun` starts a command in its own process group, writes its stdin and closes it,
reads stdout and stderr concurrently as bounded lines, and enforces the wall-clock timeout, the
idle watchdog, pause/resume and stop requests (cancel, budget, shutdown). Whatever ends the run,
it returns only once no process of the group is left.
"""

from __future__ import annotations

import enum
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, Process
from attrs import define, frozen

from ..models import Command
from ._process import RUN_TAG, kill_group, signal_group

DEFAULT_MAX_LINE = 1024 * 1024
READ_CHUNK = 256 * 1024


class StopReason(enum.StrEnum):
    """Why agented ended a process before it exited by itself."""

    TIMEOUT = "timeout"
    IDLE = "idle"
    CANCEL = "cancel"
    BUDGET = "budget"
    RESULT_HANG = "result_hang"
    SHUTDOWN = "shutdown"
    RATE_LIMIT = "rate_limit"
    PAUSED_TOO_LONG = "paused_too_long"


@frozen
class Limits:
    """Time limits of one attempt. ``None`` means no limit."""

    timeout: float | None = None
    idle_timeout: float | None = None
    kill_grace: float = 5.0
    result_grace: float = 10.0
    max_pause: float | None = None
    drain_timeout: float = 1.0
    max_line: int = DEFAULT_MAX_LINE


@define
class ProcessResult:
    """How a process ended."""

    exit_code: int | None = None
    stop: StopReason | None = None
    stop_detail: str | None = None
    launch_error: str | None = None
    pid: int | None = None
    duration: float = 0.0


LineHandler = Callable[[str, bool], None]
"""Called with each line (without newline) and whether it continues a split line."""


class LineSplitter:
    """Splits a byte stream into lines of at most ``max_line`` bytes each.

    A longer line comes out in parts; every part after the first is marked as continued. A cut
    never falls inside one of ``secrets`` (it moves back to where the secret starts, so the
    secret lies whole in the next part and redaction, which runs on each part, catches it) nor
    inside a UTF-8 character. Bytes that are not UTF-8 are replaced, never fatal.
    """

    def __init__(self, max_line: int = DEFAULT_MAX_LINE, secrets: Sequence[str] = ()) -> None:
        self.max_line = max_line
        self._secrets = sorted({b for b in map(_utf8, secrets) if b}, key=len, reverse=True)
        # bytes a cut must see past its position to know that no secret straddles it
        # (at least one: the byte after a cut tells whether it falls inside a character)
        self._overlap = max((len(b) for b in self._secrets), default=2) - 1
        self._buf = bytearray()
        self._continued = False

    def feed(self, chunk: bytes) -> list[tuple[str, bool]]:
        """Complete lines (and full-length parts) found after adding ``chunk``."""
        out: list[tuple[str, bool]] = []
        buf = self._buf
        buf += chunk
        start = 0
        limit = self.max_line
        while True:
            nl = buf.find(b"\n", start)
            if 0 <= nl <= start + limit:
                out.append((self._decode(buf[start:nl]), self._continued))
                self._continued = False
                start = nl + 1
                continue
            end = nl if nl >= 0 else len(buf)
            if nl < 0 and len(buf) - start < limit + self._overlap:
                break  # not yet known whether a secret crosses the cut
            cut = self._cut(buf, start, end)
            out.append((self._decode(buf[start:cut]), self._continued))
            self._continued = True
            start = cut
        del buf[:start]
        return out

    def finish(self) -> list[tuple[str, bool]]:
        """The last line, if the stream did not end with a newline (in parts if long)."""
        out: list[tuple[str, bool]] = []
        buf, start = self._buf, 0
        while len(buf) - start > self.max_line:
            cut = self._cut(buf, start, len(buf))
            out.append((self._decode(buf[start:cut]), self._continued))
            self._continued = True
            start = cut
        if start < len(buf):
            out.append((self._decode(buf[start:]), self._continued))
        buf.clear()
        self._continued = False
        return out

    def _cut(self, buf: bytearray, start: int, end: int) -> int:
        """Where the part starting at ``start`` ends; ``end`` is where its line ends."""
        first = start + self.max_line
        cut = first
        # not inside a character: UTF-8 continuation bytes are 0b10xxxxxx
        while cut > first - 3 and start + 1 < cut < len(buf) and buf[cut] & 0xC0 == 0x80:
            cut -= 1
        boundary = cut
        moved = True
        while moved:
            moved = False
            for secret in self._secrets:
                n = len(secret)
                at = buf.find(secret, max(start, cut - n + 1), min(end, cut + n - 1))
                if 0 <= at < cut:  # starts before the cut and (found within n-1 past it) ends after
                    cut, moved = at, True
        return cut if cut > start else boundary  # a secret longer than a part: no help

    @staticmethod
    def _decode(data: bytes | bytearray) -> str:
        text = data.decode("utf-8", errors="replace")
        return text[:-1] if text.endswith("\r") else text


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return b""


class ProcessRun:
    """One supervised process. Create, then ``await run()``; control it from other tasks."""

    def __init__(
        self,
        command: Command,
        limits: Limits,
        *,
        on_stdout: LineHandler,
        on_stderr: LineHandler,
        on_start: Callable[[int], Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        secrets: Sequence[str] = (),
        room: Callable[[float], Awaitable[bool]] | None = None,
    ) -> None:
        self.command = command
        # awaited before each read: False while whoever takes the lines is full (the event log
        # while its store is out of reach), so the child blocks on its pipe, memory stays bounded
        self.room = room
        self.secrets = tuple(secrets)  # a long line is never cut inside one (LineSplitter)
        self.limits = limits
        self.on_stdout = on_stdout
        self.on_stderr = on_stderr
        self.on_start = on_start
        self.clock = clock
        self.pid: int | None = None
        self.tag: str | None = None
        self.stop_reason: StopReason | None = None
        self.stop_detail: str | None = None
        self.paused = False
        self._stop_requested = anyio.Event()
        self._changed = anyio.Event()
        self._started_at = 0.0
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._last_output = 0.0
        self._result_deadline: float | None = None

    # control, from any task
    def stop(self, reason: StopReason, detail: str | None = None) -> None:
        """End the process group (first request wins)."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stop_detail = detail
        self._stop_requested.set()

    def pause(self) -> bool:
        """Stop the group with SIGSTOP; paused time does not count toward the timeout."""
        if self.pid is None or self.paused or self.stop_reason is not None:
            return False
        if not signal_group(self.pid, signal.SIGSTOP):
            return False
        self.paused = True
        self._paused_at = self.clock()
        self._poke()
        return True

    def resume(self) -> bool:
        """Continue a paused group with SIGCONT."""
        if self.pid is None or not self.paused:
            return False
        signal_group(self.pid, signal.SIGCONT)
        now = self.clock()
        if self._paused_at is not None:
            self._paused_total += now - self._paused_at
        self._paused_at = None
        self.paused = False
        self._last_output = now
        self._poke()
        return True

    def note_result(self) -> None:
        """The CLI printed its final result: it gets ``result_grace`` seconds to exit."""
        if self._result_deadline is None:
            self._result_deadline = self.clock() + self.limits.result_grace
            self._poke()

    def _poke(self) -> None:
        self._changed.set()

    # running
    async def run(self) -> ProcessResult:
        """Start the process and supervise it until its whole group is gone."""
        cmd = self.command
        env = dict(cmd.env)
        # a tag every process of the run inherits: found and ended even after leaving the group
        self.tag = env.setdefault(RUN_TAG, uuid.uuid4().hex)
        try:
            process = await anyio.open_process(
                list(cmd.argv),
                stdin=subprocess.PIPE if cmd.stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cmd.cwd,
                env=env,
                start_new_session=True,
            )
        except FileNotFoundError:
            missing_cwd = cmd.cwd and not os.path.isdir(cmd.cwd)  # noqa: ASYNC240
            where = f" in {cmd.cwd}" if missing_cwd else ""
            what = (
                f"working directory not found{where}"
                if where
                else (f"command not found: {cmd.argv[0]!r} (is it installed and on PATH?)")
            )
            return ProcessResult(launch_error=what)
        except PermissionError as exc:
            return ProcessResult(launch_error=f"cannot execute {cmd.argv[0]!r}: {exc.strerror}")
        except OSError as exc:
            return ProcessResult(launch_error=f"cannot start {cmd.argv[0]!r}: {exc}")
        self.pid = process.pid
        self._started_at = self._last_output = self.clock()
        try:
            if self.on_start is not None:
                await self._started(process)
            exit_code = await self._supervise(process)
        finally:
            with anyio.CancelScope(shield=True):
                await self._reap(process)
        return ProcessResult(
            exit_code=exit_code,
            stop=self.stop_reason,
            stop_detail=self.stop_detail,
            pid=self.pid,
            duration=self.clock() - self._started_at - self._paused_total,
        )

    async def _started(self, process: Process) -> None:
        """``on_start`` (it records the group before any output is read); a stop asked for
        meanwhile ends the group at once, without waiting for that record (a store that does
        not answer may hold it up for minutes)."""
        assert self.on_start is not None
        async with anyio.create_task_group() as tg:

            async def stop_meanwhile() -> None:
                await self._stop_requested.wait()
                await kill_group(process.pid, self.limits.kill_grace, tag=self.tag)

            tg.start_soon(stop_meanwhile)
            await self.on_start(process.pid)
            tg.cancel_scope.cancel()  # the watchdog takes over stopping from here

    async def _supervise(self, process: Process) -> int | None:
        assert process.stdout is not None and process.stderr is not None
        readers_done = anyio.Event()
        exit_code: int | None = None
        async with anyio.create_task_group() as tg:

            async def read_both() -> None:
                async with anyio.create_task_group() as inner:
                    inner.start_soon(self._read, process.stdout, self.on_stdout)
                    inner.start_soon(self._read, process.stderr, self.on_stderr)
                readers_done.set()

            tg.start_soon(read_both)
            if process.stdin is not None:
                tg.start_soon(self._write_stdin, process)
            watchdog = anyio.CancelScope()

            async def watch() -> None:
                with watchdog:
                    await self._watchdog()
                    # a stop was decided: end the group; readers finish when the pipes close
                    await kill_group(process.pid, self.limits.kill_grace, tag=self.tag)

            tg.start_soon(watch)
            exit_code = await process.wait()
            # the main process exited; give the pipes a moment, then end what it left behind
            with anyio.move_on_after(self.limits.drain_timeout):
                await readers_done.wait()
            # whatever it left behind, in its group or not, ends with it
            await kill_group(process.pid, self.limits.kill_grace, tag=self.tag)
            with anyio.move_on_after(self.limits.drain_timeout):
                await readers_done.wait()
            watchdog.cancel()
            tg.cancel_scope.cancel()
        return exit_code

    async def _read(self, stream: ByteReceiveStream | None, handler: LineHandler) -> None:
        if stream is None:
            return
        splitter = LineSplitter(self.limits.max_line, self.secrets)
        try:
            while True:
                if self.room is not None:
                    while not await self.room(1.0):
                        self._last_output = self.clock()  # held back, not idle
                try:
                    chunk = await stream.receive(READ_CHUNK)
                except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                    break
                self._last_output = self.clock()
                for line, continued in splitter.feed(chunk):
                    handler(line, continued)
        finally:
            for line, continued in splitter.finish():
                handler(line, continued)

    async def _write_stdin(self, process: Process) -> None:
        assert process.stdin is not None
        data = self.command.stdin or b""
        try:
            for start in range(0, len(data), 65536):
                await process.stdin.send(data[start : start + 65536])
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        finally:
            try:
                await process.stdin.aclose()
            except (anyio.BrokenResourceError, OSError):
                pass

    def _deadline(self) -> tuple[float, StopReason | None]:
        """The next moment something must happen, and what it is."""
        limits = self.limits
        now = self.clock()
        candidates: list[tuple[float, StopReason | None]] = []
        if self.paused:
            if limits.max_pause is not None and self._paused_at is not None:
                candidates.append((self._paused_at + limits.max_pause, StopReason.PAUSED_TOO_LONG))
        else:
            if limits.timeout is not None:
                candidates.append(
                    (self._started_at + self._paused_total + limits.timeout, StopReason.TIMEOUT)
                )
            if limits.idle_timeout is not None:
                candidates.append((self._last_output + limits.idle_timeout, StopReason.IDLE))
            if self._result_deadline is not None:
                candidates.append((self._result_deadline, StopReason.RESULT_HANG))
        if not candidates:
            return now + 3600.0, None
        return min(candidates, key=lambda c: c[0])

    async def _watchdog(self) -> None:
        while not self._stop_requested.is_set():
            when, reason = self._deadline()
            wait = when - self.clock()
            if reason is not None and wait <= 0:
                if reason is StopReason.IDLE:
                    # output may have arrived since the deadline was computed
                    if self.clock() - self._last_output < (self.limits.idle_timeout or 0):
                        continue
                self.stop(reason)
                break
            self._changed = anyio.Event()
            with anyio.move_on_after(max(wait, 0.0)):
                async with anyio.create_task_group() as tg:

                    async def on_stop(scope: anyio.CancelScope = tg.cancel_scope) -> None:
                        await self._stop_requested.wait()
                        scope.cancel()

                    async def on_change(scope: anyio.CancelScope = tg.cancel_scope) -> None:
                        await self._changed.wait()
                        scope.cancel()

                    tg.start_soon(on_stop)
                    tg.start_soon(on_change)

    async def _reap(self, process: Process) -> None:
        await kill_group(process.pid, self.limits.kill_grace, tag=self.tag)
        if process.returncode is None:
            with anyio.move_on_after(self.limits.kill_grace + 5):
                await process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                try:
                    await stream.aclose()
                except Exception:
                    pass
