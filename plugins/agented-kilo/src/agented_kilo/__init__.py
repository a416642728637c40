"""agented-kilo: the ``kilo`` provider (Kilo Code's CLI, ``kilo run --format json``) for agented.

Installed, it registers itself through the entry-point group ``agented``; a bot then says
``provider = "kilo"``. In Python, pass the module (or :class:`KiloPlugin`) as a plugin::

    import agented_kilo
    async with Agented.open(..., plugins=[agented_kilo]) as ag: ...

``KiloPlugin(executable="/path/to/kilo")`` registers a provider running that executable.
"""

from __future__ import annotations

from collections.abc import Sequence

from agented_core import Provider, hookimpl

from ._provider import TELEMETRY_LEVELS, TESTED_VERSION, KiloParser, KiloProvider, database

__version__ = "0.1.0"

__all__ = [
    "TELEMETRY_LEVELS",
    "TESTED_VERSION",
    "KiloParser",
    "KiloPlugin",
    "KiloProvider",
    "__version__",
    "agented_providers",
    "database",
]


@hookimpl
def agented_providers() -> Sequence[Provider]:
    """The ``kilo`` provider, running ``kilo`` from the child's ``PATH``."""
    return [KiloProvider()]


class KiloPlugin:
    """The plugin as an object, for a provider that runs a given ``executable``."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable

    @hookimpl
    def agented_providers(self) -> Sequence[Provider]:
        return [KiloProvider(self.executable)]
