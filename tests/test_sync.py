"""SyncAgented: the blocking API for Flask, Django and scripts."""

from __future__ import annotations

import threading

from agented_core import Status
from agented_core.sync import SyncAgented
from conftest import shell_bot


def test_blocking_calls_from_several_threads(db_url: str) -> None:
    bot = shell_bot("hi", "say", "{params.n}", params=["n"])
    with SyncAgented.open(db_url, bots=[bot], entry_points=False) as ag:
        results: dict[int, list[str]] = {}

        def worker(n: int) -> None:
            execution = ag.run("hi", params={"n": str(n)})
            results[n] = [e.text or "" for e in ag.events(execution.id)]
            assert ag.wait(execution.id, timeout=10).status is Status.SUCCEEDED

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        items, _ = ag.list(bot="hi")
    assert len(items) == 5
    for n, texts in results.items():
        assert texts == ["queued", "running", str(n), "succeeded"]


def test_an_abandoned_event_iterator_is_closed(db_url: str) -> None:
    with SyncAgented.open(
        db_url, bots=[shell_bot("hi", "say", "a", "b")], entry_points=False
    ) as ag:
        execution = ag.run("hi")
        for event in ag.events(execution.id):
            if event.kind == "text":
                break
        assert ag.wait(execution.id, timeout=10).status is Status.SUCCEEDED
