"""Dispatching the ``agented`` commands, and the ones that need no run."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio

from agented_core import audit
from agented_core.agented import Agented
from agented_core.config import Config, load_config
from agented_core.converter import to_data
from agented_core.errors import AgentedError, ConfigError, ConflictError, NotFoundError
from agented_core.models import Status, TriggerKind
from agented_core.plugins import Plugins
from agented_core.store.search import matches, parse_query
from agented_core.validation import validate

from ._bots import cmd_init
from ._db import cmd_db
from ._parser import build_parser
from ._render import PlainRenderer
from ._run import cmd_rerun_here, cmd_run
from ._serve_many import WORKER_INDEX_ENV, serve_many
from ._sources import open_source, remote_source
from ._views import describe, spend_lines, table
from ._worker import cmd_worker

EXIT_USAGE = 2
EXIT_MISSING = 1
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


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``agented`` console script."""
    sys.exit(run_cli(argv))


def run_cli(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line and return its exit code."""
    out = out or sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    commands = {
        "run": lambda: cmd_run(args, out, exit_code),
        "serve": lambda: _cmd_serve(args, out),
        "worker": lambda: cmd_worker(args, out),
        "check": lambda: _cmd_check(args, out),
        "webhook": lambda: _cmd_webhook_test(args, out),
        "executions": lambda: anyio.run(_cmd_executions, args, out),
        "show": lambda: anyio.run(_cmd_show, args, out),
        "logs": lambda: anyio.run(_cmd_logs, args, out),
        "cancel": lambda: anyio.run(_cmd_control, args, out),
        "pause": lambda: anyio.run(_cmd_control, args, out),
        "resume": lambda: anyio.run(_cmd_control, args, out),
        "rerun": lambda: _cmd_rerun(args, out),
        "deliveries": lambda: _cmd_deliveries(args, out),
        "init": lambda: cmd_init(args, out),
        "prune": lambda: _cmd_prune(args, out),
        "db": lambda: cmd_db(args, out),
        "version": lambda: _cmd_version(out),
    }
    try:
        return int(commands[args.command]())
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except (NotFoundError, ConflictError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MISSING
    except AgentedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except BaseExceptionGroup as group:  # from a task group: the same, raised inside it
        _, rest = group.split(BrokenPipeError)
        if rest is not None:
            raise
        return _reader_gone()


def _reader_gone() -> int:
    """stdout's reader went away (``agented logs ID | head``): stop quietly, no traceback."""
    # Python flushes stdout once more at exit; point it at nothing so that does not fail too
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (tests): nothing will flush to a pipe
        pass
    return 1


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    from agented_core.check import check_file

    plugins = Plugins()
    report = check_file(args.config, plugins, strict=args.strict)
    for problem in report.problems:
        print(f"{'' if problem.warning else 'error: '}{problem}", file=out)
    errors, warnings = len(report.errors), len(report.warnings)
    if errors or report.config is None:
        print(f"{errors} problem(s), {warnings} warning(s) in {report.file}", file=out)
        return EXIT_MISSING
    config = report.config
    providers = ", ".join(sorted(plugins.providers))
    print(
        f"ok: {config.path}: {len(config.bots)} bot(s), providers: {providers}"
        + (f", {warnings} warning(s)" if warnings else ""),
        file=out,
    )
    return 0


def _cmd_webhook_test(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config, keys=Plugins().config_keys())
    try:
        payload = json.loads(Path(args.file).read_text())
    except (OSError, ValueError) as exc:
        raise AgentedError(f"cannot read payload {args.file}: {exc}") from None
    plugins = Plugins()
    problems = [p for p in validate(config, plugins) if not p.warning]
    if problems:
        raise ConfigError(problems)
    # nothing is opened or written: the dry run needs the bots and plugins only
    agented = Agented(config, plugins, plugins.open_store(config.settings.database))
    result = agented.deliveries.dry_run_github(args.event, payload)
    if args.json:
        print(json.dumps({"matches": result.matches, "skipped": result.skipped}), file=out)
        return 0
    if not result.matches:
        print(f"no bot would start on {args.event!r}", file=out)
    for match in result.matches:
        print(f"would start {match['bot']}:", file=out)
        for line in match["prompt"].splitlines() or [""]:
            print(f"    {line}", file=out)
    for skipped in result.skipped:
        print(f"skips {skipped['bot']}: {skipped['reason']}", file=out)
    return 0


async def _cmd_executions(args: argparse.Namespace, out: TextIO) -> int:
    if args.limit < 1:
        raise AgentedError("--limit takes a whole number of at least 1")
    status = Status(args.status) if args.status else None
    async with open_source(args.config, args.url) as source:
        trigger = TriggerKind(args.trigger) if args.trigger else None
        items = await source.list(bot=args.bot, status=status, limit=args.limit, trigger=trigger)
    if args.json:
        for execution in items:
            print(json.dumps(to_data(execution), ensure_ascii=False), file=out)
    elif items:
        print(table(items), file=out)
    else:
        print("no executions", file=out)
    return 0


async def _cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    async with open_source(args.config, args.url) as source:
        execution = await source.get(await source.resolve(args.id))
        spend = [] if args.json else await source.spend(execution)
    if args.json:
        print(json.dumps(to_data(execution), ensure_ascii=False, indent=2), file=out)
        return 0
    print(describe(execution), file=out)
    for line in spend_lines(spend):
        print(line, file=out)
    return 0


async def _cmd_logs(args: argparse.Namespace, out: TextIO) -> int:
    renderer = PlainRenderer(out, as_json=args.json)
    terms = parse_query(args.grep) if args.grep is not None else None
    if args.id is None:
        if terms is None:
            raise AgentedError("logs needs an execution ID, or --grep TEXT to search them all")
        return await _search_logs(args, out)
    shown = 0
    async with open_source(args.config, args.url) as source:
        execution_id = await source.resolve(args.id)
        async for event in source.events(execution_id, follow=args.follow):
            if terms is None or matches(terms, event.text):
                renderer.event(event)
                shown += 1
    if terms is not None and not shown:
        print(f"no event of {execution_id} matches {args.grep!r}", file=sys.stderr)
        return 1
    return 0


async def _search_logs(args: argparse.Namespace, out: TextIO) -> int:
    """``logs --grep TEXT`` without an ID: the matching executions, newest first, each with
    snippets of its latest matching events."""
    if args.limit < 1:
        raise AgentedError("--limit takes a whole number of at least 1")
    if not parse_query(args.grep):
        raise AgentedError(f"--grep {args.grep!r} has no word to search for")
    async with open_source(args.config, args.url) as source:
        found = await source.search(args.grep, limit=args.limit)
    for execution, hits in found:
        if args.json:
            record = {"execution": to_data(execution), "matches": [hit._asdict() for hit in hits]}
            print(json.dumps(record, ensure_ascii=False), file=out)
            continue
        print(f"{execution.id}  {execution.bot}  {execution.status.value}", file=out)
        for hit in hits:
            print(f"  {hit.seq:>5} {hit.kind:<11} {hit.snippet}", file=out)
    if not found:
        print(f"no execution's events match {args.grep!r}", file=sys.stderr)
        return 1
    return 0


async def _cmd_control(args: argparse.Namespace, out: TextIO) -> int:
    """``cancel``, ``pause`` or ``resume``: asked of whoever runs the execution."""
    if args.command == "cancel" and (args.id is None or args.bot or args.status):
        return await _cmd_cancel_many(args, out)
    async with open_source(args.config, args.url) as source:
        execution_id = await source.resolve(args.id)
        action = getattr(source, args.command)
        execution = await action(execution_id)
    print(f"{execution.id}: {args.command} requested (status {execution.status.value})", file=out)
    return 0


async def _cmd_cancel_many(args: argparse.Namespace, out: TextIO) -> int:
    """``cancel --bot B --status S``: every execution of the filter (not with an ID)."""
    if args.id is not None:
        raise AgentedError("give an ID, or --bot and/or --status, not both")
    if not args.bot and not args.status:
        raise AgentedError("give an ID, or --bot and/or --status (which executions to cancel)")
    statuses = [Status(s) for s in args.status or ()]
    async with open_source(args.config, args.url) as source:
        done = await source.cancel_many(bot=args.bot, status=statuses)
    for execution_id in done:
        print(f"{execution_id}: cancel requested", file=out)
    print(f"{len(done)} execution(s) asked to cancel", file=out)
    return 0


def _cmd_deliveries(args: argparse.Namespace, out: TextIO) -> int:
    """``deliveries redeliver ID``: with ``--url`` the server runs what it starts; here, it runs
    in the foreground until every run it started ends."""

    async def remote() -> dict[str, Any]:
        async with remote_source(args.url) as source:
            return dict(await source.redeliver(args.id))

    async def here() -> dict[str, Any]:
        config = load_config(args.config, keys=Plugins().config_keys())
        async with Agented.open(config=config, wake=False, recover=False) as ag:
            result = await ag.deliveries.redeliver(args.id)
            for execution_id in result.execution_ids:
                execution = await ag.get(execution_id)
                await audit.record(
                    ag.store, "redeliver", execution, audit.cli_actor(), redelivery_of=args.id
                )
            answer = {**result.to_log(), "redelivery_of": args.id}
            for execution_id in result.execution_ids:
                await ag.wait(execution_id)
            return answer

    answer = anyio.run(remote if args.url else here)
    if args.json:
        print(json.dumps(answer), file=out)
        return 0
    started = list(answer.get("execution_ids") or [])
    print(f"delivery {answer.get('delivery')} (redelivery of {args.id})", file=out)
    for execution_id in started:
        print(f"  started {execution_id}", file=out)
    for skipped in answer.get("skipped") or []:
        print(f"  skipped {skipped.get('bot')}: {skipped.get('reason')}", file=out)
    if not started:
        print(f"  nothing started: {answer.get('reason')}", file=out)
    return 0


def _cmd_rerun(args: argparse.Namespace, out: TextIO) -> int:
    """With ``--url`` the server runs the new execution: print its id. Here: run it, like
    ``run`` (nobody else would)."""
    if not args.url:
        return cmd_rerun_here(args, out, exit_code)

    async def rerun() -> str:
        async with remote_source(args.url) as remote:
            return await remote.rerun(await remote.resolve(args.id))

    print(anyio.run(rerun), file=out)
    return 0


def _cmd_prune(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config, keys=Plugins().config_keys())
    if args.older_than is not None and args.older_than < 1:
        raise AgentedError("--older-than takes a whole number of days, at least 1")

    async def prune() -> int:
        async with Agented.open(config=config, wake=False, recover=False) as ag:
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
    config = load_config(args.config, keys=Plugins().config_keys())
    problems = [p for p in validate(config, Plugins()) if not p.warning]
    if problems:
        raise ConfigError(problems)
    if args.listen_fd is None:
        anyio.run(_store_opens, config)
    if args.workers < 1:
        raise AgentedError(f"--workers must be at least 1, not {args.workers}")
    if args.workers > 1 and args.listen_fd is None:
        return serve_many(args, out)
    sock = None
    if args.listen_fd is not None:
        sock = socket.socket(fileno=args.listen_fd)
    try:
        return serve(
            config, host=args.host, port=args.port, dev=args.dev, out=out,
            log_format=args.log_format, sock=sock,
            quiet=os.environ.get(WORKER_INDEX_ENV, "0") != "0",
        )  # fmt: skip
    except (NoApiKeyError, ValueError, OverflowError, OSError) as exc:
        raise AgentedError(str(exc)) from None


async def _store_opens(config: Config) -> None:
    """Open and close the store once, so a locked or damaged database is one line, exit 2.

    Inside the server's lifespan the same :class:`StoreError` would be a traceback and exit 3.
    """
    store = Plugins().open_store(config.settings.database, base_dir=config.base_dir)
    path = getattr(store, "path", None)
    if isinstance(path, str) and path != ":memory:" and not Path(path).exists():  # noqa: ASYNC240
        return  # a new database: nothing to be locked or damaged, and serve may still refuse
    await store.open()
    await store.close()


def _cmd_version(out: TextIO) -> int:
    from agented_core import __version__
    from agented_core.readiness import cli_statuses

    print(f"agented {__version__}", file=out)
    plugins = Plugins()
    for name, source in sorted(plugins.versions().items()):
        print(f"  plugin {name}: {source}", file=out)
    for name, status in cli_statuses(plugins).items():
        cli = f": {status.describe()}" if status is not None else ""
        print(f"  provider {name} (from {plugins.provider_owner(name)}){cli}", file=out)
    for error in plugins.errors:
        print(f"  error: {error}", file=out)
    return 0
