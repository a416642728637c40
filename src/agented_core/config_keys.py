"""Config keys that plugins declare: their own top-level tables and their keys on bots and triggers.

A plugin returns a :class:`PluginKeys` from the ``agented_config_keys`` hook. Each key maps to a
converter: a callable that takes the TOML value and returns what the plugin wants to find, raising
``TypeError`` or ``ValueError`` with a message for a bad value (the converters of
:mod:`agented_core.config`, such as ``config.boolean``, can be used), or a :class:`Table` for a
key whose value is a table of known keys. The reader (:func:`agented_core.config.parse_config`)
then checks these keys exactly as it checks the core's: unknown keys with a did-you-mean, bad
values, each with its file, line, bot and field.

What was read lands in ``Config.extra[table]``, ``Bot.extra[key]`` and ``Trigger.extra[key]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from attrs import field, frozen

__all__ = ["TRIGGER_KINDS", "Converter", "PluginKeys", "Table"]

Converter = Callable[[Any], Any]

TRIGGER_KINDS = ("github", "cron", "manual", "webhook")
"""The trigger kinds, named by the key that makes a trigger of that kind."""


@frozen
class Table:
    """The value of a key is a table with these keys (``report = { check = true }``).

    Its keys are checked like any other: an unknown one is a problem with a did-you-mean, at
    its own dotted field (``report.chek``). Keys left out are left out of the value too.
    """

    keys: Mapping[str, Converter | Table]


@frozen
class PluginKeys:
    """What one plugin adds to the config file.

    ``tables``: top-level tables by name, each a mapping of its keys (a table the core also has,
    such as ``github``, gets these keys beside the core's); ``bot``: keys of ``[bots.NAME]``;
    ``triggers``: keys of triggers, by kind (``github``, ``cron``, ``manual``, ``webhook``).
    """

    tables: Mapping[str, Mapping[str, Converter | Table]] = field(factory=dict)
    bot: Mapping[str, Converter | Table] = field(factory=dict)
    triggers: Mapping[str, Mapping[str, Converter | Table]] = field(factory=dict)

    @property
    def empty(self) -> bool:
        """True when nothing is declared."""
        return not (self.tables or self.bot or self.triggers)


def merge_keys(
    declared: Iterable[tuple[str, PluginKeys]],
    core: Mapping[str, Mapping[str, Any]],
) -> tuple[PluginKeys, list[str]]:
    """All plugins' keys as one :class:`PluginKeys`, and a message for each clash.

    ``declared`` is (plugin name, keys) in registration order; ``core`` is
    :data:`agented_core.config.SCHEMA`. A key the core has, or one an earlier plugin declared,
    is kept as it was; the clash is reported naming both owners.
    """
    tables: dict[str, dict[str, Converter | Table]] = {}
    bot: dict[str, Converter | Table] = {}
    triggers: dict[str, dict[str, Converter | Table]] = {}
    owners: dict[tuple[str, str], str] = {}
    clashes: list[str] = []

    def add(
        where: str, target: dict[str, Any], core_keys: Mapping[str, Any], plugin: str, keys: Any
    ) -> None:
        for key, convert in dict(keys).items():
            if key in core_keys:
                clashes.append(f"plugin {plugin!r} declares {where} key {key!r}, a core key")
            elif (where, key) in owners:
                clashes.append(
                    f"{where} key {key!r} is declared twice: by {owners[where, key]!r} and by "
                    f"{plugin!r}; keeping the first"
                )
            elif not (callable(convert) or isinstance(convert, Table)):
                clashes.append(f"plugin {plugin!r} gave {where} key {key!r} no converter")
            else:
                owners[where, key] = plugin
                target[key] = convert

    for plugin, keys in declared:
        for table, table_keys in keys.tables.items():
            core_keys = core.get(table, {})
            if not core_keys and table in _CORE_TOP:
                clashes.append(f"plugin {plugin!r} declares table [{table}], a core table")
                continue
            add(f"[{table}]", tables.setdefault(table, {}), core_keys, plugin, table_keys)
        add("bot", bot, core["bots.NAME"], plugin, keys.bot)
        for kind, kind_keys in keys.triggers.items():
            if kind not in TRIGGER_KINDS:
                clashes.append(
                    f"plugin {plugin!r} declares keys for triggers of kind {kind!r} "
                    f"(kinds: {', '.join(TRIGGER_KINDS)})"
                )
                continue
            add(
                f"trigger ({kind})",
                triggers.setdefault(kind, {}),
                core[f"on: {kind}"],
                plugin,
                kind_keys,
            )
    merged = PluginKeys(
        tables={k: v for k, v in tables.items() if v},
        bot=bot,
        triggers={k: v for k, v in triggers.items() if v},
    )
    return merged, clashes


# top-level tables of the core whose keys are names (bots.NAME ...), not settings: not extensible
_CORE_TOP = frozenset({"webhooks", "prices", "accounts", "bots"})
