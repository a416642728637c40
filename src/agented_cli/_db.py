"""``agented db upgrade`` (run the store's migrations) and ``agented db copy`` (move history
from one store to another: SQLite to PostgreSQL or back).

The copy is resumable: executions are upserted, events appended after the last seq the
destination has (appending is idempotent anyway), deliveries and audit entries copied oldest
first past the ones the destination already holds, state (schedules, cooldowns, breakers, spend)
written key by key, unexpired claims (delivery dedup, wake-up leases) with the time they have
left. At the end it verifies counts and a checksum of every event on both sides.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import anyio

from agented_core.config import load_config
from agented_core.errors import AgentedError, StoreError
from agented_core.models import Event
from agented_core.plugins import Plugins
from agented_core.store import Store

PAGE = 500
EVENT_PAGE = 5000
EXIT_MISMATCH = 1


def shown(url: str) -> str:
    """A store URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}"))


def cmd_db(args: argparse.Namespace, out: TextIO) -> int:
    """Dispatch ``agented db SUBCOMMAND``."""
    if args.db_command == "upgrade":
        return anyio.run(_upgrade, args, out)
    return anyio.run(_copy, args, out)


async def _upgrade(args: argparse.Namespace, out: TextIO) -> int:
    plugins = Plugins()
    config = load_config(args.config, keys=plugins.config_keys())
    url = config.settings.database
    store = plugins.open_store(url, base_dir=config.base_dir)
    await store.open()  # opening applies the migrations (under the backend's lock)
    try:
        version = await _version(store)
    finally:
        await store.close()
    applied = getattr(store, "migrated", None)
    what = f"{applied} migration(s) applied" if isinstance(applied, int) else "up to date"
    print(f"{shown(url)}: {what}, schema version {version}", file=out)
    return 0


async def _version(store: Store) -> int | str:
    version = getattr(store, "schema_version", None)
    if version is None:
        return "?"
    result = version()
    return int(await result) if hasattr(result, "__await__") else int(result)


async def _copy(args: argparse.Namespace, out: TextIO) -> int:
    source_url, target_url = args.source, args.target
    if source_url == target_url:
        raise AgentedError("--from and --to name the same store")
    plugins = Plugins()
    cwd = Path.cwd()
    source = plugins.open_store(source_url, base_dir=cwd)
    target = plugins.open_store(target_url, base_dir=cwd)
    if _sqlite_file_missing(source):
        raise StoreError(f"no database at {shown(source_url)}: nothing to copy")
    await source.open()
    try:
        await target.open()
        try:
            copier = _Copy(source, target, out)
            await copier.run()
            problems = await copier.verify()
        finally:
            await target.close()
    finally:
        await source.close()
    for problem in problems:
        print(f"error: {problem}", file=out)
    if problems:
        print("copy NOT verified: run the same command again to resume", file=out)
        return EXIT_MISMATCH
    print(
        f"verified: {copier.executions} execution(s), {copier.events} event(s) "
        f"(checksum {copier.checksum[:16]}), {copier.deliveries} delivery(ies), "
        f"{copier.audit} audit entry(ies), {copier.state} state key(s), "
        f"{copier.claims} claim(s) "
        f"from {shown(source_url)} to {shown(target_url)}",
        file=out,
    )
    return 0


def _sqlite_file_missing(store: Store) -> bool:
    path = getattr(store, "path", None)
    return isinstance(path, str) and path != ":memory:" and not Path(path).exists()


def event_digest(digest: Any, event: Event) -> None:
    """Feed one event, in a form both backends give back alike, to ``digest``."""
    line = json.dumps(
        [event.execution_id, event.seq, event.time.isoformat(), event.attempt, event.kind,
         event.text, event.data],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )  # fmt: skip
    digest.update(line.encode())
    digest.update(b"\n")


class _Copy:
    """One copy from ``source`` to ``target``, printing its progress to ``out``."""

    def __init__(self, source: Store, target: Store, out: TextIO) -> None:
        self.source, self.target, self.out = source, target, out
        self.ids: list[str] = []
        self.executions = self.events = self.deliveries = self.audit = self.state = 0
        self.claims = 0
        self.checksum = ""

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def run(self) -> None:
        # the events before their executions: a store takes no event of an attempt older
        # than its execution's stored one, and a copied execution is at its last attempt
        await self._list_executions()
        await self._events()
        await self._executions()
        await self._deliveries()
        await self._audit()
        await self._state()
        await self._claims()

    async def _list_executions(self) -> None:
        cursor: str | None = None
        while True:
            page, cursor = await self.source.list_executions(limit=PAGE, cursor=cursor)
            self.ids.extend(execution.id for execution in page)
            if cursor is None:
                break
        self.ids.reverse()  # oldest first, as the events are copied
        self.say(f"executions: {len(self.ids)} to copy")

    async def _executions(self) -> None:
        cursor: str | None = None
        copied = 0
        while True:
            page, cursor = await self.source.list_executions(limit=PAGE, cursor=cursor)
            for execution in page:
                await self.target.save_execution(execution)
                copied += 1
            self.say(f"executions: {copied} copied")
            if cursor is None:
                break
        self.executions = copied

    async def _events(self) -> None:
        copied = skipped = 0
        for n, execution_id in enumerate(self.ids, 1):
            after = await self.target.last_seq(execution_id)
            skipped += after
            while True:
                page = await self.source.read_events(execution_id, after=after, limit=EVENT_PAGE)
                if not page:
                    break
                await self.target.append_events(page)
                copied += len(page)
                after = page[-1].seq
            if n % 100 == 0 or n == len(self.ids):
                self.say(
                    f"events: {n}/{len(self.ids)} executions, {copied} copied"
                    + (f", {skipped} already there" if skipped else "")
                )

    async def _deliveries(self) -> None:
        # oldest first, past the ones a previous (interrupted) copy wrote
        have = len(await self.target.list_deliveries(limit=2**31 - 1))
        items = list(reversed(await self.source.list_deliveries(limit=2**31 - 1)))
        for item in items[have:]:
            await self.target.record_delivery(item)
        self.deliveries = len(items)
        self.say(f"deliveries: {len(items) - min(have, len(items))} copied of {len(items)}")

    async def _audit(self) -> None:
        try:
            entries = await _all_audit(self.source)
            have = len(await _all_audit(self.target))
        except NotImplementedError:
            self.say("audit: not kept by one of the stores, skipped")
            return
        for entry in reversed(entries[: max(len(entries) - have, 0)]):
            await self.target.record_audit({k: v for k, v in entry.items() if k != "id"})
        self.audit = len(entries)
        self.say(f"audit: {max(len(entries) - have, 0)} copied of {len(entries)}")

    async def _state(self) -> None:
        items = await self.source.list_state()
        for key, value in items.items():
            await self.target.put_state(key, value)
        self.state = len(items)
        self.say(f"state (schedules, cooldowns, breakers, spend): {len(items)} key(s)")

    async def _claims(self) -> None:
        try:
            claims = await self.source.list_claims()
        except NotImplementedError:
            self.say("claims: not listed by the source store, skipped")
            return
        for key, (owner, left) in claims.items():
            await self.target.claim(key, owner, left)  # held there already: left as it is
        self.claims = len(claims)
        self.say(f"claims (delivery dedup, leases): {len(claims)} unexpired")

    async def verify(self) -> list[str]:
        """What differs between the two stores (nothing when the copy is complete)."""
        problems: list[str] = []
        source_sum, target_sum = hashlib.sha256(), hashlib.sha256()
        events = 0
        for execution_id in self.ids:
            if await self.target.get_execution(execution_id) is None:
                problems.append(f"execution {execution_id} is missing from the destination")
                continue
            after_s = after_t = 0
            while True:
                mine = await self.source.read_events(execution_id, after=after_s, limit=EVENT_PAGE)
                theirs = await self.target.read_events(
                    execution_id, after=after_t, limit=EVENT_PAGE
                )
                for event in mine:
                    event_digest(source_sum, event)
                for event in theirs:
                    event_digest(target_sum, event)
                events += len(mine)
                if len(mine) != len(theirs):
                    problems.append(f"execution {execution_id}: event counts differ")
                if not mine or not theirs:
                    break
                after_s, after_t = mine[-1].seq, theirs[-1].seq
        if source_sum.hexdigest() != target_sum.hexdigest():
            problems.append("the checksum of the events differs")
        if len(await self.target.list_deliveries(limit=2**31 - 1)) < self.deliveries:
            problems.append("deliveries are missing from the destination")
        target_state = await self.target.list_state()
        if any(key not in target_state for key in await self.source.list_state()):
            problems.append("state keys are missing from the destination")
        self.events, self.checksum = events, source_sum.hexdigest()
        return problems


async def _all_audit(store: Store) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        page = await store.list_audit(limit=PAGE, before=before)
        entries.extend(page)
        if len(page) < PAGE:
            return entries
        before = int(page[-1]["id"])
