"""The one exception hierarchy of agented.

Every error agented raises on purpose is an :class:`AgentedError`; the subclasses say what went
wrong. The HTTP adapter maps them to its statuses and error codes, the CLI to its exit codes.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs


class AgentedError(Exception):
    """Base class of every error agented raises on purpose."""


@attrs.frozen
class Problem:
    """One thing wrong with a configuration: where it is and what is wrong.

    ``file`` is the config file (or ``None`` for bots passed in Python), ``line`` the line of
    the file where the field is written (when the text shows it), ``bot`` the bot's name (or
    ``None`` for settings outside a bot), ``field`` a dotted path inside it.
    """

    message: str
    file: str | None = None
    bot: str | None = None
    field: str | None = None
    warning: bool = False
    line: int | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.bot:
            where.append(f"bot {self.bot!r}")
        if self.field:
            where.append(f"field {self.field!r}")
        prefix = ": ".join(where)
        label = "warning: " if self.warning else ""
        return f"{prefix}: {label}{self.message}" if prefix else f"{label}{self.message}"


class ConfigError(AgentedError):
    """The configuration is invalid. ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = [p for p in problems if not p.warning]
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid configuration")


class PluginError(AgentedError):
    """A plugin failed to load or registered something that clashes (names the plugin)."""


class NotFoundError(AgentedError):
    """A bot, execution or other named object does not exist."""


class ConflictError(AgentedError):
    """The operation does not fit the object's current state (e.g. resume of a finished run)."""


class LeaseLost(AgentedError):
    """This process no longer holds an execution it ran: another one took it over (its lease
    ran out), so it may write neither its events nor its status."""


class TemplateError(AgentedError):
    """A template is malformed, or names a key its context does not provide."""


class StoreError(AgentedError):
    """The store URL is unknown or the store cannot be used."""


class WebhookError(AgentedError):
    """A webhook delivery was refused. ``code`` names what went wrong (DESIGN's error codes);
    the HTTP adapter maps it to a status."""

    code = "bad_request"


class InvalidSignature(WebhookError):
    """The delivery's signature is missing or does not match any configured secret."""

    code = "invalid_signature"


class PayloadTooLarge(WebhookError):
    """The delivery's body is over the size limit."""

    code = "payload_too_large"


class UnsupportedMediaType(WebhookError):
    """The delivery's content type is neither JSON nor form-encoded."""

    code = "unsupported_media_type"


class BadPayload(WebhookError):
    """The delivery's body cannot be parsed."""

    code = "bad_request"
