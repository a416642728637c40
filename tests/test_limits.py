"""Surviving limits: cooldowns, fallback chains, retries at the reset time (injectable clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agented_core import (
    Account,
    Agented,
    Bot,
    ErrorKind,
    ManualTrigger,
    Status,
    StoreError,
    hookimpl,
)
from agented_core.config import Config
from agented_core.models import ChainEntry
from agented_core.providers import Provider, ShellProvider
from conftest import FAKE_CLI

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class AltShell(ShellProvider):
    name: ClassVar[str] = "alt"


class AltPlugin:
    @hookimpl
    def agented_providers(self) -> list[Provider]:
        return [AltShell()]


def account(name: str, provider: str = "shell", **env: str) -> Account:
    return Account(name=name, provider=provider, env={"FAKE_LABEL": name, **env})


def limited_bot(chain: list[str], max_attempts: int = 4, **fields: Any) -> Bot:
    first, *rest = chain
    provider, _, acct = first.partition(":")
    return Bot(
        name="nightly",
        provider=provider,
        account=acct or None,
        fallback=tuple(ChainEntry(*[*e.split(":"), None][:2]) for e in rest),  # type: ignore[arg-type]
        command=(FAKE_CLI, "outcome"),
        options={"format": "events"},
        max_attempts=max_attempts,
        timeout=60,
        triggers=(ManualTrigger(),),
        **fields,
    )


async def events_of(ag: Agented, execution_id: str) -> list:
    return [e async for e in ag.events(execution_id)]


async def settle(ag: Agented, execution_id: str, status: Status):
    """Wait until the execution is in ``status`` (no clock involved: the run's own pace)."""
    import anyio

    with anyio.fail_after(30):
        while True:
            execution = await ag.get(execution_id)
            if execution.status is status and (
                status is not Status.WAITING or execution_id not in ag.supervisor
            ):
                return execution  # a waiting run counts once its drive has let go of it
            if execution.status.terminal:
                return execution
            await anyio.sleep(0.02)


async def test_quota_on_the_first_account_then_success_on_the_second(db_url: str) -> None:
    reset = T0 + timedelta(hours=2)
    config = Config(
        accounts={
            "work": account("work", FAKE_OUTCOME="quota", FAKE_RESET=reset.isoformat()),
            "personal": account("personal"),
        }
    )
    bot = limited_bot(["shell:work", "shell:personal"])
    async with Agented.open(
        db_url, config=config, bots=[bot], entry_points=False, clock=Clock(), wake_interval=3600
    ) as ag:
        execution = await ag.run("nightly")
        done = await ag.wait(execution.id, timeout=30)
        events = await events_of(ag, execution.id)
        cooldown = await ag.store.get_state("cooldown:shell:work")
    assert done.status is Status.SUCCEEDED
    assert done.attempt == 2 and done.account == "personal"
    assert [(a.account, a.error_kind, a.decision) for a in done.attempts] == [
        ("work", ErrorKind.QUOTA, done.attempts[0].decision),
        ("personal", None, "done"),
    ]
    assert "cools down until 2026-11-26T05:00:00+00:00" in (done.attempts[0].decision or "")
    assert done.attempts[0].reset_at == reset
    limits = [e for e in events if e.kind == "rate_limit"]
    assert [(e.data["action"], e.data["account"]) for e in limits] == [
        ("stop", "work"),
        ("switch", "work"),
    ]
    assert "done on personal" in [e.text for e in events]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.attempt for e in events} == {0, 1, 2}  # 0: queued, before any attempt
    running = [e for e in events if e.kind == "status" and e.text == "running"]
    assert running[1].data["reason"] == "attempt 2 on shell:personal after quota"
    assert cooldown["until"] == reset.isoformat()


async def test_every_account_limited_waits_and_resumes_at_the_reset(
    db_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    ok = tmp_path / "limit-lifted"
    resets = {"work": T0 + timedelta(hours=3), "personal": T0 + timedelta(hours=1)}
    config = Config(
        accounts={
            name: account(
                name, FAKE_OUTCOME="quota", FAKE_RESET=at.isoformat(), FAKE_OK_FILE=str(ok)
            )
            for name, at in resets.items()
        }
    )
    bot = limited_bot(["shell:work", "shell:personal"])
    async with Agented.open(
        db_url,
        config=config,
        bots=[bot],
        entry_points=False,
        clock=clock,
        wake_interval=3600,
        wake=False,
    ) as ag:
        execution = await ag.run("nightly")
        waiting = await settle(ag, execution.id, Status.WAITING)
        assert waiting.status is Status.WAITING
        assert waiting.retry_at == resets["personal"]  # the earliest reset
        assert await ag.wake_due() == []  # not yet
        clock.now = resets["personal"] + timedelta(seconds=1)
        ok.touch()
        assert await ag.wake_due() == [execution.id]
        done = await ag.wait(execution.id, timeout=30)
        events = await events_of(ag, execution.id)
    assert done.status is Status.SUCCEEDED
    assert done.account == "personal" and done.attempt == 3
    statuses = [e.text for e in events if e.kind == "status"]
    assert statuses == ["queued", "running", "running", "waiting", "queued", "running", "succeeded"]
    wait_event = [e for e in events if e.kind == "rate_limit" and e.data["action"] == "wait"]
    assert wait_event[0].data["reset_at"] == resets["personal"].isoformat()


async def test_a_restart_while_waiting(db_url: str, tmp_path: Path) -> None:
    clock = Clock()
    ok = tmp_path / "limit-lifted"
    reset = T0 + timedelta(hours=1)
    config = Config(
        accounts={
            "work": account(
                "work", FAKE_OUTCOME="quota", FAKE_RESET=reset.isoformat(), FAKE_OK_FILE=str(ok)
            )
        }
    )
    bot = limited_bot(["shell:work"])
    async with Agented.open(
        db_url,
        config=config,
        bots=[bot],
        entry_points=False,
        clock=clock,
        wake_interval=3600,
        wake=False,
    ) as ag:
        execution = await ag.run("nightly")
        await settle(ag, execution.id, Status.WAITING)
    # the host is gone; hours later another one starts on the same store
    clock.now = reset + timedelta(minutes=5)
    ok.touch()
    async with Agented.open(
        db_url,
        config=config,
        bots=[bot],
        entry_points=False,
        clock=clock,
        wake_interval=3600,
        wake=False,
    ) as ag:
        assert (await ag.get(execution.id)).status is Status.WAITING  # recovery left it alone
        assert await ag.wake_due() == [execution.id]
        done = await ag.wait(execution.id, timeout=30)
    assert done.status is Status.SUCCEEDED
    assert done.attempt == 2


async def test_auth_failure_is_not_retried(db_url: str) -> None:
    config = Config(
        accounts={"work": account("work", FAKE_OUTCOME="auth"), "personal": account("personal")}
    )
    bot = limited_bot(["shell:work", "shell:personal"])
    async with Agented.open(
        db_url, config=config, bots=[bot], entry_points=False, clock=Clock(), wake_interval=3600
    ) as ag:
        execution = await ag.run("nightly")
        done = await ag.wait(execution.id, timeout=30)
    assert done.status is Status.FAILED
    assert done.error_kind is ErrorKind.AUTH
    assert done.attempt == 1
    assert done.error == "auth failure"


async def test_overload_retries_the_same_account_with_backoff(db_url: str, tmp_path: Path) -> None:
    clock = Clock()
    config = Config(
        accounts={
            "work": account(
                "work",
                FAKE_OUTCOME="overloaded",
                FAKE_COUNTER=str(tmp_path / "n"),
                FAKE_FAIL_TIMES="2",
            ),
            "personal": account("personal"),
        }
    )
    bot = limited_bot(["shell:work", "shell:personal"])
    async with Agented.open(
        db_url,
        config=config,
        bots=[bot],
        entry_points=False,
        clock=clock,
        wake_interval=3600,
        wake=False,
    ) as ag:
        execution = await ag.run("nightly")
        delays = []
        for _ in range(2):
            waiting = await settle(ag, execution.id, Status.WAITING)
            assert waiting.status is Status.WAITING and waiting.account == "work"
            delays.append((waiting.retry_at - clock.now).total_seconds())
            clock.now = waiting.retry_at
            assert await ag.wake_due() == [execution.id]
        done = await ag.wait(execution.id, timeout=30)
    assert done.status is Status.SUCCEEDED
    assert [a.account for a in done.attempts] == ["work", "work", "work"]
    assert 1.0 <= delays[0] <= 2.0 and 2.0 <= delays[1] <= 4.0  # 2s then 4s, jittered


async def test_a_tripped_breaker_moves_the_chain_on(db_url: str) -> None:
    clock = Clock()
    config = Config(
        accounts={
            "flaky": account("flaky", FAKE_OUTCOME="network"),
            "steady": account("steady", provider="alt"),
        }
    )
    bot = limited_bot(["shell:flaky", "alt:steady"], max_attempts=6)
    async with Agented.open(
        db_url,
        config=config,
        bots=[bot],
        plugins=[AltPlugin()],
        entry_points=False,
        clock=clock,
        wake_interval=3600,
        wake=False,
    ) as ag:
        execution = await ag.run("nightly")
        for _ in range(3):
            waiting = await settle(ag, execution.id, Status.WAITING)
            assert waiting.status is Status.WAITING
            clock.now = waiting.retry_at
            assert await ag.wake_due() == [execution.id]
        done = await ag.wait(execution.id, timeout=30)
        breaker = await ag.store.get_state("breaker:shell")
    assert done.status is Status.SUCCEEDED
    assert [a.account for a in done.attempts] == ["flaky"] * 3 + ["steady"]
    assert "failed 3 times" in breaker["reason"]


async def test_max_attempts_caps_everything(db_url: str, tmp_path: Path) -> None:
    clock = Clock()
    config = Config(accounts={"work": account("work", FAKE_OUTCOME="overloaded")})
    bot = limited_bot(["shell:work"], max_attempts=2)
    async with Agented.open(
        db_url,
        config=config,
        bots=[bot],
        entry_points=False,
        clock=clock,
        wake_interval=3600,
        wake=False,
    ) as ag:
        execution = await ag.run("nightly")
        waiting = await settle(ag, execution.id, Status.WAITING)
        clock.now = waiting.retry_at
        await ag.wake_due()
        done = await ag.wait(execution.id, timeout=30)
    assert done.status is Status.FAILED
    assert done.error_kind is ErrorKind.OVERLOADED
    assert done.error.startswith("gave up after 2 attempt(s) (max_attempts)")


async def test_429_in_a_diff_of_a_good_run_runs_once(db_url: str) -> None:
    script = (
        "import json\n"
        "def say(kind, text=None, **data):\n"
        "    print(json.dumps(dict(kind=kind, text=text, data=data)))\n"
        "say('text', '-    raise HTTPError(429, \"rate limit exceeded\")')\n"
        "say('text', 'Error: 429 Too Many Requests (in the test fixture)')\n"
        "say('result', ok=True, text='fixed the retry')\n"
    )
    bot = Bot(
        name="fixer",
        command=("python3", "-c", script),
        options={"format": "events"},
        triggers=(ManualTrigger(),),
    )
    async with Agented.open(db_url, bots=[bot], entry_points=False) as ag:
        execution = await ag.run("fixer")
        done = await ag.wait(execution.id, timeout=30)
    assert done.status is Status.SUCCEEDED
    assert done.attempt == 1 and len(done.attempts) == 1


async def test_cancel_a_waiting_execution(db_url: str) -> None:
    reset = T0 + timedelta(hours=1)
    config = Config(
        accounts={"work": account("work", FAKE_OUTCOME="quota", FAKE_RESET=reset.isoformat())}
    )
    bot = limited_bot(["shell:work"])
    async with Agented.open(
        db_url, config=config, bots=[bot], entry_points=False, clock=Clock(), wake_interval=3600
    ) as ag:
        execution = await ag.run("nightly")
        await settle(ag, execution.id, Status.WAITING)
        await ag.cancel(execution.id)
        done = await ag.wait(execution.id, timeout=10)
    assert done.status is Status.CANCELLED


async def test_a_wake_that_fails_to_start_the_run_lets_it_be_woken_again(
    db_url: str, tmp_path: Path
) -> None:
    """Waking takes a claim on (execution, retry_at) so one process restarts it; when that
    restart fails (the store out of reach for its queued status), the claim is given back,
    so the execution is woken at a next look, not left waiting for a day."""
    clock = Clock()
    ok = tmp_path / "limit-lifted"
    reset = T0 + timedelta(hours=1)
    config = Config(
        accounts={
            "work": account(
                "work", FAKE_OUTCOME="quota", FAKE_RESET=reset.isoformat(), FAKE_OK_FILE=str(ok)
            )
        }
    )
    bot = limited_bot(["shell:work"])
    async with Agented.open(
        db_url,
        config=config,
        bots=[bot],
        entry_points=False,
        clock=clock,
        wake_interval=3600,
        wake=False,
    ) as ag:
        execution = await ag.run("nightly")
        await settle(ag, execution.id, Status.WAITING)
        clock.now = reset + timedelta(minutes=5)
        ok.touch()
        launch = ag.supervisor.launch

        async def unreachable(*args: Any, **kwargs: Any) -> None:
            raise StoreError("the store is out of reach")

        ag.supervisor.launch = unreachable  # type: ignore[method-assign]
        with pytest.raises(StoreError):
            await ag.wake_due()
        ag.supervisor.launch = launch  # type: ignore[method-assign]
        assert await ag.wake_due() == [execution.id]
        done = await ag.wait(execution.id, timeout=30)
    assert done.status is Status.SUCCEEDED
