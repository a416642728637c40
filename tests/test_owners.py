"""Owner identities: written and read back, and when an owner is provably gone."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_core import Execution, Status, TriggerKind
from agented_core.run._owners import Owner
from agented_core.store.base import Store
from agented_core.store.sqlite import SQLiteStore

hosts = st.text(st.characters(blacklist_characters=":", blacklist_categories=("Cs",)), min_size=1)
owners = st.builds(
    Owner,
    host=hosts,
    pid=st.integers(1, 2**22),
    start=st.integers(0, 2**40),
    boot=st.text("0123456789abcdef", min_size=8, max_size=8),
    pidns=st.text("0123456789", max_size=12),
)


@given(owners)
def test_an_owner_reads_back_as_written(owner: Owner) -> None:
    assert Owner.parse(str(owner)) == owner


@given(st.text())
def test_any_text_parses_or_is_refused(text: str) -> None:
    owner = Owner.parse(text)
    assert owner is None or isinstance(owner.pid, int)


def test_an_owner_written_before_the_namespace_was_recorded() -> None:
    assert Owner.parse("box:12:345:abcdef01") == Owner("box", 12, 345, "abcdef01", "")
    assert Owner.parse("box:twelve:345:abcdef01") is None
    assert Owner.parse("") is None and Owner.parse(None) is None


def test_this_process_is_not_gone_and_a_dead_one_is() -> None:
    here = Owner.this_process()
    assert here.start and here.boot and here.local() and not here.gone()
    child = subprocess.Popen(["true"])
    child.wait()  # reaped: its pid is no process now
    dead = Owner(here.host, child.pid, here.start, here.boot, here.pidns)
    assert dead.gone(here)
    recycled = Owner(here.host, here.pid, here.start + 1, here.boot, here.pidns)
    assert recycled.gone(here)  # a live pid with another start time is another process
    rebooted = Owner(here.host, here.pid, here.start, "ffffffff", here.pidns)
    assert rebooted.gone(here) and not rebooted.local(here)


def test_nothing_is_provable_about_another_host_or_namespace() -> None:
    here = Owner.this_process()
    elsewhere = Owner(here.host + "-other", 1, 1, here.boot, here.pidns)
    assert not elsewhere.gone(here) and not elsewhere.local(here)
    other_ns = Owner(here.host, 1, 1, here.boot, here.pidns + "1")
    assert not other_ns.gone(here) and not other_ns.local(here)
    unknown_ns = Owner(here.host, here.pid, here.start, here.boot, "")
    assert unknown_ns.local(here) and not unknown_ns.gone(here)


@pytest.mark.anyio
async def test_the_store_answers_each_owner_with_its_oldest_heartbeat(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "agented.db"))
    await store.open()
    now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    beats = {
        "a": [now, now - timedelta(seconds=30, microseconds=5), now + timedelta(microseconds=1)],
        "b": [now],
    }
    try:
        n = 0
        for owner, times in beats.items():
            for beat in times:
                n += 1
                await store.save_execution(
                    Execution(
                        id=f"e{n}",
                        bot="x",
                        trigger=TriggerKind.API,
                        status=Status.RUNNING,
                        created_at=now - timedelta(hours=1),
                        owner=owner,
                        heartbeat_at=beat,
                    )
                )
        await store.save_execution(
            Execution(
                id="done",
                bot="x",
                trigger=TriggerKind.API,
                status=Status.SUCCEEDED,
                created_at=now,
                owner="c",
                heartbeat_at=now,
            )
        )
        expected = {"a": now - timedelta(seconds=30, microseconds=5), "b": now}
        assert await store.owners([Status.RUNNING, Status.QUEUED]) == expected
        assert await Store.owners(store, [Status.RUNNING, Status.QUEUED]) == expected
    finally:
        await store.close()
