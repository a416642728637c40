"""Refusing input that cannot be stored: strings that are not valid Unicode text.

JSON may spell a lone UTF-16 surrogate (``"\\ud800"``) and Python decodes it into a ``str`` that
has no UTF-8 form, so SQLite (and any JSON-to-UTF-8 writer) fails on it later, after a delivery
id was claimed or a run was queued. Entry points check their input first and refuse it as a
:class:`~agented_core.errors.BadPayload` (400 ``bad_request``) before anything is recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import BadPayload

__all__ = ["require_storable", "require_storable_json", "unstorable"]

# Valid UTF-8 JSON text yields a surrogate only through an escape \uD800-\uDFFF: text without
# one needs no walk (an escaped backslash before "ud8.." only costs the walk, never a miss).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _bad(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _encodes(value: Any) -> bool:
    """True when ``value`` has a UTF-8 form: one pass in C, the common case on every request.

    Only when it fails does :func:`unstorable` walk the tree in Python to name the place.
    """
    try:
        json.dumps(value, ensure_ascii=False, check_circular=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except (TypeError, ValueError, RecursionError):
        return False  # not JSON-like (e.g. keys of other types): let the walk decide
    return True


def unstorable(value: Any) -> str | None:
    """Where in ``value`` (a JSON-like tree) a string with no UTF-8 form is, or ``None``.

    The answer is a dotted path such as ``pr.title`` or ``labels.0`` (``<key>`` for a bad key).
    """
    if _encodes(value):
        return None
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _bad(item):
                return path or "<value>"
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str) and _bad(key):
                    return f"{path}.<key>" if path else "<key>"
                stack.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}.{i}" if path else str(i), c) for i, c in enumerate(item))
    return None


def require_storable(value: Any, what: str) -> None:
    """Raise :class:`BadPayload` naming ``what`` and the path when ``value`` cannot be stored."""
    where = unstorable(value)
    if where is not None:
        raise BadPayload(
            f"{what} has a string that is not valid Unicode (a lone surrogate such as "
            f"\\ud800?) at {where!r}; nothing was recorded"
        )


def require_storable_json(raw: bytes, value: Any, what: str) -> None:
    """:func:`require_storable` for ``value`` parsed from the JSON text ``raw``, at the cost of
    one scan of ``raw`` in the common case (no surrogate escape in it)."""
    if _SURROGATE_ESCAPE.search(raw):
        require_storable(value, what)
