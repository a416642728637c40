"""agented-qwen: the ``qwen`` provider (Qwen Code, ``--output-format stream-json``) for agented.

Installed, it registers itself through the entry-point group ``agented``; a bot then says
``provider = "qwen"``. In Python, pass the module (or :class:`QwenPlugin`) as a plugin::

    import agented_qwen
    async with Agented.open(..., plugins=[agented_qwen]) as ag: ...

``QwenPlugin(executable="/path/to/qwen")`` registers a provider running that executable.
"""

from __future__ import annotations

from collections.abc import Sequence

from agented_core import Provider, hookimpl

from ._parser import QwenParser, qwen_tokens
from ._provider import APPROVAL_MODES, AUTH_TYPES, TESTED_VERSION, QwenProvider, managed_home

__version__ = "0.1.0"

__all__ = [
    "APPROVAL_MODES",
    "AUTH_TYPES",
    "TESTED_VERSION",
    "QwenParser",
    "QwenPlugin",
    "QwenProvider",
    "__version__",
    "agented_providers",
    "managed_home",
    "qwen_tokens",
]


@hookimpl
def agented_providers() -> Sequence[Provider]:
    """The ``qwen`` provider, running ``qwen`` from the child's ``PATH``."""
    return [QwenProvider()]


class QwenPlugin:
    """The plugin as an object, for a provider that runs a given ``executable``."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable

    @hookimpl
    def agented_providers(self) -> Sequence[Provider]:
        return [QwenProvider(self.executable)]
