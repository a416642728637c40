"""The routes the dashboard added: redeliver, accounts, bulk cancel, the static shell (over the
app, through httpx's ASGI transport), and their CLI commands."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from agented_core import (
    Account,
    Agented,
    Bot,
    ChainEntry,
    GitHubTrigger,
    Status,
    WebhookTrigger,
)
from agented_core.config import Config, WebhookSource
from agented_http import Settings, create_app
from agented_http.ui import CSP
from conftest import FAKE_CLI, FIXTURES_DIR, OpenAgented, shell_bot
from http_support import KEY, SECRET, sign, wait_until

pytestmark = pytest.mark.anyio

PR_OPENED = (FIXTURES_DIR / "webhooks" / "pull_request.opened.json").read_bytes()
VIEWER_KEY = "viewer-key-0123456789"
OPERATOR_KEY = "operator-key-0123456789"
ADMIN = {"X-API-Key": KEY}
VIEWER = {"X-API-Key": VIEWER_KEY}
OPERATOR = {"X-API-Key": OPERATOR_KEY}


def bots() -> list[Bot]:
    return [
        shell_bot("sleeper", "sleep", "30"),
        shell_bot("hello", "say", "hello"),
        Bot(
            name="oncall",
            provider="shell",
            command=(FAKE_CLI, "say", "{payload.alert}"),
            triggers=(WebhookTrigger(source="alerts", filters={"alert": ("disk*",)}),),
        ),
        Bot(
            name="review",
            provider="shell",
            command=(FAKE_CLI, "say", "reviewing {pr.number}"),
            triggers=(GitHubTrigger(event="pull_request", actions=("opened",)),),
        ),
    ]


CONFIG = Config(
    accounts={
        "work": Account(name="work", provider="shell"),
        "spare": Account(name="spare", provider="shell"),
    },
    webhooks={
        "alerts": WebhookSource(name="alerts", secret_env="ALERTS_SECRET", delivery_header="X-Id")
    },
)

Api = Callable[..., Any]


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRETS", SECRET)
    monkeypatch.setenv("ALERTS_SECRET", "alerts-secret")


@pytest.fixture
def api(open_agented: OpenAgented) -> Api:
    @asynccontextmanager
    async def factory(prefix: str = "") -> AsyncIterator[tuple[Agented, httpx.AsyncClient]]:
        settings = Settings(
            api_keys=(KEY,), viewer_keys=(VIEWER_KEY,), operator_keys=(OPERATOR_KEY,)
        )
        async with open_agented(bots(), config=CONFIG) as ag:
            app: Any = create_app(ag, settings)
            if prefix:
                app = Starlette(routes=[Mount(prefix, app=app)])
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield ag, client

    return factory


def github(delivery: str) -> dict[str, str]:
    return {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(PR_OPENED),
        "Content-Type": "application/json",
    }


async def test_redeliver_matches_the_stored_payload_again_under_a_new_id(api: Api) -> None:
    async with api() as (ag, client):
        first = await client.post("/webhooks/github", content=PR_OPENED, headers=github("d-1"))
        (original,) = first.json()["execution_ids"]
        refused = await client.post("/deliveries/d-1/redeliver", headers=VIEWER)
        again = await client.post("/deliveries/d-1/redeliver", headers=OPERATOR)
        missing = await client.post("/deliveries/nope/redeliver", headers=OPERATOR)
        answer = again.json()
        (new,) = answer["execution_ids"]
        for execution_id in (original, new):
            await ag.wait(execution_id, timeout=20)
        as_viewer = (await client.get("/deliveries", headers=VIEWER)).json()["items"]
        as_admin = (await client.get("/deliveries", headers=ADMIN)).json()["items"]
        audit = (await client.get(f"/executions/{new}/audit", headers=ADMIN)).json()["items"]
        execution = await ag.get(new)
    assert refused.status_code == 403
    assert again.status_code == 202 and new != original
    assert answer["delivery"] not in (None, "d-1") and answer["redelivery_of"] == "d-1"
    assert execution.delivery_id == answer["delivery"] and execution.bot == "review"
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert [d["delivery"] for d in as_admin] == [answer["delivery"], "d-1"]
    assert as_admin[0]["redelivery_of"] == "d-1"
    assert (
        as_admin[1]["payload"]["pull_request"]["number"]
        == json.loads(PR_OPENED)["pull_request"]["number"]
    )
    assert all("payload" not in d for d in as_viewer)  # payloads are for admins
    assert [(a["action"], a["redelivery_of"], a["role"]) for a in audit] == [
        ("redeliver", "d-1", "operator")
    ]


async def test_redeliver_a_generic_source_and_one_that_matched_nothing(api: Api) -> None:
    async with api() as (ag, client):
        for delivery, alert in (("a-1", "disk full"), ("a-2", "cpu hot")):
            body = json.dumps({"alert": alert}).encode()
            headers = {
                "X-Id": delivery,
                "X-Signature-256": sign(body, "alerts-secret"),
                "Content-Type": "application/json",
            }
            assert (await client.post("/webhooks/alerts", content=body, headers=headers)).is_success
        again = await client.post("/deliveries/a-1/redeliver", headers=OPERATOR)
        nothing = await client.post("/deliveries/a-2/redeliver", headers=OPERATOR)
        (started,) = again.json()["execution_ids"]
        done = await ag.wait(started, timeout=20)
    assert again.status_code == 202 and done.status is Status.SUCCEEDED
    assert nothing.status_code == 200 and nothing.json()["execution_ids"] == []
    assert nothing.json()["reason"] == "no bot matched"
    assert nothing.json()["skipped"][0]["bot"] == "oncall"


async def test_accounts_show_cooldowns_and_breakers_and_clear_by_hand(api: Api) -> None:
    async with api() as (ag, client):
        until = ag.clock() + timedelta(hours=1)
        await ag.executor.cooldowns.cool(ChainEntry("shell", "work"), until, "quota ran out")
        before = (await client.get("/accounts", headers=VIEWER)).json()
        refused = await client.post("/accounts/work/clear", headers=VIEWER)
        cleared = await client.post("/accounts/work/clear", headers=OPERATOR)
        missing = await client.post("/accounts/nope/clear", headers=OPERATOR)
        after = (await client.get("/accounts", headers=VIEWER)).json()
        audit = (await client.get("/audit", headers=ADMIN)).json()["items"]
        # the run path sees the cooldown gone too
        active = await ag.executor.cooldowns.active(ChainEntry("shell", "work"))
    by_name = {a["name"]: a for a in before["items"]}
    assert by_name["work"]["cooling"] is True
    assert by_name["work"]["cooldown"]["reason"] == "quota ran out"
    assert by_name["work"]["cooldown"]["until"].startswith(until.isoformat()[:19])
    assert by_name["spare"]["cooldown"] is None and by_name["spare"]["headroom"] is None
    assert by_name["spare"]["spend"] == {
        "day_usd": 0.0, "month_usd": 0.0, "max_cost_usd_per_day": None,
        "max_cost_usd_per_month": None, "over": False,
    }  # fmt: skip
    assert by_name["work"]["breaker"] == {
        "provider": "shell", "state": "closed", "failures": 0, "until": None, "reason": None,
    }  # fmt: skip
    assert [b["provider"] for b in before["breakers"]] == ["shell"]
    assert refused.status_code == 403
    assert cleared.status_code == 200 and cleared.json()["cooling"] is False
    assert missing.status_code == 404
    assert all(a["cooldown"] is None for a in after["items"]) and active is None
    assert audit[0]["action"] == "clear_cooldown" and audit[0]["account"] == "work"
    assert audit[0]["had_cooldown"] is True


async def test_accounts_and_bots_show_spend_against_their_caps_and_headroom(
    open_agented: OpenAgented,
) -> None:
    # three usage events of running totals 0.1, 0.2, 0.3 USD
    bot = shell_bot(
        "spender", "usage", "3", "0.1", "10", options={"format": "events"},
        account="capped", max_cost_usd_per_month=0.25,
    )  # fmt: skip
    config = Config(
        accounts={"capped": Account("capped", "shell", max_cost_usd_per_day=1.0)},
        bots={"spender": bot},
    )
    async with open_agented([bot], config=config) as ag:
        done = await ag.wait((await ag.run("spender")).id, timeout=20)
        await ag.executor.headrooms.record(
            "shell", "capped", {"window": "5h", "status": "allowed_warning", "utilization": 0.9}
        )
        transport = httpx.ASGITransport(app=create_app(ag, Settings(viewer_keys=(VIEWER_KEY,))))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            accounts = (await client.get("/accounts", headers=VIEWER)).json()
            listed = (await client.get("/bots", headers=VIEWER)).json()["items"]
            one = (await client.get("/bots/spender", headers=VIEWER)).json()
    assert done.status is Status.BUDGET_EXCEEDED  # 0.3 went over the bot's 0.25 a month
    (account,) = accounts["items"]
    assert account["spend"] == {
        "day_usd": pytest.approx(0.3), "month_usd": pytest.approx(0.3),
        "max_cost_usd_per_day": 1.0, "max_cost_usd_per_month": None, "over": False,
    }  # fmt: skip
    assert account["headroom"]["window"] == "5h" and account["headroom"]["low"] is True
    assert account["headroom"]["utilization"] == pytest.approx(0.9)
    assert account["headroom"]["observed_at"]
    assert listed[0]["spend"] == one["spend"]
    assert one["spend"]["max_cost_usd_per_month"] == 0.25 and one["spend"]["over"] is True
    assert one["spend"]["month_usd"] == pytest.approx(0.3)


async def test_an_open_breaker_shows_until_when(api: Api) -> None:
    async with api() as (ag, client):
        for _ in range(3):
            await ag.executor.cooldowns.transient_failure("shell")
        breakers = (await client.get("/accounts", headers=VIEWER)).json()["breakers"]
    assert breakers[0]["state"] == "open" and breakers[0]["until"]
    assert "3 times" in breakers[0]["reason"]


async def _running(ag: Agented, execution_id: str) -> bool:
    return (await ag.get(execution_id)).status is Status.RUNNING


async def test_bulk_cancel_by_bot_and_status(api: Api) -> None:
    async with api() as (ag, client):
        sleepers = [(await ag.run("sleeper")).id for _ in range(2)]
        other = (await ag.run("hello")).id
        for execution_id in sleepers:
            await wait_until(lambda e=execution_id: _running(ag, e))
        bad = [
            await client.post("/executions/cancel", json={}, headers=OPERATOR),
            await client.post("/executions/cancel", json={"status": "failed"}, headers=OPERATOR),
            await client.post("/executions/cancel", json={"bot": 3}, headers=OPERATOR),
            await client.post("/executions/cancel", json={"what": 1}, headers=OPERATOR),
        ]
        unknown = await client.post("/executions/cancel", json={"bot": "nope"}, headers=OPERATOR)
        refused = await client.post("/executions/cancel", json={"bot": "x"}, headers=VIEWER)
        done = await client.post(
            "/executions/cancel",
            json={"bot": "sleeper", "status": ["running", "queued"]},
            headers=OPERATOR,
        )
        ended = [await ag.wait(e, timeout=20) for e in sleepers]
        other_end = await ag.wait(other, timeout=20)
    assert [r.status_code for r in bad] == [400, 400, 400, 400]
    assert "empty filter" in bad[0].json()["message"]
    assert unknown.status_code == 404 and refused.status_code == 403
    assert done.status_code == 200 and sorted(done.json()["cancelled"]) == sorted(sleepers)
    assert [e.status for e in ended] == [Status.CANCELLED, Status.CANCELLED]
    assert other_end.status is Status.SUCCEEDED


@pytest.mark.parametrize("prefix", ["", "/deep/agented"])
async def test_the_dashboard_shell_loads_without_a_key_and_data_still_needs_one(
    api: Api, prefix: str
) -> None:
    async with api(prefix=prefix) as (_, client):
        shell = await client.get(f"{prefix}/ui/")
        execution_page = await client.get(f"{prefix}/ui/executions/01ABC")
        view = await client.get(f"{prefix}/ui/bots")
        script = await client.get(f"{prefix}/ui/static/app.js")
        nope = [
            await client.get(f"{prefix}/ui/nope"),
            await client.get(f"{prefix}/ui/static/nope.js"),
            await client.get(f"{prefix}/ui/static/index.html"),
        ]
        data = await client.get(f"{prefix}/executions")
    for page in (shell, execution_page, view):
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CSP
        assert f'content="{prefix}"' in page.text and f'src="{prefix}/ui/static/app.js' in page.text
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert [r.status_code for r in nope] == [404, 404, 404]
    assert data.status_code == 401


# the command line


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "agented.toml"
    path.write_text(
        f"""
[agented]
database = "sqlite:///{tmp_path / "agented.db"}"

[bots.sleeper]
provider = "shell"
command = ["{FAKE_CLI}", "sleep", "30"]
on = [{{ manual = true }}]

[bots.review]
provider = "shell"
command = ["{FAKE_CLI}", "say", "reviewing {{pr.number}}"]
on = [{{ github = "pull_request", actions = ["opened"] }}]
"""
    )
    return path


async def test_cli_redelivers_and_bulk_cancels(tmp_path: Path) -> None:
    from agented_cli import run_cli
    from agented_core import load_config

    config = _config(tmp_path)
    async with Agented.open(config=load_config(config), entry_points=False) as ag:
        await ag.deliveries.github(PR_OPENED, github("cli-1"))
        sleeper = (await ag.run("sleeper")).id
        await wait_until(lambda: _running(ag, sleeper))
        out = io.StringIO()
        # the CLI acts on the same store from outside (as another process would)
        code = await _in_thread(
            run_cli, ["cancel", "--bot", "sleeper", "--status", "running", "-c", str(config)], out
        )
        ended = await ag.wait(sleeper, timeout=20)
    assert code == 0 and sleeper in out.getvalue() and ended.status is Status.CANCELLED
    out = io.StringIO()
    code = await _in_thread(
        run_cli, ["deliveries", "redeliver", "cli-1", "-c", str(config), "--json"], out
    )
    answer = json.loads(out.getvalue())
    assert code == 0 and answer["redelivery_of"] == "cli-1" and len(answer["execution_ids"]) == 1
    missing = await _in_thread(run_cli, ["deliveries", "redeliver", "nope", "-c", str(config)])
    both = await _in_thread(run_cli, ["cancel", "X", "--bot", "sleeper", "-c", str(config)])
    neither = await _in_thread(run_cli, ["cancel", "-c", str(config)])
    assert (missing, both, neither) == (1, 2, 2)


async def _in_thread(fn: Callable[..., int], *args: Any) -> int:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(fn, *args)


def test_cli_redelivers_and_bulk_cancels_through_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from agented_cli import run_cli
    from agented_core.config import AgentedSettings
    from http_support import ThreadServer

    config = Config(
        settings=AgentedSettings(database=f"sqlite:///{tmp_path / 'agented.db'}"),
        bots={b.name: b for b in bots()},
        webhooks=CONFIG.webhooks,
    )
    monkeypatch.setenv("AGENTED_API_KEY", OPERATOR_KEY)
    settings = Settings(api_keys=(KEY,), operator_keys=(OPERATOR_KEY,))
    with ThreadServer(config, settings, {"entry_points": False}) as server:
        url = f"{server.url}/agented"
        with httpx.Client(base_url=url, headers=ADMIN, timeout=20) as client:
            first = client.post("/webhooks/github", content=PR_OPENED, headers=github("srv-1"))
            assert first.status_code == 202
            sleeper = client.post("/bots/sleeper/runs").json()["execution_id"]
            out = io.StringIO()
            assert run_cli(["deliveries", "redeliver", "srv-1", "--url", url, "--json"], out) == 0
            answer = json.loads(out.getvalue())
            out = io.StringIO()
            assert run_cli(["cancel", "--bot", "sleeper", "--url", url], out) == 0
            deadline = time.monotonic() + 20
            while client.get(f"/executions/{sleeper}").json()["status"] != "cancelled":
                assert time.monotonic() < deadline, "the bulk cancel did not end the run"
                time.sleep(0.05)
            log = client.get("/deliveries").json()["items"]
            missing = run_cli(["deliveries", "redeliver", "nope", "--url", url])
    assert answer["redelivery_of"] == "srv-1" and len(answer["execution_ids"]) == 1
    assert sleeper in out.getvalue() and "1 execution(s)" in out.getvalue()
    assert log[0]["redelivery_of"] == "srv-1" and missing == 1


async def test_a_listed_execution_links_to_the_pr_that_started_it(api: Api) -> None:
    from agented_http import AsyncClient

    async with api() as (ag, client):
        first = await client.post("/webhooks/github", content=PR_OPENED, headers=github("l-1"))
        (started,) = first.json()["execution_ids"]
        manual = (await ag.run("hello")).id
        for execution_id in (started, manual):
            await ag.wait(execution_id, timeout=20)
        items = (await client.get("/executions", headers=VIEWER)).json()["items"]
        transport = client._transport
        async with AsyncClient("http://test", api_key=VIEWER_KEY, transport=transport) as typed:
            page = await typed.list()
    pr = json.loads(PR_OPENED)["pull_request"]
    links = {item["id"]: item["link"] for item in items}
    assert links[started] == {"label": f"PR #{pr['number']}", "url": pr["html_url"]}
    assert links[manual] is None
    assert {e.id for e in page.items} == {started, manual}  # the client reads the link past
