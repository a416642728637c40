"""Reading an execution's SSE stream: frames from bytes, events from frames, resuming.

No I/O here: both flavours of the client feed the bytes they read to a :class:`Follow` and
send the headers it gives, so they resume alike. Lines are split on CR, LF and CRLF only (the
SSE grammar): a generic text splitter would also cut at U+2028 or U+0085 inside an event's JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

from attrs import define, frozen

from agented_core import Event, EventKind, Status, from_data


@frozen
class Frame:
    """One dispatched SSE frame: its ``id:``, ``event:`` (default ``message``) and ``data:``."""

    id: str | None
    event: str
    data: str


@define
class FrameDecoder:
    """Incremental ``text/event-stream`` parser: bytes in, frames out (comments dropped)."""

    retry_ms: int | None = None
    _buffer: bytes = b""
    _cr: bool = False  # the last chunk ended in CR: a LF starting the next one belongs to it
    _id: str | None = None
    _event: str = ""
    _data: list[str] | None = None

    def feed(self, chunk: bytes) -> Iterator[Frame]:
        """The frames that ``chunk`` completes."""
        if not chunk:
            return
        if self._cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._cr = chunk.endswith(b"\r")
        data = self._buffer + chunk
        lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._buffer = lines.pop()
        for raw in lines:
            frame = self._line(raw.decode("utf-8", "replace"))
            if frame is not None:
                yield frame

    def _line(self, line: str) -> Frame | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            if self._data is None:
                self._data = []
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> Frame | None:
        data, self._data = self._data, None
        event, self._event = self._event, ""
        if data is None:
            return None
        return Frame(self._id, event or "message", "\n".join(data))


@define
class Follow:
    """Where a follower of one execution stands: the last seq it has, and whether it is done.

    :meth:`accept` turns a frame into the :class:`~agented_core.Event` to hand on, or ``None``
    for one already handed on (a reconnection may repeat the last frames) or one that is not an
    event. A ``resync`` frame (the events asked for were pruned) becomes an event of kind
    ``resync`` with ``data={"first_available_seq": N}`` and seq ``N - 1``.
    """

    execution_id: str
    last: int = 0
    done: bool = False

    def headers(self) -> dict[str, str]:
        """The headers of the next request: resume after the last seq handed on."""
        return {"Accept": "text/event-stream", "Last-Event-ID": str(self.last)}

    def accept(self, frame: Frame) -> Event | None:
        """The event of ``frame``, if it is new."""
        if frame.event == EventKind.RESYNC:
            first = int(json.loads(frame.data)["first_available_seq"])
            if first - 1 <= self.last:
                return None
            self.last = first - 1
            return Event(
                execution_id=self.execution_id,
                seq=first - 1,
                time=datetime.now(UTC),
                attempt=0,
                kind=EventKind.RESYNC,
                data={"first_available_seq": first},
            )
        if frame.id is None:
            return None  # not one of the execution's events
        event = from_data(json.loads(frame.data), Event)
        if event.seq <= self.last:
            return None
        self.last = event.seq
        if event.kind == EventKind.STATUS and _terminal(event.data.get("status")):
            self.done = True  # the server ends the stream here; nothing follows
        return event


def _terminal(value: object) -> bool:
    try:
        return Status(str(value)).terminal
    except ValueError:
        return False
