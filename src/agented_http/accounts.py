"""``GET /accounts`` (cooldowns, breakers, spend, headroom) and ``POST /accounts/{name}/clear``.

:func:`account_data` is the one builder of an account's JSON and :func:`spend_data` the one of
a spend against its caps (also on bots in ``GET /bots``), so every route and the dashboard show
the same shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agented_core import Account, Agented, ChainEntry, NotFoundError, SpendTotals, to_data
from agented_core.run import Cooldowns

from .context import Context
from .operations import E401, E404, Operation, json_answer, path_param, ref


def _cooldown(found: Any) -> dict[str, Any] | None:
    if found is None:
        return None
    return {"until": to_data(found.until), "reason": found.reason}


def breaker_data(provider: str, failures: int, open_: Any) -> dict[str, Any]:
    """A provider's circuit breaker: ``open`` (with until when and why) or ``closed``."""
    return {
        "provider": provider,
        "state": "open" if open_ is not None else "closed",
        "failures": failures,
        "until": to_data(open_.until) if open_ is not None else None,
        "reason": open_.reason if open_ is not None else None,
    }


def spend_data(totals: SpendTotals | None) -> dict[str, Any] | None:
    """A bot's or account's spend today and this month (USD, in the configured timezone) with
    its caps (``None``: no cap) and ``over`` (a cap reached: new runs are skipped)."""
    if totals is None:
        return None
    return {
        "day_usd": round(totals.day_usd, 6),
        "month_usd": round(totals.month_usd, 6),
        "max_cost_usd_per_day": totals.max_cost_usd_per_day,
        "max_cost_usd_per_month": totals.max_cost_usd_per_month,
        "over": totals.over,
    }


async def spend_by_name(ag: Agented, scope: str) -> dict[str, dict[str, Any] | None]:
    """Every bot's (``scope="bot"``) or account's spend by name (:func:`spend_data`)."""
    return {t.name: spend_data(t) for t in await ag.spend() if t.scope == scope}


async def account_data(
    account: Account,
    cooldowns: Cooldowns,
    spend: dict[str, Any] | None = None,
    headroom: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An account as ``GET /accounts`` shows it: provider, cooldown, its provider's breaker,
    ``spend`` (:func:`spend_data`) and ``headroom`` (its usage window as its CLI last reported
    it, :meth:`agented_core.Agented.account_headroom`; ``None`` when none is known)."""
    cooldown = await cooldowns.cooldown(ChainEntry(account.provider, account.name))
    failures, open_ = await cooldowns.breaker(account.provider)
    return {
        "name": account.name,
        "provider": account.provider,
        "cooling": cooldown is not None,
        "cooldown": _cooldown(cooldown),
        "breaker": breaker_data(account.provider, failures, open_),
        "spend": spend,
        "headroom": _headroom(headroom),
    }


def _headroom(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    keys = ("window", "status", "utilization", "resets_at", "observed_at", "low")
    return {k: to_data(record.get(k)) for k in keys}


def _providers(ag: Agented) -> list[str]:
    names = {a.provider for a in ag.config.accounts.values()}
    for bot in ag.bots.values():
        names.update(entry.provider for entry in bot.chain)
    return sorted(names)


OPERATIONS = (
    Operation(
        "GET",
        "/accounts",
        "listAccounts",
        "Accounts with their cooldowns, their providers' circuit breakers, spend and headroom",
        {"200": json_answer(ref("AccountList"), "every configured account"), "401": E401},
    ),
    Operation(
        "POST",
        "/accounts/{name}/clear",
        "clearAccount",
        "End an account's cooldown now (audited)",
        {
            "200": json_answer(ref("Account"), "the account as it is now"),
            "401": E401,
            "404": E404,
        },
        parameters=[path_param("name", "the account's name")],
    ),
)
"""The account routes in the OpenAPI document."""


def routes(ctx: Context) -> list[Route]:
    """The account routes."""
    ag = ctx.agented
    cooldowns = ag.executor.cooldowns

    async def one(account: Account) -> dict[str, Any]:
        spend = await spend_by_name(ag, "account")
        headroom = await ag.account_headroom()
        return await account_data(
            account, cooldowns, spend.get(account.name), headroom.get(account.name)
        )

    async def list_accounts(request: Request) -> Response:
        spend = await spend_by_name(ag, "account")
        headroom = await ag.account_headroom()
        items = [
            await account_data(account, cooldowns, spend.get(name), headroom.get(name))
            for name, account in sorted(ag.config.accounts.items())
        ]
        breakers = []
        for provider in _providers(ag):
            failures, open_ = await cooldowns.breaker(provider)
            breakers.append(breaker_data(provider, failures, open_))
        return JSONResponse({"items": items, "breakers": breakers})

    async def clear(request: Request) -> Response:
        from .audit import principal

        name = request.path_params["name"]
        account = ag.config.accounts.get(name)
        if account is None:
            raise NotFoundError(f"no account {name!r}")
        had = await cooldowns.clear(ChainEntry(account.provider, account.name))
        who = principal(request)
        await ag.store.record_audit(
            {
                "at": datetime.now(UTC).isoformat(),
                "actor": who.id,
                "role": who.role,
                "action": "clear_cooldown",
                "execution_id": None,
                "bot": None,
                "account": name,
                "had_cooldown": had,
            }
        )
        return JSONResponse(await one(account))

    return [
        Route("/accounts", list_accounts, methods=["GET"], name="accounts"),
        Route("/accounts/{name}/clear", clear, methods=["POST"], name="clear_account"),
    ]
