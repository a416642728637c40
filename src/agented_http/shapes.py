"""Models as JSON answers, all made by the core's one converter (``to_data``).

An execution in a list leaves out its ``context`` (the trigger's context, with a webhook's whole
payload); ``GET /executions/{id}`` has it. A bot shows its ``env`` names with redacted values,
its declared manual ``params`` (each a whole parameter table: name, type, default, required,
choices, description) and its ``next_fire``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agented_core import Bot, Event, Execution, to_data

REDACTED = "[redacted]"
SUMMARY_OMITS = ("context",)


def execution_data(execution: Execution) -> dict[str, Any]:
    """An execution, whole."""
    data: dict[str, Any] = to_data(execution)
    return data


def execution_summary(execution: Execution) -> dict[str, Any]:
    """An execution as a list shows it (without its trigger context)."""
    data = execution_data(execution)
    for key in SUMMARY_OMITS:
        data.pop(key, None)
    return data


def event_data(event: Event) -> dict[str, Any]:
    """An event."""
    data: dict[str, Any] = to_data(event)
    return data


def bot_data(bot: Bot, next_fire: datetime | None) -> dict[str, Any]:
    """A bot with its triggers, declared params and next scheduled fire."""
    data: dict[str, Any] = to_data(bot)
    data["env"] = {name: REDACTED for name in bot.env}
    data["params"] = to_data(list(bot.param_specs))
    data["next_fire"] = to_data(next_fire) if next_fire is not None else None
    return data
