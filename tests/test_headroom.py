"""Headroom before the wall: an account's usage window, as its CLI last reported it, is kept in
the store and a chain with a choice starts a run on an account that is not about to be cut off.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_cli._views import describe, headroom_text
from agented_core import Account, Agented, Bot, ChainEntry, Config, ManualTrigger, Status
from agented_core.config import AgentedSettings
from agented_core.run._headroom import LOW_UTILIZATION, STALE_AFTER, current, is_low, normalize

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 7, 1, 10, 15, tzinfo=UTC)
LATER = (NOW + timedelta(hours=3)).isoformat()


@given(st.floats(min_value=0, max_value=100, allow_nan=False))
def test_utilization_is_a_share_whether_reported_as_one_or_as_a_percentage(value: float) -> None:
    record = normalize({"utilization": value}, NOW)
    assert 0.0 <= record["utilization"] <= 1.0
    if value <= 1.0:
        assert record["utilization"] == value
    assert is_low(record) is (record["utilization"] >= LOW_UTILIZATION)


def test_a_record_counts_until_its_window_resets() -> None:
    record = normalize({"window": "five_hour", "status": "allowed", "resets_at": LATER}, NOW)
    assert current(record, NOW + timedelta(hours=2)) == record
    assert current(record, NOW + timedelta(hours=3)) is None  # reset: no longer low
    undated = normalize({"status": "allowed_warning"}, NOW)
    assert current(undated, NOW + STALE_AFTER) is not None
    assert current(undated, NOW + STALE_AFTER + timedelta(seconds=1)) is None


def test_an_epoch_reset_becomes_iso() -> None:
    record = normalize({"resets_at": 1795700000}, NOW)
    assert record["resets_at"] == datetime.fromtimestamp(1795700000, UTC).isoformat()


def test_warnings_and_rejections_are_low_whatever_the_figure() -> None:
    assert is_low({"status": "allowed_warning"}) and is_low({"status": "rejected"})
    assert not is_low({"status": "allowed", "utilization": 0.5}) and not is_low(None)


REPORTER = """
import json, os, sys
who = os.environ["WHO"]
room = json.loads(open(sys.argv[1]).read())[who]
print(json.dumps({"kind": "headroom", "data": room}))
print(json.dumps({"kind": "result", "data": {"ok": True, "text": who}}))
"""


def chain_bot(tmp_path: Path, rooms: dict[str, Any]) -> Bot:
    script = tmp_path / "report.py"
    script.write_text(REPORTER)
    (tmp_path / "rooms.json").write_text(json.dumps(rooms))
    return Bot(
        name="chain",
        provider="shell",
        account="a",
        fallback=(ChainEntry("shell", account="b"),),
        command=(sys.executable, str(script), str(tmp_path / "rooms.json")),
        options={"format": "events"},
        triggers=(ManualTrigger(),),
        max_attempts=1,
    )


def config(tmp_path: Path) -> Config:
    accounts = {
        "a": Account("a", "shell", env={"WHO": "a"}),
        "b": Account("b", "shell", env={"WHO": "b"}),
    }
    return Config(
        settings=AgentedSettings(database=f"sqlite:///{tmp_path / 'agented.db'}"),
        accounts=accounts,
    )


def rooms(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {"a": a, "b": b}


async def test_a_chain_prefers_the_account_with_headroom(tmp_path: Path) -> None:
    warned = {"window": "five_hour", "status": "allowed_warning", "utilization": 0.96,
              "resets_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}  # fmt: skip
    plenty = {"window": "five_hour", "status": "allowed", "utilization": 0.1}
    bot = chain_bot(tmp_path, rooms(warned, plenty))
    async with Agented.open(config=config(tmp_path), bots=[bot], entry_points=False) as ag:
        first = await ag.wait((await ag.run("chain")).id, timeout=20)
        assert first.status is Status.SUCCEEDED and first.account == "a"  # nothing known yet
        room = await ag.account_headroom()
        assert room["a"] is not None and room["a"]["low"] is True
        assert room["a"]["utilization"] == 0.96 and room["a"]["window"] == "five_hour"
        assert room["b"] is None
        second = await ag.wait((await ag.run("chain")).id, timeout=20)
        assert second.status is Status.SUCCEEDED and second.account == "b"  # a is nearly out
        room = await ag.account_headroom()
        assert room["b"] is not None and room["b"]["low"] is False
        third = await ag.wait((await ag.run("chain")).id, timeout=20)
        assert third.account == "b"
    (attempt,) = second.attempts
    assert attempt.headroom is not None and attempt.headroom["utilization"] == 0.1
    assert "headroom: five_hour 10% used (allowed)" in describe(second)


async def test_with_every_account_low_the_run_still_starts_on_the_first(tmp_path: Path) -> None:
    low = {"window": "seven_day", "status": "allowed_warning"}
    bot = chain_bot(tmp_path, rooms(low, low))
    async with Agented.open(config=config(tmp_path), bots=[bot], entry_points=False) as ag:
        used = []
        for _ in range(3):
            done = await ag.wait((await ag.run("chain")).id, timeout=20)
            assert done.status is Status.SUCCEEDED
            used.append(done.account)
        room = await ag.account_headroom()
    # a is low, b unknown (so preferred), then both low: back to the first, not a wait
    assert used == ["a", "b", "a"]
    assert room["a"]["low"] and room["b"]["low"]


def test_headroom_text() -> None:
    assert headroom_text(None) == ""
    record = {"window": "five_hour", "utilization": 0.925, "status": "allowed_warning",
              "resets_at": LATER}  # fmt: skip
    assert headroom_text(record) == f"five_hour 92% used (allowed_warning), resets {LATER}"
