"""The error of a checkout that could not be made (recorded with error kind ``workspace``)."""

from __future__ import annotations

from ..errors import AgentedError


class WorkspaceError(AgentedError):
    """A run's checkout could not be made; the message names the repository and commit."""
