"""The plugin: its config keys and the lifecycle hooks that notify."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import anyio

from agented_core import Config, Execution, Status, Store, hookimpl
from agented_core.config_keys import PluginKeys

from ._health import duration, failure_streak, slow_run, slow_running
from ._send import Message, NotifyError, send
from ._settings import TABLE_KEYS, BotNotify, Delivery, bot_notify, delivery_settings

__all__ = ["NotifyPlugin"]

log = logging.getLogger("agented.notify")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class NotifyPlugin:
    """Notifications of finished executions and health alerts, per bot (its ``notify`` key).

    The entry point registers one instance (the module's); a host may register its own with
    ``Agented.open(plugins=[NotifyPlugin()], entry_points=False)``. ``env`` replaces
    ``os.environ`` for reading the webhook URL and the secret.

    Deliveries (with their retries) run in a task group the plugin keeps while its
    :class:`~agented_core.Agented` is open: a finished hook waits for them at most
    ``hook_wait`` seconds (a failure by then is recorded on the execution as an ``error``
    event; a later one is logged), so ``Agented.wait`` is not held up by a slow channel. At
    close, deliveries still under way get ``drain_timeout`` seconds more, then are cancelled.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        hook_wait: float = 2.0,
        drain_timeout: float = 10.0,
    ) -> None:
        self.env = env
        self.config: Config | None = None
        self.store: Store | None = None
        self.hook_wait = hook_wait
        self.drain_timeout = drain_timeout
        self._tasks: anyio.abc.TaskGroup | None = None
        self._running: set[anyio.CancelScope] = set()
        self._slow: set[str] = set()  # running executions the slow-run alert went out for

    # the deliveries' task group
    @hookimpl
    def agented_opened(self, agented: Any) -> Awaitable[None]:
        """Keep a task group for deliveries while ``agented`` is open."""
        return self._serve()

    async def _serve(self) -> None:
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                await anyio.sleep_forever()
            finally:
                self._tasks = None
                # the deliveries are shielded from the close: give them a deadline instead
                deadline = anyio.current_time() + self.drain_timeout
                for scope in self._running:
                    scope.deadline = min(scope.deadline, deadline)

    async def _deliver(self, send_all: Callable[[], Awaitable[None]], what: str) -> None:
        """Run ``send_all`` in the background, waiting for it at most ``hook_wait`` seconds;
        its error is raised when it failed by then, else logged."""
        tasks = self._tasks
        if tasks is None:  # not opened through a host calling agented_opened: inline
            await send_all()
            return
        done = anyio.Event()
        failed: list[BaseException] = []

        async def background() -> None:
            with anyio.CancelScope(shield=True) as scope:
                self._running.add(scope)
                try:
                    await send_all()
                except Exception as exc:
                    failed.append(exc)
                    if not waiting:
                        log.warning("notify: %s: %s", what, exc)
                finally:
                    self._running.discard(scope)
                    done.set()
            if scope.cancelled_caught:
                log.warning("notify: %s: still not delivered at close, given up", what)

        waiting = True
        tasks.start_soon(background)
        with anyio.move_on_after(self.hook_wait):
            await done.wait()
        waiting = False
        if failed:
            raise failed[0]

    # configuration
    @hookimpl
    def agented_config_keys(self) -> PluginKeys:
        """``notify`` on bots, and the ``[notify]`` table."""
        return PluginKeys(tables={"notify": TABLE_KEYS}, bot={"notify": bot_notify})

    @hookimpl
    def agented_configured(self, config: Config, store: Store) -> None:
        """Keep the configuration in use and the store (for the health alerts)."""
        self.config, self.store = config, store

    def _settings(self, bot: str) -> tuple[BotNotify, Delivery] | None:
        config = self.config
        found = config.bots.get(bot) if config else None
        notify = found.extra.get("notify") if found else None
        if config is None or not isinstance(notify, BotNotify):
            return None
        return notify, delivery_settings(config.extra.get("notify"))

    def _url(self, execution_id: str) -> str | None:
        return self.config.http.execution_url(execution_id) if self.config else None

    # messages
    def _message(
        self, event: str, execution: Execution, text: str, alert: dict[str, Any] | None = None
    ) -> Message:
        url = self._url(execution.id)
        payload: dict[str, Any] = {
            "event": event,
            "bot": execution.bot,
            "text": text,
            "url": url,
            "sent_at": datetime.now(UTC).isoformat(),
            "execution": {
                "id": execution.id,
                "bot": execution.bot,
                "status": execution.status.value,
                "trigger": execution.trigger.value,
                "error": execution.error,
                "error_kind": execution.error_kind.value if execution.error_kind else None,
                "attempts": execution.attempt,
                "created_at": _iso(execution.created_at),
                "started_at": _iso(execution.started_at),
                "finished_at": _iso(execution.finished_at),
                "duration_seconds": duration(execution),
                "cost_usd": execution.usage.cost_usd,
            },
        }
        if alert is not None:
            payload["alert"] = alert
        return Message(event, text, url, payload)

    def _finished_text(self, execution: Execution) -> str:
        took = duration(execution)
        parts = [f"agented: {execution.bot} {execution.status.value}"]
        if execution.error:
            parts.append(f"- {execution.error[:300]}")
        if took is not None:
            parts.append(f"after {took:.0f} s")
        return " ".join(parts) + f" ({execution.id})"

    # hooks
    @hookimpl
    async def agented_execution_finished(self, execution: Execution) -> None:
        """Notify the bot's channels of its status, and of any health alert it raises."""
        found = self._settings(execution.bot)
        if found is None:
            return
        notify, delivery = found
        messages: list[Message] = []
        if execution.status.value in notify.on:
            messages.append(
                self._message("execution.finished", execution, self._finished_text(execution))
            )
        messages.extend(await self._alerts(execution, notify))
        if not messages:
            return

        async def send_all() -> None:
            failures = []
            for message in messages:
                try:
                    await send(message, notify, delivery, env=self.env)
                except NotifyError as exc:
                    failures.append(f"{message.event}: {exc}")
            if failures:
                raise NotifyError("; ".join(failures))

        await self._deliver(send_all, f"{execution.bot} {execution.id}")

    async def _alerts(self, execution: Execution, notify: BotNotify) -> list[Message]:
        out: list[Message] = []
        store = self.store
        if store is None:
            return out
        streak = await failure_streak(store, execution, notify)
        if streak is not None:
            text = f"agented alert: {execution.bot} failed {streak} times in a row ({execution.id})"
            out.append(
                self._message(
                    "alert.failure_streak",
                    execution,
                    text,
                    {"kind": "failure_streak", "count": streak},
                )
            )
        if execution.id in self._slow:  # sent while it ran
            self._slow.discard(execution.id)
        elif (slow := await slow_run(store, execution, notify)) is not None:
            out.append(self._slow_message(execution, *slow, running=False))
        if (
            notify.missed_schedules
            and execution.status is Status.SKIPPED
            and execution.trigger.value == "schedule"
        ):
            text = (
                f"agented alert: a scheduled run of {execution.bot} did not start: "
                f"{execution.error or 'skipped'} ({execution.id})"
            )
            alert = {"kind": "missed_schedule", "reason": execution.error}
            out.append(self._message("alert.missed_schedule", execution, text, alert))
        return out

    def _slow_message(
        self, execution: Execution, took: float, usual: float, *, running: bool
    ) -> Message:
        verb = "has run for" if running else "took"
        text = (
            f"agented alert: {execution.bot} {verb} {took:.0f} s, "
            f"{took / usual:.1f}x its usual {usual:.0f} s ({execution.id})"
        )
        alert = {"kind": "slow_run", "seconds": took, "usual_seconds": usual, "running": running}
        return self._message("alert.slow_run", execution, text, alert)

    @hookimpl
    async def agented_execution_progress(self, execution: Execution, progress: object) -> None:
        """Alert once when a running execution has run much longer than the bot's usual."""
        found = self._settings(execution.bot)
        store = self.store
        if found is None or store is None or execution.id in self._slow:
            return
        notify, delivery = found
        slow = await slow_running(store, execution, notify, datetime.now(UTC))
        if slow is None:
            return
        self._slow.add(execution.id)
        message = self._slow_message(execution, *slow, running=True)
        await self._deliver(
            lambda: send(message, notify, delivery, env=self.env),
            f"{execution.bot} {execution.id} slow run",
        )

    @hookimpl
    async def agented_schedule_missed(self, bot: str, fire: datetime, reason: str) -> None:
        """Alert the bot's channels of a cron fire that started no run."""
        found = self._settings(bot)
        if found is None or not found[0].missed_schedules:
            return
        notify, delivery = found
        text = f"agented alert: the {fire.isoformat()} fire of {bot} did not start: {reason}"
        payload = {
            "event": "alert.missed_schedule",
            "bot": bot,
            "text": text,
            "url": None,
            "sent_at": datetime.now(UTC).isoformat(),
            "alert": {"kind": "missed_schedule", "fire": fire.isoformat(), "reason": reason},
        }
        message = Message("alert.missed_schedule", text, None, payload)
        await self._deliver(
            lambda: send(message, notify, delivery, env=self.env), f"{bot} missed schedule"
        )
