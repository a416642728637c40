"""The plugin's config keys: ``notify`` on a bot, and the ``[notify]`` table.

```toml
[notify]                      # optional: how deliveries are sent (these are the defaults)
timeout = "10s"               # per request
retries = 3                   # after the first try, with backoff 1 s, 2 s, 4 s ...
backoff = "1s"

[bots.nightly]
notify = { on = ["failed", "timed_out", "budget_exceeded"],
           slack_webhook_env = "SLACK_URL",                 # a Slack incoming webhook's URL
           callback_url = "https://example.com/hook",       # a signed JSON POST
           callback_secret_env = "HOOK_SECRET",
           failure_streak = 3,        # alert at 3 failures in a row (0: never)
           slow_factor = 3.0,         # alert when a run takes 3x the usual (0: never)
           slow_min_runs = 5,         # ... once that many succeeded runs are known
           slow_min_duration = "1m",  # ... and it took at least this long
           missed_schedules = true }  # alert when a cron fire starts no run
```
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

from attrs import field, frozen

from agented_core import Status
from agented_core.config import boolean, duration, number, string, whole_number

__all__ = ["DEFAULT_ON", "BotNotify", "Delivery", "bot_notify", "delivery_settings"]

DEFAULT_ON = ("failed", "timed_out", "budget_exceeded")
"""The statuses notified when ``on`` is left out."""

_TERMINAL = tuple(s.value for s in Status if s.terminal)


@frozen
class BotNotify:
    """A bot's ``notify`` table, checked."""

    on: tuple[str, ...] = field(default=DEFAULT_ON, converter=tuple)
    slack_webhook_env: str | None = None
    callback_url: str | None = None
    callback_secret_env: str | None = None
    failure_streak: int = 3
    slow_factor: float = 3.0
    slow_min_runs: int = 5
    slow_min_duration: float = 60.0
    missed_schedules: bool = True


@frozen
class Delivery:
    """The ``[notify]`` table: how each notification is sent."""

    timeout: float = 10.0
    retries: int = 3
    backoff: float = 1.0


def _statuses(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("expected a list of statuses")
    bad = [v for v in value if v not in _TERMINAL]
    if bad:
        raise ValueError(f"not a final status: {', '.join(bad)} (one of: {', '.join(_TERMINAL)})")
    return tuple(value)


def _url(value: Any) -> str:
    text = string(value)
    if not re.match(r"https?://[^/\s]+", text):
        raise ValueError(f"expected an http(s) URL, got {text!r}")
    return text


def _env_name(value: Any) -> str:
    text = string(value)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise ValueError(f"expected the name of an environment variable, got {text!r}")
    return text


_KEYS: dict[str, Callable[[Any], Any]] = {
    "on": _statuses,
    "slack_webhook_env": _env_name,
    "callback_url": _url,
    "callback_secret_env": _env_name,
    "failure_streak": whole_number,
    "slow_factor": number,
    "slow_min_runs": lambda v: whole_number(v, 1),
    "slow_min_duration": duration,
    "missed_schedules": boolean,
}


def bot_notify(value: Any) -> BotNotify:
    """A bot's ``notify`` value, or a ``ValueError`` / ``TypeError`` naming what is wrong."""
    if not isinstance(value, Mapping):
        raise TypeError("expected a table: notify = { on = [...], slack_webhook_env = ... }")
    values: dict[str, Any] = {}
    for key, raw in value.items():
        convert = _KEYS.get(key)
        if convert is None:
            close = difflib.get_close_matches(key, list(_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown key {key!r}{hint}")
        try:
            values[key] = convert(raw)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{key}: {exc}") from None
    if "slack_webhook_env" not in values and "callback_url" not in values:
        raise ValueError("no channel: give slack_webhook_env, callback_url or both")
    if ("callback_url" in values) != ("callback_secret_env" in values):
        raise ValueError("callback_url and callback_secret_env go together (callbacks are signed)")
    return BotNotify(**values)


def delivery_settings(table: Mapping[str, Any] | None) -> Delivery:
    """The ``[notify]`` table's values (already checked by the reader), defaults filled in."""
    return Delivery(**dict(table or {}))


TABLE_KEYS = {"timeout": duration, "retries": whole_number, "backoff": duration}
"""The keys of the ``[notify]`` table."""
