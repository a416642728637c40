"""Search benchmark: full-text search over 1,000,000 stored events, and what indexing costs.

Search: a SQLite store is filled with ``--events`` events (``--per`` an execution) through its
``append_events``, so each one is indexed as a stored event is; their text is drawn from
a vocabulary of 5,000 words (Zipf-like: a few words are everywhere, most are rare) with an
occasional error line. Then ``Agented.search`` (what ``GET /executions?q=`` calls: the store's
FTS5 query, then the executions) runs a mix of queries: a word found in most events, a rare
word, a two-word query, a phrase, a prefix, a word found nowhere. Printed: p50 / p95 / max
latency per kind of query and over all of them (target p95 <= 50 ms).

Ingest: ``bench/ingest.py``'s whole path (a CLI flooding lines, parsed, numbered, fanned out,
persisted) with the index on and off (``SQLiteStore.index_search``), alternating rounds in the
same run. Printed: events/s of each and the ratio
(target >= 0.9).

    .venv/bin/python bench/search.py [--events 1000000] [--per 100] [--queries 40]
                                     [--lines 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).parent))

import ingest  # bench/ingest.py, beside this file

from agented_core import Agented, Event, Execution, Status, TriggerKind
from agented_core.store.sqlite import SQLiteStore

VOCABULARY = 5_000
ERRORS = [
    "fatal: unable to access 'https://github.com/acme/app.git/': Connection refused",
    "Traceback (most recent call last): TimeoutError: the read operation timed out",
    "npm ERR! code ERESOLVE unable to resolve dependency tree",
    "error[E0308]: mismatched types expected `u32`, found `i64`",
]


def words() -> list[str]:
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = {"".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(9000)}
    return sorted(out)[:VOCABULARY]


def fill(path: Path, events: int, per: int) -> tuple[float, list[str]]:
    """Seconds to store ``events`` events through the store (indexed as it stores them)."""
    vocab = words()
    return anyio.run(_fill, path, events, per, vocab), vocab


async def _fill(path: Path, events: int, per: int, vocab: list[str]) -> float:
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    rng = random.Random(11)
    store = SQLiteStore(str(path))
    await store.open()
    store.conn.execute("PRAGMA synchronous = OFF")  # a scratch file: the index is what is timed
    start = time.perf_counter()
    base = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        for number in range(events // per):
            execution_id = f"01JX{number:022d}"
            created = base + timedelta(seconds=number)
            await store.save_execution(
                Execution(
                    id=execution_id,
                    bot=f"bot{number % 10}",
                    trigger=TriggerKind.API,
                    status=Status.SUCCEEDED if number % 7 else Status.FAILED,
                    created_at=created,
                    started_at=created,
                    finished_at=created + timedelta(seconds=30),
                )
            )
            batch = []
            for seq in range(1, per + 1):
                if rng.random() < 0.01:
                    text = rng.choice(ERRORS)
                else:
                    text = " ".join(rng.choices(vocab, weights, k=rng.randint(8, 30)))
                batch.append(Event(execution_id, seq, created, 1, "text", text, {}))
            await store.append_events(batch)
        store.conn.execute("INSERT INTO events_search (events_search) VALUES ('optimize')")
    finally:
        await store.close()
    return time.perf_counter() - start


async def _migrate(path: Path) -> None:
    store = SQLiteStore(str(path))
    await store.open()
    await store.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def search(path: Path, vocab: list[str], queries: int) -> dict[str, list[float]]:
    rng = random.Random(3)
    kinds = {
        "common word": lambda: vocab[rng.randint(0, 3)],
        "rare word": lambda: vocab[rng.randint(2000, 4999)],
        "two words": lambda: f"{vocab[rng.randint(0, 50)]} {vocab[rng.randint(100, 1000)]}",
        "phrase": lambda: '"connection refused"',
        "prefix": lambda: vocab[rng.randint(0, 200)][:3] + "*",
        "no match": lambda: "zzzzqqqq",
    }
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    url = f"sqlite:///{path}"
    async with Agented.open(url, entry_points=False, wake=False, recover=False) as ag:
        await ag.search("warm")
        for _ in range(queries):
            for kind, make in kinds.items():
                text = make()
                start = time.perf_counter()
                found, _ = await ag.search(text, limit=20)
                times[kind].append((time.perf_counter() - start) * 1000)
                if kind in ("common word", "phrase"):
                    assert found, text
    return times


def ingest_ratio(lines: int, rounds: int) -> tuple[list[float], list[float]]:
    """events/s of bench/ingest.py's whole path with the index on and off, alternating."""
    on: list[float] = []
    off: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "on").mkdir()
        (base / "off").mkdir()
        for round_no in range(rounds):
            on.append(lines / anyio.run(ingest.ours, lines, base / "on", round_no))
            SQLiteStore.index_search = False
            try:
                off.append(lines / anyio.run(ingest.ours, lines, base / "off", round_no))
            finally:
                SQLiteStore.index_search = True
            check = sqlite3.connect(base / "on" / f"ours-{round_no}.db")
            indexed = check.execute(  # every line of the emitter says "diff": the events
                # of the index's rows holding it (a row holds several consecutive events)
                "SELECT sum((id & 0xffffffff) - low + 1) FROM events_search_rows WHERE id IN"
                " (SELECT rowid FROM events_search WHERE events_search MATCH 'diff')"
            ).fetchone()[0]
            check.close()
            assert indexed >= lines, indexed  # the index was written
    return on, off


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per", type=int, default=100)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "search.db"
        took, vocab = fill(path, args.events, args.per)
        size = path.stat().st_size / 1e6
        print(
            f"stored {args.events:,} events in {args.events // args.per:,} executions "
            f"({took:.0f} s, {args.events / took:,.0f} events/s indexed; file {size:,.0f} MB)"
        )
        times = anyio.run(search, path, vocab, args.queries)
    print(f"search latency, {args.queries} queries of each kind (Agented.search, limit 20):")
    every: list[float] = []
    for kind, values in times.items():
        every += values
        print(
            f"  {kind:<12} p50 {statistics.median(values):6.2f} ms  p95 {pct(values, 0.95):6.2f} ms"
            f"  max {max(values):6.2f} ms"
        )
    print(f"  all          p95 {pct(every, 0.95):6.2f} ms  (target <= 50 ms)")
    on, off = ingest_ratio(args.lines, args.rounds)
    print(f"ingest (bench/ingest.py's whole path), {args.lines:,} lines x {args.rounds} rounds:")
    for label, rates in (("index on: ", on), ("index off:", off)):
        print(
            f"  {label} {statistics.median(rates):>9,.0f} events/s "
            f"({min(rates):,.0f}-{max(rates):,.0f})"
        )
    print(f"  ratio on/off: {statistics.median(on) / statistics.median(off):.2f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
