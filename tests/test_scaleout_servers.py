"""Several ``agented serve`` processes on one store and one Redis, over real sockets.

A run started through one server streams to SSE clients of the others, every event once and
in order; a client resuming with ``Last-Event-ID`` through yet another server gets exactly the
rest; one webhook delivery sent to two servers at once starts one run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import anyio
import httpx
import pytest

from scaleout_support import Proc, need_redis, processes, redis_url, write_config

pytestmark = pytest.mark.anyio

KEY = "scaleout-test-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}
SECRET = "scaleout-webhook-secret"


async def start_servers(procs: list[Proc], config: Path, count: int) -> list[str]:
    """``count`` servers on free ports; the API base URL of each."""
    started = []
    for _ in range(count):
        proc = Proc(
            ["serve", "--config", str(config), "--port", "0"],
            env={"AGENTED_API_KEYS": KEY, "ALERTS_SECRET": SECRET},
        )
        procs.append(proc)
        started.append(proc)
    apis = []
    for proc in started:
        line = await proc.wait_for_line("  open ")
        apis.append(line.split()[-1].rstrip("/") + "/agented")
    return apis


async def sse(
    client: httpx.AsyncClient, url: str, *, last: int | None = None, stop_at: int | None = None
) -> list[dict[str, object]]:
    """The events of an SSE stream (``id`` and parsed ``data``), until it ends or ``stop_at``."""
    headers = dict(HEADERS, Accept="text/event-stream")
    if last is not None:
        headers["Last-Event-ID"] = str(last)
    got: list[dict[str, object]] = []
    async with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        frame: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line.startswith(":"):
                continue
            if line:
                name, _, value = line.partition(": ")
                frame[name] = value
                continue
            if "data" in frame:
                got.append({"id": int(frame["id"]), **json.loads(frame["data"])})
                if stop_at is not None and got[-1]["id"] == stop_at:
                    return got
            frame = {}
    return got


async def test_followers_through_other_servers_get_every_event_once_in_order(
    tmp_path: Path, database: str
) -> None:
    need_redis()
    config = write_config(tmp_path, broker=redis_url(), seconds=2.0, lines=400, database=database)
    with processes() as procs:
        a, b, c = await start_servers(procs, config, 3)
        async with httpx.AsyncClient(timeout=30) as client:
            started = await client.post(f"{a}/bots/job/runs", headers=HEADERS, json={})
            assert started.status_code in (200, 201, 202), started.text
            execution_id = started.json()["execution_id"]
            results: dict[str, list[dict[str, object]]] = {}

            async def follow(name: str, api: str) -> None:
                results[name] = await sse(client, f"{api}/executions/{execution_id}/events")

            async def resume() -> None:
                # halfway through on one server, the rest from another
                first = await sse(client, f"{b}/executions/{execution_id}/events", stop_at=150)
                rest = await sse(
                    client, f"{c}/executions/{execution_id}/events", last=int(first[-1]["id"])
                )
                results["resumed"] = first + rest

            with anyio.fail_after(40):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(follow, "b", b)
                    tg.start_soon(follow, "c", c)
                    tg.start_soon(resume)
            stored = await client.get(
                f"{a}/executions/{execution_id}/events.ndjson", headers=HEADERS
            )
    expected = [json.loads(line)["seq"] for line in stored.text.splitlines() if line]
    assert len(expected) > 400
    for name, events in results.items():
        seqs = [e["id"] for e in events]
        assert seqs == expected, name
        assert events[-1]["kind"] == "status" and events[-1]["data"]["status"] == "succeeded"  # type: ignore[index]


async def test_one_delivery_sent_to_two_servers_at_once_starts_one_run(
    tmp_path: Path, database: str
) -> None:
    need_redis()
    config = write_config(
        tmp_path,
        broker=redis_url(),
        seconds=0.1,
        bot='\n[webhooks.alerts]\nsecret_env = "ALERTS_SECRET"\ndelivery_header = "X-Delivery"\n',
        database=database,
    )
    text = config.read_text().replace(
        "on = [{ manual = true }]", 'on = [{ manual = true }, { webhook = "alerts" }]'
    )
    config.write_text(text)
    body = b'{"alert": "firing"}'
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Signature-256": signature,
        "X-Delivery": "delivery-1",
    }
    with processes() as procs:
        apis = await start_servers(procs, config, 2)
        async with httpx.AsyncClient(timeout=30) as client:
            answers: list[httpx.Response] = []

            async def deliver(api: str) -> None:
                answers.append(
                    await client.post(f"{api}/webhooks/alerts", content=body, headers=headers)
                )

            async with anyio.create_task_group() as tg:
                for api in apis * 3:  # each server gets it three times, all at once
                    tg.start_soon(deliver, api)
            listed = await client.get(f"{apis[0]}/executions", headers=HEADERS)
    assert all(r.status_code < 300 for r in answers), [r.text for r in answers]
    runs = listed.json()["items"]
    assert len(runs) == 1


def children_of(pid: int) -> list[int]:
    """The pids of a process's children (Linux)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


async def test_serve_with_workers_runs_them_on_one_socket_and_stops_them_all(
    tmp_path: Path,
) -> None:
    need_redis()
    config = write_config(tmp_path, broker=redis_url(), seconds=0.5, lines=50)
    with processes() as procs:
        proc = Proc(
            ["serve", "--config", str(config), "--port", "0", "--workers", "3"],
            env={"AGENTED_API_KEYS": KEY},
        )
        procs.append(proc)
        api = (await proc.wait_for_line("  open ")).split()[-1].rstrip("/") + "/agented"
        workers = children_of(proc.pid)
        assert len(workers) == 3
        async with httpx.AsyncClient(timeout=30) as client:
            ids = []
            for _ in range(6):  # new connections: the kernel spreads them over the workers
                answer = await client.post(
                    f"{api}/bots/job/runs", headers={**HEADERS, "Connection": "close"}, json={}
                )
                ids.append(answer.json()["execution_id"])
            with anyio.fail_after(30):
                for execution_id in ids:
                    events = await sse(client, f"{api}/executions/{execution_id}/events")
                    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
                    assert events[-1]["data"]["status"] == "succeeded"  # type: ignore[index]
            # whichever worker answers counts every worker's runs (multiprocess metrics); a run
            # is counted by its finished hook, just after its final event reached the stream
            finished: list[str] = []
            with anyio.fail_after(15):
                while sum(float(line.split()[-1]) for line in finished) != 6:
                    metrics = await client.get(
                        f"{api}/metrics", headers={**HEADERS, "Connection": "close"}
                    )
                    finished = [
                        line for line in metrics.text.splitlines()
                        if line.startswith("agented_executions_total{")
                        and 'status="succeeded"' in line
                    ]  # fmt: skip
        assert await anyio.to_thread.run_sync(proc.terminate) == 0
    for pid in workers:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
