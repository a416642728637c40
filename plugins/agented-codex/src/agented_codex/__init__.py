"""agented-codex: the ``codex`` provider (OpenAI Codex CLI, ``codex exec --json``) for agented.

Installed, it registers itself through the entry-point group ``agented``; a bot then says
``provider = "codex"``. In Python, pass the module (or :class:`CodexPlugin`) as a plugin::

    import agented_codex
    async with Agented.open(..., plugins=[agented_codex]) as ag: ...

``CodexPlugin(executable="/path/to/codex")`` registers a provider that runs that executable.
"""

from __future__ import annotations

from collections.abc import Sequence

from agented_core import Provider, hookimpl

from ._parser import CodexParser, thread_usage
from ._provider import (
    APPROVAL_POLICIES,
    REASONING_EFFORTS,
    SANDBOXES,
    TESTED_VERSION,
    CodexProvider,
    toml_value,
)

__version__ = "0.1.0"

__all__ = [
    "APPROVAL_POLICIES",
    "REASONING_EFFORTS",
    "SANDBOXES",
    "TESTED_VERSION",
    "CodexParser",
    "CodexPlugin",
    "CodexProvider",
    "__version__",
    "agented_providers",
    "thread_usage",
    "toml_value",
]


@hookimpl
def agented_providers() -> Sequence[Provider]:
    """The ``codex`` provider, running ``codex`` from the child's ``PATH``."""
    return [CodexProvider()]


class CodexPlugin:
    """The plugin as an object, for a provider that runs a given ``executable``."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable

    @hookimpl
    def agented_providers(self) -> Sequence[Provider]:
        return [CodexProvider(self.executable)]
