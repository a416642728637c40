"""A delivery's payload kept with the text it arrived in, and the log entry's JSON made from it.

A webhook's payload is tens of kilobytes (GitHub's ``pull_request`` about 28 kB), and the
delivery log keeps it for a redelivery. Encoding the parsed payload again for the log was a
tenth of a delivery's cost; the text that arrived is already that JSON, so
:func:`entry_json` writes it as it came.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ReceivedJSON", "entry_json", "received"]


class ReceivedJSON(dict[str, Any]):
    """A JSON object parsed from a request body, with that body's text as :attr:`text`.

    To every reader it is the dict it holds. :func:`entry_json` writes :attr:`text` in its
    place; any other encoder (a store of another backend) encodes the dict, which is the same
    JSON value. It is meant for a delivery log entry only, never for an execution's context.
    """

    text: str
    """The JSON text the object was parsed from (one JSON object, UTF-8 decoded)."""

    def __init__(self, value: Mapping[str, Any], text: str) -> None:
        super().__init__(value)
        self.text = text


def received(payload: Any, raw: bytes | None) -> Any:
    """``payload`` as a :class:`ReceivedJSON` with ``raw``'s text when ``payload`` is an
    object parsed from ``raw`` (UTF-8, with or without a BOM); otherwise ``payload`` itself."""
    if raw is None or not isinstance(payload, dict):
        return payload
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # UTF-16 or UTF-32 JSON, which json.loads also reads
        return payload
    return ReceivedJSON(payload, text)


def entry_json(entry: Mapping[str, Any]) -> str:
    """``json.dumps(entry, default=str)``, except that a top-level :class:`ReceivedJSON` value
    is written as its text instead of being encoded again."""
    texts = {key: value.text for key, value in entry.items() if isinstance(value, ReceivedJSON)}
    if not texts:
        return json.dumps(entry, default=str)
    rest = {key: value for key, value in entry.items() if key not in texts}
    parts = [json.dumps(rest, default=str)[:-1]]
    for key, text in texts.items():
        parts.append(f"{', ' if len(parts) > 1 or rest else ''}{json.dumps(key)}: {text}")
    parts.append("}")
    return "".join(parts)
