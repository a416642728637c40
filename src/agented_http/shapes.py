"""Models as JSON answers, all made by the core's one converter (``to_data``).

An execution in a list leaves out its ``context`` (the trigger's context, with a webhook's whole
payload) and has a ``link`` to the PR or issue that started it instead; ``GET /executions/{id}``
has the context. A bot shows its ``env`` names with redacted values,
its declared manual ``params`` (each a whole parameter table: name, type, default, required,
choices, description) and its ``next_fire``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agented_core import Bot, Event, Execution, to_data
from agented_core.store.search import Term, snippet

REDACTED = "[redacted]"
SUMMARY_OMITS = ("context",)
LINK = "link"
"""The key of a summary's link to its PR or issue (no field of :class:`Execution`)."""


def execution_data(execution: Execution) -> dict[str, Any]:
    """An execution, whole."""
    data: dict[str, Any] = to_data(execution)
    return data


def execution_summary(execution: Execution) -> dict[str, Any]:
    """An execution as a list shows it: without its trigger context, with ``link`` (the PR or
    issue that started it, from that context) instead."""
    data = execution_data(execution)
    for key in SUMMARY_OMITS:
        data.pop(key, None)
    data[LINK] = trigger_link(execution.context)
    return data


def trigger_link(context: Mapping[str, Any]) -> dict[str, str] | None:
    """``{"label": "PR #12", "url": ...}`` for the PR or issue of a trigger context, else None."""
    for key, label in (("pr", "PR"), ("issue", "issue")):
        found = context.get(key)
        if not isinstance(found, Mapping):
            continue
        url = found.get("html_url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            number = found.get("number")
            return {"label": f"{label} #{number}" if number is not None else label, "url": url}
    return None


def event_data(event: Event) -> dict[str, Any]:
    """An event."""
    data: dict[str, Any] = to_data(event)
    return data


def search_hit(event: Event, terms: list[Term]) -> dict[str, Any]:
    """A matching event as a search shows it: a snippet and the matched words' spans in it."""
    text, spans = snippet(event.text or "", terms)
    return {
        "seq": event.seq,
        "kind": event.kind,
        "time": to_data(event.time),
        "snippet": text,
        "highlights": [list(span) for span in spans],
    }


def bot_data(bot: Bot, next_fire: datetime | None) -> dict[str, Any]:
    """A bot with its triggers, declared params and next scheduled fire."""
    data: dict[str, Any] = to_data(bot)
    data["env"] = {name: REDACTED for name in bot.env}
    data["params"] = to_data(list(bot.param_specs))
    data["next_fire"] = to_data(next_fire) if next_fire is not None else None
    return data
