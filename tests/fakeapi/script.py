"""What a test scripts: replies and errors, independent of the wire protocol.

A :class:`Reply` is one model turn (text, thinking and tool-use blocks, token usage) plus how to
deliver it: slowly, cut in the middle, stalled, or with an error event mid-stream. An
:class:`Error` is an HTTP error answer. Each protocol module (``anthropic``, and next to it the
OpenAI and Gemini ones) renders them in its own wire format.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import RecordedRequest

_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    """A unique id such as ``toolu_fake_0001``."""
    return f"{prefix}_fake_{next(_ids):04d}"


@dataclass(frozen=True)
class Usage:
    """Token counts the fake API reports for one reply."""

    input_tokens: int = 12
    output_tokens: int = 5
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class Text:
    """A text block."""

    text: str


@dataclass(frozen=True)
class Thinking:
    """A thinking block (with the signature the Anthropic API attaches)."""

    text: str
    signature: str = "fake-signature"


@dataclass(frozen=True)
class ToolUse:
    """A tool call the model makes; ``id`` is generated when not given.

    ``freeform`` is the text input of a free-form tool (OpenAI Responses ``custom`` tools, such
    as codex's ``apply_patch``); protocols without such tools ignore it.
    """

    name: str
    input: Mapping[str, Any]
    id: str = field(default_factory=lambda: next_id("toolu"))
    freeform: str | None = None


Block = Text | Thinking | ToolUse


@dataclass(frozen=True)
class StreamError:
    """An error event sent inside an otherwise successful (HTTP 200) stream."""

    type: str = "overloaded_error"
    message: str = "Overloaded"


@dataclass(frozen=True)
class Reply:
    """One model turn and how to deliver it.

    ``chunk_delay`` waits between stream events (a slow stream); ``first_byte_delay`` waits
    before the response starts. ``cut_after`` drops the connection after that many stream
    events, without ending the response; ``stall_after`` stops sending after that many events
    but keeps the connection open until the server shuts down. ``error_after`` sends
    ``stream_error`` after that many events and ends the stream. ``headers`` are sent with the
    response.
    """

    content: Sequence[Block] = (Text("hello from fake"),)
    usage: Usage = Usage()
    stop_reason: str | None = None
    model: str | None = None
    text_chunks: int = 1
    chunk_delay: float = 0.0
    first_byte_delay: float = 0.0
    cut_after: int | None = None
    stall_after: int | None = None
    error_after: int | None = None
    stream_error: StreamError = StreamError()
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra response headers (Anthropic's unified rate-limit headers on an allowed request)."""

    @property
    def final_stop_reason(self) -> str:
        """The stop reason sent: ``tool_use`` when the reply calls a tool, else ``end_turn``."""
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if any(isinstance(b, ToolUse) for b in self.content) else "end_turn"


@dataclass(frozen=True)
class Error:
    """An HTTP error answer: ``status``, a message, an error type (protocol default when
    ``None``), extra headers, and a ``retry-after`` header when ``retry_after`` is set.
    ``body`` replaces the protocol's error body entirely when given.

    ``type`` is the API's own name for the error: Anthropic's ``error.type``, OpenAI's
    ``error.code`` (``insufficient_quota`` ...), or for Gemini the quota window of a 429
    (``PerDay``, ``PerMinute``)."""

    status: int
    message: str = ""
    type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    body: Any = None


Script = Reply | Error
Matcher = Callable[["RecordedRequest"], bool]


def text(value: str, **kwargs: Any) -> Reply:
    """A reply with one text block."""
    return Reply(content=(Text(value),), **kwargs)


def tool(name: str, input: Mapping[str, Any], **kwargs: Any) -> Reply:
    """A reply that calls one tool."""
    return Reply(content=(ToolUse(name, input),), **kwargs)
