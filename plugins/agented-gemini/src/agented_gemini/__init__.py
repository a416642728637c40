"""agented-gemini: the ``gemini`` provider (Google's Gemini CLI, headless) for agented.

Installed, it registers itself through the entry-point group ``agented``; a bot then says
``provider = "gemini"``. In Python, pass the module (or :class:`GeminiPlugin`) as a plugin::

    import agented_gemini
    async with Agented.open(..., plugins=[agented_gemini]) as ag: ...

``GeminiPlugin(executable="/path/to/gemini")`` registers a provider that runs that executable.
"""

from __future__ import annotations

from collections.abc import Sequence

from agented_core import Provider, hookimpl

from ._parser import PATTERNS, GeminiParser
from ._provider import (
    APPROVAL_MODES,
    AUTH_TYPES,
    DEFAULT_MAX_ATTEMPTS,
    TESTED_VERSION,
    GeminiProvider,
)

__version__ = "0.1.0"

__all__ = [
    "APPROVAL_MODES",
    "AUTH_TYPES",
    "DEFAULT_MAX_ATTEMPTS",
    "PATTERNS",
    "TESTED_VERSION",
    "GeminiParser",
    "GeminiPlugin",
    "GeminiProvider",
    "__version__",
    "agented_providers",
]


@hookimpl
def agented_providers() -> Sequence[Provider]:
    """The ``gemini`` provider, running ``gemini`` from the child's ``PATH``."""
    return [GeminiProvider()]


class GeminiPlugin:
    """The plugin as an object, for a provider that runs a given ``executable``."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable

    @hookimpl
    def agented_providers(self) -> Sequence[Provider]:
        return [GeminiProvider(self.executable)]
