"""Cost from the [prices] table: the pricing helpers, what a provider can price, the warning of
``agented check``, and the table reaching a provider's parser through the command request."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import agented_codex
import agented_gemini
import agented_opencode
import pytest

from agented_core import Bot, ChainEntry, Config, Execution, ManualTrigger, TriggerKind
from agented_core.config import Price
from agented_core.models import ChainEntry as Entry
from agented_core.plugins import Plugins
from agented_core.providers import Provider
from agented_core.providers.pricing import cost_of, cost_of_models, find_price, price_tokens
from agented_core.run._preparation import prepare
from agented_core.validation import validate

GPT = Price(input=1.25, output=10.0, cache_read=0.125)
USAGE = {
    "input_tokens": 1000,
    "output_tokens": 100,
    "cache_read_tokens": 400,
    "cache_write_tokens": 0,
}


def test_find_price_by_name_without_a_provider_prefix_and_in_any_case() -> None:
    prices = {"gpt-5.5": GPT, "Gemini-2.5-Flash": Price(input=0.3, output=2.5)}
    assert find_price("gpt-5.5", prices) is GPT
    assert find_price("openai/gpt-5.5", prices) is GPT  # opencode's provider/model
    assert find_price("gemini-2.5-flash", prices) is prices["Gemini-2.5-Flash"]
    assert find_price("gpt-6", prices) is None
    assert find_price(None, prices) is None and find_price("gpt-5.5", {}) is None


def test_cost_of_tokens() -> None:
    assert cost_of("gpt-5.5", USAGE, {"gpt-5.5": GPT}) == pytest.approx(
        (1000 * 1.25 + 100 * 10.0 + 400 * 0.125) / 1e6
    )
    # cache reads and writes without a price of their own count at the input price
    plain = {"m": Price(input=2.0, output=4.0)}
    usage = {**USAGE, "cache_write_tokens": 10}
    assert cost_of("m", usage, plain) == pytest.approx(
        (1000 * 2 + 100 * 4 + 400 * 2 + 10 * 2) / 1e6
    )
    # a mapping works as well as a Price
    assert cost_of("m", USAGE, {"m": {"input": 2.0, "output": 4.0}}) == cost_of("m", USAGE, plain)


def test_no_price_no_cost_never_a_wrong_one() -> None:
    assert cost_of("gpt-6", USAGE, {"gpt-5.5": GPT}) is None
    assert cost_of(None, USAGE, {"gpt-5.5": GPT}) is None
    assert price_tokens(USAGE, {"input": 1.0}) is None  # no output price
    assert price_tokens(USAGE, {"input": 1.0, "output": "free"}) is None
    assert price_tokens({"input_tokens": -5, "output_tokens": True}, GPT) == 0.0


def test_several_models() -> None:
    prices = {"router": Price(input=0.1, output=0.4), "chat": Price(input=1.0, output=2.0)}
    by_model = {"router": {"input_tokens": 10, "output_tokens": 5}, "chat": {"input_tokens": 100}}
    assert cost_of_models(by_model, prices) == pytest.approx((10 * 0.1 + 5 * 0.4 + 100) / 1e6)
    assert cost_of_models({**by_model, "other": {"output_tokens": 1}}, prices) is None
    assert cost_of_models({**by_model, "idle": {"input_tokens": 0}}, prices) is not None
    assert cost_of_models({"idle": {"input_tokens": 0}}, prices) is None  # nothing priced at all


class Reporting(Provider):
    name = "reporting"
    reports_cost: ClassVar[bool] = True


class Silent(Provider):
    name = "silent"


def test_can_price() -> None:
    prices = {"gpt-5.5": GPT}
    assert Reporting().can_price(Bot(name="b", provider="reporting"), {})
    assert Silent().can_price(Bot(name="b", provider="silent", model="openai/gpt-5.5"), prices)
    assert not Silent().can_price(Bot(name="b", provider="silent", model="gpt-6"), prices)
    assert not Silent().can_price(Bot(name="b", provider="silent"), prices)


PLUGINS = [agented_codex, agented_gemini, agented_opencode]


def budget_warnings(bot: Bot, prices: dict[str, Price] | None = None) -> list[str]:
    config = Config(bots={bot.name: bot}, prices=prices or {})
    problems = validate(config, Plugins(PLUGINS, entry_points=False))
    return [p.message for p in problems if p.field == "max_cost_usd"]


def budget_bot(provider: str, **fields: Any) -> Bot:
    fields.setdefault("prompt", "go")
    fields.setdefault("triggers", (ManualTrigger(),))
    return Bot(name="b", provider=provider, max_cost_usd=1.0, **fields)


def test_agented_check_warns_when_a_budget_cannot_be_known() -> None:
    (warning,) = budget_warnings(budget_bot("codex", model="gpt-5.5"))
    assert (
        "provider 'codex' reports no cost and there is no [prices] entry for model 'gpt-5.5'"
        in warning
    )
    assert budget_warnings(budget_bot("codex", model="gpt-5.5"), {"gpt-5.5": GPT}) == []
    (nameless,) = budget_warnings(budget_bot("codex"), {"gpt-5.5": GPT})
    assert "it names no model" in nameless
    assert budget_warnings(budget_bot("opencode", model="fake/x")) == []  # it reports cost
    flash = {"gemini-2.5-flash": Price(input=0.3, output=2.5)}
    assert budget_warnings(budget_bot("gemini", model="gemini-2.5-flash"), flash) == []
    assert len(budget_warnings(budget_bot("gemini", model="auto"), flash)) == 1


def test_every_provider_of_the_chain_is_checked() -> None:
    # an entry of another provider does not inherit the bot's model: it names its own
    bare = budget_bot("opencode", model="openai/gpt-5.5", fallback=(ChainEntry("codex"),))
    (warning,) = budget_warnings(bare, {"gpt-5.5": GPT})
    assert "provider 'codex'" in warning and "it names no model" in warning
    bot = budget_bot(
        "opencode", model="openai/gpt-5.5", fallback=(ChainEntry("codex", model="gpt-5.5"),)
    )
    (warning,) = budget_warnings(bot)
    assert "provider 'codex'" in warning and "'gpt-5.5'" in warning
    assert budget_warnings(bot, {"gpt-5.5": GPT}) == []


def test_the_prices_reach_the_command_request(tmp_path: Path) -> None:
    bot = Bot(name="b", provider="codex", prompt="go", model="gpt-5.5", workdir=str(tmp_path))
    config = Config(bots={"b": bot}, prices={"gpt-5.5": GPT})
    execution = Execution(id="01X", bot="b", trigger=TriggerKind.MANUAL, attempt=1)
    prepared = prepare(
        execution,
        bot,
        Entry("codex"),
        config=config,
        plugins=Plugins(PLUGINS, entry_points=False),
        now=datetime.now(UTC),
        host_env={"PATH": "/usr/bin"},
    )
    assert prepared.request.prices == {"gpt-5.5": GPT}


def test_agented_check_warns_when_an_account_cap_cannot_count_a_bots_runs() -> None:
    from agented_core import Account

    def warnings(prices: dict[str, Price]) -> list[str]:
        manual = (ManualTrigger(),)
        bots = {
            "b": Bot(
                name="b",
                provider="opencode",
                model="openai/gpt-5.5",
                prompt="go",
                triggers=manual,
                fallback=(ChainEntry("codex", account="team", model="gpt-5.5"),),
            ),
            "c": Bot(
                name="c",
                provider="codex",
                account="other",
                model="gpt-5.5",
                prompt="go",
                triggers=manual,
            ),
        }
        accounts = {
            "team": Account(name="team", provider="codex", max_cost_usd_per_day=5.0),
            "other": Account(name="other", provider="codex"),  # no cap: nothing to count
        }
        config = Config(bots=bots, accounts=accounts, prices=prices)
        problems = validate(config, Plugins(PLUGINS, entry_points=False))
        assert all(p.warning for p in problems if p.field.startswith("accounts."))
        return [p.message for p in problems if p.field == "accounts.team.max_cost_usd_per_day"]

    (warning,) = warnings({})
    assert "the runs of b on it report no cost" in warning
    assert warnings({"gpt-5.5": GPT}) == []
