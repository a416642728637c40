"""Leases in one process: a run taken over by another process is fenced, a live one never is."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from attrs import evolve

from agented_core import Agented, Status
from agented_core.run._process import group_alive
from agented_core.store.sqlite import SQLiteStore
from conftest import shell_bot
from http_support import wait_until

pytestmark = pytest.mark.anyio


async def test_a_run_taken_over_elsewhere_writes_nothing_more_and_is_stopped(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "agented.db")
    bot = shell_bot("sleeper", "sleep", "30")
    async with Agented.open(
        f"sqlite:///{db}", bots=[bot], entry_points=False, heartbeat_interval=0.1
    ) as ag:
        execution = await ag.run("sleeper")
        await wait_until(lambda: _running(ag, execution.id), timeout=10)
        await wait_until(lambda: _stored(ag, execution.id, 3), timeout=10)  # "started" too
        pgid = (await ag.store.get_execution(execution.id)).pgid  # type: ignore[union-attr]
        assert pgid is not None
        # another process took it over (its lease ran out, say) and runs attempt 2
        other = SQLiteStore(db)
        await other.open()
        try:
            stored = await other.get_execution(execution.id)
            assert stored is not None
            taken = evolve(stored, owner="elsewhere:1:1:boot:ns", attempt=2)
            await other.save_execution(taken)
            last = await other.last_seq(execution.id)
            with anyio.fail_after(10):
                while execution.id in ag.supervisor:
                    await anyio.sleep(0.05)
            after = await other.get_execution(execution.id)
            assert after is not None
            assert after.owner == "elsewhere:1:1:boot:ns" and after.status is Status.RUNNING
            assert after.attempt == 2
            extra = await other.read_events(execution.id, after=last)
            assert extra == [], extra  # not one event more
        finally:
            await other.close()
        await wait_until(lambda: not group_alive(pgid), timeout=10)


async def test_a_run_longer_than_its_lease_keeps_it(tmp_path: Path) -> None:
    bot = shell_bot("napper", "sleep", "1.5")
    async with (
        Agented.open(
            f"sqlite:///{tmp_path / 'a.db'}",
            bots=[bot],
            entry_points=False,
            heartbeat_interval=0.1,
            stale_after=0.4,
        ) as ag,
        Agented.open(
            f"sqlite:///{tmp_path / 'a.db'}",
            bots=[bot],
            entry_points=False,
            heartbeat_interval=0.1,
            stale_after=0.4,
        ) as other,
    ):
        execution = await ag.run("napper")
        done = await ag.wait(execution.id, timeout=20)
        assert execution.id not in other.supervisor
    assert done.status is Status.SUCCEEDED and done.attempt == 1


async def _running(ag: Agented, execution_id: str) -> bool:
    return (await ag.get(execution_id)).status is Status.RUNNING


async def _stored(ag: Agented, execution_id: str, seq: int) -> bool:
    return await ag.store.last_seq(execution_id) >= seq


async def test_a_run_taken_over_during_its_checkout_writes_nothing_more(tmp_path: Path) -> None:
    """Recording the checkout is a write of the owner's like any other: fenced, so a run
    taken over while it checked out neither overwrites the new owner's record nor starts."""
    from agented_core import Bot, ManualTrigger
    from agented_core.config import Config, GitHubSettings
    from agented_core.models import Checkout, CheckoutKind
    from git_support import Remote

    remote = Remote(tmp_path)
    remote.push(remote.commit({"file.txt": "main\n"}), "refs/heads/main")
    started = tmp_path / "started"
    bot = Bot(
        name="nightly",
        provider="shell",
        command=("sh", "-c", f"touch {started}"),
        checkout=Checkout(CheckoutKind.REF, repo=remote.url, ref="main"),
        triggers=(ManualTrigger(),),
    )
    config = Config(github=GitHubSettings(workspaces_dir=str(tmp_path / "ws")))
    other_owner = "elsewhere:1:1:boot:ns"
    async with Agented.open(
        f"sqlite:///{tmp_path / 'agented.db'}", config=config, bots=[bot], entry_points=False
    ) as ag:
        checkout = ag.executor.workspaces.checkout

        async def taken_over_meanwhile(execution, bot, context):  # type: ignore[no-untyped-def]
            made = await checkout(execution, bot, context)
            stored = await ag.store.get_execution(execution.id)
            assert stored is not None
            await ag.store.save_execution(evolve(stored, owner=other_owner, attempt=2))
            return made

        ag.executor.workspaces.checkout = taken_over_meanwhile  # type: ignore[method-assign]
        execution = await ag.run("nightly")
        done = ag.supervisor.done(execution.id)
        assert done is not None
        with anyio.fail_after(20):
            await done.wait()
        after = await ag.store.get_execution(execution.id)
    assert after is not None
    assert (after.owner, after.attempt, after.status) == (other_owner, 2, Status.QUEUED)
    assert not started.exists()


async def test_a_run_whose_first_record_lands_during_a_renewal_is_not_fenced(
    tmp_path: Path,
) -> None:
    """A run is live here from its launch on, before its queued record is saved: a renewal
    that read the store just before that record landed finds it missing from the answer,
    then stored, and must not take that for a takeover (it fenced such runs under load)."""
    bot = shell_bot("sleeper", "sleep", "30")
    async with (
        Agented.open(
            f"sqlite:///{tmp_path / 'agented.db'}",
            bots=[bot],
            entry_points=False,
            heartbeat_interval=60,
        ) as ag,
        anyio.create_task_group() as tg,
    ):
        store = ag.store
        renew_leases, save_owned = store.renew_leases, store.save_owned
        renewed, landed = anyio.Event(), anyio.Event()

        async def renew_leases_then_wait(ids, owner, at):  # type: ignore[no-untyped-def]
            held = await renew_leases(ids, owner, at)
            if ids and not landed.is_set():
                renewed.set()
                await landed.wait()  # the queued record lands after the renewal's read
            return held

        async def save_owned_during_a_renewal(execution):  # type: ignore[no-untyped-def]
            if not landed.is_set():
                tg.start_soon(ag.ownership.renew, [execution.id])
                await renewed.wait()
            saved = await save_owned(execution)
            landed.set()
            return saved

        store.renew_leases = renew_leases_then_wait  # type: ignore[method-assign]
        store.save_owned = save_owned_during_a_renewal  # type: ignore[method-assign]
        execution = await ag.run("sleeper")
        await wait_until(lambda: _running(ag, execution.id), timeout=10)
        live = ag.supervisor.live.get(execution.id)
        assert live is not None and not live.fenced
        assert not ag.event_log.is_fenced(execution.id)
        await ag.cancel(execution.id)
        done = await ag.wait(execution.id, timeout=20)
    assert done.status is Status.CANCELLED and done.attempt == 1
