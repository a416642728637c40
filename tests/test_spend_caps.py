"""Spend caps per bot and per account, over a day and a month, kept in the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agented_core import Account, Agented, ChainEntry, Config, ConfigError, Status
from agented_core.config import AgentedSettings, read_config
from agented_core.run._spend import spend_keys
from conftest import shell_bot

pytestmark = pytest.mark.anyio


def spender(name: str = "spender", **fields: object) -> object:
    # three usage events of running totals 0.1, 0.2, 0.3 USD, then a result
    return shell_bot(name, "usage", "3", "0.1", "10", options={"format": "events"}, **fields)


async def test_a_bot_at_its_day_cap_is_stopped_then_skipped_also_after_a_restart(
    db_url: str,
) -> None:
    bot = spender(max_cost_usd_per_day=0.5)
    async with Agented.open(db_url, bots=[bot], entry_points=False) as ag:
        first = await ag.wait((await ag.run("spender")).id, timeout=20)
        assert first.status is Status.SUCCEEDED
        second = await ag.wait((await ag.run("spender")).id, timeout=20)
        assert second.status is Status.BUDGET_EXCEEDED
        assert "max_cost_usd_per_day" in (second.error or "")
        assert second.usage.cost_usd == pytest.approx(0.3)  # stopped on its third usage event
        [totals] = [t for t in await ag.spend() if t.scope == "bot"]
        assert totals.day_usd == pytest.approx(0.6) and totals.month_usd == pytest.approx(0.6)
        assert totals.max_cost_usd_per_day == 0.5 and totals.over
    async with Agented.open(db_url, bots=[bot], entry_points=False) as ag:  # a restart
        third = await ag.wait((await ag.run("spender")).id, timeout=20)
        events = [e.kind async for e in ag.events(third.id)]
    assert third.status is Status.SKIPPED
    assert third.attempt == 0 and third.started_at is None
    assert "spend cap: bot 'spender' has spent $0.6000 today" in (third.error or "")
    assert events == ["status", "status"]  # queued, skipped: nothing ran


async def test_two_processes_share_the_totals(db_url: str) -> None:
    bot = spender(max_cost_usd_per_month=0.3)
    async with (
        Agented.open(db_url, bots=[bot], entry_points=False) as one,
        Agented.open(db_url, bots=[bot], entry_points=False) as two,
    ):
        done = await one.wait((await one.run("spender")).id, timeout=20)
        assert done.status is Status.SUCCEEDED  # 0.3 is not over 0.3
        other = await two.wait((await two.run("spender")).id, timeout=20)
    assert other.status is Status.SKIPPED
    assert "this month" in (other.error or "")


async def test_an_account_at_its_cap_is_passed_over_in_the_chain(db_url: str) -> None:
    accounts = {
        "a1": Account("a1", "shell", max_cost_usd_per_day=0.1),
        "a2": Account("a2", "shell", max_cost_usd_per_month=0.45),
    }
    bot = spender(account="a1", fallback=(ChainEntry("shell", "a2"),), max_attempts=1)
    config = Config(accounts=accounts, bots={"spender": bot})
    async with Agented.open(db_url, config=config, entry_points=False) as ag:
        first = await ag.wait((await ag.run("spender")).id, timeout=20)
        assert first.status is Status.BUDGET_EXCEEDED and first.account == "a1"
        assert "account 'a1'" in (first.error or "")
        second = await ag.wait((await ag.run("spender")).id, timeout=20)
        assert second.status is Status.SUCCEEDED and second.account == "a2"
        third = await ag.wait((await ag.run("spender")).id, timeout=20)
        assert third.status is Status.BUDGET_EXCEEDED and third.account == "a2"
        fourth = await ag.wait((await ag.run("spender")).id, timeout=20)
        spend = {(t.scope, t.name): t for t in await ag.spend()}
    assert fourth.status is Status.SKIPPED
    assert "every account of the chain is at its spend cap" in (fourth.error or "")
    assert "shell:a1" in (fourth.error or "") and "shell:a2" in (fourth.error or "")
    assert spend[("account", "a1")].day_usd == pytest.approx(0.2)
    assert spend[("account", "a2")].month_usd == pytest.approx(0.5)
    assert spend[("bot", "spender")].day_usd == pytest.approx(0.7)


def test_days_and_months_are_those_of_the_configured_timezone() -> None:
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert spend_keys("bot", "b", late, ZoneInfo("UTC")) == {
        "day": "2026-12-31:bot:b",
        "month": "2026-12:bot:b",
    }
    assert spend_keys("account", "x", late, ZoneInfo("Europe/Berlin")) == {
        "day": "2027-01-01:account:x",
        "month": "2027-01:account:x",
    }


def test_caps_are_read_and_checked(tmp_path: Path) -> None:
    config = read_config(
        {
            "accounts": {"w": {"provider": "shell", "max_cost_usd_per_day": 5}},
            "bots": {"b": {"command": ["true"], "max_cost_usd_per_month": 20.5}},
        }
    )
    assert config.accounts["w"].max_cost_usd_per_day == 5.0
    assert config.bots["b"].max_cost_usd_per_month == 20.5
    with pytest.raises(ConfigError) as info:
        read_config({"bots": {"b": {"command": ["true"], "max_cost_usd_per_day": -1}}})
    assert "max_cost_usd_per_day" in str(info.value) and "negative" in str(info.value)
    with pytest.raises(ConfigError):
        read_config({"accounts": {"w": {"provider": "shell", "max_cost_usd_per_day": "5"}}})
    assert AgentedSettings().timezone == "UTC"
