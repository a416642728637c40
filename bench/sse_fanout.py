"""SSE fan-out benchmark: many browsers following one execution.

Ours: the reference sub-app (``agented_http.create_app``) under uvicorn, one worker, in a process
of its own. A shell bot waits at a gate, then prints N lines at RATE lines/s; each line becomes a
``text`` event that every client receives over ``GET /executions/{id}/events``.

Baseline, in the same run: a bare sse-starlette endpoint under uvicorn in another process, fed
from in-process queues by a task that emits the same events (same JSON, same size) at the same
rate, one queue per client.

The clients run in one separate Python process (raw sockets, frames split on blank lines, no SSE
parser). Latency is from the moment the server made the event (its ``time``) to the moment a
client read it. The figure that shows our overhead is the server process's own CPU seconds
(user + sys from ``/proc/<pid>/stat``) per 1,000 delivered events, ours against the bare one.
When the client process was busy for more than 90 % of the window it was the bottleneck
(``client-bound``), and latency then says little about the server.

    .venv/bin/python bench/sse_fanout.py [--clients 100] [--rate 20] [--seconds 5] [--rounds 3]
                                         [--large 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
KEY = "bench-key"
TEXT = (
    "I looked at the diff. The change to the retry loop is right, but the timeout is read once "
    "outside the loop, so a config reload does not reach it. Consider reading it per attempt."
)
TICKS = os.sysconf("SC_CLK_TCK")


# the child: waits at a gate, then prints N lines at RATE lines/s
def emit(n: int, rate: float, gate: str) -> None:
    while not os.path.exists(gate):
        time.sleep(0.005)
    start = time.perf_counter()
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sys.stdout.write(f"{TEXT} #{i}\n")
        sys.stdout.flush()


# servers
def _listen() -> Any:
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    return sock


def _uvicorn(app: Any, sock: Any) -> None:
    import uvicorn

    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def serve_ours(folder: str) -> None:
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.routing import Mount

    from agented_core import Agented, Bot, ManualTrigger, Param
    from agented_http import Settings, create_app

    bot = Bot(
        name="emit",
        command=(sys.executable, str(HERE), "--emit", "{params.n}", "{params.rate}", "{params.g}"),
        triggers=(ManualTrigger(params=(Param("n", "integer"), Param("rate", "number"), "g")),),
        timeout=600,
    )
    slot: dict[str, Any] = {}

    async def mounted(scope: Any, receive: Any, send: Any) -> None:
        await slot["app"](scope, receive, send)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        url = f"sqlite:///{folder}/ours.db"
        async with Agented.open(url, bots=[bot], entry_points=False) as ag:
            slot["app"] = create_app(ag, Settings(api_keys=(KEY,)))
            yield

    _uvicorn(Starlette(routes=[Mount("/agented", app=mounted)], lifespan=lifespan), _listen())


def serve_bare() -> None:
    from sse_starlette import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    queues: set[asyncio.Queue[dict[str, Any] | None]] = set()
    tasks: set[asyncio.Task[None]] = set()

    async def events(request: Request) -> Response:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        queues.add(queue)

        async def stream() -> Any:
            try:
                yield {"event": "ready", "data": "{}"}
                while (item := await queue.get()) is not None:
                    yield item
            finally:
                queues.discard(queue)

        return EventSourceResponse(stream(), sep="\n")  # as ours

    async def produce(n: int, rate: float) -> None:
        start = time.perf_counter()
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            data = json.dumps(
                {
                    "execution_id": "01BARE0000000000000000000",
                    "seq": i + 3,
                    "time": datetime.now(UTC).isoformat(),
                    "attempt": 1,
                    "kind": "text",
                    "text": f"{TEXT} #{i}",
                    "data": {},
                },
                separators=(",", ":"),
            )
            item = {"id": str(i + 3), "event": "text", "data": data}
            for queue in queues:
                queue.put_nowait(item)
        for queue in list(queues):
            queue.put_nowait(None)

    async def go(request: Request) -> Response:
        n, rate = int(request.query_params["n"]), float(request.query_params["rate"])
        task = asyncio.get_running_loop().create_task(produce(n, rate))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return JSONResponse({"subscribers": len(queues)})

    routes = [Route("/events", events), Route("/go", go, methods=["POST"])]
    _uvicorn(Starlette(routes=routes), _listen())


# clients
async def _client(
    port: int, path: str, expected: int, connected: list[int], latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n"
        f"X-API-Key: {KEY}\r\n\r\n".encode()
    )
    await writer.drain()
    buffer = b""
    got = 0
    first = True
    while got < expected:
        chunk = await reader.read(65536)
        if not chunk:
            break
        now = time.time()
        buffer += chunk
        *blocks, buffer = buffer.split(b"\n\n")
        for block in blocks:
            if b"data: " not in block:
                continue
            if first:
                first = False
                connected[0] += 1
            if b"event: text" not in block:
                continue
            stamp = block.index(b'"time":"') + 8
            made = datetime.fromisoformat(block[stamp : block.index(b'"', stamp)].decode())
            latencies.append(now - made.timestamp())
            got += 1
    writer.close()
    return got


async def run_clients(port: int, path: str, count: int, expected: int) -> None:
    connected = [0]
    latencies: list[float] = []
    tasks = [
        asyncio.create_task(_client(port, path, expected, connected, latencies))
        for _ in range(count)
    ]
    while connected[0] < count:
        await asyncio.sleep(0.01)
    print("connected", flush=True)
    sys.stdin.readline()  # the orchestrator opens the gate, then says go
    cpu0, wall0 = time.process_time(), time.perf_counter()
    got = await asyncio.gather(*tasks)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(json.dumps({"got": sum(got), "latencies": latencies, "busy": cpu / wall}), flush=True)


# orchestration
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def start_server(*args: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, str(HERE), *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def _post(port: int, path: str, body: dict[str, Any] | None = None) -> Any:
    import httpx

    response = httpx.post(
        f"http://127.0.0.1:{port}{path}", json=body, headers={"X-API-Key": KEY}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def one_round(
    kind: str, server: subprocess.Popen[str], port: int, clients: int, n: int, rate: float
) -> dict[str, Any]:
    gate = Path(tempfile.mkdtemp()) / "gate"
    if kind == "ours":
        started = _post(
            port, "/agented/bots/emit/runs", {"params": {"n": n, "rate": rate, "g": str(gate)}}
        )
        path = f"/agented/executions/{started['execution_id']}/events"
    else:
        path = "/events"
    client = subprocess.Popen(
        [sys.executable, str(HERE), "--clients", str(port), path, str(clients), str(n)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdin is not None and client.stdout is not None
    assert client.stdout.readline().strip() == "connected"
    before = cpu_seconds(server.pid)
    wall = time.perf_counter()
    client.stdin.write("go\n")
    client.stdin.flush()
    if kind == "ours":
        gate.touch()
    else:
        _post(port, f"/go?n={n}&rate={rate}")
    result = json.loads(client.stdout.readline())
    client.wait(timeout=60)
    cpu = cpu_seconds(server.pid) - before
    wall = time.perf_counter() - wall
    deliveries = result["got"]
    assert deliveries == clients * n, (kind, deliveries, clients * n)
    lat = sorted(result["latencies"])
    return {
        "cpu_per_1000": cpu / deliveries * 1000,
        "p50": lat[len(lat) // 2] * 1000,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "deliveries_per_s": deliveries / wall,
        "client_busy": result["busy"],
    }


def summary(label: str, rounds: list[dict[str, Any]]) -> dict[str, float]:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    cpu = [r["cpu_per_1000"] for r in rounds]
    bound = max(r["client_busy"] for r in rounds) > 0.9
    print(
        f"  {label:<5} CPU {med('cpu_per_1000') * 1000:6.1f} ms/1,000 deliveries "
        f"({min(cpu) * 1000:.1f}-{max(cpu) * 1000:.1f})  "
        f"p50 {med('p50'):6.1f} ms  p99 {med('p99'):6.1f} ms  "
        f"{med('deliveries_per_s'):7,.0f} deliveries/s" + ("  [client-bound]" if bound else "")
    )
    return {"cpu": med("cpu_per_1000"), "bound": float(bound)}


def main(args: argparse.Namespace) -> None:
    folder = tempfile.mkdtemp()
    ours, ours_port = start_server("--serve-ours", folder)
    bare, bare_port = start_server("--serve-bare")
    try:
        n = int(args.rate * args.seconds)
        loads = [(args.clients, args.rounds)]
        if args.large:
            loads.append((args.large, max(1, args.rounds - 1)))
        one_round("ours", ours, ours_port, 5, 5, 50.0)  # warm up both
        one_round("bare", bare, bare_port, 5, 5, 50.0)
        for clients, rounds in loads:
            results: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
            for _ in range(rounds):  # alternate, so drift hits both alike
                results["bare"].append(one_round("bare", bare, bare_port, clients, n, args.rate))
                results["ours"].append(one_round("ours", ours, ours_port, clients, n, args.rate))
            print(
                f"{clients} clients, one execution at {args.rate:g} events/s for "
                f"{args.seconds:g} s ({clients * n:,} deliveries a round, {rounds} rounds; "
                "median, min-max):"
            )
            mine = summary("ours", results["ours"])
            base = summary("bare", results["bare"])
            print(
                f"  server CPU per delivery, ours / bare: {mine['cpu'] / base['cpu']:.2f}"
                "  (target <= 2)"
            )
    finally:
        for server in (ours, bare):
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--emit":
        emit(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve-ours":
        serve_ours(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve-bare":
        serve_bare()
    elif len(sys.argv) > 1 and sys.argv[1] == "--clients":
        port, path, count, expected = sys.argv[2:6]
        asyncio.run(run_clients(int(port), path, int(count), int(expected)))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        parser.add_argument("--clients", type=int, default=100)
        parser.add_argument("--rate", type=float, default=20.0)
        parser.add_argument("--seconds", type=float, default=5.0)
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--large", type=int, default=500, help="0 to skip the larger load")
        main(parser.parse_args())
