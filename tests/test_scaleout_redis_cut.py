"""Redis cut off mid-run (through a loopback proxy): the run goes on, followers lose nothing."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from agented_core import Agented, Status
from scaleout_support import need_redis, processes, redis_url, start_worker, write_config
from services import REDIS_HOST, REDIS_PORT
from tcp_proxy import TcpProxy

pytestmark = pytest.mark.anyio


async def test_a_run_and_its_follower_go_on_through_a_redis_cut(tmp_path: Path) -> None:
    need_redis()
    with TcpProxy(REDIS_HOST, REDIS_PORT) as proxy:
        config = write_config(tmp_path, broker=redis_url(proxy.port), seconds=3.0, lines=600)
        with processes() as procs:
            await start_worker(procs, config)
            async with Agented.open(config=config, concurrency=0, wake=False, recover=False) as ag:
                execution = await ag.run("job")
                seen: list[int] = []
                with anyio.fail_after(40):
                    async with anyio.create_task_group() as tg:

                        async def follow() -> None:
                            async for event in ag.events(execution.id):
                                seen.append(event.seq)

                        tg.start_soon(follow)
                        while len(seen) < 100:
                            await anyio.sleep(0.01)
                        proxy.cut()
                        cut_at = len(seen)
                        await anyio.sleep(1.0)  # the outage itself, not a wait for something
                        proxy.restore()
                        before = proxy.accepted
                done = await ag.wait(execution.id, timeout=30)
                stored = [e.seq for e in await ag.store.read_events(execution.id)]
    assert done.status is Status.SUCCEEDED and done.attempt == 1
    assert cut_at < len(stored) - 100  # it was cut mid-run
    assert seen == stored  # every event once, in order
    assert proxy.accepted > before  # the worker and the follower came back to Redis
