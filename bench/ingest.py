"""Ingest benchmark: how fast CLI output lines become persisted, delivered events.

Ours: a fake CLI floods N realistic Claude stream-json lines; a test provider parses each into a
``text`` event; the whole path runs (runner, parser, seq, redaction, fan-out to one live
subscriber, batched SQLite writes). The run counts as done when the subscriber has received the
terminal status event, i.e. every event was delivered, and all of them are then in the file.

Baseline, in the same run: reading the same child's lines with anyio and ``json.loads``-ing each,
nothing else. Printed: events/s of each (median of several rounds, min and max), and the ratio.

Then latency: the CLI prints 1,000 lines/s, each stamped with its wall-clock time; the subscriber
notes when each event reaches it. Printed: p50 / p99 / max of line-to-subscriber latency.

    .venv/bin/python bench/ingest.py [--lines 200000] [--rounds 5] [--database URL] [--search]

``--database postgresql://user@host:5432/db`` runs the whole path on PostgreSQL (the
agented-postgres plugin), each round in a new schema, dropped at the end; the default is a new
SQLite file per round. ``--search`` adds, alternating with the others, rounds with the store's
full-text indexing off (``index_search``), and prints the ratio of events/s with it on to off.
On PostgreSQL, where events are indexed behind the run, it also prints how long after each run
its last event could be found without a search having to index it first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import anyio

from agented_core import (
    Agented,
    Bot,
    Command,
    CommandRequest,
    EventDraft,
    LineParser,
    ManualTrigger,
    Provider,
    Status,
    hookimpl,
)

EMITTER = str(Path(__file__).with_name("_emitter.py"))
SCHEMAS: list[tuple[str, str]] = []  # (server URL, schema) made for the rounds, dropped at the end


def store_url(database: str | None, folder: Path, name: str) -> str:
    """A new store for one round: a SQLite file, or a new schema of the PostgreSQL server."""
    if database is None:
        return f"sqlite:///{folder / f'{name}.db'}"
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    SCHEMAS.append((database, schema))
    return f"{database}{'&' if '?' in database else '?'}schema={schema}"


def drop_schemas() -> None:
    """Drop the schemas the rounds made."""
    if not SCHEMAS:
        return
    import psycopg
    from agented_postgres.pool import Settings

    for database, schema in SCHEMAS:
        with psycopg.connect(Settings(database).conninfo, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())
    SCHEMAS.clear()


class BenchParser(LineParser):
    """Claude-like lines to ``text`` events (what a real provider's parser does, minus breadth)."""

    def stdout(self, line: str) -> Sequence[EventDraft]:
        try:
            obj = json.loads(line)
        except ValueError:
            return (EventDraft("raw", line),)
        content = obj.get("message", {}).get("content", [])
        text = "".join(c.get("text", "") for c in content if c.get("type") == "text")
        data = {"stamp": obj["stamp"]} if "stamp" in obj else {}
        return (EventDraft("text", text, data),)


class BenchProvider(Provider):
    name: ClassVar[str] = "bench"
    options: ClassVar[dict[str, Any]] = {}

    def build_command(self, request: CommandRequest) -> Command:
        return Command(
            argv=(sys.executable, EMITTER, *request.bot.extra_args),
            env=dict(request.env),
            cwd=request.cwd,
        )

    def parser(self, request: CommandRequest) -> LineParser:
        return BenchParser()


class BenchPlugin:
    @hookimpl
    def agented_providers(self) -> list[Provider]:
        return [BenchProvider()]


async def baseline(lines: int) -> float:
    """Seconds to read and json.loads every line of the same child, nothing else."""
    start = time.perf_counter()
    count = 0
    async with await anyio.open_process(
        [sys.executable, EMITTER, "flood", str(lines)], stdin=None
    ) as process:
        assert process.stdout is not None
        buf = b""
        async for chunk in process.stdout:
            buf += chunk
            *complete, buf = buf.split(b"\n")
            for raw in complete:
                json.loads(raw)
                count += 1
    assert count == lines, count
    return time.perf_counter() - start


INDEX_LAGS: list[float] = []
"""PostgreSQL: seconds from each indexed round's end until none of its events waited for its
search vector."""


async def index_lag(store: Any, since: float) -> None:
    """Wait until the store's indexer has caught up; note how long after ``since`` it did."""
    while await store.unindexed_events():
        await anyio.sleep(0.02)
    INDEX_LAGS.append(time.perf_counter() - since)


async def ours(lines: int, folder: Path, round_no: int, database: str | None = None) -> float:
    """Seconds from the run's start until the subscriber has every event, all persisted."""
    bot = Bot(
        name="flood",
        provider="bench",
        extra_args=("flood", str(lines)),
        triggers=(ManualTrigger(),),
    )
    url = store_url(database, folder, f"ours-{round_no}")
    async with Agented.open(
        url, bots=[bot], plugins=[BenchPlugin()], entry_points=database is not None
    ) as ag:
        start = time.perf_counter()
        execution = await ag.run("flood")
        received = 0
        async for event in ag.events(execution.id):
            if event.kind == "text":
                received += 1
        elapsed = time.perf_counter() - start
        done = await ag.wait(execution.id)
        assert done.status is Status.SUCCEEDED, done.error
        stored = await ag.store.last_seq(execution.id)
        if database is not None and _search_switch(database).index_search:
            await index_lag(ag.store, start + elapsed)
    assert received == lines, received
    assert stored == lines + 3, stored  # queued, running, the lines, succeeded
    return elapsed


async def latency(
    lines: int, rate: float, folder: Path, database: str | None = None
) -> tuple[list[float], list[float]]:
    bot = Bot(
        name="paced",
        provider="bench",
        extra_args=("paced", str(lines), str(rate)),
        triggers=(ManualTrigger(),),
    )
    url = store_url(database, folder, "latency")
    delays: list[float] = []
    stamps: dict[int, float] = {}
    stored_delays: list[float] = []
    async with Agented.open(
        url, bots=[bot], plugins=[BenchPlugin()], entry_points=database is not None
    ) as ag:
        execution = await ag.run("paced")
        finished = anyio.Event()

        async def watch_store() -> None:
            # when does each event become readable from the store? (1 ms polling resolution)
            seen = 0
            while not finished.is_set():
                last = await ag.store.last_seq(execution.id)
                now = time.time()
                for seq in range(seen + 1, last + 1):
                    if seq in stamps:
                        stored_delays.append(now - stamps[seq])
                seen = max(seen, last)
                await anyio.sleep(0.001)

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_store)
            async for event in ag.events(execution.id):
                stamp = event.data.get("stamp")
                if stamp is not None:
                    delays.append(time.time() - stamp)
                    stamps[event.seq] = stamp
            await anyio.sleep(0.2)
            finished.set()
    return delays, stored_delays


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _search_switch(database: str | None) -> Any:
    """The store class whose ``index_search`` turns full-text indexing on and off."""
    if database is None:
        from agented_core.store.sqlite import SQLiteStore

        return SQLiteStore
    from agented_postgres.events import PostgresEvents

    return PostgresEvents


async def main(
    lines: int, rounds: int, latency_lines: int, database: str | None, search: bool = False
) -> None:
    try:
        await _main(lines, rounds, latency_lines, database, search)
    finally:
        drop_schemas()


async def _main(
    lines: int, rounds: int, latency_lines: int, database: str | None, search: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        await baseline(min(lines, 10_000))  # warm up
        base_times: list[float] = []
        our_times: list[float] = []
        unindexed: list[float] = []
        switch = _search_switch(database)
        for round_no in range(rounds):  # alternate, so drift hits both alike
            base_times.append(await baseline(lines))
            our_times.append(await ours(lines, folder, round_no, database))
            if search:
                switch.index_search = False
                try:
                    unindexed.append(await ours(lines, folder, rounds + round_no, database))
                finally:
                    switch.index_search = True
        base_rates = [lines / t for t in base_times]
        our_rates = [lines / t for t in our_times]
        base = statistics.median(base_rates)
        mine = statistics.median(our_rates)
        where = "SQLite" if database is None else "PostgreSQL"
        print(f"ingest into {where}, {lines:,} lines x {rounds} rounds (median, min-max):")
        print(
            f"  baseline read+json.loads: {base:>9,.0f} lines/s "
            f"({min(base_rates):,.0f}-{max(base_rates):,.0f})"
        )
        print(
            f"  agented whole path:       {mine:>9,.0f} events/s "
            f"({min(our_rates):,.0f}-{max(our_rates):,.0f})"
        )
        print(f"  ratio: {mine / base:.2f}  (target >= 0.35)")
        if unindexed:
            off_rates = [lines / t for t in unindexed]
            off = statistics.median(off_rates)
            print(
                f"  without search indexing:  {off:>9,.0f} events/s "
                f"({min(off_rates):,.0f}-{max(off_rates):,.0f})"
            )
            print(f"  indexing on / off: {mine / off:.2f}  (target >= 0.9)")
        if INDEX_LAGS:
            print(
                f"  search index caught up {statistics.median(INDEX_LAGS):.2f} s after the run"
                f" (median; {min(INDEX_LAGS):.2f}-{max(INDEX_LAGS):.2f})"
            )
        delays, stored = await latency(latency_lines, 1000.0, folder, database)
        print(f"latency at 1,000 lines/s, {len(delays):,} lines:")
        for label, values in (("line to subscriber", delays), (f"line to {where}", stored)):
            ms = [d * 1000 for d in values]
            print(
                f"  {label:<20} p50 {pct(ms, 0.5):6.2f} ms  p99 {pct(ms, 0.99):6.2f} ms"
                f"  max {max(ms):6.2f} ms"
            )
        print("  (target: p99 line to subscriber < 20 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-lines", type=int, default=5_000)
    parser.add_argument(
        "--database", metavar="URL", help="a postgresql:// server (default: SQLite files)"
    )
    parser.add_argument(
        "--search", action="store_true", help="also rounds without full-text indexing"
    )
    args = parser.parse_args()
    anyio.run(main, args.lines, args.rounds, args.latency_lines, args.database, args.search)
