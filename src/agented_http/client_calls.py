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

from agented_core import Bot, Event, Execution, Param, SpendTotals, Status, TriggerKind, from_data
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
    spend: SpendTotals | None = None
    """Its spend against its caps (``None`` from a server that shows none)."""

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
class SearchHit:
    """A matching event as ``GET /executions?q=`` shows it: the text around the first match,
    and the ``(start, end)`` of each matched word within it."""

    seq: int
    kind: str
    time: datetime
    snippet: str
    highlights: tuple[tuple[int, int], ...] = ()


@frozen
class SearchResult:
    """An execution found by a search, with its latest matching events."""

    execution: Execution
    matches: tuple[SearchHit, ...] = ()


@frozen
class SearchPage:
    """One page of ``GET /executions?q=``, most recently written first."""

    items: list[SearchResult] = field(factory=list)
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
    spend = fields.pop("spend", None)
    bot = from_data(fields, Bot)
    return BotInfo(
        bot=bot,
        params=params,
        next_fire=from_data(next_fire, datetime) if next_fire is not None else None,
        spend=spend_totals_of("bot", bot.name, spend),
    )


def spend_totals(bots: Sequence[BotInfo], accounts: Mapping[str, Any]) -> list[SpendTotals]:
    """The bots' spend (``GET /bots``), then the accounts' (``GET /accounts``)."""
    found = [b.spend for b in bots if b.spend is not None]
    for item in accounts.get("items", []):
        totals = spend_totals_of("account", str(item.get("name")), item.get("spend"))
        if totals is not None:
            found.append(totals)
    return found


def spend_totals_of(scope: str, name: str, data: Any) -> SpendTotals | None:
    """The ``spend`` of a bot or an account as the server shows it, as :class:`SpendTotals`
    (``None`` when it shows none)."""
    if not isinstance(data, Mapping):
        return None

    def cap(key: str) -> float | None:
        value = data.get(key)
        return float(value) if isinstance(value, int | float) else None

    return SpendTotals(
        scope,
        name,
        float(data.get("day_usd") or 0.0),
        float(data.get("month_usd") or 0.0),
        cap("max_cost_usd_per_day"),
        cap("max_cost_usd_per_month"),
    )


def _summary(item: Mapping[str, Any]) -> Execution:
    """A listed execution: its ``link`` (to its PR or issue) is no field of the model."""
    return from_data({k: v for k, v in item.items() if k != "link"}, Execution)


def _page(response: httpx.Response) -> ExecutionPage:
    data = response.json()
    items = [_summary(item) for item in data["items"]]
    return ExecutionPage(items, data.get("next_cursor") or None)


def _search_page(response: httpx.Response) -> SearchPage:
    data = response.json()
    items = [
        SearchResult(
            _summary(item["execution"]),
            tuple(
                SearchHit(
                    hit["seq"],
                    hit["kind"],
                    from_data(hit["time"], datetime),
                    hit["snippet"],
                    tuple((int(a), int(b)) for a, b in hit["highlights"]),
                )
                for hit in item["matches"]
            ),
        )
        for item in data["items"]
    ]
    return SearchPage(items, data.get("next_cursor") or None)


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
    trigger: TriggerKind | str | None = None,
) -> Call[ExecutionPage]:
    """``GET /executions``: one page."""
    kind = None if trigger is None else TriggerKind(trigger).value  # ValueError before sending
    query = _query(
        bot=bot, status=_statuses(status), prefix=prefix, limit=limit, cursor=cursor, trigger=kind
    )
    return Call("GET", "/executions", _page, params=query)


def search(
    text: str, *, bot: str | None, status: StatusFilter, limit: int | None, cursor: str | None
) -> Call[SearchPage]:
    """``GET /executions?q=``: one page of the search."""
    query = _query(q=text, bot=bot, status=_statuses(status), limit=limit, cursor=cursor)
    return Call("GET", "/executions", _search_page, params=query)


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


def redeliver(delivery_id: str) -> Call[dict[str, Any]]:
    """``POST /deliveries/{id}/redeliver``: the new delivery's answer (``DeliveryAnswer``)."""
    return Call("POST", f"/deliveries/{segment(delivery_id)}/redeliver", _data, ok=(200, 202))


def accounts() -> Call[dict[str, Any]]:
    """``GET /accounts``: ``items`` (accounts) and ``breakers`` (providers)."""
    return Call("GET", "/accounts", _data)


def clear_account(name: str) -> Call[dict[str, Any]]:
    """``POST /accounts/{name}/clear``: the account as it is now."""
    return Call("POST", f"/accounts/{segment(name)}/clear", _data)


def cancel_many(bot: str | None, status: StatusFilter) -> Call[dict[str, Any]]:
    """``POST /executions/cancel``: ``cancelled`` ids and ``failed`` ones."""
    body: dict[str, Any] = {}
    if bot is not None:
        body["bot"] = bot
    statuses = _statuses(status)
    if statuses is not None:
        body["status"] = statuses.split(",")
    return Call("POST", "/executions/cancel", _data, json=body)
