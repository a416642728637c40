"""The shared follower behind the SSE route: one per execution, whatever the clients do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from agented_core import Agented, Event
from agented_core.broker import LocalBroker
from agented_http.fanout import Channel, Fanout
from conftest import OpenAgented, shell_bot
from http_support import wait_until

pytestmark = pytest.mark.anyio


def encode(event: Event) -> bytes:
    return f"{event.seq}:{event.kind}".encode()


def seq(frame: bytes) -> int:
    return int(frame.split(b":")[0])


def subscribers(ag: Agented, execution_id: str) -> int:
    broker = ag.event_log.broker
    assert isinstance(broker, LocalBroker)
    return broker.followers(execution_id)


@pytest.fixture
def lines(tmp_path: Path) -> Path:
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(1, 31)))
    return path


def test_the_window_keeps_the_most_recent_frames() -> None:
    channel = Channel("x", after=10, window=3)
    assert channel.since(10) == [] and channel.covers(10)
    for n in range(11, 20):
        channel.publish(n, str(n).encode())
    assert channel.last == 19
    assert [s for s, _ in channel.since(17) or []] == [18, 19]
    assert channel.since(19) == [] and channel.since(25) == []
    assert channel.since(10) is None  # 11 has left the window
    assert len(channel.seqs) <= 6  # trimmed to the window, amortized


async def test_clients_share_one_follower_and_each_gets_exactly_its_part(
    open_agented: OpenAgented, lines: Path
) -> None:
    async with open_agented([shell_bot("counter", "lines", str(lines), "0.02")]) as ag:
        fanout = Fanout(ag, encode, window=4)
        execution = await ag.run("counter")
        got: dict[str, list[int]] = {}
        peak = [0]

        async def client(name: str, after: int, stop_at: int | None = None) -> None:
            got[name] = []
            frames: AsyncIterator[bytes] = fanout.follow(execution.id, after)
            async for frame in frames:
                got[name].append(seq(frame))
                peak[0] = max(peak[0], subscribers(ag, execution.id))
                if stop_at is not None and seq(frame) >= stop_at:
                    await frames.aclose()  # type: ignore[attr-defined]
                    return

        async with anyio.create_task_group() as tg:
            for name in ("a", "b", "c"):
                tg.start_soon(client, name, 0)
            tg.start_soon(client, "quits", 0, 10)
            await wait_until(lambda: len(got.get("a", ())) >= 15)
            # joins late, from the start: catches up alone, then joins the window
            tg.start_soon(client, "late", 0)
            tg.start_soon(client, "resumes", 12)
        done = await ag.wait(execution.id, timeout=20)
        await wait_until(lambda: subscribers(ag, execution.id) == 0)
    everything = list(range(1, done.last_seq + 1))
    for name in ("a", "b", "c", "late"):
        assert got[name] == everything, name
    assert got["resumes"] == everything[12:]
    assert got["quits"] == everything[:10]
    # one shared follower, plus at most the two that caught up alone
    assert peak[0] <= 3
    assert fanout.channels == {}


async def test_the_puller_leaving_does_not_stall_the_others(
    open_agented: OpenAgented, lines: Path
) -> None:
    async with open_agented([shell_bot("counter", "lines", str(lines), "0.03")]) as ag:
        fanout = Fanout(ag, encode)
        execution = await ag.run("counter")
        got: list[int] = []

        async def stays() -> None:
            async for frame in fanout.follow(execution.id, 0):
                got.append(seq(frame))

        async with anyio.create_task_group() as tg:
            tg.start_soon(stays)
            for _ in range(5):  # clients that leave while they may be pulling
                with anyio.move_on_after(0.05):
                    async for _frame in fanout.follow(execution.id, 0):
                        pass
        done = await ag.wait(execution.id, timeout=20)
    assert got == list(range(1, done.last_seq + 1))
    assert fanout.channels == {}
