"""The ``agented`` command.

Exit codes of ``run`` follow the execution's status: 0 succeeded, 1 failed, 2 usage or config
error, 3 timed_out, 4 cancelled, 5 budget_exceeded, 6 waiting, 7 interrupted, 8 skipped.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio

from .agented import Agented
from .config import DEFAULT_CONFIG, Config, load_config
from .errors import AgentedError, ConfigError
from .models import Event, Status, TriggerKind
from .plugins import Plugins
from .validation import validate

EXIT_USAGE = 2
EXIT_CODES = {
    Status.SUCCEEDED: 0,
    Status.FAILED: 1,
    Status.TIMED_OUT: 3,
    Status.CANCELLED: 4,
    Status.BUDGET_EXCEEDED: 5,
    Status.WAITING: 6,
    Status.INTERRUPTED: 7,
    Status.SKIPPED: 8,
}


def exit_code(status: Status) -> int:
    """The exit code of ``agented run`` for an execution that ended in ``status``."""
    return EXIT_CODES.get(status, 1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agented", description="Run AI coding agents as bots.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def config_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            "-c",
            default=DEFAULT_CONFIG,
            metavar="F",
            help=f"config file (default: ./{DEFAULT_CONFIG})",
        )

    run = sub.add_parser("run", help="run a bot in the foreground, showing its events live")
    run.add_argument("bot", metavar="BOT")
    config_arg(run)
    run.add_argument(
        "--param", "-p", action="append", default=[], metavar="K=V", help="a parameter (repeat)"
    )
    run.add_argument("--payload", metavar="FILE", help="a GitHub webhook payload (JSON) to run on")
    run.add_argument("--event", metavar="NAME", help="the X-GitHub-Event of --payload")
    run.add_argument("--json", action="store_true", help="print each event as a JSON line")

    check = sub.add_parser("check", help="validate the configuration; run nothing")
    config_arg(check)

    prune = sub.add_parser("prune", help="delete what retention_days no longer keeps")
    config_arg(prune)
    prune.add_argument(
        "--older-than", type=int, metavar="DAYS", help="override retention_days for this run"
    )

    serve = sub.add_parser("serve", help="the reference HTTP server (uvicorn, one worker)")
    config_arg(serve)
    serve.add_argument("--host", metavar="H", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=8000, metavar="P", help="port (default: 8000; 0: any free)"
    )
    serve.add_argument(
        "--dev",
        action="store_true",
        help="unauthenticated development mode: no API key, 127.0.0.1 only",
    )

    sub.add_parser("version", help="versions of agented and of every plugin found")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``agented`` console script."""
    sys.exit(run_cli(argv))


def run_cli(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line and return its exit code."""
    out = out or sys.stdout
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    try:
        if args.command == "run":
            return _cmd_run(args, out)
        if args.command == "check":
            return _cmd_check(args, out)
        if args.command == "prune":
            return _cmd_prune(args, out)
        if args.command == "version":
            return _cmd_version(out)
        if args.command == "serve":
            return _cmd_serve(args, out)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except AgentedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


def _params(pairs: Sequence[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise AgentedError(f"--param takes KEY=VALUE, got {pair!r}")
        params[key] = value
    return params


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config)
    plugins = Plugins()
    problems = validate(config, plugins)
    errors = [p for p in problems if not p.warning]
    for problem in problems:
        print(f"{'warning' if problem.warning else 'error'}: {problem}", file=out)
    bots = len(config.bots)
    if errors:
        print(f"{len(errors)} problem(s) in {config.path}", file=out)
        return 1
    print(
        f"ok: {config.path}: {bots} bot(s), providers: {', '.join(sorted(plugins.providers))}",
        file=out,
    )
    return 0


def _cmd_prune(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config)
    if args.older_than is not None and args.older_than < 1:
        raise AgentedError("--older-than takes a whole number of days, at least 1")

    async def prune() -> int:
        async with Agented.open(config=config) as ag:
            return await ag.prune(args.older_than)

    days = args.older_than or config.settings.retention_days
    count = anyio.run(prune)
    print(f"pruned {count} execution(s) finished more than {days} day(s) ago", file=out)
    return 0


def _cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from agented_http import NoApiKeyError, serve
    except ImportError as exc:
        raise AgentedError(
            f"agented serve needs the HTTP extra: pip install 'agented[http]' ({exc})"
        ) from None
    config = load_config(args.config)
    problems = [p for p in validate(config, Plugins()) if not p.warning]
    if problems:
        raise ConfigError(problems)
    try:
        return serve(config, host=args.host, port=args.port, dev=args.dev, out=out)
    except (NoApiKeyError, ValueError, OverflowError, OSError) as exc:
        raise AgentedError(str(exc)) from None


def _cmd_version(out: TextIO) -> int:
    from . import __version__

    print(f"agented {__version__}", file=out)
    plugins = Plugins()
    for name, source in sorted(plugins.versions().items()):
        print(f"  plugin {name}: {source}", file=out)
    for error in plugins.errors:
        print(f"  error: {error}", file=out)
    return 0


def _cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config)
    params = _params(args.param)
    bot = config.bots.get(args.bot)
    if bot is None:
        known = ", ".join(sorted(config.bots)) or "none"
        raise AgentedError(f"no bot named {args.bot!r} in {config.path} (bots: {known})")
    unknown = sorted(set(params) - set(bot.manual_params))
    if unknown:
        declared = ", ".join(bot.manual_params) or "none"
        raise AgentedError(
            f"bot {args.bot!r} does not declare parameter(s) {', '.join(unknown)} "
            f"(declared: {declared})"
        )
    context: dict[str, Any] = {}
    trigger = TriggerKind.MANUAL
    if args.payload or args.event:
        if not (args.payload and args.event):
            raise AgentedError("--payload and --event go together")
        from .github import build_context

        try:
            payload = json.loads(Path(args.payload).read_text())
        except (OSError, ValueError) as exc:
            raise AgentedError(f"cannot read payload {args.payload}: {exc}") from None
        context = build_context(args.event, payload, None)
        trigger = TriggerKind.GITHUB
    return anyio.run(_run_async, config, args.bot, params, context, trigger, args.json, out)


async def _run_async(
    config: Config,
    bot: str,
    params: dict[str, str],
    context: dict[str, Any],
    trigger: TriggerKind,
    as_json: bool,
    out: TextIO,
) -> int:
    async with Agented.open(config=config, wake=False) as ag:
        ag.bot(bot)
        execution = await ag.run(bot, params, trigger=trigger, context=context)
        async with anyio.create_task_group() as tg:

            async def on_signals() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    count = 0
                    async for _ in signals:
                        count += 1
                        if count == 1:
                            print("cancelling (Ctrl-C again to stop waiting) ...", file=sys.stderr)
                            try:
                                await ag.cancel(execution.id)
                            except AgentedError:
                                pass
                        else:
                            tg.cancel_scope.cancel()
                            return

            tg.start_soon(on_signals)
            async for event in ag.events(execution.id):
                print(format_event(event, as_json), file=out, flush=True)
            tg.cancel_scope.cancel()
        final = await ag.get(execution.id)
    if not as_json:
        print(summary(final.status.value, final.error), file=sys.stderr)
    return exit_code(final.status)


def format_event(event: Event, as_json: bool = False) -> str:
    """One event as a line: JSON, or ``seq kind text``."""
    if as_json:
        return json.dumps(
            {
                "seq": event.seq,
                "time": event.time.isoformat(),
                "attempt": event.attempt,
                "kind": event.kind,
                "text": event.text,
                "data": event.data,
            },
            ensure_ascii=False,
        )
    text = event.text if event.text is not None else json.dumps(event.data, ensure_ascii=False)
    return f"{event.seq:>4} {event.kind:<11} {text}"


def summary(status: str, error: str | None) -> str:
    """The last line of ``agented run``."""
    return f"{status}: {error}" if error and status != "succeeded" else status
