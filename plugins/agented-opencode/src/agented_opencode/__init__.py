"""agented-opencode: the ``opencode`` provider (``opencode run --format json``) for agented.

Installed, it registers itself through the entry-point group ``agented``; a bot then says
``provider = "opencode"``. In Python, pass the module (or :class:`OpencodePlugin`) as a plugin::

    import agented_opencode
    async with Agented.open(..., plugins=[agented_opencode]) as ag: ...

``OpencodePlugin(executable="/path/to/opencode")`` registers a provider running that executable.
"""

from __future__ import annotations

from collections.abc import Sequence

from agented_core import Provider, hookimpl

from ._parser import OpencodeParser, logfmt, step_tokens
from ._provider import LOG_LEVELS, TESTED_VERSION, OpencodeProvider, database, session_saved

__version__ = "0.1.0"

__all__ = [
    "LOG_LEVELS",
    "TESTED_VERSION",
    "OpencodeParser",
    "OpencodePlugin",
    "OpencodeProvider",
    "__version__",
    "agented_providers",
    "database",
    "logfmt",
    "session_saved",
    "step_tokens",
]


@hookimpl
def agented_providers() -> Sequence[Provider]:
    """The ``opencode`` provider, running ``opencode`` from the child's ``PATH``."""
    return [OpencodeProvider()]


class OpencodePlugin:
    """The plugin as an object, for a provider that runs a given ``executable``."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable

    @hookimpl
    def agented_providers(self) -> Sequence[Provider]:
        return [OpencodeProvider(self.executable)]
