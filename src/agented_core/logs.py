"""Log output: plain text or one JSON object per record (``[agented] log_format``).

A JSON record has ``time``, ``level``, ``logger`` and ``message``, an ``exception`` when there
is one, and ``execution_id``, ``bot``, ``delivery_id`` and ``attempt`` where they apply: from the
record's ``extra`` or from :data:`FIELDS`, a context variable that :class:`LogContext` (a plugin
of the lifecycle hooks) fills in for the task that runs an execution.

Whatever the format, a URL's query ``token=`` (stream tokens) and any value of :data:`SECRET_QUERY`
are replaced by ``[redacted]`` in the message, and uvicorn's access log lines with them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

from .hookspecs import hookimpl
from .models import Execution

__all__ = [
    "CONTEXT_KEYS",
    "FIELDS",
    "FORMATS",
    "SECRET_QUERY",
    "JsonFormatter",
    "LogContext",
    "RedactFilter",
    "configure",
    "formatter",
    "redact_query",
]

FORMATS = ("text", "json")
CONTEXT_KEYS = ("execution_id", "bot", "delivery_id", "attempt")
"""The record fields the JSON format carries where they apply."""
SECRET_QUERY = ("token", "key", "api_key", "access_token", "secret")
"""Query parameters whose values never reach a log."""

FIELDS: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "agented_log_fields", default=MappingProxyType({})
)
"""The context fields of the logs of the current task."""

log = logging.getLogger("agented")
_QUERY = re.compile(r"([?&](?:" + "|".join(SECRET_QUERY) + r")=)[^&\s\"']*", re.IGNORECASE)
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redact_query(text: str) -> str:
    """``text`` with the values of secret query parameters replaced."""
    return _QUERY.sub(r"\1[redacted]", text)


class RedactFilter(logging.Filter):
    """Redacts secret query values from a record's message and arguments (keeps the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = FIELDS.get()
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is None:
                value = context.get(key)
            if value is not None:
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def formatter(fmt: str) -> logging.Formatter:
    """The formatter of ``fmt`` (``text`` or ``json``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; expected one of: {', '.join(FORMATS)}")
    return JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT)


def configure(
    fmt: str = "text", level: int | str = logging.INFO, stream: TextIO | None = None
) -> logging.Handler:
    """Send agented's and uvicorn's logs to ``stream`` (stderr) in ``fmt``; the handler.

    Replaces the handlers of the root logger and of uvicorn's loggers (which then propagate to
    it), so each record is written once, in one format. Run uvicorn with ``log_config=None``
    so that it leaves them so.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    return handler


class LogContext:
    """A plugin: tags the logs of an execution's task with its id, bot and delivery.

    The hook runs in the task that runs the execution, so the context variable it sets holds
    for the rest of that task (and no other). ``attempt`` comes from a record's ``extra`` only.
    """

    @hookimpl
    def agented_execution_started(self, execution: Execution) -> None:
        """From the first attempt's start on, the task's records carry the execution's fields."""
        FIELDS.set(
            {
                "execution_id": execution.id,
                "bot": execution.bot,
                "delivery_id": execution.delivery_id,
            }
        )
        log.info("execution %s of %s started", execution.id, execution.bot, extra=_extra(execution))

    @hookimpl
    def agented_execution_finished(self, execution: Execution) -> None:
        """One line per finished execution: its status, attempts and error kind."""
        kind = f" ({execution.error_kind.value})" if execution.error_kind else ""
        log.info(
            "execution %s of %s ended %s after %d attempt(s)%s",
            execution.id, execution.bot, execution.status.value, execution.attempt, kind,
            extra=_extra(execution),
        )  # fmt: skip


def _extra(execution: Execution) -> dict[str, Any]:
    return {
        "execution_id": execution.id,
        "bot": execution.bot,
        "delivery_id": execution.delivery_id,
        "attempt": execution.attempt,
    }
