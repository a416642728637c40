"""Typed run parameters through the HTTP API, over a real socket: shown, checked, defaulted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from agented_core import Agented, ManualTrigger, Param, Status
from agented_http import Settings, create_app
from conftest import OpenAgented, shell_bot
from http_support import KEY, serving

pytestmark = pytest.mark.anyio

AUTH = {"X-API-Key": KEY}
PARAMS = (
    "message",
    Param("level", "choice", choices=("low", "high"), default="low"),
    Param("dry_run", "boolean", default=True, description="print only"),
    Param("count", "integer", required=False),
    Param("ratio", "number", default=0.5),
)
SAY = "{params.message}|{params.level}|{params.dry_run}|{params.count}|{params.ratio}"


@asynccontextmanager
async def server(open_agented: OpenAgented) -> AsyncIterator[tuple[Agented, httpx.AsyncClient]]:
    bot = shell_bot("deploy", "say", SAY, triggers=(ManualTrigger(params=PARAMS),))
    async with open_agented([bot]) as ag:
        app = create_app(ag, Settings(api_keys=(KEY,)))
        async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=20) as client:
            yield ag, client


async def said(ag: Agented, execution_id: str) -> tuple[dict[str, Any], list[str | None]]:
    done = await ag.wait(execution_id, timeout=20)
    assert done.status is Status.SUCCEEDED, done.error
    texts = [e.text for e in await ag.store.read_events(execution_id) if e.kind == "text"]
    return dict(done.params), texts


async def test_bots_and_the_schema_show_the_declared_params(open_agented: OpenAgented) -> None:
    async with server(open_agented) as (_, client):
        bot = (await client.get("/bots/deploy", headers=AUTH)).json()
        listed = (await client.get("/bots", headers=AUTH)).json()["items"]
        schema = (await client.get("/openapi.json", headers=AUTH)).json()
    assert listed == [bot]
    assert bot["params"][0] == {
        "name": "message",
        "type": "string",
        "default": None,
        "required": True,
        "choices": [],
        "description": None,
    }
    assert bot["params"][1:3] == [
        {
            "name": "level",
            "type": "choice",
            "default": "low",
            "required": False,
            "choices": ["low", "high"],
            "description": None,
        },
        {
            "name": "dry_run",
            "type": "boolean",
            "default": True,
            "required": False,
            "choices": [],
            "description": "print only",
        },
    ]
    assert [(p["name"], p["type"], p["required"]) for p in bot["params"][3:]] == [
        ("count", "integer", False),
        ("ratio", "number", False),
    ]
    assert bot["triggers"] == [{"type": "manual", "params": bot["params"], "extra": {}}]
    schemas = schema["components"]["schemas"]
    assert schemas["Bot"]["properties"]["params"]["items"] == {"$ref": "#/components/schemas/Param"}
    assert schemas["Param"]["properties"]["type"]["enum"] == [
        "string",
        "integer",
        "number",
        "boolean",
        "choice",
    ]
    assert set(schemas["Param"]["required"]) == set(bot["params"][0])


async def test_defaults_are_filled_in_before_rendering(open_agented: OpenAgented) -> None:
    async with server(open_agented) as (ag, client):
        plain = await client.post(
            "/bots/deploy/runs", json={"params": {"message": "hi"}}, headers=AUTH
        )
        typed = await client.post(
            "/bots/deploy/runs",
            json={
                "params": {
                    "message": "",
                    "level": "high",
                    "dry_run": False,
                    "count": 3,
                    "ratio": 2,
                }
            },
            headers=AUTH,
        )
        assert (plain.status_code, typed.status_code) == (202, 202)
        first = await said(ag, plain.json()["execution_id"])
        second = await said(ag, typed.json()["execution_id"])
        shown = (await client.get(plain.json()["url"], headers=AUTH)).json()
    assert first == (
        {"message": "hi", "level": "low", "dry_run": True, "ratio": 0.5},
        ["hi|low|true||0.5"],
    )
    assert second == (
        {"message": "", "level": "high", "dry_run": False, "count": 3, "ratio": 2},
        ["|high|false|3|2"],
    )
    assert shown["params"] == first[0]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({}, ["missing required parameter 'message'"]),
        ({"message": 7}, ["parameter 'message': value must be a string; got 7"]),
        (
            {"message": "x", "level": "mid"},
            ["parameter 'level': value must be one of 'low', 'high'; got 'mid'"],
        ),
        (
            {"message": "x", "dry_run": "true"},
            ["parameter 'dry_run': value must be true or false; got 'true'"],
        ),
        (
            {"message": "x", "count": "3"},
            ["parameter 'count': value must be an integer; got '3'"],
        ),
        ({"message": "x", "count": True}, ["parameter 'count': value must be an integer"]),
        ({"message": "x", "count": 2.5}, ["parameter 'count': value must be an integer"]),
        ({"message": "x", "ratio": None}, ["parameter 'ratio': value must be a number; got null"]),
        ({"message": "x", "lvl": "high"}, ["unknown parameter(s) lvl; declared: message,"]),
        (
            {"level": 1, "count": "a"},
            [
                "missing required parameter 'message'",
                "parameter 'level': value must be one of",
                "parameter 'count': value must be an integer",
            ],
        ),
    ],
)
async def test_bad_params_are_a_400_naming_them_and_change_nothing(
    open_agented: OpenAgented, params: dict[str, Any], words: list[str]
) -> None:
    async with server(open_agented) as (ag, client):
        response = await client.post("/bots/deploy/runs", json={"params": params}, headers=AUTH)
        without_body = await client.post("/bots/deploy/runs", headers=AUTH)
        assert (await ag.list())[0] == []
    assert response.status_code == 400 and response.json()["error"] == "bad_request"
    message = response.json()["message"]
    for part in words:
        assert part in message
    assert message.count("\n") == len(words) - 1  # one line per problem
    assert without_body.status_code == 400
    assert "missing required parameter 'message'" in without_body.json()["message"]
