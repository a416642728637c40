"""agented-pi: the ``pi`` provider (pi, the coding agent: ``pi --mode json -p``) for agented.

Installed, it registers itself through the entry-point group ``agented``; a bot then says
``provider = "pi"``. In Python, pass the module (or :class:`PiPlugin`) as a plugin::

    import agented_pi
    async with Agented.open(..., plugins=[agented_pi]) as ag: ...

``PiPlugin(executable="/path/to/pi")`` registers a provider running that executable.
"""

from __future__ import annotations

from collections.abc import Sequence

from agented_core import Provider, hookimpl

from ._parser import PiParser, pi_tokens
from ._provider import TESTED_VERSION, THINKING_LEVELS, PiProvider, agent_dir

__version__ = "0.1.0"

__all__ = [
    "TESTED_VERSION",
    "THINKING_LEVELS",
    "PiParser",
    "PiPlugin",
    "PiProvider",
    "__version__",
    "agent_dir",
    "agented_providers",
    "pi_tokens",
]


@hookimpl
def agented_providers() -> Sequence[Provider]:
    """The ``pi`` provider, running ``pi`` from the child's ``PATH``."""
    return [PiProvider()]


class PiPlugin:
    """The plugin as an object, for a provider that runs a given ``executable``."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable

    @hookimpl
    def agented_providers(self) -> Sequence[Provider]:
        return [PiProvider(self.executable)]
