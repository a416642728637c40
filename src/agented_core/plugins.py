"""Finding and registering plugins: entry points, plugins passed in Python, the built-ins."""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .broker import Broker, BrokerFactory
from .errors import PluginError, StoreError
from .models import HookFailure
from .providers.base import Provider
from .store.base import Store, StoreFactory

if TYPE_CHECKING:
    from .config_keys import PluginKeys

__all__ = ["ENTRY_POINT_GROUP", "Plugins"]

log = logging.getLogger("agented.plugins")

ENTRY_POINT_GROUP = "agented"


class _Builtins:
    """The built-in plugin: the shell provider, the SQLite backend and the in-process broker."""

    @hookspecs.hookimpl
    def agented_providers(self) -> Sequence[Provider]:
        from .providers.shell import ShellProvider

        return [ShellProvider()]

    @hookspecs.hookimpl
    def agented_backends(self) -> Mapping[str, StoreFactory]:
        from .store.sqlite import SQLiteStore

        return {"sqlite": SQLiteStore.from_url}

    @hookspecs.hookimpl
    def agented_brokers(self) -> Mapping[str, BrokerFactory]:
        from .broker import LocalBroker

        return {"local": LocalBroker.from_url}


class Plugins:
    """The registered plugins and what they provide.

    Loading never stops at the first bad plugin: each failure is kept in :attr:`errors` (naming
    the plugin) and the others still work.
    """

    def __init__(self, plugins: Iterable[object] = (), *, entry_points: bool = True) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.errors: list[PluginError] = []
        self.sources: dict[str, str] = {}
        self.manager.register(_Builtins(), name="agented-builtins")
        self.sources["agented-builtins"] = "built-in"
        if entry_points:
            self._load_entry_points()
        for plugin in plugins:
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            self._register(plugin, name, "passed in Python")
        self._providers, self._provider_owner = self._collect_providers()
        self._config_keys = self._collect_config_keys()

    def _register(self, plugin: object, name: str, source: str) -> None:
        try:
            if self.manager.is_registered(plugin):
                return
            self.manager.register(plugin, name=name)
            self.sources[name] = source
        except Exception as exc:  # pluggy raises ValueError / PluginValidationError
            self.errors.append(PluginError(f"plugin {name!r} could not be registered: {exc}"))

    def _load_entry_points(self) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist else "?"
            try:
                plugin = ep.load()
            except Exception as exc:
                self.errors.append(
                    PluginError(
                        f"plugin {ep.name!r} (from {dist}) failed to import: "
                        f"{type(exc).__name__}: {exc}"
                    )
                )
                log.warning("%s", self.errors[-1])
                continue
            version = ep.dist.version if ep.dist else ""
            if isinstance(plugin, type):  # a class: one instance per Plugins, to keep state in
                try:
                    plugin = plugin()
                except Exception as exc:
                    self.errors.append(
                        PluginError(
                            f"plugin {ep.name!r} (from {dist}) could not be created: "
                            f"{type(exc).__name__}: {exc}"
                        )
                    )
                    continue
            self._register(plugin, ep.name, f"{dist} {version}".strip())

    def _collect_providers(self) -> tuple[dict[str, Provider], dict[str, str]]:
        providers: dict[str, Provider] = {}
        owner: dict[str, str] = {}
        impls = self.manager.hook.agented_providers.get_hookimpls()
        for impl in impls:  # registration order
            try:
                given: list[Any] = list(impl.function() or [])  # type: ignore[call-overload]
            except Exception as exc:
                self.errors.append(
                    PluginError(f"plugin {impl.plugin_name!r} failed to list providers: {exc}")
                )
                continue
            for provider in given:
                name = getattr(provider, "name", "")
                if not isinstance(provider, Provider) or not name:
                    self.errors.append(
                        PluginError(
                            f"plugin {impl.plugin_name!r} gave {provider!r}, not a named Provider"
                        )
                    )
                    continue
                if name in providers:
                    self.errors.append(
                        PluginError(
                            f"provider {name!r} is registered twice: by {owner[name]!r} and by "
                            f"{impl.plugin_name!r}; keeping the first"
                        )
                    )
                    continue
                providers[name] = provider
                owner[name] = impl.plugin_name
        return providers, owner

    def _collect_config_keys(self) -> PluginKeys:
        from .config import SCHEMA
        from .config_keys import PluginKeys, merge_keys

        declared: list[tuple[str, PluginKeys]] = []
        for impl in self.manager.hook.agented_config_keys.get_hookimpls():  # registration order
            try:
                keys = impl.function()
            except Exception as exc:
                self.errors.append(
                    PluginError(f"plugin {impl.plugin_name!r} failed to declare config keys: {exc}")
                )
                continue
            if keys is None:
                continue
            if not isinstance(keys, PluginKeys):
                self.errors.append(
                    PluginError(f"plugin {impl.plugin_name!r} gave {keys!r}, not PluginKeys")
                )
                continue
            declared.append((impl.plugin_name, keys))
        merged, clashes = merge_keys(declared, SCHEMA)
        self.errors.extend(PluginError(message) for message in clashes)
        return merged

    def config_keys(self) -> PluginKeys:
        """The config keys every plugin declares, merged (clashes are in :attr:`errors`)."""
        return self._config_keys

    @property
    def providers(self) -> Mapping[str, Provider]:
        """Providers by name."""
        return self._providers

    def provider(self, name: str) -> Provider:
        """The provider called ``name``; :class:`PluginError` if there is none."""
        try:
            return self._providers[name]
        except KeyError:
            known = ", ".join(sorted(self._providers)) or "none"
            raise PluginError(f"unknown provider {name!r} (known: {known})") from None

    def provider_owner(self, name: str) -> str:
        """The name of the plugin that registered provider ``name``."""
        return self._provider_owner.get(name, "?")

    def backends(self) -> dict[str, StoreFactory]:
        """Store factories by URL scheme."""
        factories: dict[str, StoreFactory] = {}
        for result in self.manager.hook.agented_backends():
            for scheme, factory in (result or {}).items():
                factories.setdefault(scheme, factory)
        return factories

    def open_store(self, url: str, *, base_dir: Any = None) -> Store:
        """An unopened store for ``url``, by its scheme."""
        scheme = url.split(":", 1)[0] if ":" in url else ""
        factories = self.backends()
        factory = factories.get(scheme)
        if factory is None:
            known = ", ".join(f"{s}://" for s in sorted(factories))
            raise StoreError(f"no storage backend for {url!r} (known schemes: {known})")
        return factory(url, base_dir=base_dir)

    def brokers(self) -> dict[str, BrokerFactory]:
        """Broker factories by URL scheme."""
        factories: dict[str, BrokerFactory] = {}
        for result in self.manager.hook.agented_brokers():
            for scheme, factory in (result or {}).items():
                factories.setdefault(scheme, factory)
        return factories

    def open_broker(self, url: str | None) -> Broker:
        """An unopened broker for ``url``, by its scheme; the in-process one when ``None``."""
        if url is None:
            url = "local://"
        scheme = url.split(":", 1)[0] if ":" in url else ""
        factories = self.brokers()
        factory = factories.get(scheme)
        if factory is None:
            known = ", ".join(f"{s}://" for s in sorted(factories))
            raise PluginError(f"no broker for {url!r} (known schemes: {known})")
        return factory(url)

    def ratelimit_patterns(self) -> dict[str, list[Any]]:
        """Extra rate-limit patterns from plugins, by provider name."""
        merged: dict[str, list[Any]] = {}
        for result in self.manager.hook.agented_ratelimit_patterns():
            for provider, patterns in (result or {}).items():
                merged.setdefault(provider, []).extend(patterns)
        return merged

    def prompt_context(self, bot: Any, context: Mapping[str, Any]) -> dict[str, Any]:
        """Extra context keys from plugins for ``bot``."""
        extra: dict[str, Any] = {}
        for result in self.manager.hook.agented_prompt_context(bot=bot, context=context):
            if result:
                extra.update(result)
        return extra

    def context_keys(self, bot: Any) -> set[str]:
        """Top-level context keys plugins add for ``bot``."""
        keys: set[str] = set()
        for result in self.manager.hook.agented_context_keys(bot=bot):
            keys.update(result or ())
        return keys

    async def notify(self, hook: str, **kwargs: Any) -> list[HookFailure]:
        """Call a lifecycle hook, awaiting results that are awaitable.

        Every implementation is called, whatever the others do; each exception is logged and
        returned, for the caller to record on the execution.
        """
        caller = getattr(self.manager.hook, hook)
        failures: list[HookFailure] = []
        for impl in caller.get_hookimpls():
            try:
                result = impl.function(**kwargs)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                log.exception("plugin %r failed in %s", impl.plugin_name, hook)
                failures.append(HookFailure(hook, impl.plugin_name, f"{type(exc).__name__}: {exc}"))
        return failures

    def config_problems(self, config: Any) -> list[Any]:
        """Problems plugins find in ``config`` (``agented_config_problems``)."""
        from .errors import Problem

        problems: list[Any] = []
        for impl in self.manager.hook.agented_config_problems.get_hookimpls():
            try:
                given: Any = impl.function(config=config)
                problems.extend(given or ())
            except Exception as exc:
                problems.append(
                    Problem(f"plugin {impl.plugin_name!r} failed to check the config: {exc}")
                )
        return problems

    def start_opened(self, agented: Any, task_group: Any) -> None:
        """Call ``agented_opened``; run the awaitables returned in ``task_group``, logged."""
        for impl in self.manager.hook.agented_opened.get_hookimpls():
            try:
                result = impl.function(agented=agented)
            except Exception:
                log.exception("plugin %r failed in agented_opened", impl.plugin_name)
                continue
            if inspect.isawaitable(result):
                task_group.start_soon(_logged, result, impl.plugin_name, "agented_opened")

    async def agent_env(self, bot: Any, execution: Any) -> dict[str, str]:
        """The extra environment plugins give an attempt's agent (``agented_agent_env``).

        Raises :class:`PluginError` naming the plugin that failed.
        """
        env: dict[str, str] = {}
        for impl in self.manager.hook.agented_agent_env.get_hookimpls():
            try:
                result: Any = impl.function(bot=bot, execution=execution)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} failed to give the agent's environment: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            env.update({str(k): str(v) for k, v in (result or {}).items()})
        return env

    def secrets(self) -> list[str]:
        """Secret values plugins hold now (``agented_secrets``), for the redactor."""
        values: list[str] = []
        for impl in self.manager.hook.agented_secrets.get_hookimpls():
            try:
                given: Any = impl.function()
                values.extend(str(v) for v in given or ())
            except Exception:
                log.exception("plugin %r failed in agented_secrets", impl.plugin_name)
        return values

    async def changed_files(self, context: Mapping[str, Any]) -> Sequence[str] | None:
        """A pull request's changed paths from the first plugin listing them, or ``None``."""
        for impl in self.manager.hook.agented_changed_files.get_hookimpls():
            try:
                result: Any = impl.function(context=context)
                if inspect.isawaitable(result):
                    result = await result
            except Exception:
                log.exception("plugin %r failed in agented_changed_files", impl.plugin_name)
                continue
            if result is not None:
                return [str(path) for path in result]
        return None

    def workspace_credentials(self, url: str) -> Mapping[str, str] | None:
        """Git credentials for the repository at ``url`` from the first plugin giving some."""
        result: Mapping[str, str] | None = self.manager.hook.agented_workspace_credentials(url=url)
        return result

    def versions(self) -> dict[str, str]:
        """Each registered plugin and where it came from (distribution and version)."""
        return dict(self.sources)


async def _logged(awaitable: Any, plugin: str, hook: str) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("plugin %r failed in the background of %s", plugin, hook)
