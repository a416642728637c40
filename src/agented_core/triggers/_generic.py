"""Generic webhook sources: signature, field filters and context for ``POST /webhooks/{source}``.

Each named source has its own secrets and signature header. The header holds the hex HMAC-SHA256
of the raw body, bare or as ``sha256=<hex>``. A delivery's context is the common webhook keys
with the JSON body as ``payload`` (see :func:`build_generic_context`).

Filters map a dotted path into the body to globs (``fnmatch``: ``*`` matches anything, ``/``
included; case-sensitive). Strings match as they are; ``true``/``false``/``null`` and numbers
in their JSON spelling; a list matches if any of its elements does; an object never matches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from agented_core.models import WebhookTrigger
from agented_core.run._prompts import resolve

from ._signatures import hmac_matches, verify_generic_signature

__all__ = [
    "build_generic_context",
    "check_filters",
    "hmac_matches",
    "match_filters",
    "verify_generic_signature",
]


def _texts(value: Any) -> list[str] | None:
    """The strings a filter value matches as; ``None`` for an object."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return None
    if isinstance(value, list | tuple):
        return [t for item in value for t in (_texts(item) or [])]
    return [json.dumps(value, default=str)]


def match_filters(filters: Mapping[str, Sequence[str]], payload: Any) -> str | None:
    """``None`` if ``payload`` passes every filter, else why not (the first filter failing)."""
    for path, globs in filters.items():
        patterns = (globs,) if isinstance(globs, str) else tuple(globs)
        try:
            if not isinstance(payload, Mapping):
                raise KeyError(path)
            value = resolve(payload, path)
        except KeyError:
            return f"field {path!r} is missing from the body"
        texts = _texts(value)
        if texts is None:
            return f"field {path!r} is an object, which no glob matches"
        if not any(fnmatchcase(t, p) for t in texts for p in patterns):
            shown = texts[0] if len(texts) == 1 else texts
            return f"field {path!r} is {shown!r}, matching none of {list(patterns)}"
    return None


def check_filters(trigger: WebhookTrigger) -> list[str]:
    """Load-time problems of a generic trigger's source name and filters."""
    problems: list[str] = []
    if not trigger.source:
        problems.append("a webhook trigger needs a source name")
    elif trigger.source == "github":
        problems.append("the source name 'github' is reserved for GitHub deliveries")
    for path, globs in trigger.filters.items():
        segments = path.split(".")
        if not path or any(not s for s in segments):
            problems.append(f"filter path {path!r} is not a dotted path such as 'alert.status'")
        patterns = (globs,) if isinstance(globs, str) else tuple(globs)
        if not patterns or any(not isinstance(p, str) or not p for p in patterns):
            problems.append(f"filter {path!r} needs one or more non-empty glob strings")
    return problems


def build_generic_context(source: str, payload: Any, delivery: str | None) -> dict[str, Any]:
    """The context of a generic delivery: ``trigger``, ``source``, ``event`` (the source name),
    ``action`` (the body's top-level ``action`` string, if any), ``delivery`` and ``payload``.
    """
    action = payload.get("action") if isinstance(payload, Mapping) else None
    return {
        "trigger": "webhook",
        "source": source,
        "event": source,
        "action": action if isinstance(action, str) else None,
        "delivery": delivery,
        "payload": payload,
    }
