"""Webhook deliveries: from a raw request to the runs it starts.

Order of checks, as DESIGN prescribes: the body's size (413), then the signature against every
configured secret (401), then the body's format (415 / 400). Only then is anything parsed,
deduplicated (a redelivery never starts a second run) or matched. Every delivery, also one that
starts nothing, is written to the delivery log with what it started or why not.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from attrs import field, frozen

from ..clock import Clock, utcnow
from ..config import Config
from ..errors import BadPayload, InvalidSignature, NotFoundError, PayloadTooLarge, TemplateError
from ..models import (
    Bot,
    Execution,
    GitHubTrigger,
    HookFailure,
    Status,
    TriggerKind,
    WebhookTrigger,
)
from ..run._preparation import base_context
from ..run._prompts import render, render_argv
from ..store.base import Store
from ..store.received import received
from ._generic import build_generic_context, match_filters, verify_generic_signature
from ._github import (
    build_context,
    match,
    needs_changed_files,
    read_body,
    verify_signature,
    with_command,
)
from ._start import StartRun

GITHUB = "github"


@frozen
class DeliveryResult:
    """What a delivery started, or why it started nothing."""

    source: str
    delivery_id: str | None
    event: str | None = None
    action: str | None = None
    execution_ids: tuple[str, ...] = ()
    duplicate: bool = False
    reason: str | None = None
    skipped: tuple[Mapping[str, str], ...] = ()
    redelivery_of: str | None = None
    """On a redelivery (:meth:`Deliveries.redeliver`): the delivery it repeats."""

    def to_log(self) -> dict[str, Any]:
        """The delivery-log entry (without the payload, which :class:`Deliveries` adds)."""
        entry: dict[str, Any] = {
            "source": self.source,
            "delivery": self.delivery_id,
            "event": self.event,
            "action": self.action,
            "execution_ids": list(self.execution_ids),
            "duplicate": self.duplicate,
            "reason": self.reason,
            "skipped": [dict(s) for s in self.skipped],
        }
        if self.redelivery_of is not None:
            entry["redelivery_of"] = self.redelivery_of
        return entry


REDELIVER_SCAN = 500
"""How many of the newest delivery-log entries :meth:`Deliveries.redeliver` looks through."""


@frozen
class DryRun:
    """Which bots a delivery would start, with their rendered prompts, and which it would skip."""

    matches: list[dict[str, str]] = field(factory=list)
    skipped: list[dict[str, str]] = field(factory=list)


def secrets_from_env(name: str | None, env: Mapping[str, str] | None = None) -> list[str]:
    """The comma-separated secrets in environment variable ``name`` (several, for rotation)."""
    if not name:
        return []
    value = (os.environ if env is None else env).get(name, "")
    return [part.strip() for part in value.split(",") if part.strip()]


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


PromptContext = Callable[[Bot, Mapping[str, Any]], Mapping[str, Any]]
"""The plugins' additions to a prompt context (``Plugins.prompt_context``)."""

Notify = Callable[..., Awaitable[list[HookFailure]]]
"""Calls a lifecycle hook, returning the implementations that raised (``Plugins.notify``)."""

ChangedFiles = Callable[[Mapping[str, Any]], Awaitable[Sequence[str] | None]]
"""A pull request's changed paths for a delivery's context (``Plugins.changed_files``)."""


class Deliveries:
    """Receives webhook deliveries and starts the runs they match.

    It is given what it uses: the configuration (bots, secrets' variables, sources, limits),
    the store (dedup claims, the delivery log), ``start_run``, the plugins' prompt-context
    additions (for dry runs) and the one clock.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        start_run: StartRun,
        *,
        prompt_context: PromptContext = lambda bot, context: {},
        notify: Notify | None = None,
        changed_files: ChangedFiles | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.config = config
        self.store = store
        self.start_run = start_run
        self.prompt_context = prompt_context
        self.notify = notify
        self.changed_files = changed_files
        self.clock = clock

    @property
    def max_bytes(self) -> int:
        """The largest body accepted (``[http] max_body_bytes``)."""
        return self.config.http.max_body_bytes

    # GitHub
    async def github(self, body: bytes, headers: Mapping[str, str]) -> DeliveryResult:
        """Verify, parse, deduplicate and match a GitHub delivery; start the matching bots."""
        h = _headers(headers)
        if len(body) > self.max_bytes:
            raise PayloadTooLarge(
                f"body of {len(body)} bytes is over the limit of {self.max_bytes}"
            )
        secrets = secrets_from_env(self.config.github.webhook_secrets_env)
        if not secrets:
            raise InvalidSignature(
                "no GitHub webhook secret is configured (set "
                f"{self.config.github.webhook_secrets_env})"
            )
        verify_signature(body, h.get("x-hub-signature-256"), secrets)
        payload, raw = read_body(body, h.get("content-type"), max_bytes=self.max_bytes)
        event = h.get("x-github-event")
        if not event:
            raise BadPayload("missing X-GitHub-Event header")
        delivery = h.get("x-github-delivery")
        action = payload.get("action") if isinstance(payload, dict) else None
        base = DeliveryResult(GITHUB, delivery, event, action if isinstance(action, str) else None)
        if delivery and not await self._first_time(GITHUB, delivery):
            return await self._log(_evolve(base, duplicate=True, reason="duplicate delivery"))
        if event == "ping":
            return await self._log(
                _evolve(base, reason="ping: nothing to start"), payload=payload, raw=raw
            )
        return await self._run_github(base, event, payload, delivery, raw)

    async def _run_github(
        self,
        base: DeliveryResult,
        event: str,
        payload: Any,
        delivery: str | None,
        raw: bytes | None = None,
    ) -> DeliveryResult:
        context = build_context(event, payload, delivery)
        files = await self._changed_files(context)
        started: list[str] = []
        skipped: list[dict[str, str]] = []
        for bot, bot_context, why in self._github_matches(event, context, files):
            if why is not None:
                skipped.append({"bot": bot.name, "reason": why})
                continue
            execution = await self._start(bot, TriggerKind.GITHUB, bot_context, delivery)
            started.append(execution.id)
        reason = None if started else _nothing_reason(skipped, event)
        result = _evolve(base, execution_ids=tuple(started), skipped=tuple(skipped), reason=reason)
        return await self._log(result, context, payload, raw)

    def dry_run_github(
        self, event: str, payload: Any, *, changed_files: Sequence[str] | None = None
    ) -> DryRun:
        """Which bots a delivery of ``event`` with ``payload`` would start; nothing is written.

        ``changed_files``: the pull request's paths for ``paths`` filters (not fetched here).
        """
        context = build_context(event, payload, None)
        result = DryRun()
        for bot, bot_context, why in self._github_matches(event, context, changed_files):
            if why is not None:
                result.skipped.append({"bot": bot.name, "reason": why})
            else:
                result.matches.append({"bot": bot.name, "prompt": self._preview(bot, bot_context)})
        return result

    async def changed_files_of(self, event: str, payload: Any) -> Sequence[str] | None:
        """The PR's changed files for a dry run of ``event``, if a ``paths`` filter needs them."""
        return await self._changed_files(build_context(event, payload, None))

    async def _changed_files(self, context: Mapping[str, Any]) -> Sequence[str] | None:
        """The PR's changed files, fetched once, and only when a trigger's ``paths`` needs them."""
        if self.changed_files is None:
            return None
        for bot in self.config.bots.values():
            for trigger in bot.triggers:
                if isinstance(trigger, GitHubTrigger) and needs_changed_files(trigger, context):
                    return await self.changed_files(context)
        return None

    def _github_matches(
        self, event: str, context: Mapping[str, Any], files: Sequence[str] | None = None
    ) -> list[tuple[Bot, dict[str, Any], str | None]]:
        out: list[tuple[Bot, dict[str, Any], str | None]] = []
        for bot in self.config.bots.values():
            triggers = [t for t in bot.triggers if isinstance(t, GitHubTrigger)]
            if not triggers:
                continue
            reasons: list[str] = []
            for trigger in triggers:
                why = match(trigger, context, changed_files=files)
                if why is None:
                    out.append((bot, with_command(trigger, context), None))
                    break
                reasons.append(why)
            else:
                out.append((bot, dict(context), "; ".join(dict.fromkeys(reasons))))
        return out

    # generic sources
    async def generic(self, source: str, body: bytes, headers: Mapping[str, str]) -> DeliveryResult:
        """A delivery to the generic source ``source`` (``[webhooks.NAME]``)."""
        spec = self.config.webhooks.get(source)
        if spec is None:
            raise NotFoundError(f"no webhook source {source!r}")
        h = _headers(headers)
        if len(body) > self.max_bytes:
            raise PayloadTooLarge(
                f"body of {len(body)} bytes is over the limit of {self.max_bytes}"
            )
        secrets = secrets_from_env(spec.secret_env)
        if not secrets:
            raise InvalidSignature(f"no secret is configured for webhook source {source!r}")
        verify_generic_signature(body, h.get(spec.signature_header.lower()), secrets)
        payload, raw = read_body(body, h.get("content-type"), max_bytes=self.max_bytes)
        delivery = h.get(spec.delivery_header.lower()) if spec.delivery_header else None
        base = DeliveryResult(source, delivery, source)
        if delivery and not await self._first_time(source, delivery):
            return await self._log(_evolve(base, duplicate=True, reason="duplicate delivery"))
        return await self._run_generic(base, source, payload, delivery, raw)

    async def _run_generic(
        self,
        base: DeliveryResult,
        source: str,
        payload: Any,
        delivery: str | None,
        raw: bytes | None = None,
    ) -> DeliveryResult:
        context = build_generic_context(source, payload, delivery)
        started: list[str] = []
        skipped: list[dict[str, str]] = []
        for bot in self.config.bots.values():
            triggers = [
                t for t in bot.triggers if isinstance(t, WebhookTrigger) and t.source == source
            ]
            if not triggers:
                continue
            reasons = [match_filters(t.filters, payload) for t in triggers]
            if any(r is None for r in reasons):
                execution = await self._start(bot, TriggerKind.WEBHOOK, context, delivery)
                started.append(execution.id)
            else:
                skipped.append({"bot": bot.name, "reason": "; ".join(r for r in reasons if r)})
        reason = None if started else _nothing_reason(skipped, source)
        result = _evolve(base, execution_ids=tuple(started), skipped=tuple(skipped), reason=reason)
        return await self._log(result, context, payload, raw)

    # redelivery
    async def redeliver(self, delivery_id: str) -> DeliveryResult:
        """Match the stored payload of delivery ``delivery_id`` again, as a new delivery.

        The new delivery gets a fresh id (so deduplication lets it through), is matched against
        the bots as configured now, starts what matches and is logged with ``redelivery_of``.
        No signature is checked: the payload was verified when it first arrived. Raises
        :class:`NotFoundError` when none of the newest :data:`REDELIVER_SCAN` log entries is
        that delivery with its payload, or its webhook source is no longer configured.
        """
        entry = await self.find_delivery(delivery_id)
        if entry is None:
            raise NotFoundError(
                f"no delivery {delivery_id!r} with a stored payload among the newest "
                f"{REDELIVER_SCAN} deliveries"
            )
        source = str(entry.get("source") or GITHUB)
        payload = entry["payload"]
        new_id = f"{uuid.uuid4()}"
        event = entry.get("event")
        action = entry.get("action")
        base = DeliveryResult(
            source,
            new_id,
            event if isinstance(event, str) else None,
            action if isinstance(action, str) else None,
            redelivery_of=delivery_id,
        )
        if source == GITHUB:
            if not isinstance(event, str) or not event:
                raise NotFoundError(f"delivery {delivery_id!r} has no event name to redeliver")
            if event == "ping":
                return await self._log(
                    _evolve(base, reason="ping: nothing to start"), None, payload
                )
            return await self._run_github(base, event, payload, new_id)
        if source not in self.config.webhooks:
            raise NotFoundError(f"no webhook source {source!r} (delivery {delivery_id!r})")
        return await self._run_generic(base, source, payload, new_id)

    async def find_delivery(self, delivery_id: str) -> dict[str, Any] | None:
        """The newest log entry of ``delivery_id`` that has its payload, or ``None``."""
        for entry in await self.store.list_deliveries(limit=REDELIVER_SCAN):
            if entry.get("delivery") == delivery_id and "payload" in entry:
                return entry
        return None

    # shared
    async def _first_time(self, source: str, delivery: str) -> bool:
        ttl = self.config.github.dedup_ttl
        # a fresh owner token: a claim held by anyone, this process included, means "seen"
        token = uuid.uuid4().hex
        return await self.store.claim(f"delivery:{source}:{delivery}", token, ttl)

    async def _start(
        self, bot: Bot, trigger: TriggerKind, context: Mapping[str, Any], delivery: str | None
    ) -> Execution:
        return await self.start_run(
            bot.name, trigger=trigger, context=context, delivery_id=delivery
        )

    async def _log(
        self,
        result: DeliveryResult,
        context: Mapping[str, Any] | None = None,
        payload: Any = None,
        raw: bytes | None = None,
    ) -> DeliveryResult:
        """Tell the plugins (``agented_delivery_received``), then write the delivery log entry.

        A hook that raised is recorded on the entry (``hook_errors``), which has no such key
        otherwise. The payload is kept for a redelivery (only admins see it, at ``GET
        /deliveries``); given ``raw``, the text it was parsed from, the store writes that text.
        """
        entry = result.to_log()
        if payload is not None:
            entry["payload"] = received(payload, raw)
        if self.notify is not None:
            failures = await self.notify(
                "agented_delivery_received", delivery=result, context=context
            )
            if failures:
                entry["hook_errors"] = [f.event_data() for f in failures]
        await self.store.record_delivery(entry)
        return result

    def _preview(self, bot: Bot, context: Mapping[str, Any]) -> str:
        """The prompt a run would get (for a command bot, its rendered command line)."""
        probe = Execution(
            id="dry-run", bot=bot.name, trigger=TriggerKind.GITHUB, status=Status.QUEUED
        )
        full = {**context, **base_context(bot, probe, self.clock())}
        full.update(self.prompt_context(bot, full))
        try:
            if bot.prompt:
                return render(bot.prompt, full, missing="empty")
            return " ".join(render_argv(bot.command, full, missing="empty"))
        except TemplateError as exc:
            return f"<cannot render: {exc}>"


def _nothing_reason(skipped: Sequence[Mapping[str, str]], what: str) -> str:
    if not skipped:
        return f"no bot is triggered by {what!r}"
    return "no bot matched"


def _evolve(result: DeliveryResult, **changes: Any) -> DeliveryResult:
    import attrs

    return attrs.evolve(result, **changes)
