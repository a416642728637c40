"""GitHub's webhook events and each event's actions, to check triggers against.

The list ships as package data, ``github_events.json``, extracted from the published webhook
schema (the npm package ``@octokit/webhooks-schemas``; its ``source`` field names the version)
by ``scripts/github_events.py``. Only event -> actions is kept: an empty list for events whose
deliveries carry no ``action`` (``push``, ``ping``, ...), ``None`` for ``repository_dispatch``,
whose action is the sender's own ``event_type``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

__all__ = ["EVENTS", "SOURCE", "check_actions", "suggest"]


def _load() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("github_events.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


_DATA = _load()

SOURCE: str = _DATA["source"]
"""Where the list comes from: the schema package and version."""

EVENTS: Mapping[str, tuple[str, ...] | None] = {
    event: None if actions is None else tuple(actions) for event, actions in _DATA["events"].items()
}
"""Every event name GitHub sends (``X-GitHub-Event``) with its actions (``None``: any)."""


def suggest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or an empty string."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_actions(event: str, actions: Sequence[str]) -> list[str]:
    """Problems of ``actions`` for a known ``event``: actions GitHub never sends with it."""
    known = EVENTS[event]
    if known is None or not actions:
        return []
    if not known:
        return [f"{event} deliveries carry no action, so 'actions' cannot match"]
    listed = f" (its actions: {', '.join(known)})"
    return [
        f"{action!r} is not an action of {event}{suggest(action, known) or listed}"
        for action in actions
        if action and action not in known
    ]
