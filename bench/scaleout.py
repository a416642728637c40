"""Scale-out benchmark: live events through Redis between processes, and runs over two workers.

Ours, two figures, each against a baseline measured in the same run:

1. Latency from a line printed by a run's child to an SSE client, p50 and p99: a client on
   *another* ``agented serve`` process (the events cross Redis) against a client on the process
   running the execution (the baseline). Target: p99 at most 2x the baseline's. The child
   prints ``time.time()`` in each line; the client subtracts it from its own clock on receipt.
2. Events per second of several concurrent runs (each printing lines as fast as it can) run by
   two ``agented worker`` processes against the same runs by one worker (the baseline).
   Target: at least 1.0x.

Needs a Redis at 127.0.0.1:6379 and the agented-redis plugin. Brief by default (shared machine):

    .venv/bin/python bench/scaleout.py [--lines 400] [--rate 200] [--runs 4] [--events 5000]
                                       [--database postgresql://root@127.0.0.1:5432/test?schema=S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

AGENTED = str(Path(sys.executable).parent / "agented")
KEY = "bench-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}
EMIT = (
    "import sys, time\n"
    "n, rate = int(sys.argv[1]), float(sys.argv[2])\n"
    "for i in range(n):\n"
    "    print(f'{time.time():.6f} {i}', flush=True)\n"
    "    if rate: time.sleep(1 / rate)\n"
)


DATABASE: str | None = None  # --database: a shared store instead of a SQLite file per round


def write_config(tmp: Path, lines: int, rate: float, max_runs: int = 8) -> Path:
    script = tmp / "emit.py"
    script.write_text(EMIT)
    prefix = f"agented-bench:{uuid.uuid4().hex[:8]}:"
    path = tmp / "agented.toml"
    path.write_text(
        f"""
[agented]
database = "{DATABASE or f"sqlite:///{tmp / 'agented.db'}"}"
broker = "redis://127.0.0.1:6379/0?prefix={prefix}"
max_concurrent_runs = {max_runs}

[bots.emit]
command = ["{sys.executable}", "{script}", "{lines}", "{rate}"]
on = [{{ manual = true }}]
"""
    )
    return path


class Proc:
    def __init__(self, args: list[str]) -> None:
        self.popen = subprocess.Popen(
            [AGENTED, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "AGENTED_API_KEYS": KEY},
        )

    def wait_for(self, start: str) -> str:
        assert self.popen.stdout is not None
        while True:
            line = self.popen.stdout.readline()
            if not line:
                raise SystemExit(f"{self.popen.args} exited early")
            if line.startswith(start):
                return line

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def sse_latencies(client: httpx.AsyncClient, url: str) -> list[float]:
    latencies: list[float] = []
    async with client.stream(
        "GET", url, headers={**HEADERS, "Accept": "text/event-stream"}
    ) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            now = time.time()
            event = json.loads(line[6:])
            if event["kind"] == "text" and event.get("text"):
                latencies.append(now - float(event["text"].split()[0]))
            if event["kind"] == "status" and event["data"]["status"] in ("succeeded", "failed"):
                break
    return latencies


async def latency(tmp: Path, lines: int, rate: float) -> tuple[list[float], list[float]]:
    config = write_config(tmp, lines, rate)
    servers = [Proc(["serve", "--config", str(config), "--port", "0"]) for _ in range(2)]
    try:
        apis = [s.wait_for("  open ").split()[-1].rstrip("/") + "/agented" for s in servers]
        async with httpx.AsyncClient(timeout=60) as client:
            answer = await client.post(f"{apis[0]}/bots/emit/runs", headers=HEADERS, json={})
            execution_id = answer.json()["execution_id"]
            here, there = await asyncio.gather(
                sse_latencies(client, f"{apis[0]}/executions/{execution_id}/events"),
                sse_latencies(client, f"{apis[1]}/executions/{execution_id}/events"),
            )
    finally:
        for server in servers:
            server.stop()
    # the first lines may have been printed before the clients connected: live ones only
    skip = max(1, len(here) // 10)
    return here[skip:], there[skip:]


async def throughput(tmp: Path, workers: int, runs: int, events: int) -> float:
    config = write_config(tmp, events, 0, max_runs=runs)
    procs = [
        Proc(["worker", "--config", str(config), "--concurrency", str(max(1, runs // workers))])
        for _ in range(workers)
    ]
    try:
        for proc in procs:
            proc.wait_for("agented worker")
        from agented_core import Agented

        async with Agented.open(config=config, concurrency=0, wake=False, recover=False) as ag:
            started = time.perf_counter()
            ids = [(await ag.run("emit")).id for _ in range(runs)]
            done = [await ag.wait(i, timeout=300) for i in ids]
            elapsed = time.perf_counter() - started
            total = sum(e.last_seq for e in done)
    finally:
        for proc in procs:
            proc.stop()
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=400)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument(
        "--database", help="a store URL (postgresql://...?schema=S) instead of SQLite files"
    )
    args = parser.parse_args()
    global DATABASE
    DATABASE = args.database
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "latency"
        folder.mkdir()
        here, there = asyncio.run(latency(folder, args.lines, args.rate))
        print(f"line to SSE client, {args.lines} lines at {args.rate:g}/s:")
        for name, values in (("same process (baseline)", here), ("other process via Redis", there)):
            print(
                f"  {name:<26} p50 {pct(values, 0.5) * 1000:7.2f} ms   "
                f"p99 {pct(values, 0.99) * 1000:7.2f} ms   ({len(values)} events)"
            )
        ratio = pct(there, 0.99) / max(pct(here, 0.99), 1e-9)
        print(f"  p99 ratio other/same: {ratio:.2f}x (target <= 2.0x)")
        rates = {}
        for workers in (1, 2):
            folder = Path(tmp) / f"t{workers}"
            folder.mkdir()
            rates[workers] = asyncio.run(throughput(folder, workers, args.runs, args.events))
        print(f"{args.runs} concurrent runs of {args.events} lines each:")
        print(f"  one worker (baseline)  {rates[1]:10.0f} events/s")
        print(f"  two workers            {rates[2]:10.0f} events/s")
        print(f"  ratio two/one: {rates[2] / rates[1]:.2f}x (target >= 1.0x)")


if __name__ == "__main__":
    main()
