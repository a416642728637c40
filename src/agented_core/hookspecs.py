"""The hooks a plugin can implement (pluggy project ``agented``).

A plugin is a module or object with functions marked ``@hookimpl`` and named like the
specifications below; list it under the entry-point group ``agented`` of its distribution, or pass
it to ``Agented.open(..., plugins=[...])``. Every hook is optional.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .broker import BrokerFactory
    from .config_keys import PluginKeys
    from .models import Bot, Execution, Progress
    from .providers.base import Provider
    from .store.base import StoreFactory

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


@hookspec(firstresult=True)
def agented_workspace_credentials(url: str) -> Mapping[str, str] | None:
    """Return git credentials for the repository at ``url``, or ``None`` to pass.

    A mapping as git's credential helper protocol has it (``username``, ``password``); the first
    plugin giving one wins. Credentials are never written to an event, a log or the store.
    """
    raise NotImplementedError


@hookspec
def agented_brokers() -> Mapping[str, BrokerFactory]:
    """Return broker factories by URL scheme, e.g. ``{"redis": make_redis_broker}``.

    A factory takes the ``broker`` URL and returns an unopened :class:`Broker`.
    """
    raise NotImplementedError
