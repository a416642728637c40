"""Dispatching the ``agented`` commands, and the ones that need no run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import anyio

from ..agented import Agented
from ..config import Config, load_config
from ..converter import to_data
from ..errors import AgentedError, ConfigError, ConflictError, NotFoundError
from ..models import Execution, Status
from ..plugins import Plugins
from ..render import PlainRenderer
from ..validation import validate
from ._parser import build_parser
from ._run import cmd_run
from ._sources import open_source

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
        "check": lambda: _cmd_check(args, out),
        "webhook": lambda: _cmd_webhook_test(args, out),
        "executions": lambda: anyio.run(_cmd_executions, args, out),
        "show": lambda: anyio.run(_cmd_show, args, out),
        "logs": lambda: anyio.run(_cmd_logs, args, out),
        "cancel": lambda: anyio.run(_cmd_cancel, args, out),
        "prune": lambda: _cmd_prune(args, out),
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


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    from ..check import check_file

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
    config = load_config(args.config)
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


def _summary_line(execution: Execution) -> str:
    created = execution.created_at.strftime("%Y-%m-%d %H:%M:%S") if execution.created_at else "-"
    where = execution.provider or "-"
    if execution.account:
        where += f":{execution.account}"
    cost = f"${execution.usage.cost_usd:.4f}" if execution.usage.cost_usd is not None else ""
    error = f"  {execution.error[:60]}" if execution.error and execution.terminal else ""
    return (
        f"{execution.id}  {created}  {execution.bot:<16} {execution.status.value:<15} "
        f"{where:<20} {cost}{error}"
    ).rstrip()


async def _cmd_executions(args: argparse.Namespace, out: TextIO) -> int:
    if args.limit < 1:
        raise AgentedError("--limit takes a whole number of at least 1")
    status = Status(args.status) if args.status else None
    async with open_source(args.config, args.url) as source:
        items = await source.list(bot=args.bot, status=status, limit=args.limit)
    for execution in items:
        if args.json:
            print(json.dumps(to_data(execution), ensure_ascii=False), file=out)
        else:
            print(_summary_line(execution), file=out)
    if not items and not args.json:
        print("no executions", file=out)
    return 0


async def _cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    async with open_source(args.config, args.url) as source:
        execution = await source.get(args.id)
    if args.json:
        print(json.dumps(to_data(execution), ensure_ascii=False, indent=2), file=out)
        return 0
    print(_describe(execution), file=out)
    return 0


def _describe(e: Execution) -> str:
    usage = e.usage
    lines = [
        f"execution  {e.id}",
        f"bot        {e.bot} ({e.trigger.value})",
        f"status     {e.status.value}"
        + (f" ({e.error_kind.value})" if e.error_kind else "")
        + (f": {e.error}" if e.error else ""),
        f"created    {e.created_at.isoformat() if e.created_at else '-'}",
        f"started    {e.started_at.isoformat() if e.started_at else '-'}",
        f"finished   {e.finished_at.isoformat() if e.finished_at else '-'}",
    ]
    if e.retry_at:
        lines.append(f"retry at   {e.retry_at.isoformat()}")
    lines.append(
        f"usage      {usage.input_tokens} in / {usage.output_tokens} out / "
        f"{usage.cache_read_tokens} cache read / {usage.cache_write_tokens} cache write"
        + (f" · ${usage.cost_usd:.4f}" if usage.cost_usd is not None else "")
    )
    if e.session_id:
        lines.append(f"session    {e.session_id}")
    if e.command:
        lines.append(f"command    {' '.join(e.command)}")
    for record in e.attempts:
        where = record.provider + (f":{record.account}" if record.account else "")
        outcome = record.error_kind.value if record.error_kind else "ok"
        reset = f", resets {record.reset_at.isoformat()}" if record.reset_at else ""
        lines.append(
            f"attempt {record.number}  {where}: {outcome}{reset} -> {record.decision or '-'}"
        )
    if e.result:
        lines += ["result", *(f"  {line}" for line in e.result.splitlines())]
    return "\n".join(lines)


async def _cmd_logs(args: argparse.Namespace, out: TextIO) -> int:
    renderer = PlainRenderer(out, as_json=args.json)
    async with open_source(args.config, args.url) as source:
        async for event in source.events(args.id, follow=args.follow):
            renderer.event(event)
    return 0


async def _cmd_cancel(args: argparse.Namespace, out: TextIO) -> int:
    async with open_source(args.config, args.url) as source:
        execution = await source.cancel(args.id)
    print(f"{execution.id}: cancel requested (status {execution.status.value})", file=out)
    return 0


def _cmd_prune(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config)
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
    config = load_config(args.config)
    problems = [p for p in validate(config, Plugins()) if not p.warning]
    if problems:
        raise ConfigError(problems)
    anyio.run(_store_opens, config)
    try:
        return serve(config, host=args.host, port=args.port, dev=args.dev, out=out)
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
    from .. import __version__
    from ..readiness import cli_statuses

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
