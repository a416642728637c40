"""GitHub and generic webhook deliveries through the core: checks, dedup, matching, the log."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from pathlib import Path

import pytest

from agented_core import Bot, GitHubTrigger, Status, WebhookTrigger
from agented_core.config import Config, HttpSettings, WebhookSource
from agented_core.errors import (
    BadPayload,
    InvalidSignature,
    NotFoundError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from conftest import FAKE_CLI, FIXTURES_DIR, OpenAgented

pytestmark = pytest.mark.anyio

SECRET = "s3cret-webhook"
WEBHOOKS = FIXTURES_DIR / "webhooks"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_headers(body: bytes, event: str, delivery: str, **extra: str) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(body),
        "Content-Type": "application/json",
        **extra,
    }


def review_bot(**trigger: object) -> Bot:
    return Bot(
        name="review",
        command=(FAKE_CLI, "say", "{pr.title}"),
        prompt="Review PR #{pr.number} in {repo.full_name}: {pr.title}",
        triggers=(GitHubTrigger(event="pull_request", **trigger),),  # type: ignore[arg-type]
    )


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRETS", f"old-secret,{SECRET}")
    monkeypatch.setenv("ALERTS_SECRET", "alert-key-123")


async def test_a_pull_request_starts_the_bot_once(open_agented: OpenAgented) -> None:
    body = (WEBHOOKS / "pull_request.opened.json").read_bytes()
    async with open_agented([review_bot(actions=["opened"])]) as ag:
        first = await ag.deliveries.github(body, github_headers(body, "pull_request", "d-1"))
        again = await ag.deliveries.github(body, github_headers(body, "pull_request", "d-1"))
        assert len(first.execution_ids) == 1
        execution = await ag.wait(first.execution_ids[0], timeout=20)
        events = [e async for e in ag.events(execution.id)]
        log = await ag.store.list_deliveries()
    assert execution.status is Status.SUCCEEDED
    assert execution.delivery_id == "d-1"
    payload = json.loads(body)
    assert payload["pull_request"]["title"] in [e.text for e in events]
    assert execution.prompt == (
        f"Review PR #{payload['number']} in {payload['repository']['full_name']}: "
        f"{payload['pull_request']['title']}"
    )
    assert again.duplicate and again.execution_ids == ()
    assert [entry["duplicate"] for entry in log] == [True, False]


async def test_form_encoded_bodies_and_rotated_secrets(
    open_agented: OpenAgented, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = (WEBHOOKS / "pull_request.opened.json").read_text()
    body = urllib.parse.urlencode({"payload": raw}).encode()
    headers = github_headers(body, "pull_request", "d-2")
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["X-Hub-Signature-256"] = sign(body, "old-secret")
    async with open_agented([review_bot()]) as ag:
        result = await ag.deliveries.github(body, headers)
    assert len(result.execution_ids) == 1


async def test_checks_come_in_order_and_change_nothing(open_agented: OpenAgented) -> None:
    body = (WEBHOOKS / "pull_request.opened.json").read_bytes()
    config = Config(http=HttpSettings(max_body_bytes=len(body) - 1))
    async with open_agented([review_bot()], config=config) as ag:
        with pytest.raises(PayloadTooLarge):  # size first, even with a bad signature
            await ag.deliveries.github(body, {"X-Hub-Signature-256": "sha256=00"})
    async with open_agented([review_bot()]) as ag:
        tampered = body.replace(b"opened", b"closed", 1)
        with pytest.raises(InvalidSignature):
            await ag.deliveries.github(tampered, github_headers(body, "pull_request", "d-3"))
        with pytest.raises(InvalidSignature):
            headers = github_headers(body, "pull_request", "d-3")
            del headers["X-Hub-Signature-256"]
            await ag.deliveries.github(body, headers)
        xml = b"<xml/>"
        with pytest.raises(UnsupportedMediaType):
            await ag.deliveries.github(
                xml, github_headers(xml, "pull_request", "d-4", **{"Content-Type": "text/xml"})
            )
        broken = b"{not json"
        with pytest.raises(BadPayload):
            await ag.deliveries.github(broken, github_headers(broken, "pull_request", "d-5"))
        items, _ = await ag.list()
        log = await ag.store.list_deliveries()
    assert items == [] and log == []


async def test_ping_and_unmatched_deliveries_are_logged_with_reasons(
    open_agented: OpenAgented,
) -> None:
    ping = (WEBHOOKS / "ping.json").read_bytes()
    sync = (WEBHOOKS / "pull_request.synchronize.json").read_bytes()
    async with open_agented([review_bot(actions=["opened"])]) as ag:
        pinged = await ag.deliveries.github(ping, github_headers(ping, "ping", "p-1"))
        unmatched = await ag.deliveries.github(sync, github_headers(sync, "pull_request", "s-1"))
    assert pinged.execution_ids == () and "ping" in (pinged.reason or "")
    assert unmatched.execution_ids == ()
    assert unmatched.skipped[0]["bot"] == "review"
    assert "synchronize" in unmatched.skipped[0]["reason"]


async def test_null_body_pr_and_every_fixture_is_handled(open_agented: OpenAgented) -> None:
    bots = [
        review_bot(),
        Bot(
            name="pushes",
            command=(FAKE_CLI, "say", "{push.branch}"),
            triggers=(GitHubTrigger(event="push"),),
        ),
    ]
    async with open_agented(bots) as ag:
        for index, path in enumerate(sorted(WEBHOOKS.glob("*.json"))):
            body = path.read_bytes()
            event = path.name.split(".")[0]
            result = await ag.deliveries.github(body, github_headers(body, event, f"f-{index}"))
            assert result.event == event
            for execution_id in result.execution_ids:
                done = await ag.wait(execution_id, timeout=20)
                assert done.status is Status.SUCCEEDED, (path.name, done.error)


async def test_dry_run_renders_prompts_and_reasons(open_agented: OpenAgented) -> None:
    payload = json.loads((WEBHOOKS / "pull_request.opened.json").read_text())
    other = Bot(
        name="closer",
        command=("true",),
        triggers=(GitHubTrigger(event="pull_request", actions=("closed",)),),
    )
    async with open_agented([review_bot(), other]) as ag:
        result = ag.deliveries.dry_run_github("pull_request", payload)
        items, _ = await ag.list()
    assert [m["bot"] for m in result.matches] == ["review"]
    assert result.matches[0]["prompt"].startswith(f"Review PR #{payload['number']}")
    assert result.skipped == [{"bot": "closer", "reason": result.skipped[0]["reason"]}]
    assert "opened" in result.skipped[0]["reason"]
    assert items == []


async def test_generic_source(open_agented: OpenAgented) -> None:
    config = Config(
        webhooks={
            "alerts": WebhookSource(
                name="alerts", secret_env="ALERTS_SECRET", delivery_header="X-Alert-Id"
            )
        }
    )
    bot = Bot(
        name="oncall",
        command=(FAKE_CLI, "say", "{payload.alert.name}"),
        triggers=(WebhookTrigger(source="alerts", filters={"alert.status": ("firing",)}),),
    )
    firing = json.dumps({"alert": {"name": "disk full", "status": "firing"}}).encode()
    resolved = json.dumps({"alert": {"name": "disk full", "status": "resolved"}}).encode()

    def headers(body: bytes, delivery: str) -> dict[str, str]:
        return {
            "X-Signature-256": sign(body, "alert-key-123"),
            "X-Alert-Id": delivery,
            "Content-Type": "application/json",
        }

    async with open_agented([bot], config=config) as ag:
        started = await ag.deliveries.generic("alerts", firing, headers(firing, "a1"))
        duplicate = await ag.deliveries.generic("alerts", firing, headers(firing, "a1"))
        filtered = await ag.deliveries.generic("alerts", resolved, headers(resolved, "a2"))
        with pytest.raises(InvalidSignature):
            await ag.deliveries.generic("alerts", firing, {"X-Signature-256": sign(firing)})
        with pytest.raises(NotFoundError):
            await ag.deliveries.generic("nope", firing, headers(firing, "a3"))
        done = await ag.wait(started.execution_ids[0], timeout=20)
        events = [e async for e in ag.events(done.id)]
    assert "disk full" in [e.text for e in events]
    assert duplicate.duplicate
    assert filtered.execution_ids == () and "resolved" in filtered.skipped[0]["reason"]


def test_fixture_folder_exists() -> None:
    assert len(list(Path(WEBHOOKS).glob("*.json"))) >= 8
