"""The command line's grammar (argparse)."""

from __future__ import annotations

import argparse
from typing import Any

from agented_core.config import DEFAULT_CONFIG
from agented_core.models import Status, TriggerKind

from ._bots import DEFAULT_BOT, bot_names

ID_HELP = "an execution id, or its start if no other id starts alike"
CANCELLABLE = ("queued", "running", "paused", "waiting")


def _config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        "-c",
        default=DEFAULT_CONFIG,
        metavar="F",
        help=f"config file (default: ./{DEFAULT_CONFIG})",
    )


def _source(p: argparse.ArgumentParser) -> None:
    _config(p)
    p.add_argument(
        "--url",
        metavar="URL",
        help="talk to a server instead of the local store, e.g. http://127.0.0.1:8000/agented "
        "(the key comes from AGENTED_API_KEY)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``agented`` command."""
    parser = argparse.ArgumentParser(prog="agented", description="Run AI coding agents as bots.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run a bot in the foreground, showing its events live")
    run.add_argument("bot", metavar="BOT")
    _config(run)
    run.add_argument(
        "--param", "-p", action="append", default=[], metavar="K=V", help="a parameter (repeat)"
    )
    run.add_argument("--payload", metavar="FILE", help="a GitHub webhook payload (JSON) to run on")
    run.add_argument("--event", metavar="NAME", help="the X-GitHub-Event of --payload")
    view = run.add_mutually_exclusive_group()
    view.add_argument("--json", action="store_true", help="print each event as a JSON line")
    view.add_argument(
        "--plain", action="store_true", help="plain 'seq kind text' lines even on a terminal"
    )

    serve = sub.add_parser(
        "serve", help="the reference HTTP server (uvicorn; --workers N for several processes)"
    )
    _config(serve)
    serve.add_argument("--host", default="127.0.0.1", metavar="H", help="default: 127.0.0.1")
    serve.add_argument("--port", type=int, default=8000, metavar="P", help="default: 8000")
    serve.add_argument(
        "--dev",
        action="store_true",
        help="no API key: unauthenticated, 127.0.0.1 only (development)",
    )
    serve.add_argument(
        "--log-format", choices=("text", "json"), help="default: [agented] log_format (text)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N server processes on one socket, sharing the store and broker (default: 1)",
    )
    serve.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)  # one of --workers

    worker = sub.add_parser(
        "worker", help="run executions from the shared queue, without HTTP (see scale-out docs)"
    )
    _config(worker)
    worker.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="runs at once in this worker (default: [agented] max_concurrent_runs)",
    )
    worker.add_argument(
        "--log-format", choices=("text", "json"), help="default: [agented] log_format (text)"
    )

    check = sub.add_parser("check", help="validate the configuration; run nothing")
    _config(check)
    check.add_argument(
        "--strict",
        action="store_true",
        help="readiness warnings (CLI missing, host variable unset, ...) are errors too",
    )

    webhook = sub.add_parser("webhook", help="webhook tools")
    webhook_sub = webhook.add_subparsers(dest="webhook_command", metavar="SUBCOMMAND")
    webhook_sub.required = True
    test = webhook_sub.add_parser(
        "test", help="dry run: which bots a GitHub delivery would start, with their prompts"
    )
    test.add_argument("file", metavar="FILE", help="the delivery's JSON payload")
    test.add_argument("--event", required=True, metavar="NAME", help="its X-GitHub-Event")
    _config(test)
    test.add_argument("--json", action="store_true", help="print the result as JSON")

    executions = sub.add_parser("executions", help="recent executions, newest first")
    _source(executions)
    executions.add_argument("--bot", metavar="NAME")
    executions.add_argument("--status", choices=[s.value for s in Status], metavar="STATUS")
    executions.add_argument(
        "--trigger",
        choices=[t.value for t in TriggerKind],
        metavar="TRIGGER",
        help="only those this trigger started: " + ", ".join(t.value for t in TriggerKind),
    )
    executions.add_argument("--limit", type=int, default=20, metavar="N", help="default: 20")
    executions.add_argument("--json", action="store_true", help="one JSON object per line")

    show = sub.add_parser("show", help="one execution, with its attempts")
    show.add_argument("id", metavar="ID", help=ID_HELP)
    _source(show)
    show.add_argument("--json", action="store_true", help="the execution as JSON")

    logs = sub.add_parser(
        "logs", help="an execution's events; with --grep and no ID, search every execution"
    )
    logs.add_argument("id", metavar="ID", nargs="?", help=ID_HELP)
    _source(logs)
    logs.add_argument("--follow", "-f", action="store_true", help="keep following until it ends")
    logs.add_argument("--json", action="store_true", help="one JSON object per event")
    logs.add_argument(
        "--grep",
        metavar="TEXT",
        help='only events whose text holds every word of TEXT ("phrases", word* prefixes)',
    )
    logs.add_argument(
        "--limit", type=int, default=20, metavar="N", help="--grep without ID: executions shown"
    )

    cancel = sub.add_parser(
        "cancel",
        help="cancel a queued, running, paused or waiting run (ID), or every one of "
        "--bot and/or --status",
    )
    cancel.add_argument("id", metavar="ID", nargs="?", help=ID_HELP)
    _source(cancel)
    cancel.add_argument("--bot", metavar="B", help="(no ID) every execution of this bot")
    cancel.add_argument(
        "--status",
        action="append",
        choices=CANCELLABLE,
        metavar="S",
        help=f"(no ID) only this status (repeat; one of {', '.join(CANCELLABLE)}; default all)",
    )

    deliveries = sub.add_parser("deliveries", help="webhook deliveries")
    deliveries_sub = deliveries.add_subparsers(dest="deliveries_command", metavar="SUBCOMMAND")
    deliveries_sub.required = True
    redeliver = deliveries_sub.add_parser(
        "redeliver",
        help="match a stored delivery's payload again, as a new delivery (without --url its "
        "runs run here, in the foreground)",
    )
    redeliver.add_argument("id", metavar="ID", help="the delivery's id")
    _source(redeliver)
    redeliver.add_argument("--json", action="store_true", help="print the answer as JSON")

    pause = sub.add_parser("pause", help="pause a running execution (SIGSTOP of its processes)")
    pause.add_argument("id", metavar="ID", help=ID_HELP)
    _source(pause)

    resume = sub.add_parser("resume", help="resume a paused execution")
    resume.add_argument("id", metavar="ID", help=ID_HELP)
    _source(resume)

    rerun = sub.add_parser(
        "rerun",
        help="a new execution with the same bot, params and trigger; prints its id "
        "(without --url it runs here, in the foreground, like run)",
    )
    rerun.add_argument("id", metavar="ID", help=ID_HELP)
    _source(rerun)
    rerun_view = rerun.add_mutually_exclusive_group()
    rerun_view.add_argument("--json", action="store_true", help="(here) events as JSON lines")
    rerun_view.add_argument("--plain", action="store_true", help="(here) plain event lines")

    init = sub.add_parser(
        "init", help=f"write a starter {DEFAULT_CONFIG} from a ready-made bot (never overwrites)"
    )
    init.add_argument(
        "--bot",
        default=DEFAULT_BOT,
        metavar="NAME",
        help=f"one of: {', '.join(bot_names())} (default: {DEFAULT_BOT})",
    )
    init.add_argument(
        "--config",
        "-c",
        default=DEFAULT_CONFIG,
        metavar="F",
        help=f"the file to write (default: ./{DEFAULT_CONFIG})",
    )
    init.add_argument("--list", action="store_true", help="list the ready-made bots instead")

    prune = sub.add_parser("prune", help="delete what retention_days no longer keeps")
    _config(prune)
    prune.add_argument(
        "--older-than", type=int, metavar="DAYS", help="override retention_days for this run"
    )

    _db_commands(sub)

    sub.add_parser(
        "version", help="versions of agented, of every plugin found and of each provider's CLI"
    )
    return parser


def _db_commands(sub: Any) -> None:
    """``agented db upgrade`` and ``agented db copy``."""
    db = sub.add_parser("db", help="the store: migrations, copying history to another store")
    db_sub = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND")
    db_sub.required = True
    upgrade = db_sub.add_parser(
        "upgrade", help="apply the store's migrations now (before deploying a new version)"
    )
    _config(upgrade)
    copy = db_sub.add_parser(
        "copy",
        help="copy executions, events, deliveries, audit, schedules, cooldowns and claims to "
        "another store (resumable; verified by counts and a checksum of the events)",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="source store")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="destination")
