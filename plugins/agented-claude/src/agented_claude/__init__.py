"""agented-claude: the ``claude`` provider (Claude Code, ``claude -p``) for agented.

Installed, it registers itself through the entry-point group ``agented``; a bot then says
``provider = "claude"``. In Python, pass the module (or :class:`ClaudePlugin`) as a plugin::

    import agented_claude
    async with Agented.open(..., plugins=[agented_claude]) as ag: ...

``ClaudePlugin(executable="/path/to/claude")`` registers a provider that runs that executable.
"""

from __future__ import annotations

from collections.abc import Sequence

from agented_core import Provider, hookimpl

from ._parser import ClaudeParser
from ._provider import PERMISSION_MODES, TESTED_VERSION, ClaudeProvider

__version__ = "0.1.0"

__all__ = [
    "PERMISSION_MODES",
    "TESTED_VERSION",
    "ClaudeParser",
    "ClaudePlugin",
    "ClaudeProvider",
    "__version__",
    "agented_providers",
]


@hookimpl
def agented_providers() -> Sequence[Provider]:
    """The ``claude`` provider, running ``claude`` from the child's ``PATH``."""
    return [ClaudeProvider()]


class ClaudePlugin:
    """The plugin as an object, for a provider that runs a given ``executable``."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable

    @hookimpl
    def agented_providers(self) -> Sequence[Provider]:
        return [ClaudeProvider(self.executable)]
