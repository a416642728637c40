"""The hooks a plugin can implement (pluggy project ``agented``).

A plugin is a module or object with functions marked ``@hookimpl`` and named like the
specifications below; list it under the entry-point group ``agented`` of its distribution, or pass
it to ``Agented.open(..., plugins=[...])``. Every hook is optional.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from datetime import datetime

    from .broker import BrokerFactory
    from .config import Config
    from .config_keys import PluginKeys
    from .errors import Problem
    from .models import Bot, Execution, Progress
    from .providers.base import Provider
    from .store.base import Store, StoreFactory

PROJECT = "agented"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Mark a plugin's functions with this: ``@hookimpl def agented_providers(): ...``."""


@hookspec
def agented_providers() -> Sequence[Provider]:
    """Return the providers this plugin adds (instances of :class:`Provider` subclasses).

    Two plugins giving the same provider name is an error naming both.
    """
    raise NotImplementedError


@hookspec
def agented_backends() -> Mapping[str, StoreFactory]:
    """Return store factories by URL scheme, e.g. ``{"redis": make_redis_store}``.

    A factory takes the store URL and returns an unopened :class:`Store`.
    """
    raise NotImplementedError


@hookspec
def agented_ratelimit_patterns() -> Mapping[str, Sequence[Any]]:
    """Return extra rate-limit patterns by provider name (``"*"`` for all providers).

    Values are :class:`agented_core.ratelimit.Pattern` objects, consulted before the built-ins.
    """
    raise NotImplementedError


@hookspec
def agented_prompt_context(bot: Bot, context: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Return extra top-level context keys for ``bot``'s prompt (or ``None``).

    Called after the trigger's context is built and before the prompt is rendered.
    """
    raise NotImplementedError


@hookspec
def agented_context_keys(bot: Bot) -> Sequence[str]:
    """Return the top-level context keys :func:`agented_prompt_context` adds for ``bot``.

    Templates are checked when a bot loads; keys named here are accepted with any sub-path.
    """
    raise NotImplementedError


@hookspec
def agented_config_keys() -> PluginKeys:
    """Return the config keys this plugin adds: its tables, its keys on bots and on triggers.

    A :class:`agented_core.config_keys.PluginKeys`. They are checked like the core's (unknown
    keys with a did-you-mean, bad values, each with file, line, bot and field) by every reader
    given the plugins' keys, ``agented check`` included. The values land in
    ``Config.extra[table]``, ``Bot.extra[key]`` and each trigger's ``extra[key]``. A key the
    core has, or another plugin declared first, is refused (:attr:`Plugins.errors`).
    """
    raise NotImplementedError


@hookspec
def agented_config_problems(config: Config) -> Iterable[Problem]:
    """Return problems of ``config`` only this plugin can see (e.g. a key needing another).

    Called by :func:`agented_core.validation.validate` (so by ``agented check`` and before
    :meth:`Agented.open` writes anything); a problem that is not a warning stops the opening.
    """
    raise NotImplementedError


# Lifecycle hooks. Each may return an awaitable. An exception is logged and recorded: on the
# execution as an ``error`` event (data ``kind: "plugin"``, ``hook``, ``plugin``, ``message``),
# on the delivery log entry (``hook_errors``) for a delivery; it never changes an outcome.


@hookspec
def agented_delivery_received(delivery: Any, context: Mapping[str, Any] | None) -> Any:
    """Called for every webhook delivery, also one that started nothing, before it is logged.

    ``delivery`` (a :class:`agented_core.triggers.DeliveryResult`) tells what it started
    (``execution_ids``) or why not (``duplicate``, ``reason``, ``skipped`` bots with their
    reasons); ``context`` is the trigger context built from it (``None`` for a duplicate or a
    ping, which are not parsed further).
    """
    raise NotImplementedError


@hookspec
def agented_execution_queued(execution: Execution) -> Any:
    """Called when an execution is queued in this process (first, and again after a wait)."""
    raise NotImplementedError


@hookspec
def agented_execution_started(execution: Execution) -> Any:
    """Called when an execution's first attempt starts. May return an awaitable."""
    raise NotImplementedError


@hookspec
def agented_execution_progress(execution: Execution, progress: Progress) -> Any:
    """Called while an attempt runs, at most every few seconds, when it printed something new.

    ``progress`` holds the running totals (:class:`agented_core.models.Progress`: events so
    far, tool calls, file changes, usage and cost). Not called for an attempt that stays quiet.
    """
    raise NotImplementedError


@hookspec
def agented_execution_finished(execution: Execution) -> Any:
    """Called once when an execution reaches a terminal status (e.g. to post a PR comment).

    May return an awaitable; an exception is logged and does not change the execution.
    """
    raise NotImplementedError


@hookspec
def agented_configured(config: Config, store: Store) -> Any:
    """Called when agented opens (before any run) and after every reload, with the
    configuration now in use and the store, for plugins that read their keys (``Config.extra``,
    ``Bot.extra``) or the history of runs. May return an awaitable; an exception is logged."""
    raise NotImplementedError


@hookspec
def agented_schedule_missed(bot: str, fire: datetime, reason: str) -> Any:
    """Called when a cron fire of ``bot`` started no run: its start failed, or it was missed
    while nothing was running and ``catch_up = "skip"`` dropped it. (A fire whose run then
    ends ``skipped``, at a spend cap say, is an execution: see ``agented_execution_finished``.)
    May return an awaitable; an exception is logged."""
    raise NotImplementedError


@hookspec(firstresult=True)
def agented_workspace_credentials(url: str) -> Mapping[str, str] | None:
    """Return git credentials for the repository at ``url``, or ``None`` to pass.

    A mapping as git's credential helper protocol has it (``username``, ``password``); the first
    plugin giving one wins. May return an awaitable (an ``async def`` implementation). Asked
    only when a workspace's git command must reach the http(s) remote ``url``; the values reach
    that one command only, never an event, a log, the store or a git config.
    """
    raise NotImplementedError


@hookspec
def agented_brokers() -> Mapping[str, BrokerFactory]:
    """Return broker factories by URL scheme, e.g. ``{"redis": make_redis_broker}``.

    A factory takes the ``broker`` URL and returns an unopened :class:`Broker`.
    """
    raise NotImplementedError


@hookspec
def agented_opened(agented: Any) -> Any:
    """Called once ``agented`` (an :class:`agented_core.Agented`) is open, before it serves.

    The store is open and recovery done.

    A plugin keeping state per instance gets the facade here (its config, store, event log). An
    awaitable returned runs in the background while the instance stays open and is cancelled
    when it closes (e.g. a sweep); an exception in it is logged. An entry point naming a class
    gets one instance of it per :class:`Agented`, so such state is never shared between two.
    """
    raise NotImplementedError


@hookspec
def agented_agent_env(bot: Bot, execution: Execution) -> Any:
    """Return extra environment variables for the agent's process of this attempt, or ``None``.

    Called before each attempt is prepared; may return an awaitable. Every value is treated as
    a secret (redacted from events, logs and the store). An exception fails the attempt before
    its process starts (error kind ``launch``), naming the plugin.
    """
    raise NotImplementedError


@hookspec
def agented_secrets() -> Iterable[str]:
    """Return secret values this plugin holds now (tokens it made), to redact from every event.

    Consulted whenever an attempt's redactor is made; values shorter than six characters are
    ignored, as for the environment's secrets.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def agented_changed_files(context: Mapping[str, Any]) -> Any:
    """Return the changed paths of the pull request of a delivery's ``context``, or ``None``.

    Asked once per delivery, and only when a trigger's ``paths`` filter of a pull request
    event needs them; may return an awaitable. The first plugin giving a list wins; ``None``
    (or an exception, which is logged) leaves them unknown, and such triggers do not fire.
    """
    raise NotImplementedError
