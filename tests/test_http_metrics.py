"""``GET /metrics`` over a real socket, after real runs, parsed with prometheus-client's parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agented_core import Account, Bot, ChainEntry, ManualTrigger, Status
from agented_core.config import Config
from agented_http import Settings, create_app
from conftest import FAKE_CLI, OpenAgented, shell_bot
from http_support import KEY, SECRET, serving, sign, wait_until

pytestmark = pytest.mark.anyio

METRICS_KEY = "metrics-key-3456"
VIEWER_KEY = "viewer-key-9012"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found[(name, frozenset(labels.items()))]


def names(found: Iterable[tuple[str, frozenset[tuple[str, str]]]]) -> set[str]:
    return {name for name, _ in found}


async def _scrape(client: httpx.AsyncClient, key: str = METRICS_KEY) -> httpx.Response:
    return await client.get("/metrics", headers={"X-API-Key": key})


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRETS", SECRET)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


async def test_metrics_after_real_runs(open_agented: OpenAgented, tmp_path: Path) -> None:
    bots = [
        shell_bot("spender", "usage", "2", "0.25", "10", options={"format": "events"}),
        shell_bot("failing", "exit", "3", "boom"),
        shell_bot("sleeper", "sleep", "30"),
    ]
    settings = Settings(api_keys=(KEY,), metrics_keys=(METRICS_KEY,), viewer_keys=(VIEWER_KEY,))
    async with open_agented(bots) as ag:
        app = create_app(ag, settings)
        async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
            admin = {"X-API-Key": KEY}
            ids = []
            for bot in ("spender", "failing"):
                answer = await client.post(f"/bots/{bot}/runs", headers=admin)
                ids.append(answer.json()["execution_id"])
            for execution_id in ids:
                await ag.wait(execution_id, timeout=20)
            sleeping = (await client.post("/bots/sleeper/runs", headers=admin)).json()
            body = json.dumps({"action": "opened"}).encode()
            headers = {
                "X-GitHub-Event": "ping",
                "X-GitHub-Delivery": "d-1",
                "X-Hub-Signature-256": sign(body),
                "Content-Type": "application/json",
            }
            await client.post("/webhooks/github", content=body, headers=headers)
            await client.post("/webhooks/github", content=body, headers=headers)  # duplicate
            bad = {**headers, "X-GitHub-Delivery": "d-2", "X-Hub-Signature-256": "sha256=00"}
            await client.post("/webhooks/github", content=body, headers=bad)
            following = f"/executions/{sleeping['execution_id']}/events.ndjson"
            async with client.stream(
                "GET", following, params={"follow": "true"}, headers=admin
            ) as stream:
                await anext(stream.aiter_lines())  # the stream is open and serving
                while_streaming = samples((await _scrape(client)).text)
            await wait_until(lambda: app.state.agented_http.streams == 0)
            scraped = await _scrape(client)
            as_admin = await _scrape(client, KEY)
            as_viewer = await _scrape(client, VIEWER_KEY)
            unauthenticated = await client.get("/metrics")
            await client.post(f"/executions/{sleeping['execution_id']}/cancel", headers=admin)
            await ag.wait(sleeping["execution_id"], timeout=20)

    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    assert as_admin.status_code == 200
    assert as_viewer.status_code == 403 and as_viewer.json()["role"] == "metrics"
    assert unauthenticated.status_code == 401
    found = samples(scraped.text)
    assert all(name.startswith("agented_") for name in names(found) if "agented" in name)
    assert value(found, "agented_executions_total", bot="spender", status="succeeded") == 1
    assert value(found, "agented_executions_total", bot="failing", status="failed") == 1
    assert value(found, "agented_run_duration_seconds_count", bot="spender") == 1
    assert value(found, "agented_queue_wait_seconds_count", bot="failing") == 1
    where = {"bot": "spender", "provider": "shell", "account": ""}
    assert value(found, "agented_tokens_total", **where, type="input") == 20
    assert value(found, "agented_cost_usd_total", **where) == pytest.approx(0.5)
    assert value(found, "agented_webhook_deliveries_total", source="github", outcome="ignored") == 1
    assert (
        value(found, "agented_webhook_deliveries_total", source="github", outcome="duplicate") == 1
    )
    assert (
        value(found, "agented_webhook_deliveries_total", source="github", outcome="rejected") == 1
    )
    active = {
        status: value(found, "agented_executions_active", bot="sleeper", status=status)
        for status in ("queued", "running", "paused", "waiting")
    }
    assert sum(active.values()) == 1 and active["paused"] == active["waiting"] == 0
    assert value(found, "agented_executions_active", bot="spender", status="running") == 0
    assert value(found, "agented_sse_clients") == 0
    assert value(while_streaming, "agented_sse_clients") == 1
    saves = [
        value(found, "agented_store_call_seconds_count", call=c)
        for c in ("save_execution", "save_owned")
    ]
    assert sum(saves) > 0  # an owner's saves are fenced ones (save_owned)
    assert KEY not in scraped.text and METRICS_KEY not in scraped.text


async def test_two_apps_over_one_agented_do_not_collide(open_agented: OpenAgented) -> None:
    async with open_agented([shell_bot("hello", "say", "hi")]) as ag:
        first = create_app(ag, Settings(api_keys=(KEY,)))
        second = create_app(ag, Settings(api_keys=(KEY,)))
        async with serving(first) as url, httpx.AsyncClient(base_url=url) as client:
            response = await client.get("/metrics", headers={"X-API-Key": KEY})
        assert response.status_code == 200
        assert second is not first


CHILD = """
import sys
from datetime import UTC, datetime, timedelta
from agented_core import Execution, Status
from agented_http.metrics import Metrics

metrics = Metrics()
if sys.argv[1] == "count":
    now = datetime.now(UTC)
    execution = Execution(
        id=sys.argv[2], bot="hello", trigger="manual", status=Status.SUCCEEDED,
        created_at=now - timedelta(seconds=3), started_at=now - timedelta(seconds=2),
        finished_at=now,
    )
    metrics.agented_execution_started(execution)
    metrics.agented_execution_finished(execution)
else:
    sys.stdout.write(metrics.exposition().decode())
"""


def test_multiprocess_mode_answers_for_every_process(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}

    def child(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, *args],
            env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return done.stdout

    child("count", "e1")
    child("count", "e2")  # another process, gone by now
    found = samples(child("show"))
    assert len(list(shared.glob("*.db"))) >= 2, "each process wrote its own file"
    assert value(found, "agented_executions_total", bot="hello", status="succeeded") == 2
    assert value(found, "agented_run_duration_seconds_count", bot="hello") == 2
    assert value(found, "agented_queue_wait_seconds_sum", bot="hello") == pytest.approx(2.0)


async def test_a_quota_and_the_account_switch_are_counted(open_agented: OpenAgented) -> None:
    reset = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    env = {"FAKE_OUTCOME": "quota", "FAKE_RESET": reset}
    config = Config(
        accounts={
            "work": Account(name="work", provider="shell", env=env),
            "personal": Account(name="personal", provider="shell"),
        }
    )
    bot = Bot(
        name="nightly",
        provider="shell",
        account="work",
        fallback=(ChainEntry("shell", "personal"),),
        command=(FAKE_CLI, "outcome"),
        options={"format": "events"},
        timeout=60,
        triggers=(ManualTrigger(),),
    )
    async with open_agented([bot], config=config) as ag:
        app = create_app(ag, Settings(api_keys=(KEY,)))
        async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
            started = await client.post("/bots/nightly/runs", headers={"X-API-Key": KEY})
            done = await ag.wait(started.json()["execution_id"], timeout=30)
            found = samples((await _scrape(client, KEY)).text)
    assert done.status is Status.SUCCEEDED and done.account == "personal"
    assert value(found, "agented_rate_limit_events_total", kind="quota", provider="shell") == 1
    assert value(found, "agented_executions_total", bot="nightly", status="succeeded") == 1
