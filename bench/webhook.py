"""Webhook ingest benchmark: signed GitHub deliveries against one worker.

Ours: the reference sub-app under uvicorn (one worker) in a process of its own, with a bot that
matches ``pull_request`` ``opened`` and whose runs stay queued (its concurrency limit is taken by
a run that sleeps), so only ingest is measured: size check, signature, parsing, dedup, context,
matching, the queued execution and the delivery log, all in SQLite (or PostgreSQL).

Baseline, in the same run: a bare Starlette route under uvicorn that only reads the body and
checks its HMAC (constant-time), then answers 202.

The load comes from one separate process: CONNECTIONS keep-alive connections on raw sockets,
each sending the same signed 28 kB ``pull_request.opened`` payload with a distinct
``X-GitHub-Delivery`` every time. Printed: requests/s and p99 latency of each (median of the
rounds, min and max), and the ratio of the rates. Each round gets a fresh server and database.

    .venv/bin/python bench/webhook.py [--seconds 5] [--rounds 3] [--connections 32]
        [--database postgresql://user@host:5432/db]

With ``--database``, the same server runs a third time on PostgreSQL (the agented-postgres
plugin, a new schema each round, dropped after), and the ratio of its rate to SQLite's in the
same run is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
PAYLOAD = HERE.parent.parent / "tests" / "fixtures" / "webhooks" / "pull_request.opened.json"
SECRET = "bench-webhook-secret"
KEY = "bench-key"


def payload() -> bytes:
    if PAYLOAD.exists():
        return PAYLOAD.read_bytes()
    # outside a full checkout: a pull request of the same shape and a similar size
    return json.dumps(
        {
            "action": "opened",
            "number": 2,
            "pull_request": {
                "number": 2,
                "title": "Update the README with new information.",
                "body": "x" * 20000,
                "user": {"login": "Codertocat", "type": "User"},
                "head": {"ref": "changes", "sha": "ec26c3e5"},
                "base": {"ref": "master"},
                "draft": False,
                "labels": [],
            },
            "repository": {"name": "Hello-World", "full_name": "Codertocat/Hello-World",
                           "owner": {"login": "Codertocat"}, "default_branch": "master"},
            "sender": {"login": "Codertocat", "type": "User"},
        }
    ).encode()  # fmt: skip


# servers
def _listen() -> Any:
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    return sock


def _uvicorn(app: Any) -> None:
    import uvicorn

    sock = _listen()
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def serve_ours(folder: str, database: str | None = None) -> None:
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.routing import Mount

    from agented_core import Agented, Bot, Concurrency, GitHubTrigger, ManualTrigger
    from agented_http import Settings, create_app

    os.environ["GITHUB_WEBHOOK_SECRETS"] = f"an-old-secret,{SECRET}"
    bot = Bot(
        name="review",
        command=("sleep", "3600"),
        triggers=(GitHubTrigger(event="pull_request", actions=("opened",)), ManualTrigger()),
        concurrency=Concurrency(limit=1),
    )
    slot: dict[str, Any] = {}

    async def mounted(scope: Any, receive: Any, send: Any) -> None:
        await slot["app"](scope, receive, send)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        url = database or f"sqlite:///{folder}/ours.db"
        async with Agented.open(url, bots=[bot], entry_points=database is not None) as ag:
            await ag.run("review")  # takes the bot's only slot: what follows stays queued
            slot["app"] = create_app(ag, Settings(api_keys=(KEY,)))
            yield

    _uvicorn(Starlette(routes=[Mount("/agented", app=mounted)], lifespan=lifespan))


def serve_bare() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    secret = SECRET.encode()

    async def github(request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        given = request.headers.get("x-hub-signature-256", "")
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return JSONResponse({"error": "invalid_signature"}, status_code=401)
        return JSONResponse({"execution_ids": []}, status_code=202)

    _uvicorn(Starlette(routes=[Route("/webhooks/github", github, methods=["POST"])]))


# the load
async def _connection(
    port: int, path: str, body: bytes, signature: str, deadline: float, latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-GitHub-Event: pull_request\r\n"
        f"X-Hub-Signature-256: {signature}\r\nX-GitHub-Delivery: "
    ).encode()
    done = 0
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        writer.write(head + uuid.uuid4().hex.encode() + b"\r\n\r\n" + body)
        status = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        if status.split()[1] not in (b"200", b"202"):
            raise RuntimeError(f"unexpected answer: {status!r}")
        done += 1
    writer.close()
    return done


async def load(port: int, path: str, seconds: float, connections: int) -> None:
    body = payload()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    latencies: list[float] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    deadline = wall0 + seconds
    counts = await asyncio.gather(
        *(_connection(port, path, body, signature, deadline, latencies) for _ in range(connections))
    )
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    latencies.sort()
    print(
        json.dumps(
            {
                "rate": sum(counts) / wall,
                "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
                "p50": latencies[len(latencies) // 2] * 1000,
                "busy": cpu / wall,
            }
        ),
        flush=True,
    )


# orchestration
def one_round(
    kind: str, seconds: float, connections: int, database: str | None = None
) -> dict[str, Any]:
    folder = tempfile.mkdtemp()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    if kind == "pg":
        assert database is not None
        url = f"{database}{'&' if '?' in database else '?'}schema={schema}"
        args = ["--serve-ours", folder, url]
    else:
        args = ["--serve-ours", folder] if kind == "ours" else ["--serve-bare"]
    server = subprocess.Popen([sys.executable, str(HERE), *args], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    try:
        port = int(server.stdout.readline())
        path = "/webhooks/github" if kind == "bare" else "/agented/webhooks/github"
        run = [sys.executable, str(HERE), "--load", str(port), path]
        subprocess.run([*run, "1", "4"], check=True, capture_output=True)  # warm up
        out = subprocess.run(
            [*run, str(seconds), str(connections)], check=True, capture_output=True, text=True
        )
        result: dict[str, Any] = json.loads(out.stdout)
        return result
    finally:
        server.kill()  # thousands of queued runs: no need to shut them down one by one
        server.wait(timeout=30)
        if kind == "pg":
            _drop(database or "", schema)


def _drop(database: str, schema: str) -> None:
    import psycopg
    from agented_postgres.pool import Settings

    with psycopg.connect(Settings(database).conninfo, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


def main(args: argparse.Namespace) -> None:
    kinds = ("bare", "ours", "pg") if args.database else ("bare", "ours")
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for _ in range(args.rounds):  # alternate, so drift hits all alike
        for kind in kinds:
            results[kind].append(one_round(kind, args.seconds, args.connections, args.database))
    print(
        f"signed pull_request deliveries ({len(payload()):,} bytes), {args.connections} "
        f"connections, {args.seconds:g} s x {args.rounds} rounds (median, min-max):"
    )
    rates = {}
    labels = {"ours": "agented on SQLite", "pg": "agented on PostgreSQL", "bare": "bare HMAC check"}
    for kind, label in labels.items():
        rounds = results.get(kind)
        if not rounds:
            continue
        rate = [r["rate"] for r in rounds]
        rates[kind] = statistics.median(rate)
        bound = max(r["busy"] for r in rounds) > 0.9
        print(
            f"  {label:<30} {rates[kind]:7,.0f} requests/s ({min(rate):,.0f}-{max(rate):,.0f})"
            f"  p50 {statistics.median(r['p50'] for r in rounds):6.1f} ms"
            f"  p99 {statistics.median(r['p99'] for r in rounds):6.1f} ms"
            + ("  [client-bound]" if bound else "")
        )
    print(f"  ratio of rates, ours / bare: {rates['ours'] / rates['bare']:.2f}  (target >= 0.5)")
    if "pg" in rates:
        print(
            f"  ratio of rates, PostgreSQL / SQLite: {rates['pg'] / rates['ours']:.2f}"
            "  (target >= 0.8)"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-ours":
        serve_ours(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve-bare":
        serve_bare()
    elif len(sys.argv) > 1 and sys.argv[1] == "--load":
        port, path, seconds, connections = sys.argv[2:6]
        asyncio.run(load(int(port), path, float(seconds), int(connections)))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        parser.add_argument("--seconds", type=float, default=5.0)
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--connections", type=int, default=32)
        parser.add_argument(
            "--database", metavar="URL", help="also run on this postgresql:// server"
        )
        main(parser.parse_args())
