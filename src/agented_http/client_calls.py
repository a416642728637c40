"""The routes as calls: what to send, and how to read the answer into the core's models.

No I/O here: :class:`~agented_http.client.AsyncClient` and :class:`~agented_http.client.Client`
send the same :class:`Call` with httpx's async or sync client, so both read every answer alike,
through the core's one converter (the inverse of what the server writes with ``to_data``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from attrs import field, frozen

from agented_core import Bot, Event, Execution, Param, Status, from_data
from agented_core.triggers import DryRun

from .tokens import StreamToken

T = TypeVar("T")

StatusFilter = Status | str | Sequence[Status | str] | None
"""``status=`` of a listing: one status, several (any of them), or none."""


@frozen
class BotInfo:
    """A bot as the server shows it: the bot (``env`` values redacted), its declared manual
    parameters and when its schedule fires next (``None`` without one)."""

    bot: Bot
    params: tuple[Param, ...] = ()
    next_fire: datetime | None = None

    @property
    def name(self) -> str:
        """The bot's name."""
        return self.bot.name


@frozen
class ExecutionPage:
    """One page of ``GET /executions``: its executions (newest first, without their trigger
    ``context``) and the cursor of the next page (``None`` on the last)."""

    items: list[Execution] = field(factory=list)
    next_cursor: str | None = None


@frozen
class Call(Generic[T]):
    """One request and the reader of its answer; an answer outside ``ok`` is an error."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: Mapping[str, str | int] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None
    ok: tuple[int, ...] = (200,)


def segment(value: str) -> str:
    """``value`` as one path segment (an id or name with a ``/`` stays one segment)."""
    return quote(value, safe="")


def _data(response: httpx.Response) -> Any:
    return response.json()


def _execution(response: httpx.Response) -> Execution:
    return from_data(response.json(), Execution)


def _accepted(response: httpx.Response) -> str:
    return str(response.json()["execution_id"])


def _bot(data: Mapping[str, Any]) -> BotInfo:
    fields = dict(data)
    params = from_data(fields.pop("params", []), tuple[Param, ...])
    next_fire = fields.pop("next_fire", None)
    return BotInfo(
        bot=from_data(fields, Bot),
        params=params,
        next_fire=from_data(next_fire, datetime) if next_fire is not None else None,
    )


def _page(response: httpx.Response) -> ExecutionPage:
    data = response.json()
    items = [from_data(item, Execution) for item in data["items"]]
    return ExecutionPage(items, data.get("next_cursor") or None)


def ndjson_events(body: bytes) -> list[Event]:
    """The events of an NDJSON body (one JSON object a line; JSON escapes every line break)."""
    return [from_data(json.loads(line), Event) for line in body.split(b"\n") if line.strip()]


def _statuses(status: StatusFilter) -> str | None:
    if status is None:
        return None
    if isinstance(status, str):  # a Status is a str too
        return Status(status).value
    return ",".join(Status(s).value for s in status) or None


def _query(**values: str | int | None) -> dict[str, str | int]:
    return {name: value for name, value in values.items() if value is not None}


def health() -> Call[dict[str, Any]]:
    """``GET /health``."""
    return Call("GET", "/health", _data)


def ready() -> Call[dict[str, Any]]:
    """``GET /health/ready``: the body whether ready (200) or not (503)."""
    return Call("GET", "/health/ready", _data, ok=(200, 503))


def bots() -> Call[list[BotInfo]]:
    """``GET /bots``."""
    return Call("GET", "/bots", lambda r: [_bot(item) for item in r.json()["items"]])


def bot(name: str) -> Call[BotInfo]:
    """``GET /bots/{name}``."""
    return Call("GET", f"/bots/{segment(name)}", lambda r: _bot(r.json()))


def run(name: str, params: Mapping[str, Any] | None) -> Call[str]:
    """``POST /bots/{name}/runs``: the new execution's id."""
    body = {"params": dict(params or {})}
    return Call("POST", f"/bots/{segment(name)}/runs", _accepted, json=body, ok=(202,))


def executions(
    *,
    bot: str | None,
    status: StatusFilter,
    prefix: str | None,
    limit: int | None,
    cursor: str | None,
) -> Call[ExecutionPage]:
    """``GET /executions``: one page."""
    query = _query(bot=bot, status=_statuses(status), prefix=prefix, limit=limit, cursor=cursor)
    return Call("GET", "/executions", _page, params=query)


def execution(execution_id: str) -> Call[Execution]:
    """``GET /executions/{id}``."""
    return Call("GET", f"/executions/{segment(execution_id)}", _execution)


def control(execution_id: str, action: str) -> Call[Execution]:
    """``POST /executions/{id}/cancel`` (``pause``, ``resume``): the execution."""
    return Call("POST", f"/executions/{segment(execution_id)}/{action}", _execution)


def rerun(execution_id: str) -> Call[str]:
    """``POST /executions/{id}/rerun``: the new execution's id."""
    return Call("POST", f"/executions/{segment(execution_id)}/rerun", _accepted, ok=(202,))


def events(execution_id: str, after: int) -> Call[list[Event]]:
    """``GET /executions/{id}/events.ndjson``: the stored events after seq ``after``."""
    path = f"/executions/{segment(execution_id)}/events.ndjson"
    params = _query(after=after or None)
    headers = {"Accept": "application/x-ndjson"}
    return Call("GET", path, lambda r: ndjson_events(r.content), params=params, headers=headers)


def events_path(execution_id: str) -> str:
    """The SSE route of an execution."""
    return f"/executions/{segment(execution_id)}/events"


def stream_token(execution_id: str) -> Call[StreamToken]:
    """``POST /executions/{id}/stream-token``."""

    def read(response: httpx.Response) -> StreamToken:
        data = response.json()
        return StreamToken(str(data["token"]), from_data(data["expires_at"], datetime))

    return Call("POST", f"/executions/{segment(execution_id)}/stream-token", read)


def dry_run(event: str, payload: Mapping[str, Any]) -> Call[DryRun]:
    """``POST /webhooks/github/dry-run``."""

    def read(response: httpx.Response) -> DryRun:
        data = response.json()
        return DryRun(matches=list(data["matches"]), skipped=list(data["skipped"]))

    headers = {"X-GitHub-Event": event}
    return Call("POST", "/webhooks/github/dry-run", read, json=dict(payload), headers=headers)


def deliveries(limit: int) -> Call[list[dict[str, Any]]]:
    """``GET /deliveries``: the newest ``limit`` deliveries."""
    return Call("GET", "/deliveries", lambda r: list(r.json()["items"]), params={"limit": limit})
