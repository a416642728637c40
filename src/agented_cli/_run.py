"""``agented run`` and a local ``rerun``: a run in the foreground, events live; Ctrl-C cancels."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio

from agented_core import audit
from agented_core.agented import Agented
from agented_core.config import Config, load_config
from agented_core.errors import AgentedError
from agented_core.models import Execution, Status, TriggerKind
from agented_core.params import resolve
from agented_core.plugins import Plugins

from ._render import PlainRenderer, TerminalRenderer
from ._sources import LocalSource


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs as a mapping."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise AgentedError(f"--param takes KEY=VALUE, got {pair!r}")
        params[key] = value
    return params


def cmd_run(args: argparse.Namespace, out: TextIO, exit_code: Callable[[Status], int]) -> int:
    """Check everything first (nothing is written on a mistake), then run."""
    config = load_config(args.config, keys=Plugins().config_keys())
    pairs = parse_params(args.param)
    bot = config.bots.get(args.bot)
    if bot is None:
        known = ", ".join(sorted(config.bots)) or "none"
        raise AgentedError(f"no bot named {args.bot!r} in {config.path} (bots: {known})")
    context: dict[str, Any] = {}
    trigger = TriggerKind.MANUAL
    if args.payload or args.event:
        if not (args.payload and args.event):
            raise AgentedError("--payload and --event go together")
        from agented_core.triggers._github import build_context

        try:
            payload = json.loads(Path(args.payload).read_text())
        except (OSError, ValueError) as exc:
            raise AgentedError(f"cannot read payload {args.payload}: {exc}") from None
        context = build_context(args.event, payload, None)
        trigger = TriggerKind.GITHUB
    # command-line values are text: coerced per declared type, refused (exit 2) before any run
    params = resolve(
        bot.param_specs, pairs, bot=args.bot, text=True, complete=trigger is TriggerKind.MANUAL
    )

    async def start(ag: Agented) -> Execution:
        execution = await ag.run(args.bot, params, trigger=trigger, context=context)
        await audit.record(ag.store, "run", execution, audit.cli_actor())
        return execution

    status = anyio.run(foreground, config, start, _renderer(args, out))
    return exit_code(status)


def cmd_rerun_here(
    args: argparse.Namespace, out: TextIO, exit_code: Callable[[Status], int]
) -> int:
    """``agented rerun ID`` without ``--url``: the new execution runs here, like ``run``."""
    config = load_config(args.config, keys=Plugins().config_keys())

    async def start(ag: Agented) -> Execution:
        old = await LocalSource(ag).resolve(args.id)
        execution = await ag.rerun(old)
        await audit.record(ag.store, "rerun", execution, audit.cli_actor(), rerun_of=old)
        return execution

    status = anyio.run(foreground, config, start, _renderer(args, out))
    return exit_code(status)


def _renderer(args: argparse.Namespace, out: TextIO) -> PlainRenderer | TerminalRenderer:
    live = not (args.json or args.plain) and out.isatty()
    return TerminalRenderer(out) if live else PlainRenderer(out, as_json=args.json)


async def foreground(
    config: Config,
    start: Callable[[Agented], Awaitable[Execution]],
    renderer: PlainRenderer | TerminalRenderer,
) -> Status:
    """Start an execution with ``start``, show its events until it ends; its final status.

    Its id goes to stderr as soon as it exists (stdout carries the events), so another
    terminal can follow, pause or cancel it at once.
    """
    async with Agented.open(config=config, wake=False) as ag:
        execution = await start(ag)
        print(f"execution {execution.id}", file=sys.stderr, flush=True)
        async with anyio.create_task_group() as tg:

            async def on_signals() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    count = 0
                    async for _ in signals:
                        count += 1
                        if count > 1:
                            tg.cancel_scope.cancel()
                            return
                        print("\ncancelling (Ctrl-C again to stop waiting) ...", file=sys.stderr)
                        try:
                            await ag.cancel(execution.id)
                        except AgentedError:
                            pass

            async def ticker() -> None:
                while True:
                    await anyio.sleep(1)
                    renderer.tick()

            tg.start_soon(on_signals)
            tg.start_soon(ticker)
            try:
                async for event in ag.events(execution.id):
                    renderer.event(event)
            finally:
                renderer.close()
            tg.cancel_scope.cancel()
        final = await ag.get(execution.id)
    if isinstance(renderer, PlainRenderer) and not renderer.as_json:
        print(summary(final.status.value, final.error), file=sys.stderr)
    return final.status


def summary(status: str, error: str | None) -> str:
    """The last line of ``agented run``."""
    return f"{status}: {error}" if error and status != "succeeded" else status
