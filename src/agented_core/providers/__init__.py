"""The provider SDK and the built-in ``shell`` provider."""

from .base import CommandRequest, LineParser, OptionSpec, Outcome, Provider
from .shell import EventLineParser, ShellProvider

__all__ = [
    "CommandRequest",
    "EventLineParser",
    "LineParser",
    "OptionSpec",
    "Outcome",
    "Provider",
    "ShellProvider",
]
