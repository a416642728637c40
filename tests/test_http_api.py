"""The HTTP sub-app through httpx's ASGI transport: routes, bodies, error codes, auth."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from agented_core import (
    Agented,
    Bot,
    GitHubTrigger,
    Param,
    ScheduleTrigger,
    Status,
    WebhookTrigger,
)
from agented_core.config import Config, WebhookSource
from agented_http import NoApiKeyError, Settings, StreamTokens, create_app
from conftest import FAKE_CLI, FIXTURES_DIR, OpenAgented, shell_bot
from http_support import KEY, OTHER_KEY, SECRET, sign, wait_until

pytestmark = pytest.mark.anyio

WEBHOOKS = FIXTURES_DIR / "webhooks"
PR_OPENED = (WEBHOOKS / "pull_request.opened.json").read_bytes()
AUTH = {"X-API-Key": KEY}


def bots() -> list[Bot]:
    return [
        shell_bot("hello", "say", "hello {params.who}", params=[Param("who", default="")]),
        shell_bot("sleeper", "sleep", "30"),
        Bot(
            name="review",
            provider="shell",
            command=(FAKE_CLI, "sleep", "30"),
            prompt="Review PR #{pr.number}: {pr.title}",
            triggers=(GitHubTrigger(event="pull_request", actions=("opened",)),),
        ),
        Bot(
            name="nightly",
            provider="shell",
            command=(FAKE_CLI, "say", "night"),
            triggers=(ScheduleTrigger(cron="0 3 * * *"),),
            env={"TOKEN_NAME": "not-shown"},
        ),
        Bot(
            name="oncall",
            provider="shell",
            command=(FAKE_CLI, "say", "{payload.alert}"),
            triggers=(WebhookTrigger(source="alerts"),),
        ),
    ]


CONFIG = Config(
    webhooks={
        "alerts": WebhookSource(name="alerts", secret_env="ALERTS_SECRET", delivery_header="X-Id")
    }
)


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRETS", f"older-secret,{SECRET}")
    monkeypatch.setenv("ALERTS_SECRET", "alerts-secret")
    monkeypatch.delenv("AGENTED_API_KEYS", raising=False)


Api = Callable[..., Any]


@pytest.fixture
def api(open_agented: OpenAgented) -> Api:
    """``async with api(**settings) as (ag, client)``: the app over a fresh Agented."""

    @asynccontextmanager
    async def factory(
        prefix: str = "", client_addr: tuple[str, int] = ("127.0.0.1", 50000), **settings: Any
    ) -> AsyncIterator[tuple[Agented, httpx.AsyncClient]]:
        settings.setdefault("api_keys", (KEY, OTHER_KEY))
        async with open_agented(bots(), config=CONFIG) as ag:
            app: Any = create_app(ag, Settings(**settings))
            if prefix:
                app = Starlette(routes=[Mount(prefix, app=app)])
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=client_addr)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield ag, client

    return factory


def github_headers(body: bytes, delivery: str, event: str = "pull_request") -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(body),
        "Content-Type": "application/json",
    }


# auth


def documented_routes(client_schema: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in client_schema["paths"].items()
        for method in operations
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


async def test_every_route_needs_a_key_except_the_allowlist(api: Api) -> None:
    async with api() as (ag, client):
        schema = (await client.get("/openapi.json", headers=AUTH)).json()
        routes = documented_routes(schema)
        app_routes = {
            (method, route.path)
            for route in client._transport.app.routes  # type: ignore[attr-defined]
            if isinstance(route, Route)
            for method in (route.methods or ()) - {"HEAD"}
        }
        assert set(routes) == app_routes  # the schema documents every route
        public = {
            ("GET", "/health"),
            ("GET", "/health/ready"),
            ("POST", "/webhooks/github"),
            ("POST", "/webhooks/{source}"),
            # the dashboard's static shell (its data needs a key)
            ("GET", "/ui/"),
            ("GET", "/ui/{view}"),
            ("GET", "/ui/executions/{id}"),
            ("GET", "/ui/static/{file}"),
        }
        for method, path in routes:
            response = await client.request(method, concrete(path), json={})
            if (method, path) in public:
                refused = response.status_code == 401 and response.json()["error"] == "unauthorized"
                assert not refused, (method, path)
            else:
                assert response.status_code == 401, (method, path)
                assert response.json()["error"] == "unauthorized"
                assert response.headers["www-authenticate"].startswith("Bearer")
        # also paths that exist nowhere, and the dry run under the github source
        for method, path in [("GET", "/nope"), ("POST", "/webhooks/github/dry-run")]:
            assert (await client.request(method, path)).status_code == 401
        # nothing was started by any of it
        assert (await ag.list())[0] == []


async def test_keys_rotate_and_compare_exactly(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTED_API_KEYS", f" {KEY} , {OTHER_KEY},")
    async with api(api_keys=None) as (_, client):
        for headers in (
            {"X-API-Key": KEY},
            {"X-API-Key": OTHER_KEY},
            {"Authorization": f"Bearer {KEY}"},
            {"Authorization": f"bearer {OTHER_KEY}"},
        ):
            assert (await client.get("/bots", headers=headers)).status_code == 200, headers
        for headers in (
            {"X-API-Key": KEY[:-1]},
            {"X-API-Key": KEY + "x"},
            {"X-API-Key": f"{KEY},{OTHER_KEY}"},
            {"Authorization": f"Basic {KEY}"},
            {"Authorization": KEY},
            {"X-API-Key": ""},
        ):
            response = await client.get("/bots", headers=headers)
            assert response.status_code == 401, headers


async def test_no_key_refuses_to_start_unless_unauthenticated(
    open_agented: OpenAgented, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTED_API_KEYS", " , ")
    async with open_agented(bots(), config=CONFIG) as ag:
        with pytest.raises(NoApiKeyError, match="AGENTED_API_KEYS"):
            create_app(ag)
        with pytest.raises(NoApiKeyError):
            create_app(ag, Settings(api_keys=()))
        app = create_app(ag, Settings(unauthenticated=True))
        for client_addr, expected in ((("127.0.0.1", 1), 200), (("10.1.2.3", 1), 401)):
            transport = httpx.ASGITransport(app=app, client=client_addr)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/bots")
                assert response.status_code == expected, client_addr
        assert "loopback" in response.json()["message"]


async def test_readiness_details_only_with_a_key(api: Api) -> None:
    async with api() as (_, client):
        assert (await client.get("/health")).json() == {"status": "ok"}
        bare = await client.get("/health/ready")
        assert bare.status_code == 200 and bare.json() == {"status": "ready"}
        detailed = (await client.get("/health/ready", headers=AUTH)).json()
        assert detailed["checks"] == {"store": "ok"} and detailed["streams"] == 0
        # a wrong key on a public route is ignored, not refused
        assert (await client.get("/health", headers={"X-API-Key": "nope"})).status_code == 200


# bots and runs


async def test_bots_show_triggers_params_next_fire_and_hide_env_values(api: Api) -> None:
    async with api() as (_, client):
        listed = (await client.get("/bots", headers=AUTH)).json()["items"]
        assert [b["name"] for b in listed] == ["hello", "nightly", "oncall", "review", "sleeper"]
        hello = (await client.get("/bots/hello", headers=AUTH)).json()
        nightly = next(b for b in listed if b["name"] == "nightly")
        missing = await client.get("/bots/nope", headers=AUTH)
    who = {
        "name": "who",
        "type": "string",
        "default": "",
        "required": False,
        "choices": [],
        "description": None,
    }
    assert hello["params"] == [who]
    assert hello["triggers"] == [{"type": "manual", "params": [who], "extra": {}}]
    assert hello["next_fire"] is None
    assert nightly["triggers"][0]["cron"] == "0 3 * * *"
    assert nightly["env"] == {"TOKEN_NAME": "[redacted]"}
    assert "not-shown" not in json.dumps(listed)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert "hello" in missing.json()["message"]


async def test_a_run_is_queued_and_found_at_its_url(api: Api) -> None:
    async with api(prefix="/tools/agented") as (ag, client):
        response = await client.post(
            "/tools/agented/bots/hello/runs", json={"params": {"who": "http"}}, headers=AUTH
        )
        assert response.status_code == 202
        body = response.json()
        assert body["url"] == f"/tools/agented/executions/{body['execution_id']}"
        assert response.headers["location"] == body["url"]
        assert body["events_url"] == body["url"] + "/events"
        done = await ag.wait(body["execution_id"], timeout=20)
        shown = (await client.get(body["url"], headers=AUTH)).json()
        ndjson = await client.get(body["url"] + "/events.ndjson", headers=AUTH)
    assert done.status is Status.SUCCEEDED
    assert shown["status"] == "succeeded" and shown["params"] == {"who": "http"}
    assert shown["trigger"] == "api"
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    events = [json.loads(line) for line in ndjson.text.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert "hello http" in [e["text"] for e in events]
    assert events[-1]["data"]["status"] == "succeeded"


@pytest.mark.parametrize(
    ("kwargs", "status", "code", "words"),
    [
        ({"json": {"params": {"nope": 1}}}, 400, "bad_request", "unknown parameter"),
        ({"json": {"params": {"who": 1}}}, 400, "bad_request", "parameter 'who': value must"),
        ({"json": {"params": ["who"]}}, 400, "bad_request", "params must be"),
        ({"json": {"parms": {}}}, 400, "bad_request", "unknown field"),
        ({"json": [1]}, 400, "bad_request", "JSON object"),
        ({"content": b"{nope"}, 400, "bad_request", "not valid JSON"),
        (
            {"content": b"who=x", "headers": {"Content-Type": "text/plain"}},
            415,
            "unsupported_media_type",
            "application/json",
        ),
    ],
)
async def test_bad_run_requests_change_nothing(
    api: Api, kwargs: dict[str, Any], status: int, code: str, words: str
) -> None:
    async with api() as (ag, client):
        headers = {**AUTH, **kwargs.pop("headers", {})}
        response = await client.post("/bots/hello/runs", headers=headers, **kwargs)
        assert (response.status_code, response.json()["error"]) == (status, code)
        assert words in response.json()["message"]
        assert (await ag.list())[0] == []


async def test_a_run_without_a_body_and_an_unknown_bot(api: Api) -> None:
    async with api() as (ag, client):
        plain = await client.post("/bots/hello/runs", headers=AUTH)
        missing = await client.post("/bots/nope/runs", json={}, headers=AUTH)
        done = await ag.wait(plain.json()["execution_id"], timeout=20)
    assert plain.status_code == 202 and done.params == {"who": ""}
    assert missing.status_code == 404


async def test_cancel_pause_resume_rerun(api: Api) -> None:
    async with api() as (ag, client):
        started = (await client.post("/bots/sleeper/runs", headers=AUTH)).json()
        url = started["url"]
        await wait_until(lambda: _running(ag, started["execution_id"]))
        paused = await client.post(f"{url}/pause", headers=AUTH)
        assert paused.status_code == 200
        await wait_until(lambda: _has_status(ag, started["execution_id"], Status.PAUSED))
        assert (await client.post(f"{url}/pause", headers=AUTH)).status_code == 409
        resumed = await client.post(f"{url}/resume", headers=AUTH)
        assert resumed.status_code == 200
        await wait_until(lambda: _has_status(ag, started["execution_id"], Status.RUNNING))
        cancelled = await client.post(f"{url}/cancel", headers=AUTH)
        assert cancelled.status_code == 200 and cancelled.json()["id"] == started["execution_id"]
        done = await ag.wait(started["execution_id"], timeout=20)
        again = await client.post(f"{url}/cancel", headers=AUTH)
        rerun = await client.post(f"{url}/rerun", headers=AUTH)
        assert rerun.status_code == 202
        new_id = rerun.json()["execution_id"]
        await wait_until(lambda: _running(ag, new_id))
        await client.post(f"/executions/{new_id}/cancel", headers=AUTH)
        renewed = await ag.wait(new_id, timeout=20)
        missing = [
            await client.post(f"/executions/nope/{action}", headers=AUTH)
            for action in ("cancel", "pause", "resume", "rerun", "stream-token")
        ]
    assert done.status is Status.CANCELLED
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    assert "cancelled" in again.json()["message"]
    assert renewed.rerun_of == started["execution_id"] and renewed.bot == "sleeper"
    assert {r.status_code for r in missing} == {404}


async def _running(ag: Agented, execution_id: str) -> bool:
    execution = await ag.get(execution_id)
    return execution.status is Status.RUNNING and execution.pgid is not None


async def _has_status(ag: Agented, execution_id: str, status: Status) -> bool:
    return (await ag.get(execution_id)).status is status


async def test_executions_filter_and_page(api: Api) -> None:
    async with api() as (ag, client):
        ids = []
        for who in "abcde":
            response = await client.post(
                "/bots/hello/runs", json={"params": {"who": who}}, headers=AUTH
            )
            ids.append(response.json()["execution_id"])
        for execution_id in ids:
            await ag.wait(execution_id, timeout=20)
        seen: list[str] = []
        cursor = ""
        while True:
            page = await client.get(
                "/executions", params={"limit": 2, "cursor": cursor, "bot": "hello"}, headers=AUTH
            )
            body = page.json()
            assert len(body["items"]) <= 2
            assert all("context" not in item for item in body["items"])
            seen.extend(item["id"] for item in body["items"])
            if body["next_cursor"] is None:
                break
            cursor = body["next_cursor"]
        succeeded = await client.get(
            "/executions", params={"status": "succeeded,failed"}, headers=AUTH
        )
        none = await client.get("/executions", params={"status": "cancelled"}, headers=AUTH)
        bad = [
            await client.get("/executions", params=params, headers=AUTH)
            for params in ({"status": "done"}, {"limit": "0"}, {"limit": "501"}, {"limit": "x"})
        ]
        shown = (await client.get(f"/executions/{ids[0]}", headers=AUTH)).json()
    assert seen == list(reversed(ids))
    assert len(succeeded.json()["items"]) == 5 and none.json()["items"] == []
    assert [r.status_code for r in bad] == [400, 400, 400, 400]
    assert "context" in shown


async def test_executions_by_trigger_on_every_page(api: Api) -> None:
    async with api() as (ag, client):
        started = [
            (await client.post("/bots/hello/runs", json={"params": {"who": w}}, headers=AUTH))
            for w in "abc"
        ]
        first = started[0].json()["execution_id"]
        await ag.wait(first, timeout=20)
        reruns = []
        for _ in range(2):
            answer = await client.post(f"/executions/{first}/rerun", headers=AUTH)
            reruns.append(answer.json()["execution_id"])
        for execution_id in [s.json()["execution_id"] for s in started] + reruns:
            await ag.wait(execution_id, timeout=20)
        pages: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = await client.get(
                "/executions",
                params={"trigger": "rerun", "limit": 1, "cursor": cursor},
                headers=AUTH,
            )
            assert page.status_code == 200
            pages.append(page.json())
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        found = await client.get(
            "/executions", params={"trigger": "api", "prefix": first[:20]}, headers=AUTH
        )
        bad = await client.get("/executions", params={"trigger": "cron"}, headers=AUTH)
    listed = [item for page in pages for item in page["items"]]
    assert [item["id"] for item in listed] == list(reversed(reruns))
    assert {item["trigger"] for item in listed} == {"rerun"}
    assert [item["id"] for item in found.json()["items"]] == [first]
    assert bad.status_code == 400 and "unknown trigger 'cron'" in bad.json()["message"]


async def test_ndjson_snapshot_after_and_follow(api: Api) -> None:
    async with api() as (_, client):
        started = (await client.post("/bots/hello/runs", headers=AUTH)).json()
        url = started["url"] + "/events.ndjson"
        followed = await client.get(url, params={"follow": "true"}, headers=AUTH)
        after = await client.get(url, params={"after": 2}, headers=AUTH)
        bad = await client.get(url, params={"follow": "maybe"}, headers=AUTH)
    lines = [json.loads(line) for line in followed.text.splitlines()]
    assert lines[-1]["data"]["status"] == "succeeded"  # follow waits for the end
    assert [json.loads(x)["seq"] for x in after.text.splitlines()] == [
        e["seq"] for e in lines if e["seq"] > 2
    ]
    assert bad.status_code == 400


# stream tokens


async def test_stream_tokens_are_for_one_execution_and_the_sse_route_only(api: Api) -> None:
    async with api() as (ag, client):
        first = (await client.post("/bots/hello/runs", headers=AUTH)).json()
        second = (await client.post("/bots/hello/runs", headers=AUTH)).json()
        await ag.wait(first["execution_id"], timeout=20)
        await ag.wait(second["execution_id"], timeout=20)
        issued = await client.post(f"{first['url']}/stream-token", headers=AUTH)
        token = issued.json()["token"]
        assert issued.json()["url"] == f"{first['url']}/events?token={token}"
        ok = await client.get(f"{first['url']}/events", params={"token": token})
        other = await client.get(f"{second['url']}/events", params={"token": token})
        ndjson = await client.get(f"{first['url']}/events.ndjson", params={"token": token})
        shown = await client.get(first["url"], params={"token": token})
        forged = await client.get(f"{first['url']}/events", params={"token": token[:-2] + "xx"})
        without = await client.post(f"{first['url']}/stream-token")
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/event-stream")
    assert "event: status" in ok.text
    assert [r.status_code for r in (other, ndjson, shown, forged, without)] == [401] * 5


async def test_stream_tokens_expire() -> None:
    now = [1000.0]
    tokens = StreamTokens(b"k" * 32, ttl=60, clock=lambda: now[0])
    issued = tokens.issue("01ABC")
    assert tokens.check(issued.token, "01ABC")
    assert not tokens.check(issued.token, "01ABD")
    assert not StreamTokens(b"j" * 32, ttl=60, clock=lambda: now[0]).check(issued.token, "01ABC")
    for junk in ("", ".", "abc", "a.b.c", "!!!.???"):
        assert not tokens.check(junk, "01ABC")
    now[0] += 61
    assert not tokens.check(issued.token, "01ABC")
    assert issued.expires_at.timestamp() == 1060


# webhooks


async def test_github_deliveries_start_in_the_background_once(api: Api) -> None:
    async with api() as (ag, client):
        first = await client.post(
            "/webhooks/github", content=PR_OPENED, headers=github_headers(PR_OPENED, "g-1")
        )
        assert first.status_code == 202
        (execution_id,) = first.json()["execution_ids"]
        # the answer did not wait for the run, which sleeps for 30 s
        assert not (await ag.get(execution_id)).status.terminal
        again = await client.post(
            "/webhooks/github", content=PR_OPENED, headers=github_headers(PR_OPENED, "g-1")
        )
        sync = (WEBHOOKS / "pull_request.synchronize.json").read_bytes()
        unmatched = await client.post(
            "/webhooks/github", content=sync, headers=github_headers(sync, "g-2")
        )
        form = urllib.parse.urlencode({"payload": PR_OPENED.decode()}).encode()
        form_headers = {
            **github_headers(form, "g-3"),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        formed = await client.post("/webhooks/github", content=form, headers=form_headers)
        deliveries = (await client.get("/deliveries", headers=AUTH)).json()["items"]
        for started in (execution_id, *formed.json()["execution_ids"]):
            await wait_until(lambda started=started: _running(ag, started))
            await ag.cancel(started)
            await ag.wait(started, timeout=20)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["execution_ids"] == []
    assert unmatched.status_code == 200 and unmatched.json()["reason"] == "no bot matched"
    assert "synchronize" in unmatched.json()["skipped"][0]["reason"]
    assert formed.status_code == 202
    assert [d["delivery"] for d in deliveries] == ["g-3", "g-2", "g-1", "g-1"]


async def test_webhook_checks_come_in_order(api: Api) -> None:
    async with api(max_body_bytes=len(PR_OPENED) - 1) as (ag, client):
        # over the limit: 413 before the signature is even looked at
        unsigned = await client.post("/webhooks/github", content=PR_OPENED)
        assert unsigned.status_code == 413
        assert unsigned.json()["error"] == "payload_too_large"

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(PR_OPENED), 4096):
                yield PR_OPENED[start : start + 4096]

        streamed = await client.post("/webhooks/github", content=chunks())
        assert streamed.status_code == 413
    async with api() as (ag, client):
        bad_signature = await client.post(
            "/webhooks/github",
            content=PR_OPENED,
            headers={**github_headers(PR_OPENED, "o-1"), "X-Hub-Signature-256": "sha256=00"},
        )
        xml = b"<xml/>"
        xml_type = await client.post(
            "/webhooks/github",
            content=xml,
            headers={**github_headers(xml, "o-2"), "Content-Type": "text/xml"},
        )
        broken = b"{broken"
        bad_json = await client.post(
            "/webhooks/github", content=broken, headers=github_headers(broken, "o-3")
        )
        missing_event = await client.post(
            "/webhooks/github",
            content=PR_OPENED,
            headers={
                k: v for k, v in github_headers(PR_OPENED, "o-4").items() if k != "X-GitHub-Event"
            },
        )
        lying = await client.post(
            "/webhooks/github",
            content=PR_OPENED,
            headers={**github_headers(PR_OPENED, "o-5"), "Content-Length": "x"},
        )
        nothing_started = (await ag.list())[0]
    assert (bad_signature.status_code, bad_signature.json()["error"]) == (401, "invalid_signature")
    assert (xml_type.status_code, xml_type.json()["error"]) == (415, "unsupported_media_type")
    assert (bad_json.status_code, bad_json.json()["error"]) == (400, "bad_request")
    assert missing_event.status_code == 400 and "X-GitHub-Event" in missing_event.text
    assert lying.status_code == 400
    assert nothing_started == []


async def test_generic_source_and_reserved_names(api: Api) -> None:
    body = json.dumps({"alert": "disk full"}).encode()
    headers = {
        "X-Signature-256": sign(body, "alerts-secret"),
        "Content-Type": "application/json",
        "X-Id": "a-1",
    }
    async with api() as (ag, client):
        started = await client.post("/webhooks/alerts", content=body, headers=headers)
        duplicate = await client.post("/webhooks/alerts", content=body, headers=headers)
        unknown = await client.post("/webhooks/nope", content=body, headers=headers)
        unsigned = await client.post("/webhooks/alerts", content=body)
        done = await ag.wait(started.json()["execution_ids"][0], timeout=20)
        events = [e.text async for e in ag.events(done.id)]
    assert started.status_code == 202 and "disk full" in events
    assert duplicate.json()["duplicate"] is True
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert unsigned.status_code == 401 and unsigned.json()["error"] == "invalid_signature"


async def test_dry_run_needs_a_key_not_a_signature(api: Api) -> None:
    async with api() as (ag, client):
        headers = {**AUTH, "X-GitHub-Event": "pull_request", "Content-Type": "application/json"}
        dry = await client.post("/webhooks/github/dry-run", content=PR_OPENED, headers=headers)
        form = urllib.parse.urlencode({"payload": PR_OPENED.decode()})
        formed = await client.post(
            "/webhooks/github/dry-run",
            content=form,
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        )
        no_event = await client.post(
            "/webhooks/github/dry-run", content=PR_OPENED, headers={**AUTH}
        )
        not_object = await client.post("/webhooks/github/dry-run", json=[1], headers=headers)
        nothing = (await ag.list())[0]
        log = (await client.get("/deliveries", headers=AUTH)).json()["items"]
    payload = json.loads(PR_OPENED)
    assert dry.status_code == 200
    title = payload["pull_request"]["title"]
    prompt = f"Review PR #{payload['number']}: {title}"
    assert dry.json()["matches"] == [{"bot": "review", "prompt": prompt}]
    assert formed.json()["matches"] == dry.json()["matches"]
    assert no_event.status_code == 400 and not_object.status_code == 400
    assert nothing == [] and log == []


# errors, CORS, schema


async def test_unknown_routes_and_methods_answer_json_errors(api: Api) -> None:
    async with api() as (_, client):
        missing = await client.get("/nope", headers=AUTH)
        wrong = await client.delete("/bots", headers=AUTH)
        sse_missing = await client.get("/executions/nope/events", headers=AUTH)
        bad_resume = await client.get(
            "/executions/nope/events", headers={**AUTH, "Last-Event-ID": "x"}
        )
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert wrong.status_code == 405 and "GET" in wrong.headers["allow"]
    assert wrong.json()["error"] == "bad_request"
    assert sse_missing.status_code == 404
    assert bad_resume.status_code == 400


async def test_cors_only_for_configured_origins(api: Api) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key, content-type",
    }
    async with api(cors_origins=["https://ui.example"]) as (_, client):
        allowed = await client.options(
            "/bots/hello/runs", headers={"Origin": "https://ui.example", **preflight}
        )
        refused = await client.options(
            "/bots/hello/runs", headers={"Origin": "https://evil.example", **preflight}
        )
        simple = await client.get("/bots", headers={"Origin": "https://ui.example", **AUTH})
        denied = await client.get("/bots", headers={"Origin": "https://ui.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://ui.example"
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == "https://ui.example"
    # a 401 still carries the header, so the page can read why
    assert denied.status_code == 401
    assert denied.headers["access-control-allow-origin"] == "https://ui.example"
    async with api() as (_, client):
        plain = await client.get("/bots", headers={"Origin": "https://ui.example", **AUTH})
        options = await client.options(
            "/bots", headers={"Origin": "https://ui.example", **preflight}
        )
    assert "access-control-allow-origin" not in plain.headers
    assert options.status_code == 401


async def test_openapi_names_its_mount_point(api: Api) -> None:
    async with api(prefix="/x/agented") as (_, client):
        schema = (await client.get("/x/agented/openapi.json", headers=AUTH)).json()
    assert schema["servers"] == [{"url": "/x/agented"}]
    assert schema["openapi"].startswith("3.1")
    assert "Execution" in schema["components"]["schemas"]
    assert schema["paths"]["/health"]["get"]["security"] == []


async def test_a_bug_answers_500_without_details(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async with api() as (ag, client):

        async def broken(**kwargs: Any) -> Any:
            raise RuntimeError("secret internals")

        monkeypatch.setattr(ag, "list", broken)
        response = await client.get("/executions", headers=AUTH)
    assert response.status_code == 500
    assert response.json() == {"error": "internal", "message": "internal error"}


async def test_head_on_the_sse_route_opens_no_stream(api: Api) -> None:
    async with api() as (ag, client):
        started = (await client.post("/bots/sleeper/runs", headers=AUTH)).json()
        head = await client.head(started["events_url"], headers=AUTH)
        ready = (await client.get("/health/ready", headers=AUTH)).json()
        await wait_until(lambda: _running(ag, started["execution_id"]))
        await ag.cancel(started["execution_id"])
        await ag.wait(started["execution_id"], timeout=20)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/event-stream")
    assert ready["streams"] == 0 and ready["channels"] == 0
