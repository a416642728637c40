"""``agented worker``: run executions from the shared queue, without HTTP.

A worker opens agented like a server does (recovery, waking, taking queued executions, leases)
but serves no HTTP and fires no schedules. On SIGTERM or SIGINT it stops taking runs, lets the
running ones finish within ``shutdown_grace``, then ends the rest by the interrupted rule
(queued again with ``retry_interrupted``, else ``interrupted``). SIGHUP reloads its
configuration, as it does a server's.
"""

from __future__ import annotations

import argparse
import logging
from typing import TextIO

import anyio

from agented_core import Agented, AgentedError, load_config
from agented_core.logs import configure
from agented_core.plugins import Plugins

log = logging.getLogger("agented.worker")


def cmd_worker(args: argparse.Namespace, out: TextIO) -> int:
    """Run a worker until a signal; 0 after a graceful stop."""
    if args.concurrency is not None and args.concurrency < 1:
        raise AgentedError(f"--concurrency must be at least 1, not {args.concurrency}")
    config = load_config(args.config, keys=Plugins().config_keys())
    configure(args.log_format or config.settings.log_format)

    async def main() -> int:
        async with (
            Agented.open(config=config, concurrency=args.concurrency) as ag,
            anyio.create_task_group() as tg,
        ):
            await tg.start(ag.reload_on_sighup)  # before the banner: a SIGHUP then reloads
            limit = ag.supervisor.capacity
            print(f"agented worker {ag.owner}: up to {limit} runs at once", file=out, flush=True)
            signum = await ag.wait_for_signal()
            tg.cancel_scope.cancel()
            log.info("signal %d: no new runs; the running ones get their grace", signum)
        print("worker stopped", file=out, flush=True)
        return 0

    return anyio.run(main)
