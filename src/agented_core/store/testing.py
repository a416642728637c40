"""The contract every store backend meets, as a pytest class a backend's tests subclass.

.. code-block:: python

    from agented_core.store.testing import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store_factory(self, tmp_path):
            return lambda: MyStore(f"my://{tmp_path}/db")

``store_factory`` returns a callable making a new, unopened store over *the same data* each time
it is called: the suite opens two of them (``store`` and ``other``) to check what two processes
sharing a database see: one winner per claim, no lost counter update, controls and events
crossing from one to the other. Needs pytest with anyio's plugin (installed with anyio).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from ..models import Event, Execution, Status, TriggerKind
from .base import Store
from .received import ReceivedJSON

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONCURRENT = 40
"""Claims or updates raced by each of the two stores in the concurrency checks."""


def execution(id: str, status: Status = Status.QUEUED, **fields: Any) -> Execution:
    """An execution of bot ``b`` for the checks."""
    fields.setdefault("bot", "b")
    return Execution(id=id, trigger=TriggerKind.API, status=status, created_at=NOW, **fields)


def event(
    execution_id: str, seq: int, kind: str = "text", data: dict[str, Any] | None = None
) -> Event:
    """An event of attempt 1 with ``data``."""
    return Event(execution_id, seq, NOW, 1, kind, f"line {seq}", data or {})


class StoreContract:
    """Checks of every method of :class:`~agented_core.store.Store`; subclass and override
    :meth:`store_factory`. A backend without an audit log overrides :attr:`has_audit`, one
    without full-text search :attr:`has_search` (its search checks then expect a refusal)."""

    pytestmark = pytest.mark.anyio
    has_audit = True
    has_search = True

    async def _searches(self, store: Store) -> bool:
        """False (after checking the refusal) for a backend without search."""
        if self.has_search:
            return True
        with pytest.raises(NotImplementedError):
            await store.search_events("x")
        return False

    @pytest.fixture
    def anyio_backend(self) -> str:
        """The anyio backend the checks run on."""
        return "asyncio"

    @pytest.fixture
    def store_factory(self) -> Callable[[], Store]:
        """Override: a callable making a new unopened store over the same data each call."""
        raise NotImplementedError("override store_factory in the subclass")

    @pytest.fixture
    async def store(self, store_factory: Callable[[], Store]) -> AsyncIterator[Store]:
        """An open store."""
        opened = store_factory()
        await opened.open()
        try:
            yield opened
        finally:
            await opened.close()

    @pytest.fixture
    async def other(self, store: Store, store_factory: Callable[[], Store]) -> AsyncIterator[Store]:
        """A second open store over the data of ``store`` (another process, as far as it knows)."""
        opened = store_factory()
        await opened.open()
        try:
            yield opened
        finally:
            await opened.close()

    # lifecycle
    async def test_open_close_and_ping(self, store_factory: Callable[[], Store]) -> None:
        store = store_factory()
        await store.open()
        await store.open()  # opening an open store changes nothing
        await store.ping()
        await store.close()
        await store.close()  # twice is fine

    # executions
    async def test_save_get_and_replace(self, store: Store, other: Store) -> None:
        assert await store.get_execution("01A") is None
        await store.save_execution(execution("01A", prompt="hi", params={"k": "v"}))
        got = await other.get_execution("01A")
        assert got is not None and got.prompt == "hi" and got.params == {"k": "v"}
        await other.save_execution(execution("01A", Status.SUCCEEDED, finished_at=NOW))
        got = await store.get_execution("01A")
        assert got is not None and got.status is Status.SUCCEEDED and got.prompt is None

    async def test_list_newest_first_filtered_in_pages(self, store: Store) -> None:
        for n in range(5):
            status = Status.FAILED if n % 2 else Status.SUCCEEDED
            await store.save_execution(execution(f"01E{n}", status, bot="x" if n < 4 else "y"))
        items, cursor = await store.list_executions(limit=2)
        assert [e.id for e in items] == ["01E4", "01E3"] and cursor == "01E3"
        items, cursor = await store.list_executions(limit=2, cursor=cursor)
        assert [e.id for e in items] == ["01E2", "01E1"]
        items, cursor = await store.list_executions(limit=2, cursor=cursor)
        assert [e.id for e in items] == ["01E0"] and cursor is None
        items, _ = await store.list_executions(bot="x", status=[Status.FAILED])
        assert [e.id for e in items] == ["01E3", "01E1"]

    async def test_ids_with_prefix(self, store: Store) -> None:
        for id in ("01AB1", "01AB2", "01AC1", "01ab3"):
            await store.save_execution(
                execution(id, Status.RUNNING if "2" in id else Status.QUEUED)
            )
        assert await store.ids_with_prefix("01AB", 10) == ["01AB2", "01AB1"]  # case counts
        assert await store.ids_with_prefix("01AB", 1) == ["01AB2"]
        assert await store.ids_with_prefix("01AB", 10, before="01AB2") == ["01AB1"]
        assert await store.ids_with_prefix("01A", 10, status=[Status.RUNNING]) == ["01AB2"]
        assert await store.ids_with_prefix("01A", 10, bot="nobody") == []

    async def test_find_executions_and_owners(self, store: Store) -> None:
        beat = NOW + timedelta(minutes=1)
        await store.save_execution(execution("01F1", Status.RUNNING, owner="p1"))
        await store.save_execution(execution("01F2", Status.RUNNING, owner="p2"))
        await store.save_execution(execution("01F3", Status.QUEUED, owner="p1"))
        await store.save_execution(execution("01F4", Status.SUCCEEDED, owner="p1"))
        found = await store.find_executions([Status.RUNNING, Status.QUEUED])
        assert [e.id for e in found] == ["01F1", "01F2", "01F3"]  # oldest first
        mine = await store.find_executions([Status.RUNNING, Status.QUEUED], owner="p1")
        assert [e.id for e in mine] == ["01F1", "01F3"]
        await store.heartbeat(["01F2"], "p2", beat)
        assert await store.owners([Status.RUNNING]) == {"p1": NOW, "p2": beat}

    async def test_heartbeats_are_the_owners_and_seen_by_others(
        self, store: Store, other: Store
    ) -> None:
        at = NOW + timedelta(seconds=30)
        await store.save_execution(execution("01H1", Status.RUNNING, owner="p1"))
        await store.save_execution(execution("01H2", Status.RUNNING, owner="p2"))
        await store.heartbeat([], "p1", at)  # nothing to do
        await store.heartbeat(["01H1", "01H2"], "p1", at)  # 01H2 is not p1's
        one, two = await other.get_execution("01H1"), await other.get_execution("01H2")
        assert one is not None and one.heartbeat_at == at
        assert two is not None and two.heartbeat_at is None

    async def test_leases_are_held_by_their_owner_until_taken_over(
        self, store: Store, other: Store
    ) -> None:
        at = NOW + timedelta(seconds=30)
        await store.save_execution(execution("01L1", Status.RUNNING, owner="p1"))
        await store.save_execution(execution("01L2", Status.RUNNING, owner="p2"))
        await store.save_execution(execution("01L3", Status.INTERRUPTED, owner="p1"))
        assert await store.renew_leases([], "p1", at) == set()
        assert await store.renew_leases(["01L1", "01L2", "01L3", "01NONE"], "p1", at) == {"01L1"}
        one = await other.get_execution("01L1")
        assert one is not None and one.heartbeat_at == at

    async def test_one_taker_of_a_queued_execution_nobody_owns(
        self, store: Store, other: Store
    ) -> None:
        await store.save_execution(execution("01T1", Status.QUEUED))
        await store.save_execution(execution("01T2", Status.QUEUED, owner="p0"))
        await store.save_execution(execution("01T3", Status.RUNNING))
        results: dict[str, bool] = {}

        async def take(who: str, by: Store) -> None:
            results[who] = await by.take_execution("01T1", who, NOW)

        async with anyio.create_task_group() as tg:
            for n in range(CONCURRENT // 4):
                tg.start_soon(take, f"s{n}", store)
                tg.start_soon(take, f"o{n}", other)
        winners = [who for who, won in results.items() if won]
        assert len(winners) == 1
        taken = await store.get_execution("01T1")
        assert taken is not None and taken.owner == winners[0] and taken.heartbeat_at == NOW
        assert taken.status is Status.QUEUED
        assert not await other.take_execution("01T2", "p1", NOW)  # owned already
        assert not await other.take_execution("01T3", "p1", NOW)  # not queued
        assert not await other.take_execution("01NONE", "p1", NOW)

    async def test_a_fenced_save_needs_the_owner_and_no_later_attempt(
        self, store: Store, other: Store
    ) -> None:
        mine = execution("01S1", Status.RUNNING, owner="p1", attempt=1)
        assert await store.save_owned(mine)  # a new one
        mine.prompt = "mine"
        assert await store.save_owned(mine)
        # taken over: queued again for nobody, then run as attempt 2 by p2
        await other.save_execution(execution("01S1", Status.QUEUED, attempt=1))
        assert not await store.save_owned(mine)
        await other.save_execution(execution("01S1", Status.RUNNING, owner="p2", attempt=2))
        assert not await store.save_owned(mine)
        same_owner_old_attempt = execution("01S1", Status.RUNNING, owner="p2", attempt=1)
        assert not await store.save_owned(same_owner_old_attempt)
        got = await store.get_execution("01S1")
        assert got is not None and got.owner == "p2" and got.attempt == 2 and got.prompt is None
        await other.save_execution(execution("01S1", Status.INTERRUPTED, owner="p2", attempt=2))
        assert not await store.save_owned(execution("01S1", Status.FAILED, owner="p2", attempt=2))

    async def test_controls_are_a_mailbox_across_stores(self, store: Store, other: Store) -> None:
        for id in ("01C1", "01C2"):
            await store.save_execution(execution(id, Status.RUNNING))
        assert await store.take_controls([]) == {}
        await other.request_control("01C1", "pause")
        await other.request_control("01C1", "cancel")  # the latest request wins
        await other.request_control("01C2", "resume")
        assert await store.take_controls(["01C1"]) == {"01C1": "cancel"}
        assert await store.take_controls(["01C1"]) == {}  # taken: cleared
        assert await other.take_controls(["01C1", "01C2"]) == {"01C2": "resume"}

    async def test_delete_only_old_terminal_executions_with_their_events(
        self, store: Store
    ) -> None:
        old = execution("01D1", Status.SUCCEEDED, finished_at=NOW - timedelta(days=40))
        recent = execution("01D2", Status.FAILED, finished_at=NOW - timedelta(days=1))
        running = execution("01D3", Status.RUNNING)
        for e in (old, recent, running):
            await store.save_execution(e)
            await store.append_events([event(e.id, 1, "status")])
        assert await store.delete_executions(NOW - timedelta(days=30)) == 1
        assert await store.get_execution("01D1") is None
        assert await store.read_events("01D1") == [] and await store.last_seq("01D1") == 0
        for kept in ("01D2", "01D3"):
            assert await store.get_execution(kept) is not None
            assert await store.last_seq(kept) == 1

    # events
    async def test_append_is_idempotent_and_read_in_order(self, store: Store, other: Store) -> None:
        events = [event("e", n, data={"n": n} if n % 2 else None) for n in range(1, 6)]
        assert await store.last_seq("e") == 0 and await store.read_events("e") == []
        await store.append_events([])
        await store.append_events(events[2:])
        await other.append_events(events)  # the overlap is ignored
        got = await store.read_events("e")
        assert [(e.seq, e.text, e.data, e.kind) for e in got] == [
            (e.seq, e.text, e.data, e.kind) for e in events
        ]
        assert got[0].time == NOW and got[0].attempt == 1 and got[0].execution_id == "e"
        assert [e.seq for e in await other.read_events("e", after=3)] == [4, 5]
        assert [e.seq for e in await other.read_events("e", after=1, limit=2)] == [2, 3]
        assert await other.last_seq("e") == 5 and await other.last_seq("nothing") == 0

    async def test_no_event_of_an_attempt_older_than_the_executions_is_stored(
        self, store: Store, other: Store
    ) -> None:
        """The fence of a takeover: once the run is attempt 2 elsewhere, the old owner's events
        of attempt 1 are refused (a small batch and a large one alike); its own are taken."""
        await store.save_execution(execution("01F1", Status.RUNNING, owner="p1", attempt=1))
        await store.append_events([event("01F1", 1)])
        await other.save_execution(execution("01F1", Status.RUNNING, owner="p2", attempt=2))
        late = [event("01F1", n) for n in range(2, 4)]
        flood = [event("01F1", n) for n in range(4, 304)]
        await store.append_events(late)
        await store.append_events(flood)
        theirs = [Event("01F1", 2, NOW, 2, "text", "attempt 2", {})]
        unknown = [event("01NOBODY", 1)]  # no execution stored: nothing to fence by
        await other.append_events(theirs + unknown)
        got = await store.read_events("01F1")
        assert [(e.seq, e.attempt, e.text) for e in got] == [(1, 1, "line 1"), (2, 2, "attempt 2")]
        assert await other.last_seq("01NOBODY") == 1

    async def test_follow_yields_stored_then_new_events_in_order(
        self, store: Store, other: Store
    ) -> None:
        await store.append_events([event("f", n) for n in (1, 2, 3)])
        seen: list[int] = []
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def append_more() -> None:
                    for n in range(4, 9):
                        await other.append_events([event("f", n), event("other", n)])
                        await anyio.lowlevel.checkpoint()

                async for got in store.follow("f", after=1):
                    assert got.execution_id == "f"
                    seen.append(got.seq)
                    if got.seq == 3:
                        tg.start_soon(append_more)
                    if got.seq == 8:
                        break
        assert seen == [2, 3, 4, 5, 6, 7, 8]

    # claims and state
    async def test_claims_expire_and_belong_to_their_owner(
        self, store: Store, other: Store
    ) -> None:
        assert await store.claim("k", "a", ttl=0.3)
        assert not await other.claim("k", "b", ttl=10)
        assert await other.claim("k", "a", ttl=0.3)  # the owner renews, from anywhere
        deadline = time.monotonic() + 10
        while not await other.claim("k", "b", ttl=10):  # expired: someone else may take it
            assert time.monotonic() < deadline, "a claim never expired"
            await anyio.sleep(0.05)
        await store.release("k", "a")  # not a's anymore: nothing happens
        assert not await store.claim("k", "a", ttl=10)
        await other.release("k", "b")
        assert await store.claim("k", "a", ttl=10)

    async def test_one_winner_per_claim_between_two_stores(
        self, store: Store, other: Store
    ) -> None:
        wins: dict[str, list[str]] = {f"key{n}": [] for n in range(CONCURRENT)}

        async def race(which: Store, owner: str) -> None:
            for key in wins:
                if await which.claim(key, owner, ttl=60):
                    wins[key].append(owner)
                await anyio.lowlevel.checkpoint()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(race, store, "one")
                tg.start_soon(race, other, "two")
        assert all(len(owners) == 1 for owners in wins.values()), wins

    async def test_state_is_json_under_a_key(self, store: Store, other: Store) -> None:
        assert await store.get_state("x") is None
        await store.put_state("x", {"last": "2026-01-01", "n": [1, 2]})
        await other.put_state("x", {"last": "2026-01-02"})
        assert await store.get_state("x") == {"last": "2026-01-02"}
        assert await store.get_state("y") is None

    async def test_state_is_listed_by_prefix(self, store: Store, other: Store) -> None:
        await store.put_state("cron:a", {"n": 1})
        await other.put_state("cron:b", [2])
        await store.put_state("cooldown:x", None)
        assert await other.list_state("cron:") == {"cron:a": {"n": 1}, "cron:b": [2]}
        assert await store.list_state() == {"cooldown:x": None, "cron:a": {"n": 1}, "cron:b": [2]}
        assert await store.list_state("nothing") == {}

    async def test_claims_are_listed_with_their_time_left(self, store: Store, other: Store) -> None:
        assert await store.claim("delivery:github:1", "a", ttl=600)
        assert await other.claim("delivery:github:2", "b", ttl=0.01)
        assert await other.claim("wake:x", "c", ttl=60)
        deadline = time.monotonic() + 10
        while "delivery:github:2" in await store.list_claims("delivery:"):  # it expires
            assert time.monotonic() < deadline, "a claim never expired"
            await anyio.sleep(0.02)
        found = await store.list_claims("delivery:")
        assert list(found) == ["delivery:github:1"] and found["delivery:github:1"][0] == "a"
        assert 590 < found["delivery:github:1"][1] <= 600
        assert set(await other.list_claims()) == {"delivery:github:1", "wake:x"}

    async def test_expired_claims_are_deleted_and_live_ones_kept(
        self, store: Store, other: Store
    ) -> None:
        for n in range(5):
            assert await store.claim(f"delivery:github:{n}", "a", ttl=0.01)
        assert await store.claim("lease:run", "b", ttl=600)
        deadline = time.monotonic() + 10
        while await store.list_claims("delivery:"):  # all five expire
            assert time.monotonic() < deadline, "a claim never expired"
            await anyio.sleep(0.02)
        assert await other.delete_expired_claims(limit=2) == 2
        assert await other.delete_expired_claims() == 3
        assert await other.delete_expired_claims() == 0
        assert list(await store.list_claims()) == ["lease:run"]
        assert not await other.claim("lease:run", "c", ttl=60)  # still b's
        assert await other.claim("delivery:github:0", "c", ttl=60)  # free, as when expired

    async def test_update_state_is_atomic(self, store: Store) -> None:
        assert await store.update_state("c", lambda v: (v or 0) + 1) == 1
        assert await store.update_state("c", lambda v: v + 1) == 2
        assert await store.get_state("c") == 2

        def refuse(value: Any) -> Any:
            raise ValueError("no")

        with pytest.raises(ValueError):
            await store.update_state("c", refuse)
        assert await store.get_state("c") == 2  # a failed update changes nothing

    async def test_no_update_is_lost_between_two_stores(self, store: Store, other: Store) -> None:
        async def count(which: Store, name: str) -> None:
            for _ in range(CONCURRENT):
                await which.update_state(
                    "counter", lambda v: {**(v or {}), "n": (v or {}).get("n", 0) + 1, name: 1}
                )
                await anyio.lowlevel.checkpoint()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for n in range(2):
                    tg.start_soon(count, store, f"store{n}")
                    tg.start_soon(count, other, f"other{n}")
        final = await store.get_state("counter")
        assert final["n"] == 4 * CONCURRENT
        assert {k for k in final if k != "n"} == {"store0", "store1", "other0", "other1"}

    # the logs
    async def test_deliveries_newest_first(self, store: Store, other: Store) -> None:
        await store.record_delivery({"delivery": "d1", "started": []})
        await other.record_delivery({"delivery": "d2", "started": ["e"]})
        got = await store.list_deliveries()
        assert [d["delivery"] for d in got] == ["d2", "d1"] and got[0]["started"] == ["e"]
        assert [d["delivery"] for d in await store.list_deliveries(limit=1)] == ["d2"]

    async def test_a_received_payload_is_stored_as_the_value_of_its_text(
        self, store: Store, other: Store
    ) -> None:
        # the text as it came, with its own spacing and escapes
        text = '{ "n": 2, "title": "caf\\u00e9 \u2603", "big": 12345678901234567890,\n "x": [] }'
        payload = ReceivedJSON(json.loads(text), text)
        await store.record_delivery({"delivery": "d1", "payload": payload, "started": []})
        got = (await other.list_deliveries(limit=1))[0]
        assert got["delivery"] == "d1" and got["started"] == []
        assert got["payload"] == {
            "n": 2,
            "title": "caf\u00e9 \u2603",
            "big": 12345678901234567890,
            "x": [],
        }

    async def test_audit_newest_first_by_execution(self, store: Store, other: Store) -> None:
        if not self.has_audit:
            with pytest.raises(NotImplementedError):
                await store.record_audit({"actor": "k", "action": "cancel"})
            return
        at = NOW.isoformat()
        await store.record_audit({"at": at, "actor": "k1", "action": "run", "execution_id": "a"})
        await other.record_audit({"at": at, "actor": "k2", "action": "cancel", "why": "x"})
        entries = await store.list_audit()
        assert [(e["actor"], e["action"]) for e in entries] == [("k2", "cancel"), ("k1", "run")]
        assert entries[0]["why"] == "x" and entries[1]["execution_id"] == "a"
        only = await store.list_audit(execution_id="a")
        assert [e["actor"] for e in only] == ["k1"]
        assert [e["actor"] for e in await store.list_audit(before=entries[0]["id"])] == ["k1"]

    # search
    async def test_search_finds_every_word_newest_first_in_pages(
        self, store: Store, other: Store
    ) -> None:
        if not await self._searches(store):
            return

        def said(execution_id: str, seq: int, text: str, kind: str = "text") -> Event:
            return Event(execution_id, seq, NOW, 1, kind, text, {})

        await store.append_events(
            [
                said("01S1", 1, "Traceback: ConnectionError while pushing"),
                said("01S1", 2, "nothing here"),
                said("01S1", 3, "connection error again", "stderr"),
            ]
        )
        await other.append_events([said("01S2", 1, "a ConnectionError? no: connection refused")])
        await store.append_events([said("01S3", 1, "Café au lait"), said("01S3", 2, "")])
        await store.append_events([said("01S1", 3, "a repeat is not indexed twice")])
        got = await other.search_events("connection")
        assert [(m.execution_id, [e.seq for e in m.events]) for m in got] == [
            ("01S2", [1]),
            ("01S1", [3]),
        ]
        both = await store.search_events("CONNECTION error", per_execution=5)
        assert [(m.execution_id, [e.seq for e in m.events]) for m in both] == [("01S1", [3])]
        assert both[0].events[0].kind == "stderr" and both[0].events[0].text
        assert [m.execution_id for m in await store.search_events('"connection refused"')] == [
            "01S2"
        ]
        assert [m.execution_id for m in await store.search_events("cafe")] == ["01S3"]
        assert [m.execution_id for m in await store.search_events("connect*")] == [
            "01S2",
            "01S1",
        ]
        first = await store.search_events("connection", limit=1)
        assert [m.execution_id for m in first] == ["01S2"]
        rest = await store.search_events("connection", limit=1, before="01S2")
        assert [m.execution_id for m in rest] == ["01S1"]
        assert await store.search_events("connection", before="01S1") == []
        for nothing in ("", "   ", '"', "*", "---", "repeat"):
            assert await store.search_events(nothing) == [], nothing

    async def test_search_takes_any_text_and_forgets_deleted_executions(self, store: Store) -> None:
        if not await self._searches(store):
            return
        old = execution("01T1", Status.FAILED, finished_at=NOW - timedelta(days=40))
        await store.save_execution(old)
        await store.append_events([Event("01T1", 1, NOW, 1, "text", "AND OR NOT NEAR(x", {})])
        for query in ('AND', 'x" OR "y', "NEAR(", "'; DROP TABLE events; --", '"unclosed',
                      "col:umn", "^start", "a + b", "(", "\\", "\x00", "🙂 emoji"):  # fmt: skip
            await store.search_events(query)  # never a syntax error
        assert [m.execution_id for m in await store.search_events("near")] == ["01T1"]
        assert await store.delete_executions(NOW - timedelta(days=30)) == 1
        assert await store.search_events("near") == []

    # spend
    async def test_spend_totals_add_up_between_two_stores(self, store: Store, other: Store) -> None:
        assert await store.get_spend(["a", "b"]) == {"a": 0.0, "b": 0.0}
        await store.add_spend(["a", "b"], 1.25)

        async def add(target: Store) -> None:
            for _ in range(10):
                await target.add_spend(["a"], 0.5)

        async with anyio.create_task_group() as tg:
            tg.start_soon(add, store)
            tg.start_soon(add, other)
        assert await other.get_spend(["a", "b", "c"]) == {"a": 11.25, "b": 1.25, "c": 0.0}

    async def test_search_gives_each_execution_its_latest_matches_however_many(
        self, store: Store
    ) -> None:
        if not await self._searches(store):
            return
        await store.append_events([Event("01U1", 1, NOW, 1, "text", "disk full", {})])
        await store.append_events(
            [Event("01U2", n, NOW, 1, "text", f"retry {n}: disk full", {}) for n in range(1, 301)]
        )
        await store.append_events([Event("01U3", 1, NOW, 1, "stderr", "disk full!", {})])
        got = await store.search_events("disk", limit=2, per_execution=3)
        assert [(m.execution_id, [e.seq for e in m.events]) for m in got] == [
            ("01U3", [1]),
            ("01U2", [298, 299, 300]),
        ]
        rest = await store.search_events("disk full", limit=5, before="01U2")
        assert [m.execution_id for m in rest] == ["01U1"]

    async def test_search_matches_one_event_never_words_spread_over_a_batch(
        self, store: Store
    ) -> None:
        if not await self._searches(store):
            return
        said = ["push failed", "connection reset", "retry the push", "the connection was refused"]
        batch = [Event("01V1", n, NOW, 1, "text", t, {}) for n, t in enumerate(said * 20, 1)]
        batch.insert(5, Event("01V1", 200, NOW, 1, "usage", None, {}))  # a gap, no text
        await store.append_events(batch)
        assert await store.search_events("failed refused") == []  # two events' words
        assert await store.search_events('"push connection"') == []  # across two events
        [got] = await store.search_events("connection refused", per_execution=2)
        assert [e.seq for e in got.events] == [76, 80]  # the latest two, in seq order
        [push] = await store.search_events("push", per_execution=100)
        assert [e.seq for e in push.events] == [n for n in range(1, 81) if n % 4 in (1, 3)]
        await store.delete_events(["01V1"])
        assert await store.search_events("push") == []
