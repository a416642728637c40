"""SSE over a real socket: uvicorn on 127.0.0.1, started and stopped by each test."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agented_core import Agented, Status
from agented_core.broker import LocalBroker
from agented_http import Settings, create_app
from conftest import OpenAgented, shell_bot
from http_support import KEY, Frame, frames, serving, wait_until
from pg_support import raw_sql

pytestmark = pytest.mark.anyio

AUTH = {"X-API-Key": KEY}


@pytest.fixture
def lines_file(tmp_path: Path) -> Path:
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(1, 41)))
    return path


@asynccontextmanager
async def server(
    open_agented: OpenAgented, lines: Path, db_url: str | None = None, **settings: Any
) -> AsyncIterator[tuple[Agented, httpx.AsyncClient]]:
    bots = [
        shell_bot("counter", "lines", str(lines), "0.05"),
        shell_bot("sleeper", "sleep", "30"),
        shell_bot("hello", "say", "one", "two", "three"),
        shell_bot("flood", "flood", "20000"),
    ]
    async with open_agented(bots) as ag:
        app = create_app(ag, Settings(api_keys=(KEY,), **settings))
        async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as client:
            yield ag, client


async def start(client: httpx.AsyncClient, bot: str) -> str:
    response = await client.post(f"/bots/{bot}/runs", headers=AUTH)
    assert response.status_code == 202
    execution_id: str = response.json()["execution_id"]
    return execution_id


async def read(
    client: httpx.AsyncClient,
    execution_id: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    stop_after: int | None = None,
) -> list[Frame]:
    """Frames of the stream until it ends, or until ``stop_after`` frames (then hang up)."""
    got: list[Frame] = []
    async with client.stream(
        "GET",
        f"/executions/{execution_id}/events",
        headers={**AUTH, **(headers or {})},
        params=params,
    ) as response:
        assert response.status_code == 200, await response.aread()
        async for frame in frames(response):
            got.append(frame)
            if stop_after is not None and len(got) >= stop_after:
                break
    return got


def seqs(got: list[Frame]) -> list[int]:
    return [int(f.id) for f in got if f.id is not None]


async def test_a_client_that_reconnects_gets_exactly_the_rest(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    async with server(open_agented, lines_file) as (ag, client):
        execution_id = await start(client, "counter")
        first = await read(client, execution_id, stop_after=8)
        assert seqs(first) == list(range(1, 9))
        assert not (await ag.get(execution_id)).status.terminal  # it is still going
        last = first[-1].id
        assert last is not None
        rest = await read(client, execution_id, headers={"Last-Event-ID": last})
        done = await ag.get(execution_id)
        everything = await read(client, execution_id)
        from_query = await read(client, execution_id, params={"after": 30})
        # Last-Event-ID wins over ?after= (a browser resends the first URL)
        header_wins = await read(
            client, execution_id, params={"after": 0}, headers={"Last-Event-ID": "40"}
        )
    assert done.status is Status.SUCCEEDED
    assert seqs(first + rest) == list(range(1, done.last_seq + 1))
    assert [(f.event, f.data) for f in first + rest] == [(f.event, f.data) for f in everything]
    assert rest[-1].event == "status" and rest[-1].data["data"]["status"] == "succeeded"
    assert [f.data["text"] for f in everything if f.event == "text"] == [
        f"line {i}" for i in range(1, 41)
    ]
    assert seqs(from_query) == list(range(31, done.last_seq + 1))
    assert seqs(header_wins) == list(range(41, done.last_seq + 1))


async def test_a_finished_stream_with_nothing_left_answers_204(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    async with server(open_agented, lines_file) as (ag, client):
        execution_id = await start(client, "hello")
        done = await ag.wait(execution_id, timeout=20)
        response = await client.get(
            f"/executions/{execution_id}/events",
            headers={**AUTH, "Last-Event-ID": str(done.last_seq)},
        )
    assert response.status_code == 204


async def test_pruned_events_are_announced_with_resync(
    open_agented: OpenAgented, lines_file: Path, db_url: str
) -> None:
    async with server(open_agented, lines_file) as (ag, client):
        execution_id = await start(client, "hello")
        done = await ag.wait(execution_id, timeout=20)
        raw_sql(db_url, "DELETE FROM events WHERE execution_id = ? AND seq <= 2", (execution_id,))
        got = await read(client, execution_id, headers={"Last-Event-ID": "1"})
        kept = await read(client, execution_id, headers={"Last-Event-ID": "3"})
    assert got[0].event == "resync" and got[0].data == {"first_available_seq": 3}
    assert got[0].id == "2"
    assert seqs(got[1:]) == list(range(3, done.last_seq + 1))
    assert seqs(kept) == list(range(4, done.last_seq + 1)) and kept[0].event != "resync"


async def test_a_client_that_hangs_up_frees_its_subscription(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    async with server(open_agented, lines_file) as (ag, client):
        execution_id = await start(client, "sleeper")

        async def streams() -> int:
            ready = await client.get("/health/ready", headers=AUTH)
            count: int = ready.json()["streams"]
            return count

        def subscribers() -> int:
            broker = ag.event_log.broker
            assert isinstance(broker, LocalBroker)
            return broker.followers(execution_id)

        async with client.stream(
            "GET", f"/executions/{execution_id}/events", headers=AUTH
        ) as response:
            reader = frames(response)  # kept: a dropped generator would hang up by itself
            async for frame in reader:
                if frame.data.get("text") == "started":
                    break
            assert await streams() == 1
            assert subscribers() == 1
        await wait_until(lambda: subscribers() == 0)
        await wait_until(lambda: _equals(streams(), 0))
        await ag.cancel(execution_id)
        await ag.wait(execution_id, timeout=20)


async def test_a_client_that_stops_reading_is_dropped(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    async with server(open_agented, lines_file, send_timeout=1.0) as (ag, client):
        execution_id = await start(client, "flood")
        port = int(str(client.base_url).rsplit(":", 1)[1].strip("/"))
        stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", port))
        stuck.sendall(
            f"GET /executions/{execution_id}/events HTTP/1.1\r\nHost: x\r\n"
            f"X-API-Key: {KEY}\r\n\r\n".encode()
        )
        try:  # it never reads a byte: the server's sends stall, then it gives up on it
            ready = lambda: client.get("/health/ready", headers=AUTH)  # noqa: E731
            await wait_until(lambda: _field_is(ready(), "streams", 1))
            await wait_until(lambda: _field_is(ready(), "streams", 0), timeout=30)
            assert (await client.get("/health/ready", headers=AUTH)).json()["channels"] == 0
        finally:
            stuck.close()
        await ag.wait(execution_id, timeout=30)


async def _field_is(response: Any, name: str, expected: int) -> bool:
    return bool((await response).json()[name] == expected)


async def _equals(value: Any, expected: int) -> bool:
    return bool(await value == expected)


async def test_heartbeats_headers_and_a_paused_run_keeps_the_stream_open(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    async with server(open_agented, lines_file, heartbeat=0.05) as (ag, client):
        execution_id = await start(client, "sleeper")
        seen: list[str] = []
        async with client.stream(
            "GET", f"/executions/{execution_id}/events", headers=AUTH
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-accel-buffering"] == "no"
            assert response.headers["cache-control"] == "no-store"
            paused = cancelled = False
            pings_while_paused = 0
            async for line in response.aiter_lines():
                seen.append(line)
                if line == "data: " or not line:
                    continue
                if '"text":"started"' in line and not paused:
                    pause = await client.post(f"/executions/{execution_id}/pause", headers=AUTH)
                    assert pause.status_code == 200
                    paused = True
                if line.startswith(": ping") and '"status":"paused"' in "".join(seen):
                    pings_while_paused += 1
                    if pings_while_paused == 3 and not cancelled:
                        await client.post(f"/executions/{execution_id}/cancel", headers=AUTH)
                        cancelled = True
        done = await ag.wait(execution_id, timeout=20)
    assert done.status is Status.CANCELLED
    assert seen[0] == "retry: 2000"
    assert pings_while_paused >= 3  # the stream stayed open while the run was paused
    data = [line for line in seen if line.startswith("data: ")]
    assert '"status":"cancelled"' in data[-1]  # and ended right after the terminal status


async def test_a_browser_follows_with_a_stream_token(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    async with server(open_agented, lines_file) as (_, client):
        execution_id = await start(client, "hello")
        token = (await client.post(f"/executions/{execution_id}/stream-token", headers=AUTH)).json()
        async with client.stream("GET", token["url"]) as response:  # no key: the token only
            assert response.status_code == 200
            got = [frame async for frame in frames(response)]
        refused = await client.get(
            f"/executions/{execution_id}/events.ndjson", params={"token": token["token"]}
        )
    assert [f.data["text"] for f in got if f.event == "text"] == ["one", "two", "three"]
    assert got[-1].data["data"]["status"] == "succeeded"
    assert refused.status_code == 401
