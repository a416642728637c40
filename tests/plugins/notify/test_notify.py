"""agented-notify against a loopback receiver that checks every callback's signature."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from agented_notify import BotNotify, NotifyPlugin, sign, verify
from hypothesis import given
from hypothesis import strategies as st
from receiver import Receiver, receiver

from agented_core import Agented, Bot, ConfigError, ManualTrigger, Status, TriggerKind
from agented_core.config import Config, HttpSettings, read_config
from agented_core.plugins import Plugins
from conftest import FAKE_CLI

pytestmark = pytest.mark.anyio
PUBLIC = "https://bots.example.com/agented"
FAST = {"notify": {"retries": 2, "backoff": 0.01, "timeout": 5.0}}


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def bot(name: str, command: list[str], **notify: Any) -> Bot:
    return Bot(
        name=name,
        command=tuple(command),
        triggers=(ManualTrigger(params=("s",)),) if "{params.s}" in command else (ManualTrigger(),),
        extra={"notify": BotNotify(**notify)},
        max_attempts=1,
    )


def config(*bots: Bot, db: str, **extra: Any) -> Config:
    from agented_core.config import AgentedSettings

    return Config(
        settings=AgentedSettings(database=db),
        http=HttpSettings(public_url=PUBLIC),
        bots={b.name: b for b in bots},
        extra={**FAST, **extra},
    )


def channels(hook: Receiver, **more: Any) -> dict[str, Any]:
    return {
        "callback_url": f"{hook.url}/hook",
        "callback_secret_env": "HOOK_SECRET",
        "failure_streak": 0,
        "slow_factor": 0,
        **more,
    }


ENV = {"HOOK_SECRET": "s3cret"}


async def run(ag: Agented, name: str, **params: str) -> Any:
    return await ag.wait((await ag.run(name, params or None)).id, timeout=30)


async def test_a_failed_run_reaches_slack_and_the_signed_callback_with_its_link(
    hook: Receiver, tmp_path: Path
) -> None:
    env = {**ENV, "SLACK_URL": f"{hook.url}/slack"}
    failing = bot(
        "nightly", ["sh", "-c", "exit 3"], slack_webhook_env="SLACK_URL", **channels(hook)
    )
    cfg = config(failing, db=f"sqlite:///{tmp_path / 'a.db'}")
    async with Agented.open(config=cfg, plugins=[NotifyPlugin(env)], entry_points=False) as ag:
        done = await run(ag, "nightly")
        kinds = [e.kind for e in await ag.store.read_events(done.id)]
    assert done.status is Status.FAILED and "error" not in kinds
    by_path = {r.path: r for r in hook.wait_for(2)}
    slack = json.loads(by_path["/slack"].body)
    assert by_path["/slack"].signed is None
    assert f"<{PUBLIC}/ui/executions/{done.id}|open>" in slack["text"]
    assert "nightly failed" in slack["text"]
    call = by_path["/hook"]
    assert call.signed is True
    assert call.headers["X-Agented-Event"] == "execution.finished"
    body = json.loads(call.body)
    assert body["url"] == f"{PUBLIC}/ui/executions/{done.id}"
    assert body["execution"]["id"] == done.id and body["execution"]["status"] == "failed"
    assert body["execution"]["duration_seconds"] >= 0


async def test_retries_with_backoff_then_delivers_once(hook: Receiver, tmp_path: Path) -> None:
    hook.answers = [500, 503]
    ok = bot("ok", ["true"], on=["succeeded"], **channels(hook))
    cfg = config(ok, db=f"sqlite:///{tmp_path / 'a.db'}")
    async with Agented.open(config=cfg, plugins=[NotifyPlugin(ENV)], entry_points=False) as ag:
        done = await run(ag, "ok")
        kinds = [e.kind for e in await ag.store.read_events(done.id)]
    got = hook.wait_for(3)
    assert len(got) == 3 and all(r.signed for r in got)
    assert len({r.headers["X-Agented-Delivery"] for r in got}) == 1  # one notification
    assert done.status is Status.SUCCEEDED and "error" not in kinds


SLOW = {"notify": {"retries": 1, "backoff": 1.0, "timeout": 5.0}}  # a retry 1 s later


async def test_a_slow_delivery_does_not_hold_up_wait_and_is_finished_at_close(
    hook: Receiver, tmp_path: Path
) -> None:
    hook.answers = [500]
    ok = bot("ok", ["true"], on=["succeeded"], **channels(hook))
    cfg = config(ok, db=f"sqlite:///{tmp_path / 'a.db'}", **SLOW)
    plugin = NotifyPlugin(ENV, hook_wait=0.05)
    async with Agented.open(config=cfg, plugins=[plugin], entry_points=False) as ag:
        done = await run(ag, "ok")
        assert len(hook.received) <= 1  # the retry is a second away: wait did not wait for it
        assert done.status is Status.SUCCEEDED
    # closing gave the delivery its time: the retry went out and got its 200
    assert len(hook.received) == 2 and len(hook.wait_for(2)) == 2


async def test_a_delivery_still_under_way_at_close_is_given_up_after_the_drain_timeout(
    hook: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hook.answers = [500]
    ok = bot("ok", ["true"], on=["succeeded"], **channels(hook))
    cfg = config(ok, db=f"sqlite:///{tmp_path / 'a.db'}", **SLOW)
    plugin = NotifyPlugin(ENV, hook_wait=0.05, drain_timeout=0.05)
    async with Agented.open(config=cfg, plugins=[plugin], entry_points=False) as ag:
        await run(ag, "ok")
        await anyio.to_thread.run_sync(hook.wait_for, 1)  # the first try, answered 500
    assert len(hook.received) == 1  # cancelled in its backoff, before the retry
    assert "given up" in caplog.text


async def test_a_failed_delivery_is_recorded_on_the_execution_and_changes_nothing(
    hook: Receiver, tmp_path: Path
) -> None:
    hook.answers = [404]
    ok = bot("ok", ["true"], on=["succeeded"], slack_webhook_env="NOT_SET", **channels(hook))
    cfg = config(ok, db=f"sqlite:///{tmp_path / 'a.db'}")
    async with Agented.open(config=cfg, plugins=[NotifyPlugin(ENV)], entry_points=False) as ag:
        done = await run(ag, "ok")
        # recorded after the final status event (followers stop there): read from the store
        errors = [e for e in await ag.store.read_events(done.id) if e.kind == "error"]
        stored = await ag.store.get_execution(done.id)
    assert len(hook.wait_for(1)) == 1  # a 404 is not retried
    assert done.status is Status.SUCCEEDED and stored is not None
    assert stored.status is Status.SUCCEEDED
    [error] = errors
    assert error.data["kind"] == "plugin" and error.data["hook"] == "agented_execution_finished"
    message = error.data["message"]
    assert "NOT_SET is not set" in message and "answered 404" in message
    assert "s3cret" not in message and hook.url not in message


async def test_statuses_not_chosen_send_nothing(hook: Receiver, tmp_path: Path) -> None:
    ok = bot("ok", ["true"], **channels(hook))  # on: the default, failures only
    cfg = config(ok, db=f"sqlite:///{tmp_path / 'a.db'}")
    async with Agented.open(config=cfg, plugins=[NotifyPlugin(ENV)], entry_points=False) as ag:
        assert (await run(ag, "ok")).status is Status.SUCCEEDED
    assert hook.received == []


async def test_health_alerts_failure_streak_slow_run_and_missed_schedule(
    hook: Receiver, tmp_path: Path
) -> None:
    flaky = bot("flaky", ["sh", "-c", "exit 1"], on=[], **channels(hook, failure_streak=2))
    slow = bot(
        "slow",
        [FAKE_CLI, "sleep", "{params.s}"],
        on=[],
        **channels(hook, slow_factor=3.0, slow_min_runs=2, slow_min_duration=0.0),
    )
    capped = Bot(
        name="capped",
        command=("true",),
        triggers=(ManualTrigger(),),
        max_cost_usd_per_day=0.0,
        extra={"notify": BotNotify(on=[], **channels(hook))},
    )
    cfg = config(flaky, slow, capped, db=f"sqlite:///{tmp_path / 'a.db'}")
    plugin = NotifyPlugin(ENV)
    async with Agented.open(config=cfg, plugins=[plugin], entry_points=False) as ag:
        for _ in range(3):
            assert (await run(ag, "flaky")).status is Status.FAILED
        streak = [json.loads(r.body) for r in hook.wait_for(1)]
        assert [b["event"] for b in streak] == ["alert.failure_streak"]
        assert streak[0]["alert"] == {"kind": "failure_streak", "count": 2}
        for _ in range(2):
            await run(ag, "slow", s="0")
        assert len(hook.received) == 1  # usual runs: no alert
        late = await run(ag, "slow", s="1.5")
        [alert] = [json.loads(r.body) for r in hook.wait_for(2)][1:]
        assert alert["event"] == "alert.slow_run" and alert["execution"]["id"] == late.id
        assert alert["alert"]["seconds"] > 3 * alert["alert"]["usual_seconds"]
        skipped = await ag.wait((await ag.run("capped", trigger=TriggerKind.SCHEDULE)).id, 30)
        assert skipped.status is Status.SKIPPED
        missed = json.loads(hook.wait_for(3)[2].body)
        assert missed["event"] == "alert.missed_schedule" and "spend cap" in missed["text"]
        fire = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
        await plugin.agented_schedule_missed("flaky", fire, "the host was down")
        down = json.loads(hook.wait_for(4)[3].body)
    assert down["alert"] == {
        "kind": "missed_schedule",
        "fire": fire.isoformat(),
        "reason": "the host was down",
    }
    assert all(r.signed for r in hook.received)


async def test_a_slow_run_is_alerted_while_it_still_runs_and_only_once(
    hook: Receiver, tmp_path: Path
) -> None:
    ticks = 'for i in $(seq "$0"); do echo tick; sleep 0.05; done'
    ticker = bot(
        "ticker",
        ["sh", "-c", ticks, "{params.s}"],
        on=[],
        **channels(hook, slow_factor=3.0, slow_min_runs=2, slow_min_duration=0.0),
    )
    cfg = config(ticker, db=f"sqlite:///{tmp_path / 'a.db'}")
    async with Agented.open(
        config=cfg, plugins=[NotifyPlugin(ENV)], entry_points=False, progress_interval=0.05
    ) as ag:
        for _ in range(2):
            await run(ag, "ticker", s="2")
        assert hook.received == []
        long = await ag.run("ticker", {"s": "60"})
        [alert] = [json.loads(r.body) for r in await anyio.to_thread.run_sync(hook.wait_for, 1)]
        running = await ag.store.get_execution(long.id)
        assert running is not None and not running.status.terminal  # sent while it ran
        assert alert["event"] == "alert.slow_run" and alert["execution"]["id"] == long.id
        assert alert["alert"]["running"] is True
        assert alert["alert"]["seconds"] > 3 * alert["alert"]["usual_seconds"]
        assert (await ag.wait(long.id, timeout=30)).status is Status.SUCCEEDED
    assert len(hook.received) == 1  # not again when it finished


def test_the_keys_are_checked_with_the_cores_error_quality() -> None:
    keys = Plugins([NotifyPlugin()], entry_points=False).config_keys()
    good = read_config(
        {
            "notify": {"retries": 1},
            "bots": {
                "b": {
                    "command": ["true"],
                    "notify": {"on": ["failed"], "slack_webhook_env": "SLACK_URL"},
                }
            },
        },
        keys=keys,
    )
    assert good.bots["b"].extra["notify"].slack_webhook_env == "SLACK_URL"
    assert good.extra["notify"] == {"retries": 1}
    for notify, words in [
        ({"on": ["failed"], "slak_webhook_env": "X"}, "did you mean 'slack_webhook_env'"),
        ({"on": ["bogus"], "slack_webhook_env": "X"}, "not a final status: bogus"),
        ({"on": ["failed"]}, "no channel"),
        ({"callback_url": "https://x.example/h"}, "go together"),
        ({"callback_url": "ftp://x", "callback_secret_env": "S"}, "http(s) URL"),
        ({"slack_webhook_env": "https://hooks.slack.com/x"}, "name of an environment variable"),
    ]:
        with pytest.raises(ConfigError) as bad:
            read_config({"bots": {"b": {"command": ["true"], "notify": notify}}}, keys=keys)
        assert words in str(bad.value) and "notify" in str(bad.value), str(bad.value)


secrets = st.text(min_size=1, max_size=40)


@given(secret=secrets, body=st.binary(max_size=500), stamp=st.integers(0, 10**11))
def test_a_signature_verifies_and_any_change_breaks_it(
    secret: str, body: bytes, stamp: int
) -> None:
    signature = sign(secret, stamp, body)
    assert verify(secret, str(stamp), body, signature, now=stamp)
    assert not verify(secret, str(stamp), body + b"x", signature, now=stamp)
    assert not verify(secret + "x", str(stamp), body, signature, now=stamp)
    assert not verify(secret, str(stamp + 1), body, signature, now=stamp)
    assert not verify(secret, str(stamp), body, signature, now=stamp + 301)  # too old: a replay
    assert not verify(secret, f" {stamp}", body, signature, now=stamp)
