"""Roles on keys and the audit log, over a real socket (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Match, Route

from agented_core import Agented, Status
from agented_http import Settings, create_app
from agented_http.roles import (
    ADMIN,
    ANY_KEY,
    METRICS,
    OPERATOR,
    PUBLIC,
    ROUTES,
    VIEWER,
    RouteRoles,
    grants,
    key_id,
)
from conftest import FAKE_CLI, OpenAgented, shell_bot
from http_support import KEY, serving, wait_until
from pg_support import raw_sql
from test_http_server import serve

pytestmark = pytest.mark.anyio

KEYS = {
    ADMIN: KEY,
    OPERATOR: "operator-key-5678",
    VIEWER: "viewer-key-9012",
    METRICS: "metrics-key-3456",
}
ENV = {
    ADMIN: "AGENTED_API_KEYS",
    OPERATOR: "AGENTED_OPERATOR_KEYS",
    VIEWER: "AGENTED_VIEWER_KEYS",
    METRICS: "AGENTED_METRICS_KEYS",
}


def auth(role: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


@pytest.fixture(autouse=True)
def role_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for role, name in ENV.items():
        monkeypatch.setenv(name, KEYS[role])
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRETS", "s")


Served = Callable[..., Any]


@pytest.fixture
def served(open_agented: OpenAgented) -> Served:
    """``async with served() as (ag, app, client)``: the app on a real socket."""

    @asynccontextmanager
    async def factory(
        settings: Settings | None = None,
    ) -> AsyncIterator[tuple[Agented, Any, httpx.AsyncClient]]:
        bots = [shell_bot("hello", "say", "hello"), shell_bot("sleeper", "sleep", "30")]
        async with open_agented(bots) as ag:
            app = create_app(ag, settings)
            async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
                yield ag, app, client

    return factory


def app_routes(app: Any) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or ()) - {"HEAD"}
    }


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


async def test_the_table_has_every_route_and_each_role_gets_what_it_may(served: Served) -> None:
    async with served() as (ag, app, client):
        assert app_routes(app) == set(ROUTES)  # both directions: no route without a role
        for (method, path), needed in ROUTES.items():
            if needed == PUBLIC:
                continue
            for role in KEYS:
                response = await client.request(method, concrete(path), headers=auth(role), json={})
                if grants(role, needed):
                    assert response.status_code not in (401, 403), (role, method, path)
                else:
                    assert response.status_code == 403, (role, method, path)
                    body = response.json()
                    assert body["error"] == "forbidden" and body["role"] == needed
                    assert f"needs the {needed} role" in body["message"]
                    assert "www-authenticate" not in response.headers
        # nothing was started by the refused requests (the allowed ones hit unknown ids)
        assert (await ag.list())[0] == []


async def test_operator_may_act_and_a_viewer_only_read(served: Served) -> None:
    async with served() as (ag, _, client):
        refused = await client.post("/bots/hello/runs", headers=auth(VIEWER))
        assert refused.status_code == 403 and refused.json()["role"] == OPERATOR
        assert (await ag.list())[0] == []
        started = await client.post("/bots/hello/runs", headers=auth(OPERATOR))
        assert started.status_code == 202
        execution_id = started.json()["execution_id"]
        await ag.wait(execution_id, timeout=20)
        shown = await client.get(f"/executions/{execution_id}", headers=auth(VIEWER))
        assert shown.status_code == 200 and shown.json()["status"] == "succeeded"
        token = await client.post(f"/executions/{execution_id}/stream-token", headers=auth(VIEWER))
        assert token.status_code == 200
        assert (await client.get("/audit", headers=auth(OPERATOR))).status_code == 403
        assert (await client.get("/bots", headers=auth(METRICS))).status_code == 403


async def test_whoami_names_role_and_id_never_the_key(served: Served) -> None:
    async with served() as (_, _app, client):
        for role, key in KEYS.items():
            answer = (await client.get("/whoami", headers=auth(role))).json()
            assert answer["role"] == role
            assert answer["key_id"] == key_id(key) and key not in answer["key_id"]
            assert ("POST /bots/{name}/runs" in answer["routes"]) == grants(role, OPERATOR)
        assert (await client.get("/whoami")).status_code == 401
        bearer = {"Authorization": f"Bearer {KEYS[OPERATOR]}"}
        assert (await client.get("/whoami", headers=bearer)).json()["role"] == OPERATOR


async def test_a_config_with_only_the_admin_variable_keeps_working(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    for role in (OPERATOR, VIEWER, METRICS):
        monkeypatch.delenv(ENV[role])
    async with served() as (ag, _, client):
        assert (await client.get("/whoami", headers=auth(ADMIN))).json()["role"] == ADMIN
        assert (await client.get("/audit", headers=auth(ADMIN))).status_code == 200
        started = await client.post("/bots/hello/runs", headers=auth(ADMIN))
        assert started.status_code == 202
        await ag.wait(started.json()["execution_id"], timeout=20)
        assert (await client.get("/bots", headers=auth(VIEWER))).status_code == 401


async def test_settings_override_the_environment_and_a_key_gets_its_strongest_role(
    served: Served,
) -> None:
    settings = Settings(api_keys=("a-admin",), viewer_keys=("a-admin", "v-only"))
    async with served(settings) as (_, _app, client):
        assert (await client.get("/whoami", headers={"X-API-Key": "a-admin"})).json()[
            "role"
        ] == ADMIN
        assert (await client.get("/whoami", headers={"X-API-Key": "v-only"})).json()[
            "role"
        ] == VIEWER
        # AGENTED_API_KEYS is set, but the settings' admin keys win
        assert (await client.get("/whoami", headers=auth(ADMIN))).status_code == 401
        # the other roles still come from their variables
        assert (await client.get("/whoami", headers=auth(OPERATOR))).json()["role"] == OPERATOR


async def test_the_schema_shows_each_routes_role_and_its_403(served: Served) -> None:
    async with served() as (_, _app, client):
        schema = (await client.get("/openapi.json", headers=auth(VIEWER))).json()
    seen = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            role = ROUTES[(method.upper(), path)]
            seen.add((method.upper(), path))
            assert operation["x-agented-role"] == role
            assert ("403" in operation["responses"]) == (role not in (PUBLIC, ANY_KEY))
    assert seen == set(ROUTES)
    assert "forbidden" in schema["components"]["schemas"]["Error"]["properties"]["error"]["enum"]


def test_route_roles_match_templates_and_find_missing_routes() -> None:
    roles = RouteRoles()
    assert roles.needed("POST", "/executions/01ABC/cancel") == OPERATOR
    assert roles.needed("HEAD", "/executions/01ABC/events") == VIEWER
    assert roles.needed("GET", "/executions/01ABC/events.ndjson") == VIEWER
    assert roles.needed("POST", "/webhooks/github/dry-run") == OPERATOR
    assert roles.needed("POST", "/webhooks/alerts") == PUBLIC
    assert roles.needed("GET", "/executions/a/b/c") is None
    assert roles.needed("DELETE", "/bots") is None
    assert roles.missing([("GET", "/bots"), ("POST", "/new"), ("HEAD", "/x")]) == [("POST", "/new")]


# audit


async def _running(ag: Agented, execution_id: str) -> bool:
    execution = await ag.get(execution_id)
    return execution.status is Status.RUNNING and execution.pgid is not None


async def test_audit_records_who_did_what_by_key_id_only(served: Served) -> None:
    async with served() as (ag, _, client):
        op, admin = auth(OPERATOR), auth(ADMIN)
        started = (await client.post("/bots/sleeper/runs", headers=op)).json()
        first = started["execution_id"]
        await wait_until(lambda: _running(ag, first))
        assert (await client.post(f"/executions/{first}/pause", headers=op)).status_code == 200
        await wait_until(lambda: _status(ag, first, Status.PAUSED))
        assert (await client.post(f"/executions/{first}/resume", headers=admin)).status_code == 200
        await wait_until(lambda: _status(ag, first, Status.RUNNING))
        assert (await client.post(f"/executions/{first}/cancel", headers=op)).status_code == 200
        await ag.wait(first, timeout=20)
        # refused and failed actions leave no entry
        assert (await client.post(f"/executions/{first}/cancel", headers=op)).status_code == 409
        assert (
            await client.post(f"/executions/{first}/rerun", headers=auth(VIEWER))
        ).status_code == 403
        rerun = await client.post(f"/executions/{first}/rerun", headers=op)
        second = rerun.json()["execution_id"]
        await wait_until(lambda: _running(ag, second))
        await client.post(f"/executions/{second}/cancel", headers=admin)
        await ag.wait(second, timeout=20)

        everything = await client.get("/audit", headers=admin)
        mine = await client.get(f"/executions/{first}/audit", headers=admin)
        by_query = await client.get("/audit", params={"execution": first}, headers=admin)
        page1 = (await client.get("/audit", params={"limit": 4}, headers=admin)).json()
        page2 = (
            await client.get(
                "/audit", params={"limit": 4, "cursor": page1["next_cursor"]}, headers=admin
            )
        ).json()
        missing = await client.get("/executions/nope/audit", headers=admin)
        bad = await client.get("/audit", params={"cursor": "x"}, headers=admin)
        raw = raw_sql(ag.store.url, "SELECT * FROM audit")

    items = everything.json()["items"]
    assert [(i["action"], i["execution_id"]) for i in items] == [
        ("cancel", second),
        ("rerun", second),
        ("cancel", first),
        ("resume", first),
        ("pause", first),
        ("run", first),
    ]
    actors = {i["action"] + i["execution_id"]: (i["actor"], i["role"]) for i in items}
    assert actors["run" + first] == (key_id(KEYS[OPERATOR]), OPERATOR)
    assert actors["resume" + first] == (key_id(KEYS[ADMIN]), ADMIN)
    assert items[1]["rerun_of"] == first and items[1]["bot"] == "sleeper"
    assert all(i["at"] for i in items)
    assert mine.json()["items"] == by_query.json()["items"] == items[2:]
    assert [i["id"] for i in page1["items"] + page2["items"]] == [i["id"] for i in items]
    assert page2["next_cursor"] is None
    assert missing.status_code == 404 and bad.status_code == 400
    stored = repr(raw) + everything.text
    assert all(key not in stored for key in KEYS.values())


async def _status(ag: Agented, execution_id: str, status: Status) -> bool:
    return (await ag.get(execution_id)).status is status


async def test_the_dev_mode_audits_as_dev(open_agented: OpenAgented) -> None:
    async with open_agented([shell_bot("hello", "say", "hi")]) as ag:
        app = create_app(ag, Settings(unauthenticated=True))
        async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/whoami")).json()["role"] == ADMIN
            started = (await client.post("/bots/hello/runs")).json()
            await ag.wait(started["execution_id"], timeout=20)
            entries = (await client.get("/audit")).json()["items"]
    assert [(e["actor"], e["action"]) for e in entries] == [("dev", "run")]


def test_serve_starts_with_only_viewer_keys_and_the_page_asks_whoami(tmp_path: Path) -> None:
    config = tmp_path / "agented.toml"
    config.write_text(
        f"""
[agented]
database = "sqlite:///agented.db"

[bots.hello]
command = ["{FAKE_CLI}", "say", "hello"]
on = [{{ manual = true }}]
"""
    )
    viewer = {"X-API-Key": KEYS[VIEWER]}
    with (
        serve(config, cwd=tmp_path, AGENTED_VIEWER_KEYS=KEYS[VIEWER]) as served,
        httpx.Client(base_url=served.url, timeout=20) as client,
    ):
        me = client.get("/agented/whoami", headers=viewer).json()
        refused = client.post("/agented/bots/hello/runs", headers=viewer)
        page = client.get("/", follow_redirects=True).text
        script = "".join(
            client.get(f"/agented/ui/static/{name}").text for name in ("app.js", "views.js")
        )
    assert 'name="agented-root" content="/agented"' in page
    assert me["role"] == VIEWER and "POST /bots/{name}/runs" not in me["routes"]
    assert refused.status_code == 403 and refused.json()["role"] == OPERATOR
    assert '"/whoami"' in script and 'may("POST /bots/{name}/runs")' in script


SEGMENT = st.text(
    alphabet=st.characters(blacklist_characters="/?#%", blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
)


async def test_the_middleware_picks_the_role_of_the_route_starlette_picks(served: Served) -> None:
    # the app's own routing decides which endpoint answers; the role must be that route's
    async with served() as (_, app, _client):
        routes = list(app.routes)
    roles = RouteRoles()

    @given(values=st.lists(SEGMENT, min_size=2, max_size=2), data=st.data())
    @settings(max_examples=300, deadline=None)
    def check(values: list[str], data: st.DataObject) -> None:
        method, template = data.draw(st.sampled_from(sorted(ROUTES)))
        parts = iter(values)
        path = re.sub(r"\{[^}]+\}", lambda _: next(parts), template)
        scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
        chosen = next(r for r in routes if r.matches(scope)[0] is Match.FULL)
        assert isinstance(chosen, Route)
        assert roles.needed(method, path) == ROUTES[(method, chosen.path)], (path, chosen.path)

    check()
